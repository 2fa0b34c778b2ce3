package api

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/auth"
)

// Server code (spec server-code.md §1, §2): deployment, versions, the
// current version, hook configurations, and the execution of endpoints.

// Size limits of server code requests (docs/compat.md, "Server code:
// deployment and execution").
const (
	// MaxServerCodeScript is the largest script a deployment takes (413
	// REQUEST_ENTITY_TOO_LARGE beyond).
	MaxServerCodeScript = 1 << 20
	// MaxHookConfig is the largest hook configuration.
	MaxHookConfig = 256 << 10
	// MaxServerCodeParams is the largest body of an execution: Kii's
	// limit of 100 KB for the arguments.
	MaxServerCodeParams = 100 << 10
)

// Media types of server code answers.
const (
	serverCodeDeploymentType = "application/vnd.kii.ServerCodeDeploymentResponse+json"
	serverCodeResultType     = "application/json;charset=UTF-8"
	hookConfigType           = "application/vnd.kii.HooksDeploymentRequest+json"
)

// errServerCodeOff answers what needs the runtime when the server runs
// without one.
var errServerCodeOff = kumo.Errorf(kumo.ErrUnavailable, "Server code is not enabled on this server")

// mustBeAdmin refuses non-admins before a request's body is looked at.
func mustBeAdmin(c kumo.Caller, what string) error {
	if !c.IsAdmin() {
		return kumo.Unauthorized(c, "Only the app admin may %s", what)
	}
	return nil
}

// handleServerCodeDeploy serves POST /api/apps/{appID}/server-code: a
// raw script (any media type but multipart and zip), or multipart with
// the parts metadata ({"environmentVersion":"6"}) and server-code. The
// runtime checks the script first; 201 {"versionID"} with Location.
func (s *Server) handleServerCodeDeploy(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	if err := mustBeAdmin(c, "deploy server code"); err != nil {
		return err
	}
	if s.ServerCode == nil {
		return errServerCodeOff
	}
	var script, env string
	switch mt := mediaType(r); {
	case mt == "multipart/form-data":
		var err error
		if script, env, err = readServerCodeParts(w, r); err != nil {
			return err
		}
	case strings.Contains(mt, "zip"):
		return errZipBundle
	default:
		b, err := readBody(w, r, MaxServerCodeScript)
		if err != nil {
			return err
		}
		script = string(b)
	}
	if strings.HasPrefix(script, "PK\x03\x04") {
		return errZipBundle
	}
	if strings.TrimSpace(script) == "" {
		return kumo.Errorf(kumo.ErrInvalidInputData, "The server code is empty")
	}
	if err := s.ServerCode.Check(script); err != nil {
		return err
	}
	v, err := s.ServerCodeVersions.Deploy(r.Context(), c, script, env)
	if err != nil {
		return err
	}
	s.logDeploy(r, c, v.ID)
	w.Header().Set("Location", baseURL(r)+"/api/apps/"+c.AppID+"/server-code/versions/"+v.ID)
	writeJSON(w, http.StatusCreated, serverCodeDeploymentType, map[string]string{"versionID": v.ID})
	return nil
}

// DevLogStore keeps and reads developer log records
// (sqlstore.DevLogService).
type DevLogStore interface {
	kumo.DevLogReader
	AppendDevLogs(ctx context.Context, logs []kumo.DevLog) error
}

// logDeploy records a deployment in the developer log, as Kii does
// (servercode.file.deploy); a failure to is logged, the deployment stands.
func (s *Server) logDeploy(r *http.Request, c kumo.Caller, versionID string) {
	if s.DevLogs == nil {
		return
	}
	rec := kumo.DevLog{Key: "servercode.file.deploy", Level: "INFO", AppID: c.AppID, Description: "Server Code File deployed",
		Fields: map[string]any{"dataType": "application/javascript", "versionID": versionID}}
	if err := s.DevLogs.AppendDevLogs(r.Context(), []kumo.DevLog{rec}); err != nil {
		s.Log.Warn("server code deployment: the developer log record failed", "app", c.AppID, "version", versionID, "error", err)
	}
}

var errZipBundle = kumo.Errorf(kumo.ErrInvalidInputData, "Zip bundles of server code are not supported: upload the script (application/javascript)")

