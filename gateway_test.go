package kumo

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

func TestParseEndNodeConnection(t *testing.T) {
	tests := []struct {
		body string
		want bool
		ok   bool
	}{
		{`{"online":true}`, true, true},
		{`{"online":false}`, false, true},
		{`{"online":"true"}`, false, false},
		{`{"online":1}`, false, false},
		{`{}`, false, false},
	}
	for _, tt := range tests {
		got, err := ParseEndNodeConnection(jsonBody(t, tt.body))
		if got != tt.want || (err == nil) != tt.ok || (err != nil && ErrorCode(err) != ErrInvalidInputData) {
			t.Errorf("ParseEndNodeConnection(%s) = %v, %v; want %v, ok %v", tt.body, got, err, tt.want, tt.ok)
		}
	}
}

func TestParseEndNodeTokenRequest(t *testing.T) {
	tests := []struct {
		body string
		want int64
		ok   bool
	}{
		{`{}`, 0, true},
		{`{"expires_in":""}`, 0, true},
		{`{"expires_in":3600}`, 3600, true},
		{`{"expires_in":"3600"}`, 3600, true}, // kii_go sends a string
		{`{"expires_in":99999999999999}`, NeverExpires, true},
		{`{"expires_in":0}`, 0, false},
		{`{"expires_in":-5}`, 0, false},
		{`{"expires_in":1.5}`, 0, false},
		{`{"expires_in":"soon"}`, 0, false},
		{`{"expires_in":true}`, 0, false},
	}
	for _, tt := range tests {
		got, err := ParseEndNodeTokenRequest(jsonBody(t, tt.body))
		if got != tt.want || (err == nil) != tt.ok || (err != nil && ErrorCode(err) != ErrInvalidInputData) {
			t.Errorf("ParseEndNodeTokenRequest(%s) = %v, %v; want %v, ok %v", tt.body, got, err, tt.want, tt.ok)
		}
	}
}

func TestParseEndNodeListLimit(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"", MaxQueryLimit, true},
		{"1", 1, true},
		{"5000", MaxQueryLimit, true},
		{"0", 0, false},
		{"-1", 0, false},
		{"ten", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseEndNodeListLimit(tt.in)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("ParseEndNodeListLimit(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestParseThingInfo(t *testing.T) {
	long := `"` + string(bytes.Repeat([]byte("é"), 101)) + `"`
	max := `"` + string(bytes.Repeat([]byte("é"), 100)) + `"`
	tests := []struct {
		body, key string
		ok        bool
	}{
		{`{"firmwareVersion":"v1.2"}`, "firmwareVersion", true},
		{`{"thingType":"LAMP"}`, "thingType", true},
		{`{"thingType":` + max + `}`, "thingType", true},
		{`{"thingType":` + long + `}`, "thingType", false},
		{`{"thingType":""}`, "thingType", false},
		{`{"thingType":3}`, "thingType", false},
		{`{"firmwareVersion":"v1"}`, "thingType", false},
		{`{}`, "firmwareVersion", false},
	}
	for _, tt := range tests {
		got, err := ParseThingInfo(jsonBody(t, tt.body), tt.key)
		if (err == nil) != tt.ok || (err != nil && ErrorCode(err) != ErrInvalidInputData) || (tt.ok && got != jsonBody(t, tt.body)[tt.key]) {
			t.Errorf("ParseThingInfo(%s, %s) = %q, %v; want ok %v", tt.body, tt.key, got, err, tt.ok)
		}
	}
}

func TestParseDataGroupingInterval(t *testing.T) {
	tests := []struct {
		in   any
		want string
		ok   bool
	}{
		{"1_MINUTE", "1_MINUTE", true},
		{"15_minutes", "15_MINUTES", true},
		{"30_MINUTES", "30_MINUTES", true},
		{"1_HOUR", "1_HOUR", true},
		{"12_HOURS", "12_HOURS", true},
		{"2_HOURS", "", false},
		{"", "", false},
		{json.Number("1"), "", false},
	}
	for _, tt := range tests {
		got, ok := ParseDataGroupingInterval(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseDataGroupingInterval(%v) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// TestParseOnboardingUpdates checks what an existing thing takes when it
// onboards again (Onboarding.Updates), and the dataGroupingInterval.
func TestParseOnboardingUpdates(t *testing.T) {
	tests := []struct {
		name    string
		kind    OnboardingKind
		body    string
		updates map[string]any
		invalid string // the invalid field, if any
	}{
		{"vendor by thing with everything", OnboardVendorThingIDByThing,
			`{"vendorThingID":"v","thingPassword":"p","thingType":"LAMP","firmwareVersion":"2","layoutPosition":"GATEWAY","dataGroupingInterval":"1_hour","thingProperties":{"c":1,"_firmwareVersion":"9"}}`,
			map[string]any{"_firmwareVersion": "2", "_layoutPosition": "GATEWAY", "_dataGroupingInterval": "1_HOUR"}, ""},
		{"nothing given", OnboardVendorThingIDByThing, `{"vendorThingID":"v","thingPassword":"p","thingType":"LAMP"}`, map[string]any{}, ""},
		{"properties only", OnboardVendorThingIDByThing, `{"vendorThingID":"v","thingPassword":"p","thingProperties":{"_firmwareVersion":"9","_layoutPosition":"GATEWAY"}}`, map[string]any{}, ""},
		{"thing ID by owner", OnboardThingIDByOwner, `{"thingID":"th.1","thingPassword":"p","owner":"user:u","layoutPosition":"STANDALONE","dataGroupingInterval":"12_HOURS"}`,
			map[string]any{"_layoutPosition": "STANDALONE", "_dataGroupingInterval": "12_HOURS"}, ""},
		{"end node", OnboardEndNodeGatewayThingID, `{"gatewayThingID":"th.g","endNodeVendorThingID":"e","endNodePassword":"p","owner":"user:u","endNodeFirmwareVersion":"3","dataGroupingInterval":"15_MINUTES"}`,
			map[string]any{"_firmwareVersion": "3", "_layoutPosition": "END_NODE", "_dataGroupingInterval": "15_MINUTES"}, ""},
		{"bad interval", OnboardVendorThingIDByThing, `{"vendorThingID":"v","thingPassword":"p","dataGroupingInterval":"2_DAYS"}`, nil, "dataGroupingInterval"},
		{"interval not a string", OnboardVendorThingIDByThing, `{"vendorThingID":"v","thingPassword":"p","dataGroupingInterval":60}`, nil, "dataGroupingInterval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := ParseOnboarding(tt.kind, jsonBody(t, tt.body))
			if tt.invalid != "" {
				var e *Error
				if !errors.As(err, &e) || e.Code != ErrInvalidInputData || e.Fields["invalidFields"].(map[string]string)[tt.invalid] == "" {
					t.Fatalf("ParseOnboarding = %v; want INVALID_INPUT_DATA naming %s", err, tt.invalid)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(o.Updates, tt.updates) {
				t.Errorf("Updates = %v, want %v", o.Updates, tt.updates)
			}
			if iv, ok := tt.updates[DataGroupingIntervalField]; ok && o.Fields[DataGroupingIntervalField] != iv {
				t.Errorf("Fields[%s] = %v, want %v", DataGroupingIntervalField, o.Fields[DataGroupingIntervalField], iv)
			}
		})
	}
}
