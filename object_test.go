package kumo

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestObjectDataType(t *testing.T) {
	tests := []struct {
		name      string
		mediaType string
		want      string
		skip      string // a known bug
	}{
		{"typed", "application/vnd.app1.mydata+json", "mydata", ""},
		{"type keeps its case", "application/vnd.app1.MyData+json", "MyData", ""},
		{"upper-case media type", "APPLICATION/VND.app1.mydata+JSON", "mydata", ""},
		{"type with dots", "application/vnd.app1.my.data+json", "my.data", ""},
		{"plain JSON", "application/json", "", ""},
		{"empty", "", "", ""},
		{"Kii's own type", "application/vnd.kii.ObjectCreationRequest+json", "", ""},
		{"Kii's own type, any case", "application/VND.KII.ObjectCreationRequest+json", "", ""},
		{"app ID without a type", "application/vnd.app1+json", "", ""},
		{"empty type", "application/vnd.app1.+json", "", ""},
		{"not JSON", "application/vnd.app1.mydata+xml", "", ""},
		{"text", "text/plain", "", ""},
		// internal/api hands ObjectDataType the raw Content-Type header.
		{"charset parameter", "application/vnd.app1.mydata+json; charset=utf-8", "mydata", ""},
		{"charset parameter, no space", "application/vnd.app1.mydata+json;charset=UTF-8", "mydata", ""},
		{"plain JSON with charset", "application/json; charset=utf-8", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.skip != "" {
				t.Skip(tt.skip)
			}
			if got := ObjectDataType(tt.mediaType); got != tt.want {
				t.Errorf("ObjectDataType(%q) = %q, want %q", tt.mediaType, got, tt.want)
			}
		})
	}
}

func TestObjectMediaType(t *testing.T) {
	tests := []struct {
		appID, dataType, want string
	}{
		{"app1", "", "application/json"},
		{"app1", "mydata", "application/vnd.app1.mydata+json"},
		{"app1", "MyData", "application/vnd.app1.MyData+json"},
	}
	for _, tt := range tests {
		if got := ObjectMediaType(tt.appID, tt.dataType); got != tt.want {
			t.Errorf("ObjectMediaType(%q, %q) = %q, want %q", tt.appID, tt.dataType, got, tt.want)
		}
		o := Object{Bucket: BucketRef{AppID: tt.appID}, DataType: tt.dataType}
		if got := o.MediaType(); got != tt.want {
			t.Errorf("Object.MediaType() = %q, want %q", got, tt.want)
		}
		// The media type of an object gives its type back.
		if got := ObjectDataType(ObjectMediaType(tt.appID, tt.dataType)); got != tt.dataType {
			t.Errorf("ObjectDataType(ObjectMediaType(%q, %q)) = %q, want %q", tt.appID, tt.dataType, got, tt.dataType)
		}
	}
}

func TestParseObjectData(t *testing.T) {
	// pad returns a JSON object of exactly n bytes.
	pad := func(n int) string {
		const frame = `{"p":""}`
		return `{"p":"` + strings.Repeat("x", n-len(frame)) + `"}`
	}
	tests := []struct {
		name string
		raw  string
		want map[string]any
		code Code
	}{
		{name: "empty object", raw: `{}`, want: map[string]any{}},
		{name: "fields", raw: `{"s":"x","b":false,"n":null,"a":[1,"2"],"o":{"k":1.0}}`,
			want: map[string]any{"s": "x", "b": false, "n": nil, "a": []any{json.Number("1"), "2"}, "o": map[string]any{"k": json.Number("1.0")}}},
		{name: "numbers keep their text", raw: `{"big":12345678901234567890,"f":0.10,"e":1E+2,"neg":-0}`,
			want: map[string]any{"big": json.Number("12345678901234567890"), "f": json.Number("0.10"), "e": json.Number("1E+2"), "neg": json.Number("-0")}},
		{name: "system fields stripped", raw: `{"_id":"x","_created":1,"_modified":2,"_owner":"o","_version":"3","_dataType":"t","v":1}`,
			want: map[string]any{"v": json.Number("1")}},
		{name: "nested system field names kept", raw: `{"o":{"_id":"x"}}`, want: map[string]any{"o": map[string]any{"_id": "x"}}},
		{name: "surrounding white space", raw: " \n{\"a\":1}\n ", want: map[string]any{"a": json.Number("1")}},
		{name: "largest object", raw: pad(MaxObjectSize), want: map[string]any{"p": strings.Repeat("x", MaxObjectSize-8)}},

		{name: "too large", raw: pad(MaxObjectSize + 1), code: ErrInvalidInputData},
		{name: "empty body", raw: ``, code: ErrInvalidJSON},
		{name: "array", raw: `[]`, code: ErrInvalidJSON},
		{name: "string", raw: `"s"`, code: ErrInvalidJSON},
		{name: "number", raw: `1`, code: ErrInvalidJSON},
		{name: "null", raw: `null`, code: ErrInvalidJSON},
		{name: "true", raw: `true`, code: ErrInvalidJSON},
		{name: "truncated", raw: `{"a":`, code: ErrInvalidJSON},
		{name: "two objects", raw: `{}{}`, code: ErrInvalidJSON},
		{name: "trailing garbage", raw: `{"a":1} x`, code: ErrInvalidJSON},
		{name: "single quotes", raw: `{'a':1}`, code: ErrInvalidJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseObjectData([]byte(tt.raw))
			if tt.code != "" {
				if ErrorCode(err) != tt.code {
					t.Errorf("ParseObjectData error = %v, want %s", err, tt.code)
				}
				if got != nil {
					t.Errorf("a refused body came back as %v", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseObjectData: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseObjectData =\n%#v\nwant\n%#v", got, tt.want)
			}
		})
	}
}

// FuzzParseObjectJSON checks ParseObjectJSON on any input: it never
// panics, accepts only JSON objects within the size limit, never keeps a
// system field, and the text it returns to store (when any) decodes to the
// same fields.
func FuzzParseObjectJSON(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1,"_id":"x"}`, `{"n":1e400}`, `[1]`, `{"a":{"b":[1,2,{"c":null}]}}`, `{"a":1}{}`, `"s"`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, text, err := ParseObjectJSON(raw)
		if err != nil {
			if c := ErrorCode(err); c != ErrInvalidJSON && c != ErrInvalidInputData {
				t.Fatalf("error code %s, want INVALID_JSON or INVALID_INPUT_DATA", c)
			}
			return
		}
		if len(raw) > MaxObjectSize {
			t.Fatalf("accepted %d bytes, over the limit", len(raw))
		}
		for k := range m {
			if systemFields[k] {
				t.Fatalf("kept the system field %q", k)
			}
		}
		if text != nil {
			again, _, err := ParseObjectJSON(text)
			if err != nil || len(again) != len(m) {
				t.Fatalf("the text to store parses to %v, %v; want %d fields", again, err, len(m))
			}
		}
	})
}
