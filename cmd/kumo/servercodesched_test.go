package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/servercode"
	"github.com/kumo-iot/kumo/internal/sqlstore/postgres/pgtest"
)

// schedRunner is a kumo.ServerCodeRunner for the scheduler's tests: it
// records each call (with the node that made it) and returns the params.
type schedRunner struct {
	node  string
	mu    *sync.Mutex
	calls *[]string // "node job-endpoint"
}

func newSchedRunners(nodes ...string) []schedRunner {
	mu, calls := &sync.Mutex{}, &[]string{}
	var out []schedRunner
	for _, n := range nodes {
		out = append(out, schedRunner{node: n, mu: mu, calls: calls})
	}
	return out
}

func (r schedRunner) Check(string) error { return nil }

func (r schedRunner) Run(_ context.Context, call kumo.ServerCodeCall) (kumo.ServerCodeResult, error) {
	r.mu.Lock()
	*r.calls = append(*r.calls, r.node+" "+call.Endpoint)
	r.mu.Unlock()
	if call.Endpoint == "failing" { // a run the runtime could not start
		return kumo.ServerCodeResult{}, kumo.Errorf(kumo.ErrServerCodeVersionNotFound, "no such version")
	}
	return kumo.ServerCodeResult{ReturnedValue: call.Params}, nil
}

func (r schedRunner) Calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), *r.calls...)
}

// adminToken returns an app admin token of n's app.
func (n *testNode) adminToken() string {
	n.t.Helper()
	r := do(n.t, "POST", n.base+"/api/apps/"+n.app.AppID+"/oauth2/token",
		fmt.Sprintf(`{"grant_type":"client_credentials","client_id":%q,"client_secret":%q}`, n.app.ClientID, n.app.ClientSecret))
	wantStatus(n.t, r, 200)
	return r.Str(n.t, "access_token")
}

// deploySchedule makes a version with the hook configuration hooks
// current (through the store: deployment is another part's).
func (n *testNode) deploySchedule(hooks string) {
	n.t.Helper()
	ctx := context.Background()
	admin := kumo.Caller{AppID: n.app.AppID, Kind: kumo.Admin, ID: n.app.ClientID}
	v, err := n.db.ServerCode.Deploy(ctx, admin, "function job(params, context, done) { done(params); }", "")
	if err != nil {
		n.t.Fatal(err)
	}
	cfg, err := kumo.ParseHookConfig([]byte(hooks))
	if err != nil {
		n.t.Fatal(err)
	}
	if err := n.db.ServerCode.PutHookConfig(ctx, admin, v.ID, cfg); err != nil {
		n.t.Fatal(err)
	}
	if err := n.db.ServerCode.SetCurrent(ctx, admin, v.ID); err != nil {
		n.t.Fatal(err)
	}
}

// queryExecutions sends one schedule execution query.
func queryExecutions(t *testing.T, base, appID, token, body string) response {
	t.Helper()
	return do(t, "POST", base+"/api/apps/"+appID+"/hooks/executions/query", body,
		"Authorization", "Bearer "+token, "Content-Type", "application/vnd.kii.ScheduleExecutionQueryRequest+json")
}

// allExecutions reads every page of a query's executions.
func allExecutions(t *testing.T, base, appID, token, query string, limit int) []map[string]any {
	t.Helper()
	var out []map[string]any
	key := ""
	for pages := 0; ; pages++ {
		body := fmt.Sprintf(`{"scheduleExecutionQuery":%s,"bestEffortLimit":%d`, query, limit)
		if key != "" {
			body += fmt.Sprintf(`,"paginationKey":%q`, key)
		}
		r := queryExecutions(t, base, appID, token, body+"}")
		wantStatus(t, r, 200)
		var page struct {
			Results []map[string]any `json:"results"`
			Next    string           `json:"nextPaginationKey"`
		}
		if err := json.Unmarshal(r.Body, &page); err != nil || pages > 100 {
			t.Fatalf("page %d: %v %s", pages, err, r.Body)
		}
		out = append(out, page.Results...)
		if key = page.Next; key == "" {
			return out
		}
	}
}

