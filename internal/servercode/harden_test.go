package servercode_test

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dop251/goja"
	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/servercode"
)

// TestSandboxHardening checks what a script cannot do even with computed
// names the deploy check does not see: replace the step function (and so
// run without a step limit, in later runs too), make code from strings
// with the Function constructors, allocate a huge typed array or join a
// huge array in one native call, or backtrack without end in one regular
// expression match.
func TestSandboxHardening(t *testing.T) {
	w := sqliteWorld(t, servercode.Config{StepLimit: 1000})
	v := w.versions.add(w.app.AppID, `
function unstep(params, context) {
  try { globalThis["__kii" + "_s"] = function () {}; } catch (e) {}
  try { delete globalThis["__kii" + "_s"]; } catch (e) {}
  var n = 0;
  for (var i = 0; i < 100000; i++) { n++; }
  return n;
}
function loop(params, context) {
  var n = 0;
  for (var i = 0; i < 100000; i++) { n++; }
  return n;
}
function ctor(params, context) { return Function("return 1")(); }
function ctorProto(params, context) { return (function () {}).constructor("return 1")(); }
function genCtor(params, context) { return Object.getPrototypeOf(function* () {}).constructor("yield 1")().next().value; }
function typed(params, context) { return new Uint8Array(Math.pow(2, 31)).length; }
function buffer(params, context) { return new ArrayBuffer(Math.pow(2, 31)).byteLength; }
function join(params, context) { var a = []; a.length = 1e9; return a.join("x").length; }
function redos(params, context) { return /^(?=a)(a+)+$/.test("a".repeat(30) + "!"); }
function small(params, context) { return new Uint8Array(16).length + (function () {} instanceof Function ? 1 : 0); }
`)
	for _, c := range []struct{ endpoint, code, message string }{
		{"unstep", servercode.CodeStepLimit, ""},
		{"loop", servercode.CodeStepLimit, ""},
		{"ctor", servercode.CodeRuntimeError, "not available"},
		{"ctorProto", servercode.CodeRuntimeError, "not available"},
		{"genCtor", servercode.CodeRuntimeError, "not available"},
		{"typed", servercode.CodeRuntimeError, "too large"},
		{"buffer", servercode.CodeRuntimeError, "too large"},
		{"join", servercode.CodeRuntimeError, "too large"},
	} {
		res, err := w.eng.Run(w.ctx, kumo.ServerCodeCall{AppID: w.app.AppID, Version: v, Endpoint: c.endpoint})
		if err != nil {
			t.Fatalf("%s: %v", c.endpoint, err)
		}
		if res.Err == nil || res.Err.Details.ErrorCode != c.code || !strings.Contains(res.Err.Details.Message, c.message) {
			t.Errorf("%s: result %s, error %+v; want %s %q", c.endpoint, res.ReturnedValue, res.Err, c.code, c.message)
		}
	}
	// Catastrophic backtracking: one native call no interrupt stops; the
	// match gives up (RegexpMatchTimeout) and does not match.
	res, err := w.eng.Run(w.ctx, kumo.ServerCodeCall{AppID: w.app.AppID, Version: v, Endpoint: "redos"})
	if err != nil || res.Err != nil || string(res.ReturnedValue) != "false" {
		t.Errorf("redos: %s %+v %v", res.ReturnedValue, res.Err, err)
	}
	res, err = w.eng.Run(w.ctx, kumo.ServerCodeCall{AppID: w.app.AppID, Version: v, Endpoint: "small"})
	if err != nil || res.Err != nil || string(res.ReturnedValue) != "17" {
		t.Errorf("small: %s %+v %v", res.ReturnedValue, res.Err, err)
	}
}

