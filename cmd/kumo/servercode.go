package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

// kumo servercode: deploy and list an app's server code on a running
// server, over its REST API (spec server-code.md §1.8), with the app
// admin token of the app's client credentials.

const serverCodeUsage = `Usage:
  kumo servercode deploy FILE [--hook-config FILE] [--set-current] [--environment-version 0|6] [flags]
                              deploy the script FILE as a new version; with --hook-config attach
                              the hook configuration to it; with --set-current make it current
                              (after the hook configuration); prints {"versionID","current"}
  kumo servercode list [flags]
                              list the versions (the current one marked)
  kumo servercode logs [--tail] [--level L] [--limit N] [flags]
                              print the developer log (and follow it with --tail)

Every command talks to the server at --url (KUMO_URL) as the admin of the
app --app-id (KUMO_APP_ID), logging in with --client-id and --client-secret
(KUMO_CLIENT_ID, KUMO_CLIENT_SECRET). Run "kumo servercode <command> -h"
for the flags.
`

// runServerCode runs kumo servercode.
func runServerCode(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, serverCodeUsage)
		return usagef("kumo servercode needs a command: deploy, list or logs")
	}
	sub, args := args[0], args[1:]
	if isHelp(sub) {
		fmt.Fprint(stdout, serverCodeUsage)
		return nil
	}
	var file string
	switch sub {
	case "list":
	case "deploy":
		if len(args) > 0 && isHelp(args[0]) {
			break // the flag set prints the usage
		}
		if len(args) == 0 || strings.HasPrefix(args[0], "-") {
			return usagef("usage: kumo servercode deploy FILE [flags]")
		}
		file, args = args[0], args[1:]
	case "logs": // server code: sched (servercodelogs.go)
		return runServerCodeLogs(ctx, args, stdout, stderr)
	default:
		fmt.Fprint(stderr, serverCodeUsage)
		return usagef("unknown servercode command %q: use deploy, list or logs", sub)
	}
	fs := flag.NewFlagSet("kumo servercode "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		operand := ""
		if sub == "deploy" {
			operand = " FILE"
		}
		fmt.Fprintf(stderr, "Usage: kumo servercode %s%s [flags]\n\nFlags:\n", sub, operand)
		fs.PrintDefaults()
	}
	var cl adminClient
	cl.flags(fs)
	var hookConfig, env string
	var setCurrent bool
	if sub == "deploy" {
		fs.StringVar(&hookConfig, "hook-config", "", "a hook configuration (JSON) file to attach to the new version")
		fs.BoolVar(&setCurrent, "set-current", false, "make the new version the current one (after attaching the hook configuration)")
		fs.StringVar(&env, "environment-version", "", `the environment version to deploy for, "0" or "6" (default: the server's, "0")`)
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if env != "" && env != "0" && env != "6" {
		return usagef("--environment-version is 0 or 6, not %q", env)
	}
	if err := cl.login(ctx); err != nil {
		return err
	}
	if sub == "list" {
		return serverCodeList(ctx, &cl, stdout)
	}
	return serverCodeDeploy(ctx, &cl, file, hookConfig, env, setCurrent, stdout)
}

// serverCodeDeploy is cli-node's deploy sequence: the script, then the
// hook configuration, then the current pointer, so that the current
// version moves only once both are in.
func serverCodeDeploy(ctx context.Context, cl *adminClient, file, hookFile, env string, setCurrent bool, stdout io.Writer) error {
	script, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var hooks []byte
	if hookFile != "" {
		if hooks, err = os.ReadFile(hookFile); err != nil {
			return err
		}
		if !json.Valid(hooks) {
			return fmt.Errorf("%s is not JSON", hookFile)
		}
	}
	contentType, body := "application/javascript", script
	if env != "" {
		contentType, body = serverCodeMultipart(env, script)
	}
	b, err := cl.do(ctx, "POST", "/server-code", contentType, body)
	if err != nil {
		return fmt.Errorf("deploy %s: %w", file, err)
	}
	var out struct {
		VersionID string `json:"versionID"`
		Current   bool   `json:"current"`
	}
	if err := json.Unmarshal(b, &out); err != nil || out.VersionID == "" {
		return fmt.Errorf("deploy %s: the server answered %q", file, b)
	}
	if hooks != nil {
		if _, err := cl.do(ctx, "PUT", "/hooks/versions/"+out.VersionID, "application/vnd.kii.HooksDeploymentRequest+json", hooks); err != nil {
			return fmt.Errorf("version %s was deployed (not current), but its hook configuration %s was refused: %w", out.VersionID, hookFile, err)
		}
	}
	if setCurrent {
		if _, err := cl.do(ctx, "PUT", "/server-code/versions/current", "text/plain", []byte(out.VersionID)); err != nil {
			return fmt.Errorf("version %s was deployed, but could not be made current: %w", out.VersionID, err)
		}
		out.Current = true
	}
	return json.NewEncoder(stdout).Encode(out)
}

