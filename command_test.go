package kumo

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// jsonBody decodes a JSON object as the API does (numbers kept as written).
func jsonBody(t *testing.T, s string) map[string]any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return m
}

func TestParseTarget(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"thing:th.1", "th.1"},
		{"THING:th.1", "th.1"},
		{"Thing:th.a:b", "th.a:b"},
		{"thing:", ""},
		{"user:u", ""},
		{"th.1", ""},
	}
	for _, tt := range tests {
		got, err := ParseTarget(tt.in)
		if got != tt.want || (tt.want == "") != (ErrorCode(err) == ErrNotFound) {
			t.Errorf("ParseTarget(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestParseCommand(t *testing.T) {
	long := strings.Repeat("é", MaxCommandTitle)
	tests := []struct {
		name string
		body string
		want Command // compared on the fields set; ID, ThingID, State ignored
		fail bool    // WRONG_COMMAND
	}{
		{name: "trait", body: `{"issuer":"user:u1","actions":[{"AC":[{"turnPower":true},{"setTemp":25.5}]},{"Hum":[{"set":{"a":[1,2]}}]}]}`,
			want: Command{Issuer: "user:u1", Actions: json.RawMessage(`[{"AC":[{"turnPower":true},{"setTemp":25.5}]},{"Hum":[{"set":{"a":[1,2]}}]}]`)}},
		{name: "non-trait with every field", body: `{"issuer":"GROUP:g1","schema":"LED","schemaVersion":2,"actions":[{"turnPower":{"power":true}},{"x":{}}],` +
			`"title":"` + long + `","description":"d","metadata":{"k":"v"},"firedByTriggerID":"tr1","target":"THING:th.9"}`,
			want: Command{Issuer: "group:g1", Schema: "LED", SchemaVersion: 2, Actions: json.RawMessage(`[{"turnPower":{"power":true}},{"x":{}}]`),
				Title: long, Description: "d", Metadata: json.RawMessage(`{"k":"v"}`), FiredByTriggerID: "tr1", ThingID: "th.9"}},
		{name: "issuer prefix in any case", body: `{"issuer":"User:u1","actions":[{"a":[{"b":1}]}]}`,
			want: Command{Issuer: "user:u1", Actions: json.RawMessage(`[{"a":[{"b":1}]}]`)}},
		{name: "no issuer", body: `{"actions":[{"a":[{"b":1}]}]}`, fail: true},
		{name: "issuer of another kind", body: `{"issuer":"thing:t","actions":[{"a":[{"b":1}]}]}`, fail: true},
		{name: "issuer not a string", body: `{"issuer":1,"actions":[{"a":[{"b":1}]}]}`, fail: true},
		{name: "no actions", body: `{"issuer":"user:u"}`, fail: true},
		{name: "empty actions", body: `{"issuer":"user:u","actions":[]}`, fail: true},
		{name: "actions an object", body: `{"issuer":"user:u","actions":{"a":[{"b":1}]}}`, fail: true},
		{name: "action of two members", body: `{"issuer":"user:u","actions":[{"a":[{"b":1}],"c":[{"d":1}]}]}`, fail: true},
		{name: "trait action not nested", body: `{"issuer":"user:u","actions":[{"turnPower":{"power":true}}]}`, fail: true},
		{name: "alias without actions", body: `{"issuer":"user:u","actions":[{"a":[]}]}`, fail: true},
		{name: "alias action of two members", body: `{"issuer":"user:u","actions":[{"a":[{"b":1,"c":2}]}]}`, fail: true},
		{name: "alias action not an object", body: `{"issuer":"user:u","actions":[{"a":[true]}]}`, fail: true},
		{name: "schema without version", body: `{"issuer":"user:u","schema":"s","actions":[{"a":{}}]}`, fail: true},
		{name: "empty schema, version 0 (kii_go's trait commands)", body: `{"issuer":"user:u","schema":"","schemaVersion":0,"actions":[{"a":[{"b":1}]}]}`,
			want: Command{Issuer: "user:u", Actions: json.RawMessage(`[{"a":[{"b":1}]}]`)}},
		{name: "version without schema", body: `{"issuer":"user:u","schemaVersion":1,"actions":[{"a":[{"b":1}]}]}`,
			want: Command{Issuer: "user:u", Actions: json.RawMessage(`[{"a":[{"b":1}]}]`)}},
		{name: "empty schema, non-trait actions", body: `{"issuer":"user:u","schema":"","schemaVersion":0,"actions":[{"turnPower":{"power":true}}]}`, fail: true},
		{name: "version not an integer", body: `{"issuer":"user:u","schema":"s","schemaVersion":1.5,"actions":[{"a":{}}]}`, fail: true},
		{name: "version a string", body: `{"issuer":"user:u","schema":"s","schemaVersion":"1","actions":[{"a":{}}]}`, fail: true},
		{name: "title too long", body: `{"issuer":"user:u","title":"` + long + `x","actions":[{"a":[{"b":1}]}]}`, fail: true},
		{name: "description too long", body: `{"issuer":"user:u","description":"` + strings.Repeat("d", MaxCommandDescription+1) + `","actions":[{"a":[{"b":1}]}]}`, fail: true},
		{name: "metadata not an object", body: `{"issuer":"user:u","metadata":[1],"actions":[{"a":[{"b":1}]}]}`, fail: true},
		{name: "firedByTriggerID not a string", body: `{"issuer":"user:u","firedByTriggerID":1,"actions":[{"a":[{"b":1}]}]}`, fail: true},
		{name: "bad target", body: `{"issuer":"user:u","target":"user:x","actions":[{"a":[{"b":1}]}]}`, fail: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCommand(jsonBody(t, tt.body))
			if tt.fail {
				if ErrorCode(err) != ErrWrongCommand {
					t.Fatalf("err = %v; want WRONG_COMMAND", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			w := tt.want
			if got.Issuer != w.Issuer || got.Schema != w.Schema || got.SchemaVersion != w.SchemaVersion || got.Title != w.Title ||
				got.Description != w.Description || got.FiredByTriggerID != w.FiredByTriggerID || got.ThingID != w.ThingID ||
				!bytes.Equal(got.Actions, w.Actions) || !bytes.Equal(got.Metadata, w.Metadata) {
				t.Errorf("got %+v\nwant %+v", got, w)
			}
		})
	}
}

func TestCommandActionResults(t *testing.T) {
	trait := Command{Issuer: "user:u", Actions: json.RawMessage(`[{"AC":[{"power":true},{"temp":25},{"temp":26}]},{"Hum":[{"set":45}]}]`)}
	plain := Command{Issuer: "user:u", Schema: "s", SchemaVersion: 1, Actions: json.RawMessage(`[{"power":{"on":true}},{"fan":{"speed":5}}]`)}
	tests := []struct {
		name  string
		cmd   Command
		body  string
		state CommandState // "" when it fails (INVALID_INPUT_DATA)
	}{
		{"trait all succeeded", trait, `{"actionResults":[{"AC":[{"power":{"succeeded":true}},{"temp":{"succeeded":true}},{"temp":{"succeeded":true,"data":{"x":1}}}]},` +
			`{"Hum":[{"set":{"succeeded":true}}]}]}`, CommandDone},
		{"trait in another order", trait, `{"actionResults":[{"Hum":[{"set":{"succeeded":true}}]},{"AC":[{"temp":{"succeeded":true}},{"power":{"succeeded":true}},{"temp":{"succeeded":true}}]}]}`, CommandDone},
		{"trait one failed", trait, `{"actionResults":[{"AC":[{"power":{"succeeded":true}},{"temp":{"succeeded":false,"errorMessage":"out of range","data":{"max":30}}},{"temp":{"succeeded":true}}]},` +
			`{"Hum":[{"set":{"succeeded":true}}]}]}`, CommandIncomplete},
		{"trait one missing", trait, `{"actionResults":[{"AC":[{"power":{"succeeded":true}},{"temp":{"succeeded":true}}]},{"Hum":[{"set":{"succeeded":true}}]}]}`, CommandIncomplete},
		{"trait none", trait, `{"actionResults":[]}`, CommandIncomplete},
		{"trait results flat", trait, `{"actionResults":[{"power":{"succeeded":true}}]}`, ""},
		{"trait unknown alias", trait, `{"actionResults":[{"Other":[{"power":{"succeeded":true}}]}]}`, ""},
		{"trait unknown action", trait, `{"actionResults":[{"AC":[{"other":{"succeeded":true}}]}]}`, ""},
		{"trait too many results", trait, `{"actionResults":[{"Hum":[{"set":{"succeeded":true}},{"set":{"succeeded":true}}]}]}`, ""},
		{"non-trait done", plain, `{"actionResults":[{"power":{"succeeded":true}},{"fan":{"succeeded":true,"errorMessage":""}}]}`, CommandDone},
		{"non-trait failed", plain, `{"actionResults":[{"power":{"succeeded":true}},{"fan":{"succeeded":false,"errorMessage":"stuck"}}]}`, CommandIncomplete},
		{"non-trait missing", plain, `{"actionResults":[{"fan":{"succeeded":true}}]}`, CommandIncomplete},
		{"non-trait nested", plain, `{"actionResults":[{"power":[{"on":{"succeeded":true}}]}]}`, ""},
		{"non-trait unknown action", plain, `{"actionResults":[{"light":{"succeeded":true}}]}`, ""},
		{"no actionResults", plain, `{}`, ""},
		{"actionResults an object", plain, `{"actionResults":{"power":{"succeeded":true}}}`, ""},
		{"succeeded missing (kii_go's result)", plain, `{"actionResults":[{"power":{"result":false}},{"fan":{"succeeded":true}}]}`, CommandIncomplete},
		{"succeeded null", plain, `{"actionResults":[{"power":{"succeeded":null}},{"fan":{"succeeded":true}}]}`, CommandIncomplete},
		{"succeeded a string", plain, `{"actionResults":[{"power":{"succeeded":"true"}}]}`, ""},
		{"errorMessage a number", plain, `{"actionResults":[{"power":{"succeeded":false,"errorMessage":1}}]}`, ""},
		{"result not an object", plain, `{"actionResults":[{"power":true}]}`, ""},
		{"entry of two members", plain, `{"actionResults":[{"power":{"succeeded":true},"fan":{"succeeded":true}}]}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := jsonBody(t, tt.body)
			got, err := tt.cmd.ApplyActionResults(body)
			if tt.state == "" {
				if ErrorCode(err) != ErrInvalidInputData {
					t.Fatalf("err = %v; want INVALID_INPUT_DATA", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.State != tt.state {
				t.Errorf("state = %s; want %s", got.State, tt.state)
			}
			want, _ := json.Marshal(body["actionResults"])
			if !bytes.Equal(got.ActionResults, want) {
				t.Errorf("results = %s; want %s", got.ActionResults, want)
			}
		})
	}
}

func TestCommandPayload(t *testing.T) {
	tests := []struct {
		name string
		cmd  Command
		want string
	}{
		{"trait", Command{ID: "c1", ThingID: "th.1", Issuer: "user:u", Actions: json.RawMessage(`[{"AC":[{"turnPower":true}]}]`)},
			`{"commandID":"c1","target":"thing:th.1","issuer":"user:u","actions":[{"AC":[{"turnPower":true}]}]}`},
		{"non-trait with every field", Command{ID: "c2", ThingID: "th.1", Issuer: "group:g", Schema: "LED", SchemaVersion: 0,
			Actions: json.RawMessage(`[{"on":{}}]`), Title: "t", Description: "d", Metadata: json.RawMessage(`{"k":1}`), FiredByTriggerID: "tr"},
			`{"commandID":"c2","target":"thing:th.1","issuer":"group:g","schema":"LED","schemaVersion":0,"actions":[{"on":{}}],` +
				`"title":"t","description":"d","metadata":{"k":1},"firedByTriggerID":"tr"}`},
	}
	for _, tt := range tests {
		if got := string(tt.cmd.MQTTPayload()); got != tt.want {
			t.Errorf("%s: payload\n%s\nwant\n%s", tt.name, got, tt.want)
		}
		d, err := tt.cmd.Delivery()
		if err != nil || string(d.MQTT) != tt.want || !d.ToDevelopment || !d.ToProduction || d.Phone == nil ||
			d.Phone.FCMData["commandID"] != tt.cmd.ID || !d.Phone.FCMEnabled || !d.Phone.APNsEnabled {
			t.Errorf("%s: delivery %+v, %v", tt.name, d, err)
		}
		if err := d.CheckSize(); err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
	big := Command{ID: NewCommandID(), ThingID: "th.1", Issuer: "user:u",
		Actions: json.RawMessage(`[{"a":[{"b":"` + strings.Repeat("x", MaxPushPayload) + `"}]}]`)}
	if _, err := big.Delivery(); ErrorCode(err) != ErrWrongCommand {
		t.Errorf("a payload over %d bytes: %v; want WRONG_COMMAND", MaxPushPayload, err)
	}
}

func TestNewCommandID(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 100 {
		id := NewCommandID()
		if !re.MatchString(id) || seen[id] {
			t.Fatalf("NewCommandID() = %q (seen before: %v)", id, seen[id])
		}
		seen[id] = true
	}
}
