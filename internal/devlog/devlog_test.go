package devlog_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/devlog"
	"github.com/kumo-iot/kumo/internal/sqlstore"
	"github.com/kumo-iot/kumo/internal/sqlstore/sqlite"
	"github.com/kumo-iot/kumo/internal/sqlstore/storetest"
)

type fixture struct {
	t     *testing.T
	st    *sqlstore.Store
	creds kumo.AppCredentials
	token string // the admin's
	user  string // a user's token
	url   string
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{t: t}
	f.st = storetest.MustOpen(t, func(ctx context.Context) (*sqlstore.Store, error) {
		return sqlite.Open(ctx, filepath.Join(t.TempDir(), "kumo.db"))
	})
	ctx := context.Background()
	var err error
	if f.creds, err = f.st.Apps.CreateApp(ctx, kumo.AppCreate{ID: "app1", Key: "key1"}); err != nil {
		t.Fatal(err)
	}
	tok, err := f.st.Tokens.Login(ctx, "app1", kumo.LoginRequest{ClientID: f.creds.ClientID, ClientSecret: f.creds.ClientSecret})
	if err != nil {
		t.Fatal(err)
	}
	f.token = tok.AccessToken
	anon := kumo.Caller{AppID: "app1", Kind: kumo.Anonymous}
	if _, _, err := f.st.Users.RegisterUser(ctx, anon, kumo.UserRegistration{LoginName: "alice", Password: "pw-alice-1", Custom: map[string]any{}}, false); err != nil {
		t.Fatal(err)
	}
	ut, err := f.st.Tokens.Login(ctx, "app1", kumo.LoginRequest{Username: "alice", Password: "pw-alice-1"})
	if err != nil {
		t.Fatal(err)
	}
	f.user = ut.AccessToken
	srv := &devlog.Server{Apps: f.st.Apps, Tokens: f.st.Tokens, Logs: f.st.DevLogs, Poll: 10 * time.Millisecond, Settle: 50 * time.Millisecond}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { srv.Close(); hs.Close() })
	f.url = "ws" + strings.TrimPrefix(hs.URL, "http") + "/logs"
	return f
}

func (f *fixture) append(logs ...kumo.DevLog) {
	f.t.Helper()
	if err := f.st.DevLogs.AppendDevLogs(context.Background(), logs); err != nil {
		f.t.Fatal(err)
	}
}

// open connects and sends req.
func (f *fixture) open(req map[string]any) *websocket.Conn {
	f.t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial(f.url, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { conn.Close() })
	b, _ := json.Marshal(req)
	if err := conn.WriteMessage(websocket.TextMessage, b); err != nil {
		f.t.Fatal(err)
	}
	return conn
}

// frame reads one text frame (within a deadline).
func frame(t *testing.T, conn *websocket.Conn) string {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, b, err := conn.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(b)
}

func records(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		t.Fatalf("not an array of records: %s", s)
	}
	return out
}

// TestLogsCat: cat answers one array of the newest records, filtered,
// in Kii's record shape, and the server closes.
func TestLogsCat(t *testing.T) {
	f := newFixture(t)
	at := time.Date(2015, 1, 8, 23, 14, 52, 229e6, time.UTC).UnixMilli()
	f.append(
		kumo.DevLog{AppID: "app1", Key: "servercode.log", Level: "DEBUG", Description: "hello world", Time: at, Fields: map[string]any{"entry-name": "main"}},
		kumo.DevLog{AppID: "app1", Key: "servercode.invoke", Level: "ERROR", Description: "boom", UserID: "u1", Time: at + 1000},
		kumo.DevLog{AppID: "app1", Key: "servercode.log", Level: "INFO", Description: "later", Time: at + 2000},
	)
	for _, tt := range []struct {
		name string
		req  map[string]any
		want string
	}{
		{"all", map[string]any{}, "hello world|boom|later"},
		{"limit", map[string]any{"limit": 2}, "boom|later"},
		{"limit as string", map[string]any{"limit": "1"}, "later"},
		{"level", map[string]any{"level": "INFO"}, "boom|later"},
		{"user", map[string]any{"userID": "u1"}, "boom"},
		{"dates", map[string]any{"dateFrom": "2015-01-08:23:14:53", "dateTo": "2015-01-08:23:14:53"}, "boom"},
		{"client pair", map[string]any{"token": "", "clientID": f.creds.ClientID, "clientSecret": f.creds.ClientSecret}, "hello world|boom|later"},
	} {
		req := map[string]any{"appID": "app1", "appKey": "key1", "token": f.token, "command": "cat"}
		for k, v := range tt.req {
			req[k] = v
		}
		conn := f.open(req)
		recs := records(t, frame(t, conn))
		var got []string
		for _, r := range recs {
			got = append(got, r["description"].(string))
		}
		if strings.Join(got, "|") != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, strings.Join(got, "|"), tt.want)
		}
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, _, err := conn.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
			t.Errorf("%s: after the array: %v, want a normal close", tt.name, err)
		}
		if tt.name == "all" {
			r := recs[0]
			if r["time"] != "2015-01-08T23:14:52.229Z" || r["entry-name"] != "main" || r["appID"] != "app1" || r["key"] != "servercode.log" ||
				r["level"] != "DEBUG" || r["_id"] == "" {
				t.Errorf("record = %v", r)
			}
		}
	}
}

