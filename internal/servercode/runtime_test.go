package servercode_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/servercode"
)

func TestCheck(t *testing.T) {
	eng := servercode.New(servercode.Config{})
	tests := []struct {
		name, script string
		wantPart     string // "" when accepted
	}{
		{"plain", "function main(p, c) { var o = {eval: 1}; o.setTimeout = 2; return [1, 2]; }", ""},
		{"syntax", "function main(p, c) {\n  return 1 +;\n}", "does not parse"},
		{"eval", "function main() {\n\n  return eval('1');\n}", "Line 3: eval is not allowed"},
		{"setTimeout", "function main(p, c, done) { setTimeout(done, 1); }", "setTimeout is not allowed"},
		{"setInterval", "var t = setInterval;", "setInterval is not allowed"},
		{"new Array", "function main() { return new Array(3); }", "Array constructor"},
		{"Array()", "function main() { return Array(3); }", "Array constructor"},
		{"__kii_", "var __kii_x = 1;", "reserved (__kii_x)"},
		{"__kii_ call", "function main() { __kii_s(); }", "reserved"},
		{"__filename", "function main() { return __filename; }", "__filename is not allowed"},
		{"__dirname", "function main() { return __dirname; }", "__dirname is not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := eng.Check(tt.script)
			if tt.wantPart == "" {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			if kumo.ErrorCode(err) != kumo.ErrInvalidInputData || !strings.Contains(err.Error(), tt.wantPart) {
				t.Fatalf("Check = %v, want INVALID_INPUT_DATA with %q", err, tt.wantPart)
			}
		})
	}
}

// TestSteps checks X-Step-count: one step per executed statement (spec
// §3.7), not for control statements, and that the instrumented script
// keeps its meaning in the forms the instrumentation touches.
func TestSteps(t *testing.T) {
	w := sqliteWorld(t, servercode.Config{})
	v := w.deploy(`
function k4j(params, context) { console.log("returnNumber"); return 3.14; }
function loop(params, context) {
  var s = 0;
  for (var i = 0; i < 3; i++) { s += i; }
  if (s > 100) s = -1; else s++;
  return s;
}
function forms(params, context) {
  var out = [];
  if (params.a) (function (x) { out.push(x); })("paren");
  for (var i = 0; i < 2; i++) if (i) break; else out.push("i" + i);
  lbl: for (var j = 0; j < 3; j++) { for (;;) { continue lbl; } }
  while (out.length < 4) out.push("w")
  do out.push("d"); while (false)
  switch (out.length) { case 5: out.push("five"); break; default: out.push("other"); }
  if (!params.a) return "no a"; else if (params.b) return;
  try { throw new Error("boom"); } catch (e) { out.push(e.message); } finally { out.push("f"); }
  return out;
}
function noReturn(params, context) { if (params.x) return (1); }
`)
	res := w.ok(v, "k4j", `{}`)
	if res.Steps != 2 || string(res.ReturnedValue) != "3.14" {
		t.Fatalf("k4j: steps %d, value %s; want 2 and 3.14", res.Steps, res.ReturnedValue)
	}
	// var s; 3 × (s += i); s++ (the if is not a step); return: 6.
	if res := w.ok(v, "loop", `{}`); res.Steps != 6 || string(res.ReturnedValue) != "4" {
		t.Fatalf("loop: steps %d, value %s; want 6 and 4", res.Steps, res.ReturnedValue)
	}
	wantValue(t, w.ok(v, "forms", `{"a":1}`), `["paren","i0","w","w","d","five","boom","f"]`)
	wantValue(t, w.ok(v, "forms", `{}`), `"no a"`)
	wantValue(t, w.ok(v, "forms", `{"a":1,"b":1}`), ``)
	wantValue(t, w.ok(v, "noReturn", `{"x":1}`), `1`)
	if res.Environment != kumo.EnvironmentV6 || res.VersionID != v {
		t.Fatalf("environment %q, version %q", res.Environment, res.VersionID)
	}
	if res := w.ok(v, "k4j", `{}`, func(c *kumo.ServerCodeCall) { c.Environment = "0" }); res.Environment != "0" {
		t.Fatalf("environment override: %q", res.Environment)
	}
}

