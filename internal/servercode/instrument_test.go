package servercode

import (
	"errors"
	"strings"
	"testing"

	"github.com/dop251/goja"
)

// TestInstrumentForms instruments statements of many forms: the result
// must compile, run as the original does, and keep its line numbers.
func TestInstrumentForms(t *testing.T) {
	forms := []string{
		"(function () { out.push(1); })();",
		"((a, b) => a + b)(1, 2);",
		"[1, 2].forEach(function (x) { out.push(x); });",
		"({a: out.x} = {a: 1});",
		"`t${1}`.length;",
		"!function () { out.push('bang'); }();",
		"if (out) (out).push('p'); else (out).push('q')",
		"for (var i = 0; i < 2; i++) (out).push(i)",
		"for (const k in {a: 1}) out.push(k);",
		"for (const k of [1]) out.push(k)",
		"while (out.length < 3) out.push('w')",
		"do out.push('d'); while (false)",
		"x: for (;;) { break x; }",
		"switch (1) { case 1: (out).push('c'); break; default: }",
		"try { throw 1 } catch { out.push('t') } finally { out.push('f') }",
		"class A { m() { return 1; } static { out.push('static'); } }",
		"var f = async function () { await 1; out.push('async'); }; f();",
		"label: { out.push('block'); break label; }",
		"if (out) { } else if (out) out.push('x'); else { }",
		"out.push(/re;\\(/.test('re;('))",
		"var o = {get g() { return 1; }, set s(v) { out.push(v); }}; o.s = 2;",
		"if (out) throw_ = 1;",
		"(() => { if (out) return; })();",
		"for (;;) if (out) break; else continue;",
	}
	for _, f := range forms {
		src := "var out = [];\nfunction main() {\n" + f + "\nreturn out;\n}"
		ins, err := instrument(src)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if strings.Count(ins, "\n") != strings.Count(src, "\n") {
			t.Errorf("%s: lines changed:\n%s", f, ins)
		}
		want := runJS(t, src, false)
		got := runJS(t, ins, true)
		if got != want {
			t.Errorf("%s: instrumented %q, original %q\n%s", f, got, want, ins)
		}
	}
	// An error keeps the script's line number.
	ins, _ := instrument("function main() {\n  var a = 1;\n  null.x;\n}")
	rt := goja.New()
	rt.Set(stepFunc, func() {})
	rt.RunString(ins)
	_, err := rt.RunString("main()")
	var ex *goja.Exception
	if !errors.As(err, &ex) || !strings.Contains(ex.Error(), ":3:") {
		t.Errorf("error %v, want one at line 3", err)
	}
}

func runJS(t *testing.T, src string, steps bool) string {
	t.Helper()
	rt := goja.New()
	if steps {
		rt.Set(stepFunc, func() {})
	}
	if _, err := rt.RunString(src); err != nil {
		t.Fatalf("%v\n%s", err, src)
	}
	v, err := rt.RunString("JSON.stringify(main())")
	if err != nil {
		t.Fatalf("%v\n%s", err, src)
	}
	return v.String()
}