// readServerCodeParts reads a multipart deployment: the script of part
// server-code, the environment version of part metadata.
func readServerCodeParts(w http.ResponseWriter, r *http.Request) (script, env string, err error) {
	_, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if params["boundary"] == "" {
		return "", "", kumo.Errorf(kumo.ErrInvalidInputData, "The multipart body has no boundary")
	}
	body := http.MaxBytesReader(w, r.Body, MaxServerCodeScript+64<<10)
	mr := multipart.NewReader(body, params["boundary"])
	found := false
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", "", partError(err)
		}
		switch p.FormName() {
		case "metadata":
			b, err := io.ReadAll(io.LimitReader(p, 64<<10))
			if err != nil {
				return "", "", partError(err)
			}
			var meta struct {
				EnvironmentVersion json.RawMessage `json:"environmentVersion"`
			}
			if err := json.Unmarshal(b, &meta); err != nil {
				return "", "", kumo.Errorf(kumo.ErrInvalidJSON, "The metadata part must be a JSON object {\"environmentVersion\":\"6\"}")
			}
			if e := string(meta.EnvironmentVersion); e != "null" {
				env = strings.Trim(e, `"`) // "6" or 6
			}
		case "server-code":
			b, err := io.ReadAll(io.LimitReader(p, MaxServerCodeScript+1))
			if err != nil {
				return "", "", partError(err)
			}
			if len(b) > MaxServerCodeScript {
				return "", "", kumo.Errorf(kumo.ErrBodyTooLarge, "The server code is larger than %d bytes", MaxServerCodeScript)
			}
			script, found = string(b), true
		}
	}
	if !found {
		return "", "", kumo.Errorf(kumo.ErrInvalidInputData, "The multipart body has no server-code part")
	}
	return script, env, nil
}

func partError(err error) error {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return kumo.Errorf(kumo.ErrBodyTooLarge, "The request body is larger than %d bytes", tooLarge.Limit)
	}
	var e *kumo.Error
	if errors.As(err, &e) {
		return e
	}
	return kumo.Errorf(kumo.ErrInvalidInputData, "The multipart body could not be read")
}

// handleServerCodeVersions serves GET …/server-code/versions.
func (s *Server) handleServerCodeVersions(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	vs, err := s.ServerCodeVersions.Versions(r.Context(), c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, "application/json", map[string]any{"versions": vs})
	return nil
}

// handleServerCodeScript serves GET …/server-code/versions/{version}:
// the script as uploaded.
func (s *Server) handleServerCodeScript(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	script, err := s.ServerCodeVersions.Script(r.Context(), c, r.PathValue("version"))
	if err != nil {
		return err
	}
	writeText(w, http.StatusOK, "application/javascript", script)
	return nil
}

// handleServerCodeDelete serves DELETE …/server-code/versions/{version}.
func (s *Server) handleServerCodeDelete(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	if err := s.ServerCodeVersions.DeleteVersion(r.Context(), c, r.PathValue("version")); err != nil {
		return err
	}
	return noContent(w)
}

// handleServerCodeCurrentPut serves PUT …/server-code/versions/current:
// the body is the version ID (text/plain; a JSON string is taken too).
func (s *Server) handleServerCodeCurrentPut(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	if err := mustBeAdmin(c, "set the current server code version"); err != nil {
		return err
	}
	b, err := readBody(w, r, 1<<10)
	if err != nil {
		return err
	}
	id := strings.TrimSpace(string(b))
	if len(id) >= 2 && id[0] == '"' {
		var quoted string
		if json.Unmarshal([]byte(id), &quoted) == nil {
			id = quoted
		}
	}
	if id == "" {
		return kumo.Errorf(kumo.ErrInvalidInputData, "The request body must be a server code version ID")
	}
	if err := s.ServerCodeVersions.SetCurrent(r.Context(), c, id); err != nil {
		return err
	}
	return noContent(w)
}

// handleServerCodeCurrentGet serves GET …/server-code/versions/current:
// the bare version ID as text.
func (s *Server) handleServerCodeCurrentGet(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	id, err := s.ServerCodeVersions.Current(r.Context(), c)
	if err != nil {
		return err
	}
	writeText(w, http.StatusOK, "text/plain", id)
	return nil
}

// handleServerCodeCurrentDelete serves DELETE …/server-code/versions/current.
func (s *Server) handleServerCodeCurrentDelete(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	if err := s.ServerCodeVersions.ClearCurrent(r.Context(), c); err != nil {
		return err
	}
	return noContent(w)
}

// handleHookConfigPut serves PUT …/hooks/versions/{version} ("current"
// names the current version): the configuration replaces the version's.
func (s *Server) handleHookConfigPut(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	if err := mustBeAdmin(c, "deploy a hook configuration"); err != nil {
		return err
	}
	b, err := readJSON(w, r, MaxHookConfig)
	if err != nil {
		return err
	}
	cfg, err := kumo.ParseHookConfig(b)
	if err != nil {
		return err
	}
	if err := s.ServerCodeVersions.PutHookConfig(r.Context(), c, r.PathValue("version"), cfg); err != nil {
		return err
	}
	return noContent(w)
}

