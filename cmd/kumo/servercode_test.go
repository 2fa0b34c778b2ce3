package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/kumo-iot/kumo"
)

// cliRunner is a server code runtime for the CLI tests (the engine is
// internal/servercode's): Check refuses eval; Run returns the params of
// the version it loads from the node's store.
type cliRunner struct {
	versions atomic.Pointer[kumo.ServerCodeService] // set once the node is up
}

func (r *cliRunner) Check(script string) error {
	if strings.Contains(script, "eval(") {
		return kumo.Errorf(kumo.ErrInvalidInputData, "eval is not allowed")
	}
	return nil
}

func (r *cliRunner) Run(ctx context.Context, call kumo.ServerCodeCall) (kumo.ServerCodeResult, error) {
	v, _, err := (*r.versions.Load()).LoadVersion(ctx, call.AppID, call.Version)
	if err != nil {
		return kumo.ServerCodeResult{}, err
	}
	return kumo.ServerCodeResult{VersionID: v.ID, Environment: v.EnvironmentVersion, ReturnedValue: call.Params, Steps: 1}, nil
}

// startServerCodeNode starts a node with the test runtime.
func startServerCodeNode(t *testing.T, cfg config) *testNode {
	t.Helper()
	r := &cliRunner{}
	cfg.serverCode = r
	n := mustStartNodeConfig(t, cfg)
	var svc kumo.ServerCodeService = n.db.ServerCode
	r.versions.Store(&svc)
	return n
}

