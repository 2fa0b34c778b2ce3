package servercode_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/api"
	"github.com/kumo-iot/kumo/internal/servercode"
	"github.com/kumo-iot/kumo/internal/sqlstore"
	"github.com/kumo-iot/kumo/internal/sqlstore/postgres"
	"github.com/kumo-iot/kumo/internal/sqlstore/postgres/pgtest"
	"github.com/kumo-iot/kumo/internal/sqlstore/sqlite"
	"github.com/kumo-iot/kumo/internal/sqlstore/storetest"
)

// world is a real Kumo API over a real store, with an engine wired to it
// as cmd/kumo wires them.
type world struct {
	t        *testing.T
	ctx      context.Context
	st       *sqlstore.Store
	api      *api.Server
	eng      *servercode.Engine
	app      kumo.AppCredentials
	admin    kumo.Caller
	versions *memVersions
	logs     *memLogs
	base     string // http://127.0.0.1:port
}

// stores are the stores the tests run on: SQLite, and PostgreSQL when
// KUMO_TEST_POSTGRES is set.
func stores(t *testing.T) map[string]func(t *testing.T) *sqlstore.Store {
	m := map[string]func(t *testing.T) *sqlstore.Store{
		"sqlite": func(t *testing.T) *sqlstore.Store {
			path := filepath.Join(t.TempDir(), "kumo.db")
			return storetest.MustOpen(t, func(ctx context.Context) (*sqlstore.Store, error) { return sqlite.Open(ctx, path) })
		},
	}
	if os.Getenv("KUMO_TEST_POSTGRES") != "" {
		m["postgres"] = func(t *testing.T) *sqlstore.Store {
			url := pgtest.NewDatabase(t)
			return storetest.MustOpen(t, func(ctx context.Context) (*sqlstore.Store, error) { return postgres.Open(ctx, url) })
		}
	}
	return m
}

func newWorld(t *testing.T, open func(*testing.T) *sqlstore.Store, cfg servercode.Config) *world {
	t.Helper()
	st := open(t)
	w := &world{t: t, ctx: context.Background(), st: st, versions: &memVersions{scripts: map[string]string{}}, logs: &memLogs{}}
	var err error
	w.app, err = st.Apps.CreateApp(w.ctx, kumo.AppCreate{ID: "scapp", Key: "sckey"})
	if err != nil {
		t.Fatalf("CreateApp: %v", err)
	}
	w.admin = kumo.Caller{AppID: w.app.AppID, Kind: kumo.Admin, ID: w.app.ClientID}
	w.api = &api.Server{
		Apps: st.Apps, Tokens: st.Tokens, Things: st.Things, Users: st.Users, Groups: st.Groups,
		Objects: st.Objects, Buckets: st.Buckets, Installations: st.Installations,
		Subscriptions: st.Subscriptions, AppParams: st.Apps, PushConfigs: st.PushConfigs, ACLs: st.ACLs,
		ThingQueries: st.Things, UserQueries: st.Users, Messages: st.Messages, Bodies: st.Bodies,
		Topics: st.Topics, Onboardings: st.Onboardings, Gateways: st.Gateways,
		States: st.States, ThingTypes: st.ThingTypes, Traits: st.Traits, Triggers: st.Triggers, Commands: st.Commands,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Addr: "127.0.0.1:0",
	}
	if err := w.api.Open(); err != nil {
		t.Fatalf("api Open: %v", err)
	}
	t.Cleanup(func() { w.api.Close(context.Background()) })
	w.base = "http://" + w.api.ListenAddr().String()
	cfg.Versions, cfg.Tokens, cfg.Logs, cfg.Apps = w.versions, st.Tokens, w.logs, st.Apps
	cfg.BaseURL = func() string { return w.base + "/api" }
	cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	w.eng = servercode.New(cfg)
	w.eng.SetHandler(w.api.Handler())
	return w
}

// sqliteWorld is a world on SQLite alone.
func sqliteWorld(t *testing.T, cfg servercode.Config) *world {
	return newWorld(t, stores(t)["sqlite"], cfg)
}