// handleHookConfigGet serves GET and HEAD …/hooks/versions/{version}:
// the configuration as uploaded.
func (s *Server) handleHookConfigGet(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	cfg, err := s.ServerCodeVersions.HookConfig(r.Context(), c, r.PathValue("version"))
	if err != nil {
		return err
	}
	writeText(w, http.StatusOK, hookConfigType, string(cfg.Raw))
	return nil
}

// handleHookConfigDelete serves DELETE …/hooks/versions/{version} (404
// when the version has none).
func (s *Server) handleHookConfigDelete(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	if err := s.ServerCodeVersions.DeleteHookConfig(r.Context(), c, r.PathValue("version")); err != nil {
		return err
	}
	return noContent(w)
}

// handleServerCodeExecute serves POST
// …/server-code/versions/{version}/{endpoint}[?environment-version=0|6]:
// anyone may call (a user, thing or admin token, Basic app credentials or
// nothing); the body is the endpoint's params. 200 {"returnedValue"},
// or 400 ENDPOINT_INVOCATION_ERROR when the code failed; both with
// X-Step-count and X-Environment-version.
func (s *Server) handleServerCodeExecute(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	// The headers go on every answer of an execution, refusals before the
	// code ran included (0 steps; the environment asked for, else "0"):
	// Kii's SDKs read them from failures too.
	h := w.Header()
	h.Set("Access-Control-Expose-Headers", h.Get("Access-Control-Expose-Headers")+", X-Step-count, X-Environment-version")
	h.Set("X-Step-count", "0")
	h.Set("X-Environment-version", kumo.EnvironmentV0)
	if e := r.URL.Query().Get("environment-version"); e == kumo.EnvironmentV6 {
		h.Set("X-Environment-version", e)
	}
	if _, ok := kumo.ServerCodeFrom(r.Context()); ok {
		return kumo.Errorf(kumo.ErrOperationNotAllowed, "Server code may not execute server code")
	}
	if s.ServerCode == nil {
		return errServerCodeOff
	}
	endpoint := r.PathValue("endpoint")
	if !kumo.ValidEndpointName(endpoint) {
		return kumo.Errorf(kumo.ErrInvalidInputData, "%q is not an endpoint name (^[a-zA-Z][_a-zA-Z0-9]*$)", endpoint)
	}
	env := r.URL.Query().Get("environment-version")
	if env != "" && env != kumo.EnvironmentV0 && env != kumo.EnvironmentV6 {
		return kumo.Errorf(kumo.ErrInvalidInputData, "environment-version is %s or %s", kumo.EnvironmentV0, kumo.EnvironmentV6)
	}
	b, err := readJSON(w, r, MaxServerCodeParams)
	if err != nil {
		return err
	}
	params, err := serverCodeParams(b)
	if err != nil {
		return err
	}
	call := kumo.ServerCodeCall{AppID: c.AppID, Version: r.PathValue("version"), Endpoint: endpoint, Params: params,
		Environment: env, Trigger: kumo.RunManual, Caller: c, RemoteAddr: r.RemoteAddr}
	if c.Kind != kumo.Anonymous {
		call.Token = auth.ParseAuthorization(r.Header.Get("Authorization")).Bearer
	}
	res, err := s.ServerCode.Run(r.Context(), call)
	h.Set("X-Step-count", strconv.Itoa(res.Steps))
	if e := cmp.Or(res.Environment, env); e != "" {
		h.Set("X-Environment-version", e)
	}
	if err != nil {
		return err
	}
	if res.Err != nil {
		return kumo.Errorf(kumo.ErrEndpointInvocation, "%s", kumo.ServerCodeErrorMessage).With("details", res.Err.Details)
	}
	out := map[string]any{}
	if res.ReturnedValue != nil {
		out["returnedValue"] = res.ReturnedValue
	}
	writeJSON(w, http.StatusOK, serverCodeResultType, out)
	return nil
}

// serverCodeParams checks an execution's body: a JSON object (an empty
// body or null is {}).
func serverCodeParams(b []byte) (json.RawMessage, error) {
	t := bytes.TrimSpace(b)
	if len(t) == 0 || string(t) == "null" {
		return json.RawMessage("{}"), nil
	}
	if t[0] != '{' || !json.Valid(t) || !utf8.Valid(t) {
		return nil, kumo.Errorf(kumo.ErrInvalidJSON, "The request body must be a JSON object: the endpoint's params")
	}
	return json.RawMessage(t), nil
}

// writeText writes a text body with status and media type.
func writeText(w http.ResponseWriter, status int, mediaType, body string) {
	h := w.Header()
	h.Set("Content-Type", mediaType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	io.WriteString(w, body)
}
