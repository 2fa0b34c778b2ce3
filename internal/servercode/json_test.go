package servercode

import (
	"net/http"
	"strings"
	"testing"

	"github.com/dop251/goja"
)

// TestParseJSON checks that parseJSON gives what the runtime's JSON.parse
// gives (compared through JSON.stringify, own keys in order, the types
// and -0), and refuses what JSON.parse refuses.
func TestParseJSON(t *testing.T) {
	rt := goja.New()
	v := &vm{rt: rt}
	describe, err := rt.RunString(`(function d(x) {
  if (x === null || typeof x !== "object") { return typeof x + ":" + (Object.is(x, -0) ? "-0" : JSON.stringify(x)); }
  var keys = Object.getOwnPropertyNames(x);
  return (Array.isArray(x) ? "[" : "{") + keys.map(function (k) {
    return JSON.stringify(k) + "=" + (k === "length" && Array.isArray(x) ? x.length : d(x[k]));
  }).join(",") + "|" + (Object.getPrototypeOf(x) === (Array.isArray(x) ? Array.prototype : Object.prototype));
})`)
	if err != nil {
		t.Fatal(err)
	}
	desc, _ := goja.AssertFunction(describe)
	parse, _ := goja.AssertFunction(rt.Get("JSON").ToObject(rt).Get("parse"))
	str := func(x goja.Value) string {
		s, err := desc(goja.Undefined(), x)
		if err != nil {
			t.Fatal(err)
		}
		return s.String()
	}
	valid := []string{
		`{}`, `[]`, ` { "a" : 1 , "b" : [ 1 , 2 , { } ] } `, `{"b":1,"a":2,"10":3,"2":4}`,
		`{"__proto__":{"x":1},"constructor":2}`, `{"a":1,"a":2}`,
		`0`, `-0`, `1.5e3`, `-12.25E-2`, `123456789012345678901234567890`, `1e308`, `0.1`,
		`true`, `false`, `null`, `"plain"`, `"é ü 日本 😀"`, `"esc \" \\ \/ \b \f \n \r \t \u00e9 \ud83d\ude00"`,
		"{\n  \"results\" : [ {\n    \"_id\" : \"x\",\n    \"n\" : 42\n  } ]\n}", `[[[[[[1]]]]]]`, `{"":""}`,
		`"\ud800"`, strings.Repeat("[", 300) + strings.Repeat("]", 300),
	}
	for _, doc := range valid {
		want, err := parse(goja.Undefined(), rt.ToValue(doc))
		if err != nil {
			t.Fatalf("JSON.parse(%q): %v", doc, err)
		}
		got, ok := v.parseJSON([]byte(doc))
		if !ok {
			if len(doc) < 500 { // the deep one may go to JSON.parse
				t.Errorf("parseJSON(%q) refused it", doc)
			}
			continue
		}
		if g, w := str(got), str(want); g != w {
			t.Errorf("parseJSON(%q) = %s; JSON.parse gives %s", doc, g, w)
		}
	}
	invalid := []string{``, ` `, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `[1,]`, `[1 2]`, `{a:1}`, `'x'`, `01`, `1.`, `.5`, `-`, `1e`, `+1`,
		`tru`, `nul`, `"x`, "\"a\nb\"", `"\x"`, `{} {}`, `NaN`, `Infinity`, `1e400`, `[`, `"\u12"`}
	for _, doc := range invalid {
		if _, err := parse(goja.Undefined(), rt.ToValue(doc)); err == nil {
			continue // JSON.parse accepts it: not a case of this list
		}
		if got, ok := v.parseJSON([]byte(doc)); ok {
			t.Errorf("parseJSON(%q) = %s; JSON.parse refuses it", doc, str(got))
		}
	}
}

// TestResponseHeaders checks the headers object of a bridge answer:
// lower-case names, several values joined, absent ones undefined, for-in
// and Object.keys listing them.
func TestResponseHeaders(t *testing.T) {
	rt := goja.New()
	v := &vm{rt: rt}
	h := http.Header{}
	h.Set("ETag", `"3"`)
	h.Set("Content-Type", "application/json")
	h.Add("X-Many", "a")
	h.Add("X-Many", "b")
	rt.Set("res", v.response(200, h, []byte(`{}`)))
	got, err := rt.RunString(`(function () {
  var hs = res.headers, seen = [];
  for (var k in hs) { seen.push(k + "=" + hs[k]); }
  return JSON.stringify({etag: hs.etag, type: hs["content-type"], many: hs["x-many"], none: hs["x-none"] === undefined,
    canonical: hs["Content-Type"] === undefined, has: "etag" in hs, keys: Object.keys(hs), seen: seen, status: res.status, body: res.body});
})()`)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"etag":"\"3\"","type":"application/json","many":"a, b","none":true,"canonical":true,"has":true,` +
		`"keys":["content-type","etag","x-many"],"seen":["content-type=application/json","etag=\"3\"","x-many=a, b"],"status":200,"body":"{}"}`
	if got.String() != want {
		t.Errorf("headers seen by a script:\n got %s\nwant %s", got, want)
	}
}
