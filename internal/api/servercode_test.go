package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/sqlstore"
	"github.com/kumo-iot/kumo/internal/sqlstore/postgres"
	"github.com/kumo-iot/kumo/internal/sqlstore/postgres/pgtest"
	"github.com/kumo-iot/kumo/internal/sqlstore/sqlite"
	"github.com/kumo-iot/kumo/internal/sqlstore/storetest"
)

// testRunner is a kumo.ServerCodeRunner for the handler tests (the real
// engine is internal/servercode's): Check refuses scripts that use eval;
// Run loads the version from the store and answers by endpoint name:
// "echo" returns the params, "nothing" returns undefined, "boom" throws.
type testRunner struct {
	versions kumo.ServerCodeService

	mu    sync.Mutex
	calls []kumo.ServerCodeCall
}

func (r *testRunner) Check(script string) error {
	if strings.Contains(script, "eval(") {
		return kumo.Errorf(kumo.ErrInvalidInputData, "eval is not allowed")
	}
	return nil
}

func (r *testRunner) Run(ctx context.Context, call kumo.ServerCodeCall) (kumo.ServerCodeResult, error) {
	r.mu.Lock()
	r.calls = append(r.calls, call)
	r.mu.Unlock()
	v, _, err := r.versions.LoadVersion(ctx, call.AppID, call.Version)
	if err != nil {
		return kumo.ServerCodeResult{}, err
	}
	res := kumo.ServerCodeResult{VersionID: v.ID, Environment: cmpOr(call.Environment, v.EnvironmentVersion), Steps: 3}
	switch call.Endpoint {
	case "echo":
		res.ReturnedValue = call.Params
	case "nothing":
	case "boom":
		res.Steps = 2
		res.Err = &kumo.ServerCodeError{ErrorMessage: kumo.ServerCodeErrorMessage,
			Details: kumo.ServerCodeErrorDetails{ErrorCode: "RUNTIME_ERROR", Message: "adminContext is not defined"}}
	default:
		res.Err = &kumo.ServerCodeError{ErrorMessage: kumo.ServerCodeErrorMessage,
			Details: kumo.ServerCodeErrorDetails{ErrorCode: "RUNTIME_ERROR", Message: call.Endpoint + " is not a function"}}
	}
	return res, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (r *testRunner) last() kumo.ServerCodeCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[len(r.calls)-1]
}

// scFixture is an API server over a real store on a real listener, with
// an app, a user, a thing and their tokens.
type scFixture struct {
	t       *testing.T
	st      *sqlstore.Store
	srv     *Server
	runner  *testRunner
	base    string // http://host:port/api/apps/{appID}
	app     kumo.AppCredentials
	admin   string // token
	user    string // token
	thing   string // token
	userID  string
	thingID string
}

// forEachTestStore runs fn on SQLite and on PostgreSQL (when
// KUMO_TEST_POSTGRES is set).
func forEachTestStore(t *testing.T, fn func(t *testing.T, st *sqlstore.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "kumo.db")
		fn(t, storetest.MustOpen(t, func(ctx context.Context) (*sqlstore.Store, error) { return sqlite.Open(ctx, path) }))
	})
	t.Run("postgres", func(t *testing.T) {
		u := pgtest.NewDatabase(t)
		fn(t, storetest.MustOpen(t, func(ctx context.Context) (*sqlstore.Store, error) { return postgres.Open(ctx, u) }))
	})
}