func TestValuesAndErrors(t *testing.T) {
	w := sqliteWorld(t, servercode.Config{})
	v := w.deploy(`
function undef() {}
function date() { return new Date(Date.UTC(2020, 0, 2, 3, 4, 5, 6)); }
function obj(params) { return {echo: params, fn: function () {}, list: [1, "a", null]}; }
function fail() { return x.y; }
function throwString() { throw "plain"; }
function rejected() { return Promise.reject(new Error("nope")); }
function async(params, context, done) { done("first"); done("second"); }
function asyncLater(params, context, done) { Promise.resolve(7).then(function (v) { done(v * 6); }); }
function forgot(params, context, done) { }
var deep = () => deep(); // no statement: no steps
function req() { var _ = require("underscore"); return 1; }
var notFunction = 1;
`)
	wantValue(t, w.ok(v, "undef", `{}`), ``)
	wantValue(t, w.ok(v, "date", `{}`), `"2020-01-02T03:04:05.006Z"`)
	wantValue(t, w.ok(v, "obj", `{"a":[1,{"b":2}]}`), `{"echo":{"a":[1,{"b":2}]},"list":[1,"a",null]}`)
	wantValue(t, w.ok(v, "async", `{}`), `"first"`)
	wantValue(t, w.ok(v, "asyncLater", `{}`), `42`)
	wantErr(t, w.run(v, "fail", `{}`), servercode.CodeRuntimeError, "x is not defined")
	wantErr(t, w.run(v, "throwString", `{}`), servercode.CodeRuntimeError, "plain")
	wantErr(t, w.run(v, "rejected", `{}`), servercode.CodeRuntimeError, "nope")
	wantErr(t, w.run(v, "forgot", `{}`), servercode.CodeTimeout, "without calling done")
	wantErr(t, w.run(v, "deep", `{}`), servercode.CodeRuntimeError, "call stack")
	wantErr(t, w.run(v, "req", `{}`), servercode.CodeRuntimeError, "require('underscore') is not available")
	wantErr(t, w.run(v, "missing", `{}`), servercode.CodeRuntimeError, "missing is not a function")
	wantErr(t, w.run(v, "notFunction", `{}`), servercode.CodeRuntimeError, "notFunction is not a function")
	wantErr(t, w.run(v, "KiiObject", `{}`), servercode.CodeRuntimeError, "KiiObject is not a function") // the SDK's
	wantErr(t, w.run(v, "require", `{}`), servercode.CodeRuntimeError, "require is not a function")

	// Failures to start the run are errors of Run.
	for _, tt := range []struct {
		call kumo.ServerCodeCall
		code kumo.Code
	}{
		{kumo.ServerCodeCall{AppID: w.app.AppID, Version: v, Endpoint: "1bad"}, kumo.ErrInvalidInputData},
		{kumo.ServerCodeCall{AppID: w.app.AppID, Version: v, Endpoint: "obj", Params: json.RawMessage(`[1]`)}, kumo.ErrInvalidInputData},
		{kumo.ServerCodeCall{AppID: w.app.AppID, Version: v, Endpoint: "obj", Params: json.RawMessage(`{"a":"` + strings.Repeat("x", 100<<10) + `"}`)}, kumo.ErrBodyTooLarge},
		{kumo.ServerCodeCall{AppID: w.app.AppID, Version: "nope", Endpoint: "obj"}, kumo.ErrServerCodeVersionNotFound},
	} {
		if _, err := w.eng.Run(w.ctx, tt.call); kumo.ErrorCode(err) != tt.code {
			t.Errorf("Run(%s, %.20s): %v, want %s", tt.call.Endpoint, tt.call.Params, err, tt.code)
		}
	}
}

