package api

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/kumo-iot/kumo"
)

// nested returns a JSON value nested depth levels deep: objects {"a":…}
// around arrays [ … ] in turn, with leaf at the bottom.
func nested(depth int, leaf string) string {
	var b strings.Builder
	for i := range depth {
		if i%2 == 0 {
			b.WriteString(`{"a":`)
		} else {
			b.WriteString(`[`)
		}
	}
	b.WriteString(leaf)
	for i := depth - 1; i >= 0; i-- {
		if i%2 == 0 {
			b.WriteString(`}`)
		} else {
			b.WriteString(`]`)
		}
	}
	return b.String()
}

func TestCheckJSONDepth(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"empty", ``, true},
		{"flat", `{"a":1,"b":[1,2],"c":{"d":"e"}}`, true},
		{"at the limit", nested(maxJSONDepth, `1`), true},
		{"one past the limit", nested(maxJSONDepth+1, `1`), false},
		{"9990 deep", nested(9990, `1`), false},
		{"brackets in strings do not count", `{"a":"` + strings.Repeat("{[", 200) + `"}`, true},
		{"escaped quotes stay in the string", `{"a":"\"` + strings.Repeat("[", 200) + `\\"}`, true},
		{"siblings do not add up", "[" + strings.Repeat(nested(maxJSONDepth-1, `0`)+",", 100) + "0]", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkJSONDepth([]byte(tt.in))
			if tt.ok && err != nil {
				t.Fatalf("checkJSONDepth refused it: %v", err)
			}
			if !tt.ok && kumo.ErrorCode(err) != kumo.ErrInvalidJSON {
				t.Fatalf("checkJSONDepth = %v, want INVALID_JSON", err)
			}
		})
	}
}

// TestKiiIndentLinear checks that the pretty-printer's output is within
// a constant times its input, however deep the input (data stored before
// the depth limit existed), and that it is still the same JSON.
func TestKiiIndentLinear(t *testing.T) {
	const k = 2*maxIndentDepth + 3 // a newline and its indentation per input byte at most
	wide := nested(maxIndentDepth, `{`+strings.Repeat(`"":0,`, 1000)+`"":0}`)
	for _, in := range []string{nested(9990, `"x"`), nested(200, `1`), wide, nested(9990, `{"a":1,"b":[{"c":2}]}`)} {
		var v any
		if err := json.Unmarshal([]byte(in), &v); err != nil {
			t.Fatal(err)
		}
		compact, _ := json.Marshal(v)
		out := kiiIndent(compact)
		if len(out) > k*len(compact) {
			t.Errorf("kiiIndent of %d bytes gave %d bytes, more than %d times", len(compact), len(out), k)
		}
		var w any
		if err := json.Unmarshal(out, &w); err != nil {
			t.Fatalf("kiiIndent output is not JSON: %v", err)
		}
		again, _ := json.Marshal(w)
		if string(again) != string(compact) {
			t.Errorf("kiiIndent changed the value")
		}
	}
	// Deep containers are printed on one line, shallow ones as Kii does.
	got := string(kiiIndent([]byte(nested(maxIndentDepth+3, `{"x":1,"y":2}`))))
	if !strings.Contains(got, `{ "x" : 1, "y" : 2 }`) {
		t.Errorf("a deep object is not printed on one line:\n%s", got)
	}
	if !strings.HasPrefix(got, "{\n  \"a\" : [ {\n") {
		t.Errorf("shallow objects lost their layout:\n%s", got[:min(len(got), 80)])
	}
}

// TestLoginExpiresAt: a login's expiresAt is absent (no expiry), a time
// in the future (clamped to the year 9999), or refused: not a number, or
// not after now (a dead token, or, as 0 and negatives and non-numbers
// were, a token that never expires).
func TestLoginExpiresAt(t *testing.T) {
	const now = 1700000000000
	tests := []struct {
		in   string
		want int64 // -1: refused
	}{
		{"", 0},
		{"1700000001000", 1700000001000},
		{"1.7000001e12", 1700000100000},
		{"9223372036854775807", kumo.MaxEpochMillis},
		{"99999999999999999999", kumo.MaxEpochMillis},
		{"1e300", kumo.MaxEpochMillis},
		{"1e999", kumo.MaxEpochMillis},
		{"x", -1},
		{"abc", -1},
		{"NaN", -1},
		{"-5", -1},
		{"-1", -1},
		{"0", -1},
		{"1000", -1},
		{"1.5", -1},
		{"-1e999", -1},
		{"1700000000000", -1},
		{"1699999940000", -1},
	}
	for _, tt := range tests {
		got, err := expiresAt(tt.in, now)
		if tt.want < 0 {
			if kumo.ErrorCode(err) != kumo.ErrInvalidInputData {
				t.Errorf("expiresAt(%q) = %d, %v; want INVALID_INPUT_DATA", tt.in, got, err)
			}
			continue
		}
		if got != tt.want || err != nil {
			t.Errorf("expiresAt(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}
