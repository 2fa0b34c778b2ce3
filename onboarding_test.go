package kumo

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

func TestParseOnboardingKind(t *testing.T) {
	tests := []struct {
		mediaType string
		want      OnboardingKind
	}{
		{"application/vnd.kii.OnboardingWithVendorThingIDByThing+json", OnboardVendorThingIDByThing},
		{"application/vnd.kii.onboardingWithVendorThingIDByThing+json", OnboardVendorThingIDByThing},
		{"application/vnd.kii.onboardingwithvendorthingidbything+json", OnboardVendorThingIDByThing},
		{"application/vnd.kii.OnboardingWithThingIDByThing+json", OnboardThingIDByThing},
		{"application/vnd.kii.OnboardingWithVendorThingIDByOwner+json", OnboardVendorThingIDByOwner},
		{"application/vnd.kii.onboardingWithThingIDByOwner+json", OnboardThingIDByOwner},
		{"application/vnd.kii.OnboardingEndNodeWithGatewayThingID+json", OnboardEndNodeGatewayThingID},
		{"application/vnd.kii.OnboardingEndNodeWithGatewayVendorThingID+json", OnboardEndNodeGatewayVendorThingID},
		{"application/json", 0},
		{"", 0},
	}
	for _, tt := range tests {
		got, err := ParseOnboardingKind(tt.mediaType)
		if got != tt.want || (tt.want == 0) != (ErrorCode(err) == ErrUnsupportedMediaType) {
			t.Errorf("ParseOnboardingKind(%q) = %v, %v; want %v", tt.mediaType, got, err, tt.want)
		}
	}
}

func TestParseOnboarding(t *testing.T) {
	body := func(s string) map[string]any {
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	tests := []struct {
		name    string
		kind    OnboardingKind
		body    string
		want    Onboarding
		invalid []string // the invalid fields, when it fails
	}{
		{"by thing", OnboardVendorThingIDByThing,
			`{"vendorThingID":"v","thingPassword":"p","thingType":"T","firmwareVersion":"1","layoutPosition":"GATEWAY","thingProperties":{"_vendor":"x","c":1}}`,
			Onboarding{Kind: OnboardVendorThingIDByThing, VendorThingID: "v", Password: "p",
				Fields:  map[string]any{"_thingType": "T", "_firmwareVersion": "1", "_layoutPosition": "GATEWAY", "_vendor": "x", "c": float64(1)},
				Updates: map[string]any{"_firmwareVersion": "1", "_layoutPosition": "GATEWAY"}}, nil},
		{"thing ID by owner", OnboardThingIDByOwner, `{"thingID":"th.1","thingPassword":"p","owner":"GROUP:g"}`,
			Onboarding{Kind: OnboardThingIDByOwner, ThingID: "th.1", Password: "p", Owner: &ThingOwner{OwnerGroup, "g"}, Fields: map[string]any{},
				Updates: map[string]any{}}, nil},
		{"end node", OnboardEndNodeGatewayVendorThingID,
			`{"gatewayVendorThingID":"gw","endNodeVendorThingID":"en","endNodePassword":"p","owner":"user:u","endNodeThingType":"S"}`,
			Onboarding{Kind: OnboardEndNodeGatewayVendorThingID, VendorThingID: "en", Password: "p", Owner: &ThingOwner{OwnerUser, "u"},
				Gateway: "VENDOR_THING_ID:gw", Fields: map[string]any{"_thingType": "S", "_layoutPosition": "END_NODE"},
				Updates: map[string]any{"_layoutPosition": "END_NODE"}}, nil},
		{"missing", OnboardVendorThingIDByOwner, `{}`, Onboarding{}, []string{"vendorThingID", "thingPassword", "owner"}},
		{"bad types", OnboardVendorThingIDByThing, `{"vendorThingID":"v w","thingPassword":"p","thingType":3,"layoutPosition":"UP","thingProperties":[]}`,
			Onboarding{}, []string{"vendorThingID", "thingType", "layoutPosition", "thingProperties"}},
		{"end node missing", OnboardEndNodeGatewayThingID, `{"owner":"user:u"}`, Onboarding{}, []string{"endNodeVendorThingID", "endNodePassword", "gatewayThingID"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseOnboarding(tt.kind, body(tt.body))
			if tt.invalid != nil {
				var e *Error
				if !errors.As(err, &e) || e.Code != ErrInvalidInputData {
					t.Fatalf("err = %v, want INVALID_INPUT_DATA", err)
				}
				fields := e.Fields["invalidFields"].(map[string]string)
				for _, k := range tt.invalid {
					if _, ok := fields[k]; !ok {
						t.Errorf("invalidFields %v lacks %s", fields, k)
					}
				}
				if len(fields) != len(tt.invalid) {
					t.Errorf("invalidFields = %v, want exactly %v", fields, tt.invalid)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