func newSCFixture(t *testing.T, st *sqlstore.Store) *scFixture {
	t.Helper()
	ctx := context.Background()
	f := &scFixture{t: t, st: st, runner: &testRunner{versions: st.ServerCode}}
	f.srv = &Server{Apps: st.Apps, Tokens: st.Tokens, ServerCodeVersions: st.ServerCode, ServerCode: f.runner, DevLogs: st.DevLogs,
		Addr: "127.0.0.1:0", Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := f.srv.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.srv.Close(context.Background()) })
	app, err := st.Apps.CreateApp(ctx, kumo.AppCreate{Name: "sc"})
	if err != nil {
		t.Fatal(err)
	}
	f.app = app
	f.base = "http://" + f.srv.ListenAddr().String() + "/api/apps/" + app.AppID
	anon := kumo.Caller{AppID: app.AppID, Kind: kumo.Anonymous}
	u, _, err := st.Users.RegisterUser(ctx, anon, kumo.UserRegistration{LoginName: "alice", Password: "password1", Custom: map[string]any{}}, false)
	if err != nil {
		t.Fatal(err)
	}
	th, _, err := st.Things.RegisterThing(ctx, anon, kumo.ThingRegistration{VendorThingID: "dev1", Password: "password1", Fields: map[string]any{}}, false)
	if err != nil {
		t.Fatal(err)
	}
	f.userID, f.thingID = u.ID, th.ID
	for _, l := range []struct {
		tok *string
		req kumo.LoginRequest
	}{
		{&f.admin, kumo.LoginRequest{ClientID: app.ClientID, ClientSecret: app.ClientSecret}},
		{&f.user, kumo.LoginRequest{Username: "alice", Password: "password1"}},
		{&f.thing, kumo.LoginRequest{Username: "VENDOR_THING_ID:dev1", Password: "password1"}},
	} {
		tok, err := st.Tokens.Login(ctx, app.AppID, l.req)
		if err != nil {
			t.Fatalf("Login(%+v): %v", l.req, err)
		}
		*l.tok = tok.AccessToken
	}
	return f
}

// withoutRuntime sends a request to a server over the fixture's store
// that has no server code runtime.
func (f *scFixture) withoutRuntime(method, path, auth, body string) *httptest.ResponseRecorder {
	off := &Server{Apps: f.st.Apps, Tokens: f.st.Tokens, ServerCodeVersions: f.st.ServerCode, Log: f.srv.Log}
	req := httptest.NewRequest(method, "/api/apps/"+f.app.AppID+path, strings.NewReader(body))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	w := httptest.NewRecorder()
	off.Handler().ServeHTTP(w, req)
	return w
}

type scResponse struct {
	status int
	header http.Header
	body   string
}

func (r scResponse) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.body, err)
	}
	return m
}

// do sends a request; headers are name, value pairs. A token of "" sends
// no Authorization.
func (f *scFixture) do(method, path, token, contentType string, body []byte, headers ...string) scResponse {
	f.t.Helper()
	req, err := http.NewRequest(method, f.base+path, bytes.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return scResponse{resp.StatusCode, resp.Header, string(b)}
}

// want checks the status and media type of r, and the errorCode of an
// error answer.
func want(t *testing.T, what string, r scResponse, status int, mediaType, errorCode string) {
	t.Helper()
	if r.status != status {
		t.Errorf("%s: status %d, want %d (body %s)", what, r.status, status, r.body)
		return
	}
	if mediaType != "" && r.header.Get("Content-Type") != mediaType {
		t.Errorf("%s: Content-Type %q, want %q", what, r.header.Get("Content-Type"), mediaType)
	}
	if errorCode != "" {
		if got, _ := r.json(t)["errorCode"].(string); got != errorCode {
			t.Errorf("%s: errorCode %q, want %q (body %s)", what, got, errorCode, r.body)
		}
	}
}

// deploy deploys script raw and returns its version ID.
func (f *scFixture) deploy(script string) string {
	f.t.Helper()
	r := f.do("POST", "/server-code", f.admin, "application/javascript", []byte(script))
	want(f.t, "deploy", r, 201, serverCodeDeploymentType, "")
	id, _ := r.json(f.t)["versionID"].(string)
	return id
}

func multipartDeploy(t *testing.T, env, script string) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="metadata"; filename="metadata"`)
	h.Set("Content-Type", "application/vnd.kii.ServerCodeMetadataRequest+json")
	p, _ := mw.CreatePart(h)
	io.WriteString(p, `{"environmentVersion":"`+env+`"}`)
	h = textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="server-code"; filename="server-code"`)
	h.Set("Content-Type", "application/javascript")
	p, _ = mw.CreatePart(h)
	io.WriteString(p, script)
	mw.Close()
	return mw.FormDataContentType(), buf.Bytes()
}

