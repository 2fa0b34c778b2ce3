package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kumo-iot/kumo"
)

// TestErrorTableComplete fails when a kumo.Code has no wire form.
func TestErrorTableComplete(t *testing.T) {
	for _, c := range kumo.Codes {
		et, ok := errorTable[c]
		if !ok {
			t.Errorf("code %s is missing from errorTable", c)
			continue
		}
		if et.status < 400 || et.status > 599 {
			t.Errorf("code %s has status %d", c, et.status)
		}
		if !strings.HasSuffix(et.name, "Exception") {
			t.Errorf("code %s has exception name %q", c, et.name)
		}
	}
	if len(errorTable) != len(kumo.Codes) {
		t.Errorf("errorTable has %d entries, kumo.Codes %d: a code is missing from kumo.Codes", len(errorTable), len(kumo.Codes))
	}
}

func TestWriteError(t *testing.T) {
	s := &Server{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	tests := []struct {
		name       string
		err        error
		status     int
		ctype      string
		wantFields map[string]any
	}{
		{"kii error with fields", kumo.Errorf(kumo.ErrObjectNotFound, "gone").With("objectID", "o1"), 404,
			"application/vnd.kii.ObjectNotFoundException+json", map[string]any{"errorCode": "OBJECT_NOT_FOUND", "message": "gone", "objectID": "o1"}},
		{"wrong token is 403", kumo.Errorf(kumo.ErrWrongToken, "bad"), 403, "application/vnd.kii.WrongTokenException+json", map[string]any{"errorCode": "WRONG_TOKEN"}},
		{"unauthorized is 401", kumo.Errorf(kumo.ErrUnauthorized, "no"), 401, "application/vnd.kii.UnauthorizedAccessException+json", map[string]any{"errorCode": "UNAUTHORIZED"}},
		{"validation", kumo.InvalidInput(map[string]string{"f": "bad"}), 400, "application/vnd.kii.ValidationException+json",
			map[string]any{"errorCode": "INVALID_INPUT_DATA", "message": "There are validation errors"}},
		{"wrapped kii error", fmt.Errorf("ctx: %w", kumo.Errorf(kumo.ErrThingNotFound, "t")), 404, "application/vnd.kii.ThingNotFoundException+json", map[string]any{"errorCode": "THING_NOT_FOUND"}},
		{"internal error hides its text", errors.New("disk on fire at /secret/path"), 500, "application/vnd.kii.UndefinedException+json",
			map[string]any{"errorCode": "UNDEFINED_ERROR", "message": "An internal error occurred"}},
		{"a field cannot override the code", kumo.Errorf(kumo.ErrBucketNotFound, "b").With("errorCode", "FAKE"), 404, "", map[string]any{"errorCode": "BUCKET_NOT_FOUND"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			s.writeError(w, httptest.NewRequest("GET", "/x", nil), tt.err)
			if w.Code != tt.status {
				t.Errorf("status = %d, want %d", w.Code, tt.status)
			}
			if tt.ctype != "" && w.Header().Get("Content-Type") != tt.ctype {
				t.Errorf("Content-Type = %q, want %q", w.Header().Get("Content-Type"), tt.ctype)
			}
			var m map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
				t.Fatalf("body is not JSON: %s", w.Body)
			}
			for k, v := range tt.wantFields {
				if m[k] != v {
					t.Errorf("%s = %v, want %v", k, m[k], v)
				}
			}
			if strings.Contains(w.Body.String(), "secret") {
				t.Errorf("internal detail leaked: %s", w.Body)
			}
		})
	}
}

func TestKiiIndent(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{}`, `{ }`},
		{`[]`, `[ ]`},
		{`{"a":1}`, "{\n  \"a\" : 1\n}"},
		{`{"a":1,"b":"x"}`, "{\n  \"a\" : 1,\n  \"b\" : \"x\"\n}"},
		{`{"a":{"b":[1,2],"c":{}}}`, "{\n  \"a\" : {\n    \"b\" : [ 1, 2 ],\n    \"c\" : { }\n  }\n}"},
		{`{"s":"a,b:c{d}[e]\"f\\"}`, "{\n  \"s\" : \"a,b:c{d}[e]\\\"f\\\\\"\n}"},
		{`[{"a":1},{"b":2}]`, "[ {\n    \"a\" : 1\n  }, {\n    \"b\" : 2\n  } ]"},
	}
	for _, tt := range tests {
		got := string(kiiIndent([]byte(tt.in)))
		if got != tt.want {
			t.Errorf("kiiIndent(%s) =\n%s\nwant\n%s", tt.in, got, tt.want)
		}
		var a, b any
		if json.Unmarshal([]byte(tt.in), &a) != nil || json.Unmarshal([]byte(got), &b) != nil || fmt.Sprint(a) != fmt.Sprint(b) {
			t.Errorf("kiiIndent(%s) changed the value", tt.in)
		}
	}
}

func FuzzKiiIndent(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":[1,{"b":"c\"d"}]}`, `[1,2,3]`, `"x"`, `{"a":"\u00e9\\n"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var v any
		if json.Unmarshal([]byte(s), &v) != nil {
			return
		}
		compact, _ := json.Marshal(v)
		var w any
		if err := json.Unmarshal(kiiIndent(compact), &w); err != nil {
			t.Fatalf("kiiIndent(%s) is not JSON: %v", compact, err)
		}
		if fmt.Sprint(v) != fmt.Sprint(w) {
			t.Fatalf("kiiIndent(%s) changed the value", compact)
		}
	})
}

func TestCleanPath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/api/apps/a/things", "/api/apps/a/things"},
		{"/api/apps/a//things", "/api/apps/a/things"},
		{"/api/apps/a///things//x", "/api/apps/a/things/x"},
		{"/api/apps/a/groups/", "/api/apps/a/groups"},
		{"/", "/"},
		{"/api/apps/a/users/EMAIL:a%2Bb@x.com", "/api/apps/a/users/EMAIL:a+b@x.com"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "http://h"+tt.in, nil)
		cleanPath(r.URL)
		if r.URL.Path != tt.want {
			t.Errorf("cleanPath(%q) = %q, want %q", tt.in, r.URL.Path, tt.want)
		}
	}
}