// TestRevokedTokenNotReused checks that the admin context's token, shared
// by runs, is not handed out again once revoked (the app's client secret
// rotated): the next run gets a new, working one.
func TestRevokedTokenNotReused(t *testing.T) {
	w := sqliteWorld(t, servercode.Config{})
	v := w.versions.add(w.app.AppID, `function tok(params, context) { return context.getAppAdminContext()._getToken(); }`)
	run := func() string {
		t.Helper()
		res, err := w.eng.Run(w.ctx, kumo.ServerCodeCall{AppID: w.app.AppID, Version: v, Endpoint: "tok"})
		if err != nil || res.Err != nil {
			t.Fatalf("%v %+v", err, res.Err)
		}
		return strings.Trim(string(res.ReturnedValue), `"`)
	}
	first := run()
	if again := run(); again != first {
		t.Fatalf("a valid token was not reused: %s, then %s", first, again)
	}
	if _, err := w.st.Apps.RotateClientSecret(w.ctx, w.app.AppID); err != nil {
		t.Fatal(err)
	}
	if _, err := w.st.Tokens.Authenticate(w.ctx, w.app.AppID, first); err == nil {
		t.Fatal("rotating the secret left the admin token valid: the test proves nothing")
	}
	second := run()
	if second == first {
		t.Fatal("the revoked admin token was handed out again")
	}
	if _, err := w.st.Tokens.Authenticate(w.ctx, w.app.AppID, second); err != nil {
		t.Fatalf("the new admin token: %v", err)
	}
}

// TestRunsPerApp checks that one app's runs take at most its share of
// the engine's runs: another app's call runs while the first app's
// runaway calls (more than every run slot) wait or spin.
func TestRunsPerApp(t *testing.T) {
	w := sqliteWorld(t, servercode.Config{MaxRuns: 4, MaxRunsPerApp: 2, StepLimit: 1 << 40, TimeLimit: 3 * time.Second})
	spin := w.versions.add(w.app.AppID, `function spin(params, context) { while (true) {} }`)
	other, err := w.st.Apps.CreateApp(w.ctx, kumo.AppCreate{})
	if err != nil {
		t.Fatal(err)
	}
	hello := w.versions.add(other.AppID, `function hello(params, context) { return "hello"; }`)
	var spinning sync.WaitGroup
	var finished atomic.Int32
	for range 4 { // as many as the engine's runs: without shares, they would take them all
		spinning.Add(1)
		go func() {
			defer spinning.Done()
			w.eng.Run(w.ctx, kumo.ServerCodeCall{AppID: w.app.AppID, Version: spin, Endpoint: "spin"})
			finished.Add(1)
		}()
	}
	defer spinning.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for servercode.ActiveRuns(w.eng) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the spinning runs did not start")
		}
		time.Sleep(5 * time.Millisecond)
	}
	res, err := w.eng.Run(w.ctx, kumo.ServerCodeCall{AppID: other.AppID, Version: hello, Endpoint: "hello"})
	if err != nil || res.Err != nil || string(res.ReturnedValue) != `"hello"` {
		t.Fatalf("the other app's call: %s %+v %v", res.ReturnedValue, res.Err, err)
	}
	if n := finished.Load(); n != 0 {
		t.Errorf("the other app's call waited for %d of the first app's runaway runs", n)
	}
	if n := servercode.ActiveRuns(w.eng); n > 2 {
		t.Errorf("%d of the first app's runs at once; its share is 2", n)
	}
}

// TestStuckNativeCall checks that a caller is answered TIMEOUT past the
// time limit (and a grace) even while the run is stuck in a native call
// that no interrupt stops, and that the run's slot frees when it ends.
func TestStuckNativeCall(t *testing.T) {
	w := newWorld(t, stores(t)["sqlite"], servercode.Config{TimeLimit: 200 * time.Millisecond, StuckGrace: 200 * time.Millisecond, MaxRuns: 1})
	release := make(chan struct{})
	servercode.SetNative(w.eng, "__test_block", func(goja.FunctionCall) goja.Value {
		<-release
		return goja.Undefined()
	})
	v := w.versions.add(w.app.AppID, `function stuck(params, context) { __test_block(); return 1; }
function quick(params, context) { return 2; }`)
	res, err := w.eng.Run(w.ctx, kumo.ServerCodeCall{AppID: w.app.AppID, Version: v, Endpoint: "stuck"})
	if err != nil || res.Err == nil || res.Err.Details.ErrorCode != servercode.CodeTimeout || !strings.Contains(res.Err.Details.Message, "still running") {
		t.Fatalf("stuck run: %s %+v %v", res.ReturnedValue, res.Err, err)
	}
	close(release) // the native call returns: the run ends, its slot (the only one) frees
	res, err = w.eng.Run(w.ctx, kumo.ServerCodeCall{AppID: w.app.AppID, Version: v, Endpoint: "quick"})
	if err != nil || res.Err != nil || string(res.ReturnedValue) != "2" {
		t.Fatalf("the next run: %s %+v %v", res.ReturnedValue, res.Err, err)
	}
}