func TestServerCodeManagementAPI(t *testing.T) {
	forEachTestStore(t, func(t *testing.T, st *sqlstore.Store) {
		f := newSCFixture(t, st)
		const script = "function echo(params, context) { return params; }\n"

		// Only the admin: 401 UNAUTHORIZED for a user, a thing, nobody.
		for _, tok := range []string{f.user, f.thing, ""} {
			r := f.do("POST", "/server-code", tok, "application/javascript", []byte(script))
			want(t, "deploy by a non-admin", r, 401, "application/vnd.kii.UnauthorizedAccessException+json", "UNAUTHORIZED")
			if r.status == 401 && r.json(t)["authenticatedAppID"] != f.app.AppID {
				t.Errorf("deploy by a non-admin: body %s lacks authenticatedAppID", r.body)
			}
			for _, q := range []struct{ method, path string }{{"GET", "/server-code/versions"}, {"GET", "/server-code/versions/current"},
				{"PUT", "/server-code/versions/current"}, {"DELETE", "/server-code/versions/current"}, {"GET", "/hooks/versions/current"},
				{"PUT", "/hooks/versions/current"}, {"DELETE", "/hooks/versions/current"}, {"GET", "/server-code/versions/abc"}, {"DELETE", "/server-code/versions/abc"}} {
				want(t, q.method+" "+q.path+" by a non-admin", f.do(q.method, q.path, tok, "text/plain", []byte("abc")), 401, "", "UNAUTHORIZED")
			}
		}

		// Raw deployment: 201 {"versionID"} with Location, environment "0".
		r := f.do("POST", "/server-code", f.admin, "application/javascript", []byte(script))
		want(t, "raw deploy", r, 201, serverCodeDeploymentType, "")
		v1, _ := r.json(t)["versionID"].(string)
		if len(v1) != 25 || strings.Trim(v1, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
			t.Errorf("versionID %q: want 25 lower-case alphanumerics", v1)
		}
		if loc := r.header.Get("Location"); loc != f.base+"/server-code/versions/"+v1 {
			t.Errorf("Location = %q", loc)
		}
		// The deployment is in the developer log.
		entries, err := f.st.DevLogs.DevLogs(context.Background(), f.app.AppID, kumo.DevLogFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var logs []kumo.DevLog
		for _, e := range entries {
			logs = append(logs, e.DevLog)
		}
		if len(logs) != 1 || logs[0].Key != "servercode.file.deploy" || logs[0].AppID != f.app.AppID ||
			logs[0].Description != "Server Code File deployed" || logs[0].Fields["versionID"] != v1 || logs[0].Fields["dataType"] != "application/javascript" {
			t.Errorf("developer log after a deployment: %+v", logs)
		}
		// Multipart with metadata: environment "6"; text/plain is a raw script.
		ct, body := multipartDeploy(t, "6", "function six() { return 6; }")
		r = f.do("POST", "/server-code", f.admin, ct, body, "X-Kii-AppID", f.app.AppID, "X-Kii-AppKey", f.app.AppKey)
		want(t, "multipart deploy", r, 201, serverCodeDeploymentType, "")
		v6, _ := r.json(t)["versionID"].(string)
		vText := f.deploy("function plain() {}")

		// Refused deployments.
		for _, tt := range []struct {
			name, ct string
			body     []byte
			status   int
			code     string
		}{
			{"zip media type", "application/zip", []byte("PK\x03\x04zip"), 400, "INVALID_INPUT_DATA"},
			{"zip bytes", "application/octet-stream", []byte("PK\x03\x04zip"), 400, "INVALID_INPUT_DATA"},
			{"empty", "application/javascript", nil, 400, "INVALID_INPUT_DATA"},
			{"refused by the runtime", "application/javascript", []byte("function f() { eval('1'); }"), 400, "INVALID_INPUT_DATA"},
			{"too large", "application/javascript", bytes.Repeat([]byte("x"), MaxServerCodeScript+1), 413, "REQUEST_ENTITY_TOO_LARGE"},
			{"multipart without script", "multipart/form-data; boundary=b", []byte("--b\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\r\n{}\r\n--b--\r\n"), 400, "INVALID_INPUT_DATA"},
			{"bad environment", ct, bytes.Replace(body, []byte(`"6"`), []byte(`"9"`), 1), 400, "INVALID_INPUT_DATA"},
			{"not UTF-8", "application/javascript", []byte("function a() { return '\xff\xfe'; }"), 400, "INVALID_INPUT_DATA"},
			{"with NUL", "application/javascript", []byte("function a() { return '\x00'; }"), 400, "INVALID_INPUT_DATA"},
		} {
			want(t, "deploy "+tt.name, f.do("POST", "/server-code", f.admin, tt.ct, tt.body), tt.status, "", tt.code)
		}

		// List and get.
		r = f.do("GET", "/server-code/versions", f.admin, "", nil)
		want(t, "list", r, 200, "application/json", "")
		var list struct{ Versions []kumo.ServerCodeVersion }
		json.Unmarshal([]byte(r.body), &list)
		envs := map[string]string{}
		for _, v := range list.Versions {
			envs[v.ID] = v.EnvironmentVersion
			if v.Current || v.CreatedAt == 0 || v.ModifiedAt == 0 {
				t.Errorf("listed version %+v: want not current, with times", v)
			}
		}
		if len(list.Versions) != 3 || envs[v1] != "0" || envs[v6] != "6" || envs[vText] != "0" {
			t.Errorf("list = %s", r.body)
		}
		r = f.do("GET", "/server-code/versions/"+v1, f.admin, "", nil)
		want(t, "get script", r, 200, "application/javascript", "")
		if r.body != script {
			t.Errorf("script = %q, want %q", r.body, script)
		}
		want(t, "get unknown", f.do("GET", "/server-code/versions/nosuchversion", f.admin, "", nil), 404,
			"application/vnd.kii.ServerCodeVersionNotFoundException+json", "SERVER_CODE_VERSION_NOT_FOUND")

		// current: none, set, read, unknown, cleared.
		want(t, "get current with none", f.do("GET", "/server-code/versions/current", f.admin, "", nil), 404, "", "SERVER_CODE_VERSION_NOT_FOUND")
		want(t, "set unknown current", f.do("PUT", "/server-code/versions/current", f.admin, "text/plain", []byte("nosuchversion")), 404, "", "SERVER_CODE_VERSION_NOT_FOUND")
		want(t, "set empty current", f.do("PUT", "/server-code/versions/current", f.admin, "text/plain", nil), 400, "", "INVALID_INPUT_DATA")
		want(t, "set current", f.do("PUT", "/server-code/versions/current", f.admin, "text/plain", []byte(v1)), 204, "", "")
		r = f.do("GET", "/server-code/versions/current", f.admin, "", nil)
		want(t, "get current", r, 200, "text/plain", "")
		if r.body != v1 {
			t.Errorf("current = %q, want %q", r.body, v1)
		}
		r = f.do("GET", "/server-code/versions", f.admin, "", nil)
		if !strings.Contains(r.body, `"current" : true`) {
			t.Errorf("list after set current: no current version: %s", r.body)
		}
		want(t, "set current (JSON string)", f.do("PUT", "/server-code/versions/current", f.admin, "application/json", []byte(`"`+v6+`"`)), 204, "", "")
		if r = f.do("GET", "/server-code/versions/current", f.admin, "", nil); r.body != v6 {
			t.Errorf("current = %q, want %q", r.body, v6)
		}
		want(t, "clear current", f.do("DELETE", "/server-code/versions/current", f.admin, "", nil), 204, "", "")
		want(t, "get current after clear", f.do("GET", "/server-code/versions/current", f.admin, "", nil), 404, "", "SERVER_CODE_VERSION_NOT_FOUND")

		// Hook configurations: PUT, GET as uploaded, HEAD, DELETE, 404s.
		hooks := `{"kiicloud://users":[{"when":"USER_CREATED","what":"EXECUTE_SERVER_CODE","endpoint":"echo"}]}`
		want(t, "head without config", f.do("HEAD", "/hooks/versions/"+v1, f.admin, "", nil), 404, "", "")
		want(t, "get without config", f.do("GET", "/hooks/versions/"+v1, f.admin, "", nil), 404,
			"application/vnd.kii.HookConfigurationNotFoundException+json", "HOOK_CONFIGURATION_NOT_FOUND")
		want(t, "put bad config", f.do("PUT", "/hooks/versions/"+v1, f.admin, hookConfigType, []byte(`{"kiicloud://nowhere":[]}`)), 400, "", "INVALID_INPUT_DATA")
		want(t, "put config not JSON", f.do("PUT", "/hooks/versions/"+v1, f.admin, hookConfigType, []byte(`{`)), 400, "", "INVALID_INPUT_DATA")
		want(t, "put config too large", f.do("PUT", "/hooks/versions/"+v1, f.admin, hookConfigType, bytes.Repeat([]byte(" "), MaxHookConfig+1)), 413, "", "REQUEST_ENTITY_TOO_LARGE")
		want(t, "put config of unknown version", f.do("PUT", "/hooks/versions/nosuchversion", f.admin, hookConfigType, []byte(hooks)), 404, "", "SERVER_CODE_VERSION_NOT_FOUND")
		want(t, "put config of current with none", f.do("PUT", "/hooks/versions/current", f.admin, hookConfigType, []byte(hooks)), 404, "", "SERVER_CODE_VERSION_NOT_FOUND")
		want(t, "put config", f.do("PUT", "/hooks/versions/"+v1, f.admin, hookConfigType, []byte(hooks)), 204, "", "")
		r = f.do("GET", "/hooks/versions/"+v1, f.admin, "", nil)
		want(t, "get config", r, 200, hookConfigType, "")
		if r.body != hooks {
			t.Errorf("config = %s, want %s", r.body, hooks)
		}
		want(t, "head config", f.do("HEAD", "/hooks/versions/"+v1, f.admin, "", nil), 200, "", "")
		// "current" is an alias on the hooks paths.
		f.do("PUT", "/server-code/versions/current", f.admin, "text/plain", []byte(v1))
		if r = f.do("GET", "/hooks/versions/current", f.admin, "", nil); r.status != 200 || r.body != hooks {
			t.Errorf("get config of current = %d %s", r.status, r.body)
		}
		if _, id, ok, err := st.ServerCode.CurrentHookConfig(context.Background(), f.app.AppID); err != nil || !ok || id != v1 {
			t.Errorf("CurrentHookConfig = %s, %v, %v", id, ok, err)
		}
		want(t, "delete config of current", f.do("DELETE", "/hooks/versions/current", f.admin, "", nil), 204, "", "")
		want(t, "delete config again", f.do("DELETE", "/hooks/versions/"+v1, f.admin, "", nil), 404, "", "HOOK_CONFIGURATION_NOT_FOUND")

		// IDs that cannot be versions (not UTF-8: PostgreSQL would refuse
		// them) are 404, and a configuration that is not UTF-8 400.
		for _, q := range []struct{ method, path, body, code string }{
			{"GET", "/server-code/versions/%FF", "", "SERVER_CODE_VERSION_NOT_FOUND"},
			{"DELETE", "/server-code/versions/%FF", "", "SERVER_CODE_VERSION_NOT_FOUND"},
			{"PUT", "/server-code/versions/current", "\xff", "SERVER_CODE_VERSION_NOT_FOUND"},
			{"PUT", "/hooks/versions/%FF", "{}", "SERVER_CODE_VERSION_NOT_FOUND"},
			{"GET", "/hooks/versions/%FF", "", "HOOK_CONFIGURATION_NOT_FOUND"},
			{"DELETE", "/hooks/versions/%FF", "", "HOOK_CONFIGURATION_NOT_FOUND"},
		} {
			want(t, q.method+" "+q.path, f.do(q.method, q.path, f.admin, "text/plain", []byte(q.body)), 404, "", q.code)
		}
		notUTF8 := `{"kiicloud://users":[{"when":"USER_CREATED","what":"EXECUTE_SERVER_CODE","endpoint":"echo","note":"` + "\xff" + `"}]}`
		want(t, "put config not UTF-8", f.do("PUT", "/hooks/versions/"+v1, f.admin, hookConfigType, []byte(notUTF8)), 400, "", "INVALID_INPUT_DATA")

		// Delete a version.
		want(t, "delete version", f.do("DELETE", "/server-code/versions/"+vText, f.admin, "", nil), 204, "", "")
		want(t, "get deleted version", f.do("GET", "/server-code/versions/"+vText, f.admin, "", nil), 404, "", "SERVER_CODE_VERSION_NOT_FOUND")
		want(t, "delete version again", f.do("DELETE", "/server-code/versions/"+vText, f.admin, "", nil), 404, "", "SERVER_CODE_VERSION_NOT_FOUND")

		// Without a runtime, deployment answers 503.
		w := f.withoutRuntime("POST", "/server-code", "Bearer "+f.admin, script)
		if w.Code != 503 || w.Header().Get("Content-Type") != "application/vnd.kii.TemporaryUnavailableException+json" ||
			!strings.Contains(w.Body.String(), "TEMPORARY_UNAVAILABLE_ERROR") {
			t.Errorf("deploy without a runtime: %d %s", w.Code, w.Body.String())
		}
	})
}

func TestServerCodeExecuteAPI(t *testing.T) {
	forEachTestStore(t, func(t *testing.T, st *sqlstore.Store) {
		f := newSCFixture(t, st)
		v0 := f.deploy("function echo(p) { return p; }")
		ct, body := multipartDeploy(t, "6", "function echo(p) { return p; }")
		r := f.do("POST", "/server-code", f.admin, ct, body)
		v6, _ := r.json(t)["versionID"].(string)

		exec := func(version, endpoint, query, auth string, body []byte) scResponse {
			req, _ := http.NewRequest("POST", f.base+"/server-code/versions/"+version+"/"+endpoint+query, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return scResponse{resp.StatusCode, resp.Header, string(b)}
		}
		want(t, "execute current with none", exec("current", "echo", "", "", nil), 404, "", "SERVER_CODE_VERSION_NOT_FOUND")
		f.do("PUT", "/server-code/versions/current", f.admin, "text/plain", []byte(v0))

		// Every caller form: the runner gets the caller and its token.
		basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(f.app.AppID+":"+f.app.AppKey))
		for _, tt := range []struct {
			name, auth, token string
			kind              kumo.CallerKind
			id                string
		}{
			{"user", "Bearer " + f.user, f.user, kumo.UserCaller, f.userID},
			{"thing", "Bearer " + f.thing, f.thing, kumo.ThingCaller, f.thingID},
			{"admin", "Bearer " + f.admin, f.admin, kumo.Admin, f.app.ClientID},
			{"basic", basic, "", kumo.Anonymous, ""},
			{"nobody", "", "", kumo.Anonymous, ""},
		} {
			r := exec("current", "echo", "", tt.auth, []byte(`{"message":"hi"}`))
			want(t, "execute as "+tt.name, r, 200, "application/json;charset=UTF-8", "")
			if rv, _ := r.json(t)["returnedValue"].(map[string]any); rv["message"] != "hi" {
				t.Errorf("execute as %s: body %s, want the params back in returnedValue", tt.name, r.body)
			}
			if r.header.Get("X-Step-count") != "3" || r.header.Get("X-Environment-version") != "0" {
				t.Errorf("execute as %s: X-Step-count %q, X-Environment-version %q", tt.name, r.header.Get("X-Step-count"), r.header.Get("X-Environment-version"))
			}
			if !strings.Contains(r.header.Get("Access-Control-Expose-Headers"), "X-Step-count") {
				t.Errorf("execute as %s: X-Step-count not exposed to browsers: %q", tt.name, r.header.Get("Access-Control-Expose-Headers"))
			}
			c := f.runner.last()
			if c.Token != tt.token || c.Caller.Kind != tt.kind || c.Caller.ID != tt.id || c.Caller.AppID != f.app.AppID ||
				c.Trigger != kumo.RunManual || c.Version != "current" || c.Endpoint != "echo" || c.AppID != f.app.AppID {
				t.Errorf("execute as %s: call %+v", tt.name, c)
			}
		}
		want(t, "execute with a wrong token", exec("current", "echo", "", "Bearer nosuchtoken", nil), 403, "", "WRONG_TOKEN")

		// Version by ID, environment override and echo.
		r = exec(v6, "echo", "", "", nil)
		if r.status != 200 || r.header.Get("X-Environment-version") != "6" {
			t.Errorf("execute v6: %d, X-Environment-version %q", r.status, r.header.Get("X-Environment-version"))
		}
		if c := f.runner.last(); string(c.Params) != "{}" || c.Version != v6 || c.Environment != "" {
			t.Errorf("execute with no body: call %+v, want params {}", c)
		}
		r = exec(v6, "echo", "?environment-version=0", "", []byte("null"))
		if r.status != 200 || r.header.Get("X-Environment-version") != "0" || f.runner.last().Environment != "0" {
			t.Errorf("execute v6 as 0: %d, X-Environment-version %q", r.status, r.header.Get("X-Environment-version"))
		}
		want(t, "bad environment", exec(v6, "echo", "?environment-version=4", "", nil), 400, "", "INVALID_INPUT_DATA")

		// undefined: {}.
		r = exec("current", "nothing", "", "", nil)
		want(t, "undefined", r, 200, "application/json;charset=UTF-8", "")
		if m := r.json(t); len(m) != 0 {
			t.Errorf("undefined: body %s, want {}", r.body)
		}

		// The code failed: 400 ENDPOINT_INVOCATION_ERROR with details and headers.
		r = exec("current", "boom", "", "", nil)
		want(t, "boom", r, 400, "application/vnd.kii.EndpointInvocationErrorException+json", "ENDPOINT_INVOCATION_ERROR")
		m := r.json(t)
		d, _ := m["details"].(map[string]any)
		if m["message"] != kumo.ServerCodeErrorMessage || d["errorCode"] != "RUNTIME_ERROR" || d["message"] != "adminContext is not defined" {
			t.Errorf("boom: body %s", r.body)
		}
		if r.header.Get("X-Step-count") != "2" || r.header.Get("X-Environment-version") != "0" {
			t.Errorf("boom: X-Step-count %q, X-Environment-version %q", r.header.Get("X-Step-count"), r.header.Get("X-Environment-version"))
		}

		// Refused before running.
		for _, tt := range []struct {
			name, version, endpoint string
			body                    []byte
			status                  int
			code                    string
		}{
			{"bad endpoint name", "current", "1echo", nil, 400, "INVALID_INPUT_DATA"},
			{"endpoint name with a dash", "current", "ec-ho", nil, 400, "INVALID_INPUT_DATA"},
			{"params an array", "current", "echo", []byte(`[1]`), 400, "INVALID_JSON"},
			{"params a string", "current", "echo", []byte(`"x"`), 400, "INVALID_JSON"},
			{"params not JSON", "current", "echo", []byte(`{`), 400, "INVALID_JSON"},
			{"params too large", "current", "echo", append(append([]byte(`{"a":"`), bytes.Repeat([]byte("x"), MaxServerCodeParams)...), `"}`...), 413, "REQUEST_ENTITY_TOO_LARGE"},
			{"unknown version", "nosuchversion", "echo", nil, 404, "SERVER_CODE_VERSION_NOT_FOUND"},
			{"version not UTF-8", "%FF", "echo", nil, 404, "SERVER_CODE_VERSION_NOT_FOUND"},
			{"params not UTF-8", "current", "echo", []byte("{\"a\":\"\xff\"}"), 400, "INVALID_JSON"},
		} {
			r := exec(tt.version, tt.endpoint, "", "", tt.body)
			want(t, tt.name, r, tt.status, "", tt.code)
			// The headers go on refusals too (Kii's SDKs read them from failures).
			if r.header.Get("X-Step-count") != "0" || r.header.Get("X-Environment-version") != "0" {
				t.Errorf("%s: X-Step-count %q, X-Environment-version %q", tt.name, r.header.Get("X-Step-count"), r.header.Get("X-Environment-version"))
			}
		}

		// Server code calling server code (the in-process bridge): 409.
		req := httptest.NewRequest("POST", "/api/apps/"+f.app.AppID+"/server-code/versions/current/echo", strings.NewReader("{}"))
		req = req.WithContext(kumo.WithServerCode(req.Context(), kumo.RunManual))
		w := httptest.NewRecorder()
		n := len(f.runner.calls)
		f.srv.Handler().ServeHTTP(w, req)
		if w.Code != 409 || !strings.Contains(w.Body.String(), "OPERATION_NOT_ALLOWED") || len(f.runner.calls) != n {
			t.Errorf("execute from server code: %d %s", w.Code, w.Body.String())
		}

		// Without a runtime: 503.
		w = f.withoutRuntime("POST", "/server-code/versions/current/echo", "", "{}")
		if w.Code != 503 || !strings.Contains(w.Body.String(), "TEMPORARY_UNAVAILABLE_ERROR") {
			t.Errorf("execute without a runtime: %d %s", w.Code, w.Body.String())
		}
	})
}