// TestServerCodeVersionsCLIFlow: kumo servercode deploy (with a hook
// configuration and --set-current, then multipart for environment 6) and
// list against a running server, the results checked over REST, and the
// deployed endpoint executed.
func TestServerCodeVersionsCLIFlow(t *testing.T) {
	forEachStore(t, func(t *testing.T, cfg config) {
		n := startServerCodeNode(t, cfg)
		dir := t.TempDir()
		script := filepath.Join(dir, "main.js")
		os.WriteFile(script, []byte("function echo(params, context) { return params; }\n"), 0o644)
		hooks := filepath.Join(dir, "hooks.json")
		const hookJSON = `{"kiicloud://scheduler":{"tick":{"cron":"0 * * * *","endpoint":"echo","what":"EXECUTE_SERVER_CODE"}}}`
		os.WriteFile(hooks, []byte(hookJSON), 0o644)
		creds := []string{"--url", n.base, "--app-id", n.app.AppID, "--client-id", n.app.ClientID, "--client-secret", n.app.ClientSecret}
		cli := func(args ...string) (string, error) {
			var out, errOut bytes.Buffer
			err := run(context.Background(), append([]string{"servercode"}, args...), &out, &errOut)
			return out.String(), err
		}

		out, err := cli(append([]string{"deploy", script, "--hook-config", hooks, "--set-current"}, creds...)...)
		if err != nil {
			t.Fatalf("deploy: %v", err)
		}
		var v1 struct {
			VersionID string
			Current   bool
		}
		if err := json.Unmarshal([]byte(out), &v1); err != nil || v1.VersionID == "" || !v1.Current {
			t.Fatalf("deploy printed %q", out)
		}
		admin := "Bearer " + adminToken(t, n)
		r := do(t, "GET", n.base+"/api/apps/"+n.app.AppID+"/server-code/versions/current", "", "Authorization", admin)
		if r.Status != 200 || string(r.Body) != v1.VersionID {
			t.Errorf("current after deploy --set-current: %d %s, want %s", r.Status, r.Body, v1.VersionID)
		}
		r = do(t, "GET", n.base+"/api/apps/"+n.app.AppID+"/hooks/versions/"+v1.VersionID, "", "Authorization", admin)
		if r.Status != 200 || string(r.Body) != hookJSON {
			t.Errorf("hook configuration after deploy --hook-config: %d %s", r.Status, r.Body)
		}
		if apps, err := n.db.ServerCode.AppsWithSchedules(context.Background()); err != nil || len(apps) != 1 || apps[0] != n.app.AppID {
			t.Errorf("AppsWithSchedules = %v, %v", apps, err)
		}

		// The credentials from the environment; multipart for environment 6;
		// not made current.
		t.Setenv("KUMO_URL", n.base)
		t.Setenv("KUMO_APP_ID", n.app.AppID)
		t.Setenv("KUMO_CLIENT_ID", n.app.ClientID)
		t.Setenv("KUMO_CLIENT_SECRET", n.app.ClientSecret)
		out, err = cli("deploy", script, "--environment-version", "6")
		if err != nil {
			t.Fatalf("deploy --environment-version 6: %v", err)
		}
		var v6 struct {
			VersionID string
			Current   bool
		}
		if err := json.Unmarshal([]byte(out), &v6); err != nil || v6.VersionID == "" || v6.Current {
			t.Fatalf("deploy printed %q", out)
		}
		out, err = cli("list")
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[0], "VERSION") ||
			!strings.HasPrefix(lines[1], v1.VersionID) || strings.Fields(lines[1])[1] != "*" || strings.Fields(lines[1])[2] != "0" ||
			!strings.HasPrefix(lines[2], v6.VersionID) || strings.Fields(lines[2])[1] != "6" {
			t.Errorf("list printed:\n%s", out)
		}

		// The current version runs, for a caller without credentials.
		r = do(t, "POST", n.base+"/api/apps/"+n.app.AppID+"/server-code/versions/current/echo", `{"a":1}`, "Content-Type", "application/json")
		if r.Status != 200 || r.Header.Get("X-Environment-version") != "0" || r.Header.Get("X-Step-count") != "1" ||
			!strings.Contains(string(r.Body), `"returnedValue"`) || !strings.Contains(string(r.Body), `"a" : 1`) {
			t.Errorf("execute current: %d %v %s", r.Status, r.Header, r.Body)
		}

		// Failures say what happened.
		bad := filepath.Join(dir, "bad.json")
		os.WriteFile(bad, []byte(`{"kiicloud://nowhere":[]}`), 0o644)
		if _, err := cli("deploy", script, "--hook-config", bad, "--set-current"); err == nil || !strings.Contains(err.Error(), "was deployed (not current)") ||
			!strings.Contains(err.Error(), "INVALID_INPUT_DATA") {
			t.Errorf("deploy with a refused hook configuration: %v", err)
		}
		evil := filepath.Join(dir, "evil.js")
		os.WriteFile(evil, []byte("function f() { eval('1'); }"), 0o644)
		if _, err := cli("deploy", evil); err == nil || !strings.Contains(err.Error(), "400 INVALID_INPUT_DATA: eval is not allowed") {
			t.Errorf("deploy of a refused script: %v", err)
		}
		if _, err := cli("deploy", script, "--client-secret", "wrong"); err == nil || !strings.Contains(err.Error(), "login") {
			t.Errorf("deploy with a wrong secret: %v", err)
		}
		if id, err := n.db.ServerCode.Current(context.Background(), kumo.Caller{AppID: n.app.AppID, Kind: kumo.Admin}); err != nil || id != v1.VersionID {
			t.Errorf("current after the failed deployments = %q, %v, want %s", id, err, v1.VersionID)
		}
		for _, args := range [][]string{{"deploy"}, {"deploy", "--set-current"}, {"deploy", script, "--environment-version", "8"}, {"nosuch"}, {}} {
			if _, err := cli(args...); !errors.As(err, new(usageError)) {
				t.Errorf("kumo servercode %v: %v, want a usage error", args, err)
			}
		}
		t.Setenv("KUMO_CLIENT_SECRET", "")
		if _, err := cli("list"); !errors.As(err, new(usageError)) {
			t.Errorf("list without a client secret: %v, want a usage error", err)
		}
	})
}

// adminToken logs in as the test app's admin.
func adminToken(t *testing.T, n *testNode) string {
	t.Helper()
	r := do(t, "POST", n.base+"/api/apps/"+n.app.AppID+"/oauth2/token",
		`{"client_id":"`+n.app.ClientID+`","client_secret":"`+n.app.ClientSecret+`"}`, "Content-Type", "application/json")
	wantStatus(t, r, 200)
	return r.Str(t, "access_token")
}
