package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// logRecords is a slog handler that keeps what is logged.
type logRecords struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecords) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *logRecords) WithGroup(string) slog.Handler            { return h }
func (h *logRecords) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r.Clone())
	return nil
}

// matching returns the records at level or above whose message contains
// text.
func (h *logRecords) matching(level slog.Level, text string) []slog.Record {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []slog.Record
	for _, r := range h.recs {
		if r.Level >= level && strings.Contains(r.Message, text) {
			out = append(out, r)
		}
	}
	return out
}

// mustStartNodeLog starts a node of cfg logging to log, with an app,
// closed when the test ends.
func mustStartNodeLog(t *testing.T, cfg config, log *slog.Logger) *testNode {
	t.Helper()
	n, err := startNode(context.Background(), cfg, log)
	if err != nil {
		t.Fatalf("startNode: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Close(ctx); err != nil {
			t.Errorf("close node: %v", err)
		}
	})
	app, err := n.db.Apps.CreateApp(context.Background(), kumoAppCreate("test"))
	if err != nil {
		t.Fatalf("CreateApp: %v", err)
	}
	return &testNode{node: n, t: t, app: app, base: n.baseURL}
}

// doFrom sends a request with client c (clientFrom: a source address).
func doFrom(t *testing.T, c *http.Client, method, url, body string, headers ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// wantThrottled fails the test unless r is the throttle's 429 with
// Retry-After.
func wantThrottled(t *testing.T, r response) {
	t.Helper()
	wantKiiError(t, r, 429, "TOO_MANY_REQUESTS")
	if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || s < 1 {
		t.Errorf("Retry-After = %q, want a number of seconds", r.Header.Get("Retry-After"))
	}
}

// TestLoginThrottleLogged: a burst of failed logins from one address logs
// exactly one warning when its penalty starts, naming the address, the
// failures and the penalty, and none for the logins refused during it.
func TestLoginThrottleLogged(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.LoginThrottle = 3
	log := &logRecords{}
	n := mustStartNodeLog(t, cfg, slog.New(log))
	n.mustDevice("logged-dev")
	token := n.base + "/api/apps/" + n.app.AppID + "/oauth2/token"
	c := clientFrom("127.0.0.3")
	for i := range 8 {
		r := doFrom(t, c, "POST", token, `{"username":"VENDOR_THING_ID:logged-dev","password":"wrong"}`, "Content-Type", "application/json")
		if want := map[bool]int{true: 400, false: 429}[i < 3]; r.Status != want {
			t.Fatalf("login %d: status %d, want %d; body %s", i+1, r.Status, want, r.Body)
		}
	}
	recs := log.matching(slog.LevelWarn, "logins throttled")
	if len(recs) != 1 {
		t.Fatalf("%d warnings for one burst, want 1", len(recs))
	}
	attrs := map[string]string{}
	recs[0].Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.String(); return true })
	for k, want := range map[string]string{"addr": "127.0.0.3", "failures": "3", "penalty": time.Minute.String()} {
		if attrs[k] != want {
			t.Errorf("warning attribute %s = %q, want %q (all: %v)", k, attrs[k], want, attrs)
		}
	}
}

// TestPasswordChecksThrottled: wrong passwords given in a body outside
// the token endpoint (a thing's password to own it, a user's old
// password) count as failed logins of the source address, so that a
// burst is refused with 429; and a user's wrong guesses at a thing's
// password do not lock the thing out of its own login, however many:
// they lock the claims by password only.
func TestPasswordChecksThrottled(t *testing.T) { forEachStore(t, testPasswordChecksThrottled) }

func testPasswordChecksThrottled(t *testing.T, cfg config) {
	cfg.LoginThrottle = 3 // the app's lockout is 10 failures
	n := mustStartNodeConfig(t, cfg)
	base := n.base + "/api/apps/" + n.app.AppID
	d := n.mustDevice("guarded-dev")
	u := n.mustUserDevice("mallory")
	auth := []string{"Authorization", "Bearer " + u.Token, "Content-Type", "application/json"}
	own := func(c *http.Client, password string) response {
		return doFrom(t, c, "POST", base+"/things/"+d.ThingID+"/ownership",
			`{"userID":"`+u.ThingID+`","thingPassword":"`+password+`"}`, auth...)
	}

	t.Run("ownership", func(t *testing.T) {
		// Four addresses, 10 wrong guesses in all: the thing's login
		// lockout of 10 reached, each address throttled after its 3rd.
		for _, ip := range []string{"127.0.1.1", "127.0.1.2", "127.0.1.3", "127.0.1.4"} {
			c := clientFrom(ip)
			guesses := 3
			if ip == "127.0.1.4" {
				guesses = 1
			}
			for range guesses {
				wantKiiError(t, own(c, "wrong"), 401, "WRONG_PASSWORD")
			}
			if guesses == 3 {
				wantThrottled(t, own(c, "wrong"))
				wantThrottled(t, own(c, "pass-1234"))
			}
		}
		r := doFrom(t, clientFrom("127.0.1.9"), "POST", base+"/oauth2/token",
			`{"username":"VENDOR_THING_ID:guarded-dev","password":"pass-1234"}`, "Content-Type", "application/json")
		wantStatus(t, r, 200)
		// The guesses count in a lockout of their own: at 10, claims by
		// password are refused for a while, the right one included.
		r = own(clientFrom("127.0.1.9"), "pass-1234")
		wantStatus(t, r, 400)
		if !strings.Contains(string(r.Body), "The login name is locked") {
			t.Errorf("a claim past the ownership lockout: %s; want it locked", r.Body)
		}
	})

	t.Run("user password", func(t *testing.T) {
		c := clientFrom("127.0.2.1")
		change := func(old string) response {
			return doFrom(t, c, "PUT", base+"/users/"+u.ThingID+"/password",
				`{"oldPassword":"`+old+`","newPassword":"new-pass-1"}`, auth...)
		}
		for range 3 {
			wantKiiError(t, change("wrong"), 401, "WRONG_PASSWORD")
		}
		wantThrottled(t, change("wrong"))
		wantThrottled(t, change("pass-mallory"))
	})
}
