package kumo

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// mustBody decodes a JSON request body as the API does (numbers as
// json.Number).
func mustBody(t *testing.T, s string) map[string]any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("bad test body %s: %v", s, err)
	}
	return m
}

// invalidFields returns the sorted keys of an INVALID_INPUT_DATA error's
// invalidFields, failing when err is not one.
func invalidFields(t *testing.T, err error) []string {
	t.Helper()
	e, ok := err.(*Error)
	if !ok || e.Code != ErrInvalidInputData {
		t.Fatalf("error = %v, want %s", err, ErrInvalidInputData)
	}
	m, ok := e.Fields["invalidFields"].(map[string]string)
	if !ok {
		t.Fatalf("invalidFields = %#v, want a map[string]string", e.Fields["invalidFields"])
	}
	var keys []string
	for k, v := range m {
		if v == "" {
			t.Errorf("invalidFields[%q] has no explanation", k)
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func TestParseThingRegistration(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		invalid []string // sorted keys of invalidFields; nil when valid
		want    ThingRegistration
	}{
		{name: "minimal", body: `{"_vendorThingID":"vt-1","_password":"pw"}`,
			want: ThingRegistration{VendorThingID: "vt-1", Password: "pw", Fields: map[string]any{}}},
		{name: "every predefined field", body: `{"_vendorThingID":"a.B-c_9","_password":"p w!~",
			"_thingType":"camera","_vendor":"ACME","_firmwareVersion":"1.0","_productName":"Cam","_lot":"L1",
			"_stringField1":"s1","_stringField5":"s5","_numberField1":42,"_numberField5":-1.5,"_layoutPosition":"GATEWAY"}`,
			want: ThingRegistration{VendorThingID: "a.B-c_9", Password: "p w!~", Fields: map[string]any{
				"_thingType": "camera", "_vendor": "ACME", "_firmwareVersion": "1.0", "_productName": "Cam", "_lot": "L1",
				"_stringField1": "s1", "_stringField5": "s5", "_numberField1": json.Number("42"), "_numberField5": json.Number("-1.5"),
				"_layoutPosition": "GATEWAY"}}},
		{name: "custom fields kept, reserved ones ignored", body: `{"_vendorThingID":"vt","_password":"pw",
			"color":"red","n":7,"nested":{"a":[1,true,null]},"_thingID":"th.evil","_created":1,"_disabled":true,"_accessToken":"x"}`,
			want: ThingRegistration{VendorThingID: "vt", Password: "pw", Fields: map[string]any{
				"color": "red", "n": json.Number("7"), "nested": map[string]any{"a": []any{json.Number("1"), true, nil}}}}},
		{name: "longest values", body: `{"_vendorThingID":"` + strings.Repeat("v", 200) + `","_password":"` + strings.Repeat("p", 200) +
			`","_thingType":"` + strings.Repeat("t", 100) + `"}`,
			want: ThingRegistration{VendorThingID: strings.Repeat("v", 200), Password: strings.Repeat("p", 200),
				Fields: map[string]any{"_thingType": strings.Repeat("t", 100)}}},
		{name: "each layout position", body: `{"_vendorThingID":"vt","_password":"pw","_layoutPosition":"END_NODE"}`,
			want: ThingRegistration{VendorThingID: "vt", Password: "pw", Fields: map[string]any{"_layoutPosition": "END_NODE"}}},

		{name: "empty body", body: `{}`, invalid: []string{"_password", "_vendorThingID"}},
		{name: "no vendor thing ID", body: `{"_password":"pw"}`, invalid: []string{"_vendorThingID"}},
		{name: "empty vendor thing ID", body: `{"_vendorThingID":"","_password":"pw"}`, invalid: []string{"_vendorThingID"}},
		{name: "vendor thing ID too long", body: `{"_vendorThingID":"` + strings.Repeat("v", 201) + `","_password":"pw"}`, invalid: []string{"_vendorThingID"}},
		{name: "vendor thing ID with a space", body: `{"_vendorThingID":"v t","_password":"pw"}`, invalid: []string{"_vendorThingID"}},
		{name: "vendor thing ID with a colon", body: `{"_vendorThingID":"v:t","_password":"pw"}`, invalid: []string{"_vendorThingID"}},
		{name: "vendor thing ID not a string", body: `{"_vendorThingID":12,"_password":"pw"}`, invalid: []string{"_vendorThingID"}},
		{name: "no password", body: `{"_vendorThingID":"vt"}`, invalid: []string{"_password"}},
		{name: "password too long", body: `{"_vendorThingID":"vt","_password":"` + strings.Repeat("p", 201) + `"}`, invalid: []string{"_password"}},
		{name: "password with a newline", body: `{"_vendorThingID":"vt","_password":"p\nw"}`, invalid: []string{"_password"}},
		{name: "password not ASCII", body: `{"_vendorThingID":"vt","_password":"pässword"}`, invalid: []string{"_password"}},
		{name: "password not a string", body: `{"_vendorThingID":"vt","_password":1234}`, invalid: []string{"_password"}},
		{name: "thing type not a string", body: `{"_vendorThingID":"vt","_password":"pw","_thingType":1}`, invalid: []string{"_thingType"}},
		{name: "vendor too long", body: `{"_vendorThingID":"vt","_password":"pw","_vendor":"` + strings.Repeat("v", 101) + `"}`, invalid: []string{"_vendor"}},
		{name: "number field as a string", body: `{"_vendorThingID":"vt","_password":"pw","_numberField1":"42"}`, invalid: []string{"_numberField1"}},
		{name: "number field as a boolean", body: `{"_vendorThingID":"vt","_password":"pw","_numberField3":true}`, invalid: []string{"_numberField3"}},
		{name: "unknown layout position", body: `{"_vendorThingID":"vt","_password":"pw","_layoutPosition":"ROOT"}`, invalid: []string{"_layoutPosition"}},
		{name: "layout position in lower case", body: `{"_vendorThingID":"vt","_password":"pw","_layoutPosition":"gateway"}`, invalid: []string{"_layoutPosition"}},
		{name: "several at once", body: `{"_vendorThingID":"v t","_password":"","_lot":5,"_numberField2":"x","color":"ok"}`,
			invalid: []string{"_lot", "_numberField2", "_password", "_vendorThingID"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseThingRegistration(mustBody(t, tt.body))
			if tt.invalid != nil {
				if keys := invalidFields(t, err); !slices.Equal(keys, tt.invalid) {
					t.Errorf("invalidFields = %v, want %v", keys, tt.invalid)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseThingRegistration: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseThingRegistration =\n%#v\nwant\n%#v", got, tt.want)
			}
		})
	}
}

func TestParseThingRegistrationFloat(t *testing.T) {
	// A body decoded without UseNumber has float64 numbers: the number
	// fields want the exact text, so they are refused rather than rounded.
	_, err := ParseThingRegistration(map[string]any{"_vendorThingID": "vt", "_password": "pw", "_numberField1": 1.5})
	if keys := invalidFields(t, err); !slices.Equal(keys, []string{"_numberField1"}) {
		t.Errorf("invalidFields = %v, want [_numberField1]", keys)
	}
}