// serverCodeMultipart is the multipart deployment of script for
// environment version env.
func serverCodeMultipart(env string, script []byte) (string, []byte) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	part := func(name, contentType string, content []byte) {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, name, name))
		h.Set("Content-Type", contentType)
		w, _ := mw.CreatePart(h) // writes to a bytes.Buffer: no error
		w.Write(content)
	}
	meta, _ := json.Marshal(map[string]string{"environmentVersion": env})
	part("metadata", "application/vnd.kii.ServerCodeMetadataRequest+json", meta)
	part("server-code", "application/javascript", script)
	mw.Close()
	return mw.FormDataContentType(), buf.Bytes()
}

// serverCodeList prints the app's versions, oldest first.
func serverCodeList(ctx context.Context, cl *adminClient, stdout io.Writer) error {
	b, err := cl.do(ctx, "GET", "/server-code/versions", "", nil)
	if err != nil {
		return err
	}
	var list struct {
		Versions []struct {
			VersionID          string `json:"versionID"`
			CreatedAt          int64  `json:"createdAt"`
			Current            bool   `json:"current"`
			EnvironmentVersion string `json:"environmentVersion"`
		} `json:"versions"`
	}
	if err := json.Unmarshal(b, &list); err != nil {
		return fmt.Errorf("the server answered %q", b)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tCURRENT\tENVIRONMENT\tCREATED")
	for _, v := range list.Versions {
		current := ""
		if v.Current {
			current = "*"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", v.VersionID, current, v.EnvironmentVersion, time.UnixMilli(v.CreatedAt).UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}

// adminClient calls a running server's REST API as an app's admin.
type adminClient struct {
	BaseURL, AppID, AppKey, ClientID, ClientSecret string

	token string
	http  http.Client
}

// flags registers the client's flags (KUMO_URL, KUMO_APP_ID, ... through
// parseFlags).
func (c *adminClient) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.BaseURL, "url", "http://127.0.0.1:8080", "base URL of the server")
	fs.StringVar(&c.AppID, "app-id", "", "the app ID")
	fs.StringVar(&c.AppKey, "app-key", "", "the app key (sent as X-Kii-AppKey; optional)")
	fs.StringVar(&c.ClientID, "client-id", "", "the app's client ID")
	fs.StringVar(&c.ClientSecret, "client-secret", "", "the app's client secret")
}

// login gets an app admin token with the client credentials.
func (c *adminClient) login(ctx context.Context) error {
	if c.AppID == "" || c.ClientID == "" || c.ClientSecret == "" {
		return usagef("--app-id, --client-id and --client-secret are needed (or KUMO_APP_ID, KUMO_CLIENT_ID, KUMO_CLIENT_SECRET)")
	}
	c.BaseURL = strings.TrimSuffix(c.BaseURL, "/")
	c.http.Timeout = time.Minute
	body, _ := json.Marshal(map[string]string{"client_id": c.ClientID, "client_secret": c.ClientSecret})
	b, err := c.do(ctx, "POST", "/oauth2/token", "application/json", body)
	if err != nil {
		return fmt.Errorf("login: %w", err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(b, &tok); err != nil || tok.AccessToken == "" {
		return fmt.Errorf("login: the server answered %q", b)
	}
	c.token = tok.AccessToken
	return nil
}

// do calls path under /api/apps/{appID} and returns the body of a 2xx
// answer; any other is an error saying the status and Kii's error.
func (c *adminClient) do(ctx context.Context, method, path, contentType string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+"/api/apps/"+c.AppID+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("X-Kii-AppID", c.AppID)
	if c.AppKey != "" {
		req.Header.Set("X-Kii-AppKey", c.AppKey)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		var kii struct{ ErrorCode, Message string }
		if json.Unmarshal(b, &kii) == nil && kii.ErrorCode != "" {
			return nil, fmt.Errorf("%s %s: %d %s: %s", method, path, resp.StatusCode, kii.ErrorCode, kii.Message)
		}
		return nil, fmt.Errorf("%s %s: %s %s", method, path, resp.Status, strings.TrimSpace(string(b)))
	}
	return b, nil
}