// TestLogsErrors: a bad request is answered with an {"err"} object.
func TestLogsErrors(t *testing.T) {
	f := newFixture(t)
	for _, tt := range []struct {
		name string
		req  map[string]any
		want string
	}{
		{"no app", map[string]any{"token": f.token, "command": "cat"}, "appID"},
		{"unknown app", map[string]any{"appID": "nope", "token": f.token, "command": "cat"}, "nope"},
		{"wrong key", map[string]any{"appID": "app1", "appKey": "other", "token": f.token, "command": "cat"}, "appKey"},
		{"no credentials", map[string]any{"appID": "app1", "command": "cat"}, "token"},
		{"wrong token", map[string]any{"appID": "app1", "token": "nope", "command": "cat"}, ""},
		{"wrong secret", map[string]any{"appID": "app1", "clientID": f.creds.ClientID, "clientSecret": "nope", "command": "cat"}, ""},
		{"user token", map[string]any{"appID": "app1", "token": f.user, "command": "cat"}, "admin"},
		{"bad command", map[string]any{"appID": "app1", "token": f.token, "command": "rm"}, "command"},
		{"bad level", map[string]any{"appID": "app1", "token": f.token, "command": "cat", "level": "LOUD"}, "level"},
		{"bad limit", map[string]any{"appID": "app1", "token": f.token, "command": "cat", "limit": 0}, "limit"},
		{"bad date", map[string]any{"appID": "app1", "token": f.token, "command": "cat", "dateFrom": "yesterday"}, "dateFrom"},
	} {
		conn := f.open(tt.req)
		var e map[string]string
		s := frame(t, conn)
		if err := json.Unmarshal([]byte(s), &e); err != nil || e["err"] == "" || !strings.Contains(e["err"], tt.want) {
			t.Errorf("%s: frame %s, want an err naming %q", tt.name, s, tt.want)
		}
	}
	// Not JSON.
	conn, _, err := websocket.DefaultDialer.Dial(f.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.WriteMessage(websocket.TextMessage, []byte("hello"))
	if s := frame(t, conn); !strings.Contains(s, `"err"`) {
		t.Errorf("a request that is not JSON: %s", s)
	}
}

// TestLogsTail: tail sends the newest records, then each new one once,
// including one that becomes visible after a later one (written by
// another node, committed late).
func TestLogsTail(t *testing.T) {
	f := newFixture(t)
	f.append(kumo.DevLog{AppID: "app1", Key: "servercode.log", Description: "old"})
	conn := f.open(map[string]any{"appID": "app1", "token": f.token, "command": "tail", "level": "INFO"})
	if got := records(t, frame(t, conn)); len(got) != 1 || got[0]["description"] != "old" {
		t.Fatalf("first frame = %v", got)
	}
	var seen []string
	want := []string{}
	for i := 0; i < 5; i++ {
		d := fmt.Sprint("new", i)
		want = append(want, d)
		f.append(kumo.DevLog{AppID: "app1", Key: "servercode.log", Description: d},
			kumo.DevLog{AppID: "app1", Key: "servercode.log", Level: "DEBUG", Description: "filtered"},
			kumo.DevLog{AppID: "app2", Key: "servercode.log", Description: "another app"})
	}
	for len(seen) < len(want) {
		for _, r := range records(t, frame(t, conn)) {
			seen = append(seen, r["description"].(string))
		}
	}
	if strings.Join(seen, ",") != strings.Join(want, ",") {
		t.Errorf("tail sent %v, want %v", seen, want)
	}
}

// TestTailLateRecord: a record with a lower number that appears after a
// higher one was sent (another node's transaction committed late) is
// still sent, once; the floor rises only after Settle.
func TestTailLateRecord(t *testing.T) {
	logs := &fakeLogs{}
	now := time.Unix(1000, 0)
	tl := devlog.NewTail(0, time.Minute)
	logs.entries = []kumo.DevLogEntry{{Seq: 2, DevLog: kumo.DevLog{Description: "b"}}}
	got, _ := tl.Poll(context.Background(), logs, "app1", kumo.DevLogFilter{}, now)
	if len(got) != 1 {
		t.Fatalf("first poll = %v", got)
	}
	logs.entries = []kumo.DevLogEntry{{Seq: 1, DevLog: kumo.DevLog{Description: "a"}}, {Seq: 2, DevLog: kumo.DevLog{Description: "b"}}}
	got, _ = tl.Poll(context.Background(), logs, "app1", kumo.DevLogFilter{}, now.Add(time.Second))
	if len(got) != 1 || got[0].Description != "a" {
		t.Fatalf("second poll = %v, want the late record only", got)
	}
	got, _ = tl.Poll(context.Background(), logs, "app1", kumo.DevLogFilter{}, now.Add(2*time.Minute))
	if len(got) != 0 || logs.after != 0 {
		t.Fatalf("third poll = %v after %d", got, logs.after)
	}
	tl.Poll(context.Background(), logs, "app1", kumo.DevLogFilter{}, now.Add(3*time.Minute))
	if logs.after != 2 {
		t.Errorf("the floor is %d after Settle, want 2", logs.after)
	}
}

type fakeLogs struct {
	entries []kumo.DevLogEntry
	after   int64
}

func (l *fakeLogs) DevLogs(_ context.Context, _ string, f kumo.DevLogFilter) ([]kumo.DevLogEntry, error) {
	l.after = f.AfterSeq
	var out []kumo.DevLogEntry
	for _, e := range l.entries {
		if e.Seq > f.AfterSeq {
			out = append(out, e)
		}
	}
	return out, nil
}
