package kumo

import "testing"

func TestParseTraitDefinition(t *testing.T) {
	tests := []struct {
		body, interval string
		code           Code
	}{
		{`{"actions":[],"states":[{"power":{"payloadSchema":{"type":"boolean"}}}]}`, "15_MINUTES", ""},
		{`{"dataGroupingInterval":"12_HOURS"}`, "12_HOURS", ""},
		{`{"dataGroupingInterval":"2_MINUTES"}`, "", ErrInvalidInputData},
		{`{"actions":{}}`, "", ErrInvalidInputData},
		{`{"states":[{"a":{},"b":{}}]}`, "", ErrInvalidInputData},
		{`{"properties":["x"]}`, "", ErrInvalidInputData},
	}
	for _, tt := range tests {
		v, err := ParseTraitDefinition(obj(t, tt.body))
		if ErrorCode(err) != tt.code || (tt.code == "" && (v.DataGroupingInterval != tt.interval || v.Definition["dataGroupingInterval"] != tt.interval)) {
			t.Errorf("ParseTraitDefinition(%s) = %+v, %v; want interval %q, code %q", tt.body, v, err, tt.interval, tt.code)
		}
		if tt.code == "" && (v.Definition["actions"] == nil || v.Definition["states"] == nil) {
			t.Errorf("ParseTraitDefinition(%s): actions and states default to []: %v", tt.body, v.Definition)
		}
	}
}

func TestParseTraitAlias(t *testing.T) {
	tests := []struct {
		body    string
		version int
		code    Code
	}{
		{`{"trait":"Light","traitVersion":1}`, 1, ""},
		{`{"trait":"Light","traitVersion":"2"}`, 2, ""},
		{`{"trait":"Light","traitVersion":0}`, 0, ErrInvalidInputData},
		{`{"trait":"Light","traitVersion":1.5}`, 0, ErrInvalidInputData},
		{`{"trait":"Light"}`, 0, ErrInvalidInputData},
		{`{"trait":"a b","traitVersion":1}`, 0, ErrInvalidInputData},
		{`{"traitVersion":1}`, 0, ErrInvalidInputData},
	}
	for _, tt := range tests {
		a, err := ParseTraitAlias(obj(t, tt.body))
		if ErrorCode(err) != tt.code || a.TraitVersion != tt.version && tt.code == "" {
			t.Errorf("ParseTraitAlias(%s) = %+v, %v; want version %d, code %q", tt.body, a, err, tt.version, tt.code)
		}
	}
}