func TestLimits(t *testing.T) {
	t.Run("steps", func(t *testing.T) {
		w := sqliteWorld(t, servercode.Config{})
		v := w.deploy(`function main() { var i = 0; while (true) { i++; } }
function justUnder() { for (var i = 0; i < 997; i++) { i; } return 1; }
function catcher() { try { while (true) { 1; } } catch (e) { return "caught"; } }`)
		res := w.run(v, "main", `{}`)
		wantErr(t, res, servercode.CodeStepLimit, "fewer than 1000")
		if res.Steps != servercode.DefaultStepLimit {
			t.Errorf("steps = %d", res.Steps)
		}
		wantErr(t, w.run(v, "catcher", `{}`), servercode.CodeStepLimit, "steps")
		if res := w.ok(v, "justUnder", `{}`); res.Steps != 998 {
			t.Errorf("justUnder: %d steps", res.Steps)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		w := sqliteWorld(t, servercode.Config{StepLimit: 1 << 40, TimeLimit: 300 * time.Millisecond})
		v := w.deploy(`function spin() { while (true) {} }
function quick(params) { return params.n * 2; }`)
		var wg sync.WaitGroup
		var spun kumo.ServerCodeResult
		wg.Add(1)
		go func() { defer wg.Done(); spun = w.run(v, "spin", `{}`) }()
		// Other calls are served while the runaway runs.
		for i := 0; i < 5; i++ {
			wantValue(t, w.ok(v, "quick", fmt.Sprintf(`{"n":%d}`, i)), fmt.Sprint(2*i))
		}
		wg.Wait()
		wantErr(t, spun, servercode.CodeTimeout, "longer than 300ms")
		wantValue(t, w.ok(v, "quick", `{"n":21}`), "42") // a stopped runtime is not reused
	})
	t.Run("memory", func(t *testing.T) {
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		metrics.Read(sample)
		w := sqliteWorld(t, servercode.Config{StepLimit: 1 << 40, MemoryLimit: int64(sample[0].Value.Uint64()) + 64<<20})
		v := w.deploy(`function hog() { var a = []; var s = "x"; while (true) { a.push(s + a.length + "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"); } }
function fine() { return "ok"; }
function bigString() { return "xx".repeat(1e9).length; }
function bigArray() { return Array.from({length: 1e9}).length; }
function pad() { return "x".padStart(1e9).length; }
function small() { return ["ab".repeat(3), "x".padEnd(3, "-"), Array.from({length: 2}).length]; }`)
		wantErr(t, w.run(v, "hog", `{}`), servercode.CodeMemoryLimit, "heap")
		for _, big := range []string{"bigString", "bigArray", "pad"} {
			wantErr(t, w.run(v, big, `{}`), servercode.CodeRuntimeError, "too large for server code")
		}
		wantValue(t, w.ok(v, "small", `{}`), `["ababab","x--",2]`)
		wantValue(t, w.ok(v, "fine", `{}`), `"ok"`)
	})
}

func TestAjax(t *testing.T) {
	// A server on loopback that the scripts must not reach.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hit := make(chan struct{}, 10)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hit <- struct{}{}; w.Write([]byte("secret")) })}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	port := ln.Addr().(*net.TCPAddr).Port

	script := `
function call(params, context, done) {
  $.ajax({url: params.url, type: "GET", success: function (d) { done("got " + d); }, error: function (x, s, e) { done("error: " + x.responseText); }});
}
// own calls Kumo's REST API with the admin token, through $.ajax.
function own(params, context, done) {
  var admin = context.getAppAdminContext();
  $.ajax({url: Kii.getBaseURL() + "/apps/" + Kii.getAppID() + "/buckets/viaajax/objects", type: "POST",
    headers: {Authorization: "Bearer " + admin._getToken()}, contentType: "application/json", data: JSON.stringify({a: 1}),
    dataType: "json"}).done(function (d) { done(d.objectID); }).fail(function (x) { done("failed " + x.status + " " + x.responseText); });
}`
	t.Run("off by default", func(t *testing.T) {
		w := sqliteWorld(t, servercode.Config{})
		v := w.deploy(script)
		res := w.ok(v, "call", fmt.Sprintf(`{"url":"http://127.0.0.1:%d/"}`, port))
		if !strings.Contains(string(res.ReturnedValue), "--servercode-allow-hosts") {
			t.Fatalf("returned %s", res.ReturnedValue)
		}
		res = w.ok(v, "call", `{"url":"https://example.com/"}`)
		if !strings.Contains(string(res.ReturnedValue), "$.ajax is off") {
			t.Fatalf("returned %s", res.ReturnedValue)
		}
		// Kumo's own API is always reachable.
		res = w.ok(v, "own", `{}`)
		var id string
		json.Unmarshal(res.ReturnedValue, &id)
		if code, _ := w.get("/api/apps/"+w.app.AppID+"/buckets/viaajax/objects/"+id, w.adminToken()); code != 200 {
			t.Fatalf("the object made through $.ajax (%s): GET answered %d", res.ReturnedValue, code)
		}
	})
	t.Run("private addresses refused even when allowed", func(t *testing.T) {
		w := sqliteWorld(t, servercode.Config{AllowHosts: []string{"127.0.0.1", "localhost", "10.1.2.3", "169.254.169.254"}})
		v := w.deploy(script)
		for _, u := range []string{
			fmt.Sprintf("http://127.0.0.1:%d/", port),
			fmt.Sprintf("http://localhost:%d/", port),
			"http://10.1.2.3/",
			"http://169.254.169.254/latest/meta-data/",
		} {
			res := w.ok(v, "call", `{"url":"`+u+`"}`)
			if !strings.Contains(string(res.ReturnedValue), "loopback, private or link-local") {
				t.Errorf("%s: returned %s", u, res.ReturnedValue)
			}
		}
		res := w.ok(v, "call", `{"url":"http://example.org/"}`)
		if !strings.Contains(string(res.ReturnedValue), "not among the hosts") {
			t.Errorf("returned %s", res.ReturnedValue)
		}
		select {
		case <-hit:
			t.Fatal("the loopback server was reached")
		default:
		}
	})
}

// adminToken logs in as the app admin over REST.
func (w *world) adminToken() string {
	w.t.Helper()
	tok, err := w.st.Tokens.IssueServerCodeToken(w.ctx, w.admin, time.Minute)
	if err != nil {
		w.t.Fatal(err)
	}
	return tok
}

func TestContext(t *testing.T) {
	w := sqliteWorld(t, servercode.Config{})
	v := w.deploy(`
function info(params, context) {
  var admin = context.getAppAdminContext();
  return {appID: context.getAppID(), appKey: context.getAppKey(), token: context.getAccessToken(),
    admin: admin._getToken(), same: admin._token === admin.getAccessToken() && admin === context.getAppAdminContext(),
    base: Kii.getBaseURL(), kiiApp: Kii.getAppID(), sdk: Kii.getSDKVersion(), analytics: KiiAnalytics.getSDKVersion(),
    user: Kii.getCurrentUser()};
}
function login(params, context) { Kii._setCurrent({}, context.getAccessToken()); return 1; }
function nested(params, context, done) {
  Kii.serverCodeEntry("info").execute({}).then(function () { done("ran"); }, function (e) { done(e.message); });
}`)
	type info struct {
		AppID, AppKey, Base, KiiApp, SDK, Analytics string
		Token, Admin                                *string
		Same                                        bool
		User                                        any
	}
	get := func(mod ...func(*kumo.ServerCodeCall)) info {
		t.Helper()
		var i info
		if err := json.Unmarshal(w.ok(v, "info", `{}`, mod...).ReturnedValue, &i); err != nil {
			t.Fatal(err)
		}
		return i
	}
	uid, utok := w.user("bob")
	i := get(withToken(utok))
	if i.AppID != w.app.AppID || i.KiiApp != w.app.AppID || i.AppKey != w.app.AppKey || i.Base != w.base+"/api" ||
		i.SDK == "" || i.Analytics != i.SDK || !i.Same || i.Token == nil || *i.Token != utok || i.User != nil {
		t.Fatalf("info = %+v", i)
	}
	// The admin context's token is a real admin token, kept for later runs.
	c, err := w.st.Tokens.Authenticate(w.ctx, w.app.AppID, *i.Admin)
	if err != nil || !c.IsAdmin() {
		t.Fatalf("admin token: %+v, %v", c, err)
	}
	w.ok(v, "login", `{}`, withToken(utok))
	j := get() // anonymous; the previous run's login is gone
	if j.Token != nil || j.User != nil || *j.Admin != *i.Admin {
		t.Fatalf("anonymous info = %+v (admin token %v, before %v)", j, *j.Admin, *i.Admin)
	}
	// A hook for a user: a token of that user, issued when asked for.
	k := get(func(c *kumo.ServerCodeCall) {
		c.Trigger, c.Actor = kumo.RunHook, kumo.Principal{Kind: kumo.UserCaller, ID: uid}
	})
	if k.Token == nil {
		t.Fatal("no token for the hook's actor")
	}
	if c, err := w.st.Tokens.Authenticate(w.ctx, w.app.AppID, *k.Token); err != nil || c.Kind != kumo.UserCaller || c.ID != uid {
		t.Fatalf("actor token: %+v, %v", c, err)
	}
	// Nested execution goes to the API, which decides (409 once the
	// execute endpoint exists; 404 before).
	res := w.ok(v, "nested", `{}`)
	if strings.Contains(string(res.ReturnedValue), "ran") {
		t.Fatalf("nested execution: %s", res.ReturnedValue)
	}
}

func TestLogs(t *testing.T) {
	w := sqliteWorld(t, servercode.Config{MaxLogLines: 3})
	v := w.deploy(`function main(params, context) {
  console.log("hello", {a: 1}, 2);
  console.error("bad");
  console.info("i"); console.warn("w"); console.log("x");
  return 1;
}
function boom() { console.log("before"); throw new Error("kaput"); }
function boom2() { return 2; }`)
	w.ok(v, "main", `{"p":1}`)
	logs := w.logs.wait(t, 5)
	want := []string{"servercode.log DEBUG hello {\"a\":1} 2", "servercode.log ERROR bad", "servercode.log INFO i",
		"servercode.log WARN 2 more console lines of this run were dropped (at most 3 are kept)", "servercode.invoke INFO Executed endpoint main"}
	if len(logs) != len(want) {
		t.Fatalf("logs = %+v", logs)
	}
	for i, l := range logs {
		if got := l.Key + " " + l.Level + " " + l.Description; got != want[i] || l.AppID != w.app.AppID || l.ID == "" || l.Time == 0 {
			t.Errorf("log %d = %q (%+v), want %q", i, got, l, want[i])
		}
		if l.Key == "servercode.log" && l.Fields["entry-name"] != "main" {
			t.Errorf("entry-name = %v", l.Fields["entry-name"])
		}
	}
	inv := logs[len(logs)-1].Fields
	if inv["versionID"] != v || inv["endpoint"] != "main" || inv["responseStep"] != 6 || inv["status"] != "success" || string(inv["args"].(json.RawMessage)) != `{"p":1}` {
		t.Errorf("invoke fields = %+v", inv)
	}
	w.run(v, "boom", `{}`)
	logs = w.logs.wait(t, 7)
	last := logs[len(logs)-1]
	if last.Level != "ERROR" || last.Fields["status"] != "error" || !strings.Contains(last.Description, "kaput") {
		t.Errorf("failed run's record = %+v", last)
	}
	// A log that cannot be written does not fail the run.
	w.logs.mu.Lock()
	w.logs.fail = true
	w.logs.mu.Unlock()
	wantValue(t, w.ok(v, "main", `{}`), "1")
	// Close writes what is queued.
	w.logs.mu.Lock()
	w.logs.fail = false
	w.logs.mu.Unlock()
	w.ok(v, "boom2", `{}`)
	if err := w.eng.Close(w.ctx); err != nil {
		t.Fatal(err)
	}
	if logs := w.logs.all(); logs[len(logs)-1].Fields["endpoint"] != "boom2" {
		t.Fatalf("last record after Close: %+v", logs[len(logs)-1])
	}
}

// TestPool checks that runs reuse prepared runtimes (one compilation per
// version), that per-run state is reset, and that concurrent runs are
// safe (run with -race).
func TestPool(t *testing.T) {
	w := sqliteWorld(t, servercode.Config{PoolSize: 4})
	v1 := w.deploy(`function main(params, context) { return {v: 1, n: params.n, user: Kii._currentToken}; }
function login(params, context) { Kii._setCurrent(null, "t"); return 1; }`)
	v2 := w.deploy(`function main(params) { return {v: 2, n: params.n}; }`)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				res := w.run(v1, "main", fmt.Sprintf(`{"n":%d}`, g*100+i))
				if want := fmt.Sprintf(`{"v":1,"n":%d,"user":null}`, g*100+i); res.Err != nil || string(res.ReturnedValue) != want {
					t.Errorf("v1: %s %+v, want %s", res.ReturnedValue, res.Err, want)
				}
				res = w.run(v2, "main", fmt.Sprintf(`{"n":%d}`, i))
				if want := fmt.Sprintf(`{"v":2,"n":%d}`, i); res.Err != nil || string(res.ReturnedValue) != want {
					t.Errorf("v2: %s, want %s", res.ReturnedValue, want)
				}
				w.run(v1, "login", `{}`)
			}
		}(g)
	}
	wg.Wait()
	if n := w.eng.Compiles(); n != 2 {
		t.Fatalf("%d compilations for 2 versions", n)
	}
	// Versions beyond the pool's size are dropped least recently used
	// first, and compiled again when called.
	for i := 0; i < 5; i++ {
		w.ok(w.deploy(fmt.Sprintf(`function main() { return %d; }`, i)), "main", `{}`)
	}
	before := w.eng.Compiles()
	w.ok(v1, "main", `{}`)
	if w.eng.Compiles() != before+1 {
		t.Fatalf("v1 was not dropped from a pool of 4 versions")
	}
}