// deploy adds a version of script and returns its ID.
func (w *world) deploy(script string) string {
	w.t.Helper()
	if err := w.eng.Check(script); err != nil {
		w.t.Fatalf("Check: %v\n%s", err, script)
	}
	return w.versions.add(w.app.AppID, script)
}

// run runs endpoint of version with params.
func (w *world) run(version, endpoint, params string, mod ...func(*kumo.ServerCodeCall)) kumo.ServerCodeResult {
	w.t.Helper()
	call := kumo.ServerCodeCall{AppID: w.app.AppID, Version: version, Endpoint: endpoint, Params: json.RawMessage(params), Trigger: kumo.RunManual}
	for _, m := range mod {
		m(&call)
	}
	res, err := w.eng.Run(w.ctx, call)
	if err != nil {
		w.t.Fatalf("Run %s: %v", endpoint, err)
	}
	return res
}

// ok runs endpoint and fails the test when the code failed.
func (w *world) ok(version, endpoint, params string, mod ...func(*kumo.ServerCodeCall)) kumo.ServerCodeResult {
	w.t.Helper()
	res := w.run(version, endpoint, params, mod...)
	if res.Err != nil {
		w.t.Fatalf("%s failed: %+v", endpoint, *res.Err)
	}
	return res
}

func withToken(tok string) func(*kumo.ServerCodeCall) {
	return func(c *kumo.ServerCodeCall) { c.Token = tok }
}

// user registers a user and returns its ID and a token.
func (w *world) user(name string) (string, string) {
	w.t.Helper()
	u, tok, err := w.st.Users.RegisterUser(w.ctx, kumo.Caller{AppID: w.app.AppID}, kumo.UserRegistration{LoginName: name, Password: "pw-" + name}, true)
	if err != nil {
		w.t.Fatalf("RegisterUser: %v", err)
	}
	return u.ID, tok.AccessToken
}

func wantErr(t *testing.T, res kumo.ServerCodeResult, code, msgPart string) {
	t.Helper()
	if res.Err == nil {
		t.Fatalf("the run succeeded (%s), want %s", res.ReturnedValue, code)
	}
	if res.Err.Details.ErrorCode != code || !strings.Contains(res.Err.Details.Message, msgPart) || res.Err.ErrorMessage != kumo.ServerCodeErrorMessage {
		t.Fatalf("error = %+v, want %s containing %q", *res.Err, code, msgPart)
	}
}

func wantValue(t *testing.T, res kumo.ServerCodeResult, want string) {
	t.Helper()
	if res.Err != nil {
		t.Fatalf("the run failed: %+v", *res.Err)
	}
	if string(res.ReturnedValue) != want {
		t.Fatalf("returned %s, want %s", res.ReturnedValue, want)
	}
}

// memVersions stands in for the store's versions (scapi's part).
type memVersions struct {
	mu      sync.Mutex
	n       int
	scripts map[string]string
}

func (m *memVersions) add(appID, script string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.n++
	id := fmt.Sprintf("v%d", m.n)
	m.scripts[appID+"/"+id] = script
	return id
}

func (m *memVersions) LoadVersion(ctx context.Context, appID, version string) (kumo.ServerCodeVersion, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.scripts[appID+"/"+version]
	if !ok {
		return kumo.ServerCodeVersion{}, "", kumo.Errorf(kumo.ErrServerCodeVersionNotFound, "no version %s", version)
	}
	return kumo.ServerCodeVersion{ID: version, EnvironmentVersion: kumo.EnvironmentV6}, s, nil
}

// memLogs stands in for the developer log (sched's part).
type memLogs struct {
	mu   sync.Mutex
	logs []kumo.DevLog
	fail bool
}

func (m *memLogs) AppendDevLogs(ctx context.Context, logs []kumo.DevLog) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return fmt.Errorf("the log is down")
	}
	m.logs = append(m.logs, logs...)
	return nil
}

func (m *memLogs) all() []kumo.DevLog {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]kumo.DevLog(nil), m.logs...)
}

// get calls Kumo's REST API over the network, for checks.
func (w *world) get(path, token string) (int, map[string]any) {
	w.t.Helper()
	req, _ := http.NewRequest("GET", w.base+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

var _ = time.Second
