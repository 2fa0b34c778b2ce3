package servercode_test

import (
	"strings"
	"testing"

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