// waitExecutions polls until cond holds for the executions of query.
func waitExecutions(t *testing.T, base, appID, token, query string, cond func([]map[string]any) bool) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		es := allExecutions(t, base, appID, token, query, 200)
		if cond(es) {
			return es
		}
		if time.Now().After(deadline) {
			t.Fatalf("executions never as wanted: %v", es)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

const everyMinuteJobs = `{"kiicloud://scheduler":{
	"TestJob-1":{"cron":"* * * * *","endpoint":"job","parameters":{"arg":"x"},"what":"EXECUTE_SERVER_CODE"},
	"Failing":{"cron":"* * * * *","endpoint":"failing","what":"EXECUTE_SERVER_CODE"}}}`

// TestServerCodeScheduleExecutions: a node runs an app's scheduled jobs
// and serves their executions: the query grammar, pages, GET by ID, 404,
// admin only.
func TestServerCodeScheduleExecutions(t *testing.T) {
	forEachStore(t, func(t *testing.T, cfg config) {
		cfg.serverCode = newSchedRunners("a")[0]
		cfg.ServerCodeScheduleInterval = 20 * time.Millisecond
		n := mustStartNodeConfig(t, cfg)
		token := n.adminToken()
		app := n.app.AppID
		n.deploySchedule(everyMinuteJobs)
		// The current and the previous minute's ticks run at once.
		done := func(es []map[string]any) bool {
			finished := 0
			for _, e := range es {
				if e["status"] != "RUNNING" {
					finished++
				}
			}
			return finished >= 4
		}
		all := waitExecutions(t, n.base, app, token, `{"clause":{"type":"all"}}`, done)
		byName := map[string][]map[string]any{}
		for _, e := range all {
			byName[e["name"].(string)] = append(byName[e["name"].(string)], e)
		}
		for name, want := range map[string]struct{ status, result string }{
			"TestJob-1": {"SUCCESS", `{"arg":"x"}`},
			"Failing":   {"FAILED", `{"errorCode":"SERVER_CODE_VERSION_NOT_FOUND","message":"no such version"}`},
		} {
			es := byName[name]
			if len(es) < 2 {
				t.Fatalf("%s: %d executions, want 2 (the previous and the current minute)", name, len(es))
			}
			for _, e := range es {
				id, _ := e["scheduleExecutionID"].(string)
				if e["status"] != want.status || e["result"] != want.result || len(id) != 25 || e["startedAt"] == nil || e["finishedAt"] == nil {
					t.Errorf("%s execution = %v", name, e)
				}
			}
		}

		// The query grammar (k4j's prefix query among them).
		for _, tt := range []struct {
			name, query string
			want        func(e map[string]any) bool
		}{
			{"prefix", `{"clause":{"type":"prefix","field":"name","prefix":"TestJob-"}}`, func(e map[string]any) bool { return e["name"] == "TestJob-1" }},
			{"eq", `{"clause":{"type":"eq","field":"status","value":"FAILED"}}`, func(e map[string]any) bool { return e["status"] == "FAILED" }},
			{"not", `{"clause":{"type":"not","clause":{"type":"eq","field":"name","value":"Failing"}}}`, func(e map[string]any) bool { return e["name"] != "Failing" }},
			{"in", `{"clause":{"type":"in","field":"name","values":["Failing"]}}`, func(e map[string]any) bool { return e["name"] == "Failing" }},
			{"range", `{"clause":{"type":"range","field":"startedAt","lowerLimit":0,"lowerIncluded":true,"upperLimit":99999999999999,"upperIncluded":true},"orderBy":"startedAt","descending":true}`, func(map[string]any) bool { return true }},
			{"and/or", `{"clause":{"type":"and","clauses":[{"type":"or","clauses":[{"type":"eq","field":"name","value":"Failing"},{"type":"eq","field":"name","value":"nope"}]},{"type":"eq","field":"status","value":"FAILED"}]}}`, func(e map[string]any) bool { return e["name"] == "Failing" }},
		} {
			es := allExecutions(t, n.base, app, token, tt.query, 1)
			if len(es) < 2 {
				t.Errorf("%s: %d executions", tt.name, len(es))
			}
			for _, e := range es {
				if !tt.want(e) {
					t.Errorf("%s: %v", tt.name, e)
				}
			}
			if tt.name == "range" && es[0]["startedAt"].(float64) < es[len(es)-1]["startedAt"].(float64) {
				t.Errorf("descending order: %v", es)
			}
		}
		// Pages: bestEffortLimit 1 gives a key while more follow.
		r := queryExecutions(t, n.base, app, token, `{"bestEffortLimit":1}`)
		wantStatus(t, r, 200)
		if _, ok := r.JSON(t)["nextPaginationKey"]; !ok || r.Header.Get("Content-Type") != "application/vnd.kii.ScheduleExecutionQueryResponse+json" {
			t.Errorf("first page of one: %s %s", r.Header.Get("Content-Type"), r.Body)
		}

		// GET by ID; 404.
		id := all[0]["scheduleExecutionID"].(string)
		r = do(t, "GET", n.base+"/api/apps/"+app+"/hooks/executions/"+id, "", "Authorization", "Bearer "+token)
		wantStatus(t, r, 200)
		if got := r.JSON(t); got["scheduleExecutionID"] != id || got["name"] != all[0]["name"] {
			t.Errorf("GET execution = %v", got)
		}
		r = do(t, "GET", n.base+"/api/apps/"+app+"/hooks/executions/nosuchexecution", "", "Authorization", "Bearer "+token)
		wantStatus(t, r, 404)
		if r.Str(t, "errorCode") != "SCHEDULE_EXECUTION_NOT_FOUND" {
			t.Errorf("404 body %s", r.Body)
		}

		// Errors: a field a query may not name; no admin.
		r = queryExecutions(t, n.base, app, token, `{"scheduleExecutionQuery":{"clause":{"type":"eq","field":"owner","value":"x"}}}`)
		wantStatus(t, r, 400)
		if r.Str(t, "errorCode") != "INVALID_INPUT_DATA" {
			t.Errorf("bad field: %s", r.Body)
		}
		r = queryExecutions(t, n.base, app, token, `{"scheduleExecutionQuery":`)
		wantStatus(t, r, 400)
		user := n.mustUserDevice("sched-user")
		for _, auth := range [][]string{nil, {"Authorization", "Bearer " + user.Token}} {
			r = do(t, "POST", n.base+"/api/apps/"+app+"/hooks/executions/query", `{}`, auth...)
			if r.Status != 401 && r.Status != 403 {
				t.Errorf("query without admin: %d %s", r.Status, r.Body)
			}
			r = do(t, "GET", n.base+"/api/apps/"+app+"/hooks/executions/"+id, "", auth...)
			if r.Status != 401 && r.Status != 403 {
				t.Errorf("GET without admin: %d %s", r.Status, r.Body)
			}
		}

		// The failed runs are in the developer log.
		r = do(t, "GET", n.base+"/api/apps/"+app+"/server-code/logs?level=ERROR", "", "Authorization", "Bearer "+token)
		wantStatus(t, r, 200)
		if !strings.Contains(string(r.Body), "Scheduled job Failing failed") {
			t.Errorf("developer log: %s", r.Body)
		}
	})
}

// TestServerCodeDevLogREST: GET …/server-code/logs filters, pages with a
// cursor, and is the admin's only.
func TestServerCodeDevLogREST(t *testing.T) {
	forEachStore(t, func(t *testing.T, cfg config) {
		n := mustStartNodeConfig(t, cfg)
		token := n.adminToken()
		app := n.app.AppID
		var logs []kumo.DevLog
		for i, level := range []string{"DEBUG", "INFO", "WARN", "ERROR"} {
			logs = append(logs, kumo.DevLog{AppID: app, Key: "servercode.log", Level: level, Description: fmt.Sprint("line", i),
				UserID: map[bool]string{true: "u1"}[i%2 == 1], Fields: map[string]any{"entry-name": "main"}})
		}
		if err := n.db.DevLogs.AppendDevLogs(context.Background(), logs); err != nil {
			t.Fatal(err)
		}
		get := func(query string) (descs string, cursor string) {
			t.Helper()
			r := do(t, "GET", n.base+"/api/apps/"+app+"/server-code/logs"+query, "", "Authorization", "Bearer "+token)
			wantStatus(t, r, 200)
			var body struct {
				Logs   []map[string]any `json:"logs"`
				Cursor string           `json:"cursor"`
			}
			if err := json.Unmarshal(r.Body, &body); err != nil {
				t.Fatal(err)
			}
			var ds []string
			for _, l := range body.Logs {
				ds = append(ds, l["description"].(string))
				if l["entry-name"] != "main" || !strings.HasSuffix(l["time"].(string), "Z") {
					t.Errorf("record %v", l)
				}
			}
			return strings.Join(ds, ","), body.Cursor
		}
		for _, tt := range []struct{ query, want string }{
			{"", "line0,line1,line2,line3"},
			{"?level=WARN", "line2,line3"},
			{"?userID=u1", "line1,line3"},
			{"?limit=2", "line2,line3"},
		} {
			if got, _ := get(tt.query); got != tt.want {
				t.Errorf("%q: got %q, want %q", tt.query, got, tt.want)
			}
		}
		_, cursor := get("?limit=2")
		if got, _ := get("?after=" + cursor); got != "" {
			t.Errorf("after the newest: %q", got)
		}
		n.db.DevLogs.AppendDevLogs(context.Background(), []kumo.DevLog{{AppID: app, Key: "servercode.log", Description: "line4", Fields: map[string]any{"entry-name": "main"}}})
		if got, _ := get("?after=" + cursor); got != "line4" {
			t.Errorf("after the cursor: %q", got)
		}
		for _, q := range []string{"?level=LOUD", "?limit=0", "?limit=1501", "?after=x"} {
			r := do(t, "GET", n.base+"/api/apps/"+app+"/server-code/logs"+q, "", "Authorization", "Bearer "+token)
			wantStatus(t, r, 400)
		}
		r := do(t, "GET", n.base+"/api/apps/"+app+"/server-code/logs", "")
		if r.Status != 401 && r.Status != 403 {
			t.Errorf("without admin: %d %s", r.Status, r.Body)
		}

		// The WebSocket at /logs on the API's port; a plain GET is refused in Kii's format.
		r = do(t, "GET", n.base+"/logs", "")
		wantStatus(t, r, 400)
		if r.Str(t, "errorCode") != "INVALID_INPUT_DATA" {
			t.Errorf("GET /logs without an upgrade: %s", r.Body)
		}
		conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(n.base, "http")+"/logs", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.WriteJSON(map[string]any{"appID": app, "appKey": n.app.AppKey, "token": token, "command": "cat", "limit": 2})
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		var recs []map[string]any
		if err := conn.ReadJSON(&recs); err != nil || len(recs) != 2 || recs[1]["description"] != "line4" {
			t.Errorf("cat over /logs: %v %v", recs, err)
		}
	})
}

// engineRunner is a node's server code runtime in a test: the real
// engine, made once the node (its store and API) is up, counting the runs
// it makes.
type engineRunner struct {
	node string
	eng  atomic.Pointer[servercode.Engine]
	runs *atomic.Int64
}

func (r *engineRunner) Check(script string) error { return r.eng.Load().Check(script) }

func (r *engineRunner) Run(ctx context.Context, call kumo.ServerCodeCall) (kumo.ServerCodeResult, error) {
	e := r.eng.Load()
	if e == nil {
		return kumo.ServerCodeResult{}, kumo.Errorf(kumo.ErrUnavailable, "the engine is not ready")
	}
	r.runs.Add(1)
	return e.Run(ctx, call)
}

// start makes the engine of node n.
func (r *engineRunner) start(n *testNode) {
	e := servercode.New(servercode.Config{Versions: n.db.ServerCode, Tokens: n.db.Tokens, Logs: n.db.DevLogs, Apps: n.db.Apps,
		Handler: n.api.Handler(), BaseURL: func() string { return n.base + "/api" }, Log: testLogger(n.t)})
	r.eng.Store(e)
}

// tickScript is a scheduled job's endpoint: it records its tick as an
// object of the app bucket "ticks" (through the admin context: a
// schedule has no token) and returns what it got.
const tickScript = `
function tick(params, context, done) {
  var obj = context.getAppAdminContext().bucketWithName("ticks").createObject();
  obj.set("job", params.job);
  obj.save().then(function () {
    done({job: params.job, token: context.getAccessToken()});
  }, function (err) { done({error: String(err)}); });
}
`

// TestServerCodeScheduleCluster: three nodes sharing one PostgreSQL
// database, each with the real engine, run each tick of a job once in
// the cluster: one execution per job and tick, one run per execution,
// one object written per run.
func TestServerCodeScheduleCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three nodes")
	}
	db := withPassword(t, pgtest.NewDatabase(t)) // skipped without KUMO_TEST_POSTGRES
	ns := startNATS(t)
	var runs atomic.Int64
	var runners []*engineRunner
	var nodes []*testNode
	for _, id := range []string{"node-a", "node-b", "node-c"} {
		r := &engineRunner{node: id, runs: &runs}
		cfg := testConfig(t.TempDir())
		cfg.Database, cfg.NATS, cfg.NodeID = db, ns.ClientURL(), id
		cfg.serverCode = r
		cfg.ServerCodeScheduleInterval = 10 * time.Millisecond
		n := mustStartNodeConfig(t, cfg)
		r.start(n)
		runners, nodes = append(runners, r), append(nodes, n)
	}
	a := nodes[0]
	token := a.adminToken()
	ctx := context.Background()
	admin := kumo.Caller{AppID: a.app.AppID, Kind: kumo.Admin, ID: a.app.ClientID}
	v, err := a.db.ServerCode.Deploy(ctx, admin, tickScript, "")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := kumo.ParseHookConfig([]byte(`{"kiicloud://scheduler":{
		"Every":{"cron":"* * * * *","endpoint":"tick","parameters":{"job":"Every"},"what":"EXECUTE_SERVER_CODE"},
		"Also":{"cron":"0/1 * * * *","endpoint":"tick","parameters":{"job":"Also"},"what":"EXECUTE_SERVER_CODE"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.db.ServerCode.PutHookConfig(ctx, admin, v.ID, cfg); err != nil {
		t.Fatal(err)
	}
	if err := a.db.ServerCode.SetCurrent(ctx, admin, v.ID); err != nil {
		t.Fatal(err)
	}
	// Both jobs' previous and current minutes: four ticks, run.
	waitExecutions(t, a.base, a.app.AppID, token, `{"clause":{"type":"not","clause":{"type":"eq","field":"status","value":"RUNNING"}}}`,
		func(es []map[string]any) bool { return len(es) >= 4 })
	// Every node has looked a few more times since.
	var since []int64
	for _, n := range nodes {
		since = append(since, n.sched.scheduler.Passes())
	}
	deadline := time.Now().Add(30 * time.Second)
	for i, n := range nodes {
		for n.sched.scheduler.Passes() < since[i]+5 {
			if time.Now().After(deadline) {
				t.Fatalf("node %d stopped looking", i)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	// Let the runs started meanwhile end (the minute may have turned).
	es := waitExecutions(t, a.base, a.app.AppID, token, `{"clause":{"type":"all"}}`, func(es []map[string]any) bool {
		for _, e := range es {
			if e["status"] == "RUNNING" {
				return false
			}
		}
		return true
	})
	perName := map[string]int{}
	for _, e := range es {
		if e["status"] != "SUCCESS" || !strings.Contains(e["result"].(string), `"token":null`) {
			t.Errorf("execution %v", e)
		}
		perName[e["name"].(string)]++
	}
	// The minute may turn during the test: two or three ticks per job.
	for name, n := range perName {
		if n < 2 || n > 3 {
			t.Errorf("%s ran %d times, want once per tick (2 or 3 ticks)", name, n)
		}
	}
	if got := runs.Load(); got != int64(len(es)) {
		t.Errorf("%d runs for %d executions: each claimed tick runs once", got, len(es))
	}
	r := do(t, "POST", a.base+"/api/apps/"+a.app.AppID+"/buckets/ticks/query", `{"bucketQuery":{"clause":{"type":"all"}}}`,
		"Authorization", "Bearer "+token, "Content-Type", "application/vnd.kii.QueryRequest+json")
	wantStatus(t, r, 200)
	if objs, _ := r.JSON(t)["results"].([]any); len(objs) != len(es) {
		t.Errorf("%d objects written for %d executions", len(objs), len(es))
	}
}

// lockedBuffer is a bytes.Buffer safe for a writer and a reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestServerCodeLogsCLI: kumo servercode logs prints the newest records
// (cat), follows new ones (--tail), and says the server's error.
func TestServerCodeLogsCLI(t *testing.T) {
	n := mustStartNode(t)
	app := n.app.AppID
	appendLog := func(level, desc string) {
		t.Helper()
		err := n.db.DevLogs.AppendDevLogs(context.Background(), []kumo.DevLog{{AppID: app, Key: "servercode.log", Level: level,
			Description: desc, Fields: map[string]any{"entry-name": "main"}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	appendLog("DEBUG", "first line")
	appendLog("ERROR", "second line")
	creds := []string{"--url", n.base, "--app-id", app, "--client-id", n.app.ClientID, "--client-secret", n.app.ClientSecret}
	var out, errOut lockedBuffer
	if err := runServerCodeLogs(context.Background(), append(creds, "--limit", "5"), &out, &errOut); err != nil {
		t.Fatalf("cat: %v %s", err, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "DEBUG servercode.log [main] first line") || !strings.Contains(lines[1], "ERROR") {
		t.Errorf("cat printed %q", out.String())
	}
	out = lockedBuffer{}
	if err := runServerCodeLogs(context.Background(), append(creds, "--level", "ERROR", "--json"), &out, &errOut); err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(out.String())), &rec); err != nil || rec["description"] != "second line" {
		t.Errorf("--level ERROR --json printed %q", out.String())
	}
	// The server's error: a wrong secret.
	bad := append(append([]string{}, creds[:6]...), "--client-secret", "nope")
	if err := runServerCodeLogs(context.Background(), bad, &out, &errOut); err == nil {
		t.Error("a wrong secret was not an error")
	}
	// --tail: the new records, until interrupted.
	out = lockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runServerCodeLogs(ctx, append(creds, "--tail", "--limit", "1"), &out, &errOut) }()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "second line") {
		if time.Now().After(deadline) {
			t.Fatalf("tail printed %q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	appendLog("INFO", "third line")
	for !strings.Contains(out.String(), "third line") {
		if time.Now().After(deadline) {
			t.Fatalf("tail printed %q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("tail ended with %v", err)
	}
	if strings.Contains(out.String(), "first line") {
		t.Errorf("tail --limit 1 printed older records: %q", out.String())
	}
}

// TestDevLogBadHandshake checks that a WebSocket handshake to /logs the
// library refuses (no key, an old version) answers Kii's error format,
// not the library's plain text.
func TestDevLogBadHandshake(t *testing.T) {
	n := mustStartNode(t)
	for _, headers := range [][]string{
		{"Connection", "Upgrade", "Upgrade", "websocket", "Sec-WebSocket-Version", "13"},
		{"Connection", "Upgrade", "Upgrade", "websocket", "Sec-WebSocket-Version", "8", "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
	} {
		r := do(t, "GET", n.base+"/logs", "", headers...)
		if r.Status != 400 || r.Header.Get("Content-Type") != "application/vnd.kii.ValidationException+json" ||
			!strings.Contains(string(r.Body), `"errorCode"`) {
			t.Errorf("handshake %v: %d %s %s", headers, r.Status, r.Header.Get("Content-Type"), r.Body)
		}
	}
}

// TestDevLogLoginThrottled checks that wrong client secrets sent over the
// developer log's WebSocket count as failed logins of the address, as
// POST …/oauth2/token's do: past --login-throttle both are refused.
func TestDevLogLoginThrottled(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.LoginThrottle = 2
	n := mustStartNodeConfig(t, cfg)
	login := func() string {
		t.Helper()
		conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(n.base, "http")+"/logs", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.WriteJSON(map[string]any{"appID": n.app.AppID, "clientID": n.app.ClientID, "clientSecret": "wrong", "command": "cat"})
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		var frame map[string]any
		if err := conn.ReadJSON(&frame); err != nil {
			t.Fatal(err)
		}
		msg, _ := frame["err"].(string)
		return msg
	}
	for i := range 2 {
		if msg := login(); msg == "" || strings.Contains(msg, "Too many") {
			t.Fatalf("wrong secret %d: %q", i+1, msg)
		}
	}
	if msg := login(); !strings.Contains(msg, "Too many failed logins") {
		t.Errorf("a wrong secret past the throttle: %q", msg)
	}
	r := do(t, "POST", n.base+"/api/apps/"+n.app.AppID+"/oauth2/token",
		fmt.Sprintf(`{"grant_type":"client_credentials","client_id":%q,"client_secret":%q}`, n.app.ClientID, n.app.ClientSecret))
	if r.Status != 429 {
		t.Errorf("a REST login from the same address after the WebSocket's failures: %d %s", r.Status, r.Body)
	}
}
