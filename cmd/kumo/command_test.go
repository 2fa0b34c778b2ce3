package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/kumo-iot/kumo"
)

func init() { volatile["commandID"] = true } // for the golden files of the command tests

// Media types of the Thing-IF command requests (push-mqtt §7.2).
const (
	commandCreationType = "application/vnd.kii.CommandCreationRequest+json"
	commandResultsType  = "application/vnd.kii.CommandResultsUpdateRequest+json"
)

// onboardOwned onboards a thing owned by the fixture's user (through
// the owner form) and returns it with the MQTT endpoint of its answer and
// the broker URL the answer names.
func (f *fixture) onboardOwned(t *testing.T, vendor string) (device, string) {
	t.Helper()
	r := f.onboard(t, onboardType("OnboardingWithVendorThingIDByOwner"),
		`{"vendorThingID":"`+vendor+`","thingPassword":"pw","owner":"user:{user}"}`, "Authorization", "Bearer "+f.userToken)
	wantStatus(t, r, 200)
	var ans struct {
		ThingID, AccessToken string
		MQTTEndpoint         struct {
			Host, MQTTTopic, Username, Password, InstallationID string
			PortTCP                                             int
		}
	}
	if err := json.Unmarshal(r.Body, &ans); err != nil {
		t.Fatal(err)
	}
	ep := ans.MQTTEndpoint
	return device{ThingID: ans.ThingID, VendorID: vendor, Token: ans.AccessToken, InstallationID: ep.InstallationID,
		Endpoint: kumo.MQTTEndpoint{MQTTTopic: ep.MQTTTopic, Username: ep.Username, Password: ep.Password}}, fmt.Sprintf("tcp://%s:%d", ep.Host, ep.PortTCP)
}

// commandsURL is the commands collection of a thing.
func (f *fixture) commandsURL(target string) string {
	return f.n.base + "/thing-if/apps/" + f.n.app.AppID + "/targets/" + target + "/commands"
}

// waitCommand waits for the MQTT push of command id and returns it.
func waitCommand(t *testing.T, in *inbox, id string) paho.Message {
	t.Helper()
	var got paho.Message
	in.waitFor(t, "the push of command "+id, func(msgs []paho.Message) bool {
		for _, m := range msgs {
			var p map[string]any
			if json.Unmarshal(m.Payload(), &p) == nil && p["commandID"] == id {
				got = m
				return true
			}
		}
		return false
	})
	return got
}

// pushResponse wraps an MQTT push as a response, for checkGolden.
func pushResponse(m paho.Message) response {
	return response{Status: 0, Header: http.Header{"Content-Type": {"mqtt:" + fmt.Sprint(m.Qos())}}, Body: m.Payload()}
}

// TestCommandFlow is a command's round trip with real MQTT clients (3.1
// and 3.1.1): the owner commands an onboarded thing (trait and non-trait
// models), the thing receives the push on its topic (golden payloads),
// reports results, and the owner reads the command's state move.
func TestCommandFlow(t *testing.T) { forEachStore(t, testCommandFlow) }

func testCommandFlow(t *testing.T, cfg config) {
	f := newFixture(t, cfg)
	owner := []string{"Authorization", "Bearer " + f.userToken}
	for _, protocol := range []uint{3, 4} {
		t.Run(fmt.Sprintf("mqtt protocol %d", protocol), func(t *testing.T) {
			d, url := f.onboardOwned(t, fmt.Sprintf("cmd-flow-%d", protocol))
			seen := map[string]string{f.n.app.AppID: "<app>", d.ThingID: "<thing>", f.userID: "<user>"}
			_, in := connectDevice(t, url, d, protocol)
			thing := []string{"Authorization", "Bearer " + d.Token}

			// Trait: the target's prefix in capitals, as VirtualDevice sends it.
			r := do(t, "POST", f.commandsURL("THING:"+d.ThingID), f.expandPlain(`{"issuer":"USER:{user}","actions":[`+
				`{"AirConditionerAlias":[{"turnPower":true},{"setPresetTemperature":25}]},{"HumidityAlias":[{"setPresetHumidity":45}]}],`+
				`"title":"Cool down","description":"Before I get home","metadata":{"by":"app"}}`),
				append([]string{"Content-Type", commandCreationType}, owner...)...)
			wantStatus(t, r, 201)
			id := r.Str(t, "commandID")
			checkGolden(t, "command-create", r, seen)
			m := waitCommand(t, in, id)
			if m.Topic() != d.Endpoint.MQTTTopic || m.Qos() != 0 {
				t.Errorf("push on %q at QoS %d; want the thing's topic %q at QoS 0", m.Topic(), m.Qos(), d.Endpoint.MQTTTopic)
			}
			checkGolden(t, "command-push-trait", pushResponse(m), seen)
			get := func() response {
				t.Helper()
				r := do(t, "GET", f.commandsURL("thing:"+d.ThingID)+"/"+id, "", owner...)
				wantStatus(t, r, 200)
				return r
			}
			if s := get().Str(t, "commandState"); s != "SENDING" {
				t.Errorf("commandState = %s before results; want SENDING", s)
			}
			// The thing reports: one action failed.
			wantStatus(t, do(t, "PUT", f.commandsURL("thing:"+d.ThingID)+"/"+id+"/action-results", `{"actionResults":[`+
				`{"AirConditionerAlias":[{"turnPower":{"succeeded":true}},{"setPresetTemperature":{"succeeded":false,"errorMessage":"out of range","data":{"max":30}}}]},`+
				`{"HumidityAlias":[{"setPresetHumidity":{"succeeded":true}}]}]}`, append([]string{"Content-Type", commandResultsType}, thing...)...), 204)
			checkGolden(t, "command-get-incomplete", get(), seen)
			// Then all succeed.
			wantStatus(t, do(t, "PUT", f.commandsURL("thing:"+d.ThingID)+"/"+id+"/action-results", `{"actionResults":[`+
				`{"AirConditionerAlias":[{"turnPower":{"succeeded":true}},{"setPresetTemperature":{"succeeded":true}}]},`+
				`{"HumidityAlias":[{"setPresetHumidity":{"succeeded":true}}]}]}`, append([]string{"Content-Type", commandResultsType}, thing...)...), 204)
			if s := get().Str(t, "commandState"); s != "DONE" {
				t.Errorf("commandState = %s after every action succeeded; want DONE", s)
			}

			// Non-trait: application/json, schema and schemaVersion.
			r = do(t, "POST", f.commandsURL("thing:"+d.ThingID), f.expandPlain(`{"issuer":"user:{user}","schema":"SmartLight","schemaVersion":1,`+
				`"actions":[{"turnPower":{"power":true}},{"setBrightness":{"brightness":80}}],"firedByTriggerID":"trigger-1"}`),
				append([]string{"Content-Type", "application/json"}, owner...)...)
			wantStatus(t, r, 201)
			id = r.Str(t, "commandID")
			checkGolden(t, "command-push-non-trait", pushResponse(waitCommand(t, in, id)), seen)
			wantStatus(t, do(t, "PUT", f.commandsURL("thing:"+d.ThingID)+"/"+id+"/action-results",
				`{"actionResults":[{"turnPower":{"succeeded":true}},{"setBrightness":{"succeeded":true,"data":{"brightness":80}}}]}`,
				append([]string{"Content-Type", "application/json"}, thing...)...), 204)
			checkGolden(t, "command-get-done", get2(t, f, d, id, owner), seen)
			// The thing reads its own command too; results missing → INCOMPLETE.
			wantStatus(t, do(t, "PUT", f.commandsURL("thing:"+d.ThingID)+"/"+id+"/action-results",
				`{"actionResults":[{"turnPower":{"succeeded":true}}]}`, append([]string{"Content-Type", "application/json"}, thing...)...), 204)
			if s := get2(t, f, d, id, thing).Str(t, "commandState"); s != "INCOMPLETE" {
				t.Errorf("commandState = %s with a result missing; want INCOMPLETE", s)
			}
		})
	}
}

// get2 reads command id of d with the given Authorization header.
func get2(t *testing.T, f *fixture, d device, id string, auth []string) response {
	t.Helper()
	r := do(t, "GET", f.commandsURL("thing:"+d.ThingID)+"/"+id, "", auth...)
	wantStatus(t, r, 200)
	return r
}

// TestCommandList pages through a thing's commands with bestEffortLimit
// and nextPaginationKey: every command once, in the order they were sent;
// nextPaginationKey only when more follow; an empty paginationKey is the
// first page.
func TestCommandList(t *testing.T) { forEachStore(t, testCommandList) }

func testCommandList(t *testing.T, cfg config) {
	f := newFixture(t, cfg)
	d, _ := f.onboardOwned(t, "cmd-list")
	owner := []string{"Authorization", "Bearer " + f.userToken}
	var ids []string
	for i := range 5 {
		r := do(t, "POST", f.commandsURL("thing:"+d.ThingID), f.expandPlain(fmt.Sprintf(`{"issuer":"user:{user}","actions":[{"a":[{"n":%d}]}]}`, i)),
			append([]string{"Content-Type", commandCreationType}, owner...)...)
		wantStatus(t, r, 201)
		ids = append(ids, r.Str(t, "commandID"))
	}
	for _, tc := range []struct {
		limit string // the bestEffortLimit parameter, "" for none
		first string // the first page's query
		pages int
	}{{"2", "", 3}, {"5", "", 1}, {"", "", 1}, {"", "?paginationKey=", 1}, {"1", "&paginationKey=", 5}} {
		var got []string
		page := func(key string) string {
			q := "?"
			if tc.limit != "" {
				q += "bestEffortLimit=" + tc.limit + "&"
			}
			return f.commandsURL("thing:"+d.ThingID) + q + "paginationKey=" + key
		}
		url := f.commandsURL("thing:"+d.ThingID) + tc.first
		if tc.limit != "" {
			url = f.commandsURL("thing:"+d.ThingID) + "?bestEffortLimit=" + tc.limit + tc.first
		}
		pages := 0
		for {
			r := do(t, "GET", url, "", owner...)
			wantStatus(t, r, 200)
			pages++
			var p struct {
				Commands          []struct{ CommandID string }
				NextPaginationKey *string
			}
			if err := json.Unmarshal(r.Body, &p); err != nil {
				t.Fatal(err)
			}
			for _, c := range p.Commands {
				got = append(got, c.CommandID)
			}
			if p.NextPaginationKey == nil {
				break
			}
			if *p.NextPaginationKey == "" || pages > len(ids) {
				t.Fatalf("limit %q: nextPaginationKey %q after %d pages", tc.limit, *p.NextPaginationKey, pages)
			}
			url = page(*p.NextPaginationKey)
		}
		if strings.Join(got, ",") != strings.Join(ids, ",") || pages != tc.pages {
			t.Errorf("limit %q, first page %q: %d pages of %v; want %d pages of %v", tc.limit, tc.first, pages, got, tc.pages, ids)
		}
	}
	seen := map[string]string{f.n.app.AppID: "<app>", d.ThingID: "<thing>", f.userID: "<user>"}
	checkGolden(t, "command-list-page", do(t, "GET", f.commandsURL("thing:"+d.ThingID)+"?bestEffortLimit=1", "", owner...), seen)
}

// TestCommandErrors checks every failure of the command API in Kii's
// format, and who may do what: the owner and the admin command, the
// thing itself reads and reports, strangers get 401.
func TestCommandErrors(t *testing.T) { forEachStore(t, testCommandErrors) }

func testCommandErrors(t *testing.T, cfg config) {
	f := newFixture(t, cfg)
	d, _ := f.onboardOwned(t, "cmd-errors")
	r := do(t, "POST", f.n.base+"/api/apps/"+f.n.app.AppID+"/users", `{"loginName":"bob","password":"bob-pass"}`,
		"Content-Type", "application/vnd.kii.RegistrationAndAuthorizationRequest+json")
	wantStatus(t, r, 201)
	bobID, bob := r.Str(t, "userID"), r.Str(t, "_accessToken")
	owner := []string{"Authorization", "Bearer " + f.userToken}
	r = do(t, "POST", f.commandsURL("thing:"+d.ThingID), f.expandPlain(`{"issuer":"user:{user}","actions":[{"a":[{"b":1}]}]}`),
		append([]string{"Content-Type", commandCreationType}, owner...)...)
	wantStatus(t, r, 201)
	id := r.Str(t, "commandID")

	cmds := "/thing-if/apps/{app}/targets/thing:" + d.ThingID + "/commands"
	cmd := cmds + "/" + id
	trait := func(s string) string { return `{"issuer":"` + s + `","actions":[{"a":[{"b":1}]}]}` }
	ct := "Content-Type"
	user, admin, self := "Bearer {usertoken}", "Bearer {admin}", "Bearer "+d.Token
	results := `{"actionResults":[{"a":[{"b":{"succeeded":true}}]}]}`
	f.run(t, []apiCase{
		{name: "create: admin", method: "POST", path: cmds, body: trait("user:{user}"), headers: []string{ct, commandCreationType, "Authorization", admin}, status: 201},
		{name: "create: no token", method: "POST", path: cmds, body: trait("user:{user}"), headers: []string{ct, commandCreationType}, status: 401, code: "UNAUTHORIZED",
			ctype: "application/vnd.kii.UnauthorizedAccessException+json"},
		{name: "create: a stranger", method: "POST", path: cmds, body: trait("user:" + bobID), headers: []string{ct, commandCreationType, "Authorization", "Bearer " + bob},
			status: 401, code: "UNAUTHORIZED"},
		{name: "create: a stranger, as the owner", method: "POST", path: cmds, body: trait("user:{user}"), headers: []string{ct, commandCreationType, "Authorization", "Bearer " + bob},
			status: 401, code: "UNAUTHORIZED"},
		{name: "create: the owner, as a stranger", method: "POST", path: cmds, body: trait("user:" + bobID), headers: []string{ct, commandCreationType, "Authorization", user},
			status: 401, code: "UNAUTHORIZED"},
		{name: "create: the admin, for a stranger", method: "POST", path: cmds, body: trait("user:" + bobID), headers: []string{ct, commandCreationType, "Authorization", admin},
			status: 400, code: "WRONG_COMMAND", ctype: "application/vnd.kii.WrongCommandException+json"},
		{name: "create: the thing itself", method: "POST", path: cmds, body: trait("user:{user}"), headers: []string{ct, commandCreationType, "Authorization", self},
			status: 401, code: "UNAUTHORIZED"},
		{name: "create: another thing", method: "POST", path: cmds, body: trait("user:{user}"), headers: []string{ct, commandCreationType, "Authorization", "Bearer {token}"},
			status: 401, code: "UNAUTHORIZED"},
		{name: "create: a bad token", method: "POST", path: cmds, body: trait("user:{user}"), headers: []string{ct, commandCreationType, "Authorization", "Bearer nope"},
			status: 403, code: "WRONG_TOKEN"},
		{name: "create: unknown thing", method: "POST", path: "/thing-if/apps/{app}/targets/thing:th.nope/commands", body: trait("user:{user}"),
			headers: []string{ct, commandCreationType, "Authorization", admin}, status: 404, code: "TARGET_NOT_FOUND", ctype: "application/vnd.kii.TargetNotFoundException+json"},
		{name: "create: a target that is not a thing", method: "POST", path: "/thing-if/apps/{app}/targets/user:{user}/commands", body: trait("user:{user}"),
			headers: []string{ct, commandCreationType, "Authorization", admin}, status: 404, code: "NOT_FOUND"},
		{name: "create: no actions", method: "POST", path: cmds, body: `{"issuer":"user:{user}"}`, headers: []string{ct, commandCreationType, "Authorization", user},
			status: 400, code: "WRONG_COMMAND"},
		{name: "create: empty actions", method: "POST", path: cmds, body: `{"issuer":"user:{user}","actions":[]}`, headers: []string{ct, commandCreationType, "Authorization", user},
			status: 400, code: "WRONG_COMMAND"},
		{name: "create: no issuer", method: "POST", path: cmds, body: `{"actions":[{"a":[{"b":1}]}]}`, headers: []string{ct, commandCreationType, "Authorization", user},
			status: 400, code: "WRONG_COMMAND"},
		{name: "create: trait actions not nested", method: "POST", path: cmds, body: `{"issuer":"user:{user}","actions":[{"turnPower":{"power":true}}]}`,
			headers: []string{ct, "application/json", "Authorization", user}, status: 400, code: "WRONG_COMMAND"},
		{name: "create: a schema without its version", method: "POST", path: cmds, body: `{"issuer":"user:{user}","schema":"s","actions":[{"a":{}}]}`,
			headers: []string{ct, "application/json", "Authorization", user}, status: 400, code: "WRONG_COMMAND"},
		{name: "create: title too long", method: "POST", path: cmds, body: `{"issuer":"user:{user}","title":"` + strings.Repeat("t", 51) + `","actions":[{"a":[{"b":1}]}]}`,
			headers: []string{ct, commandCreationType, "Authorization", user}, status: 400, code: "WRONG_COMMAND"},
		{name: "create: metadata not an object", method: "POST", path: cmds, body: `{"issuer":"user:{user}","metadata":"m","actions":[{"a":[{"b":1}]}]}`,
			headers: []string{ct, commandCreationType, "Authorization", user}, status: 400, code: "WRONG_COMMAND"},
		{name: "create: too large for MQTT", method: "POST", path: cmds, body: `{"issuer":"user:{user}","actions":[{"a":[{"b":"` + strings.Repeat("x", kumo.MaxPushPayload) + `"}]}]}`,
			headers: []string{ct, commandCreationType, "Authorization", user}, status: 400, code: "WRONG_COMMAND"},
		{name: "create: not JSON", method: "POST", path: cmds, body: `{"issuer":`, headers: []string{ct, commandCreationType, "Authorization", user},
			status: 400, code: "INVALID_JSON"},

		{name: "get: the owner", method: "GET", path: cmd, headers: []string{"Authorization", user}, status: 200},
		{name: "get: the thing itself", method: "GET", path: cmd, headers: []string{"Authorization", self}, status: 200},
		{name: "get: the admin", method: "GET", path: cmd, headers: []string{"Authorization", admin}, status: 200},
		{name: "get: a stranger", method: "GET", path: cmd, headers: []string{"Authorization", "Bearer " + bob}, status: 401, code: "UNAUTHORIZED"},
		{name: "get: another thing", method: "GET", path: cmd, headers: []string{"Authorization", "Bearer {token}"}, status: 401, code: "UNAUTHORIZED"},
		{name: "get: no token", method: "GET", path: cmd, status: 401, code: "UNAUTHORIZED"},
		{name: "get: unknown command", method: "GET", path: cmds + "/nope", headers: []string{"Authorization", user}, status: 404, code: "COMMAND_NOT_FOUND",
			ctype: "application/vnd.kii.CommandNotFoundException+json"},
		{name: "get: through another thing", method: "GET", path: "/thing-if/apps/{app}/targets/thing:{thing}/commands/" + id, headers: []string{"Authorization", admin},
			status: 404, code: "COMMAND_NOT_FOUND"},
		{name: "get: unknown thing", method: "GET", path: "/thing-if/apps/{app}/targets/thing:th.nope/commands/" + id, headers: []string{"Authorization", admin},
			status: 404, code: "TARGET_NOT_FOUND"},
		{name: "list: a stranger", method: "GET", path: cmds, headers: []string{"Authorization", "Bearer " + bob}, status: 401, code: "UNAUTHORIZED"},
		{name: "list: the thing itself", method: "GET", path: cmds, headers: []string{"Authorization", self}, status: 200},
		{name: "list: bad bestEffortLimit", method: "GET", path: cmds + "?bestEffortLimit=0", headers: []string{"Authorization", user}, status: 400, code: "INVALID_INPUT_DATA"},
		{name: "list: foreign paginationKey", method: "GET", path: cmds + "?paginationKey=abc", headers: []string{"Authorization", user}, status: 400, code: "INVALID_INPUT_DATA"},

		{name: "results: the owner", method: "PUT", path: cmd + "/action-results", body: results, headers: []string{ct, commandResultsType, "Authorization", user},
			status: 401, code: "UNAUTHORIZED"},
		{name: "results: another thing", method: "PUT", path: cmd + "/action-results", body: results, headers: []string{ct, commandResultsType, "Authorization", "Bearer {token}"},
			status: 401, code: "UNAUTHORIZED"},
		{name: "results: no token", method: "PUT", path: cmd + "/action-results", body: results, headers: []string{ct, commandResultsType}, status: 401, code: "UNAUTHORIZED"},
		{name: "results: unknown command", method: "PUT", path: cmds + "/nope/action-results", body: results, headers: []string{ct, commandResultsType, "Authorization", self},
			status: 404, code: "COMMAND_NOT_FOUND"},
		{name: "results: of an action the command does not have", method: "PUT", path: cmd + "/action-results", body: `{"actionResults":[{"a":[{"x":{"succeeded":true}}]}]}`,
			headers: []string{ct, commandResultsType, "Authorization", self}, status: 400, code: "INVALID_INPUT_DATA"},
		{name: "results: flat for a trait command", method: "PUT", path: cmd + "/action-results", body: `{"actionResults":[{"b":{"succeeded":true}}]}`,
			headers: []string{ct, commandResultsType, "Authorization", self}, status: 400, code: "INVALID_INPUT_DATA"},
		{name: "results: succeeded not a boolean", method: "PUT", path: cmd + "/action-results", body: `{"actionResults":[{"a":[{"b":{"succeeded":"yes"}}]}]}`,
			headers: []string{ct, commandResultsType, "Authorization", self}, status: 400, code: "INVALID_INPUT_DATA"},
		{name: "results: no actionResults", method: "PUT", path: cmd + "/action-results", body: `{}`,
			headers: []string{ct, commandResultsType, "Authorization", self}, status: 400, code: "INVALID_INPUT_DATA"},
		{name: "results: the thing itself", method: "PUT", path: cmd + "/action-results", body: results, headers: []string{ct, commandResultsType, "Authorization", self},
			status: 204},
		{name: "results: the admin", method: "PUT", path: cmd + "/action-results", body: results, headers: []string{ct, "application/json", "Authorization", admin},
			status: 204},
	})
	seen := map[string]string{f.n.app.AppID: "<app>", d.ThingID: "<thing>", f.userID: "<user>"}
	checkGolden(t, "command-not-found", do(t, "GET", f.commandsURL("thing:"+d.ThingID)+"/nope", "", "Authorization", "Bearer "+f.userToken), seen)
	checkGolden(t, "command-wrong", do(t, "POST", f.commandsURL("thing:"+d.ThingID), f.expandPlain(`{"issuer":"user:{user}","actions":[]}`),
		"Content-Type", commandCreationType, "Authorization", "Bearer "+f.userToken), seen)
	// Only the owner's and the admin's commands were made.
	r = do(t, "GET", f.commandsURL("thing:"+d.ThingID), "", "Authorization", "Bearer "+f.adminToken)
	wantStatus(t, r, 200)
	if n := len(r.JSON(t)["commands"].([]any)); n != 2 {
		t.Errorf("%d commands after the failures; want the 2 that succeeded", n)
	}
}

// TestCommandKiiGo replays kii_go's command calls (its integration tests
// against Kii): a trait command posted as application/json with
// "schema":"" and "schemaVersion":0, read back without actionResults
// before the thing reports; a non-trait command whose results carry
// "result" instead of "succeeded", accepted (INCOMPLETE).
func TestCommandKiiGo(t *testing.T) { forEachStore(t, testCommandKiiGo) }

func testCommandKiiGo(t *testing.T, cfg config) {
	f := newFixture(t, cfg)
	d, _ := f.onboardOwned(t, "cmd-kii-go")
	owner := []string{"Authorization", "Bearer " + f.userToken, "Content-Type", "application/json"}
	thing := []string{"Authorization", "Bearer " + d.Token, "Content-Type", "application/json"}
	r := do(t, "POST", f.commandsURL("THING:"+d.ThingID), f.expandPlain(`{"issuer":"user:{user}","actions":[{"alias1":[{"turnPower":true}]}],"schema":"","schemaVersion":0}`), owner...)
	wantStatus(t, r, 201)
	trait := r.Str(t, "commandID")
	r = do(t, "GET", f.commandsURL("thing:"+d.ThingID)+"/"+trait, "", owner...)
	wantStatus(t, r, 200)
	var got struct {
		Actions       []map[string]any
		ActionResults []map[string]any
		Schema        *string
	}
	if err := json.Unmarshal(r.Body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Actions == nil || got.ActionResults != nil || got.Schema != nil {
		t.Errorf("a new trait command reads %s; want actions, no actionResults and no schema", r.Body)
	}
	wantStatus(t, do(t, "PUT", f.commandsURL("thing:"+d.ThingID)+"/"+trait+"/action-results",
		`{"actionResults":[{"alias1":[{"turnPower":{"succeeded":false}}]}]}`, thing...), 204)

	r = do(t, "POST", f.commandsURL("THING:"+d.ThingID), f.expandPlain(`{"issuer":"user:{user}","actions":[{"turnPower":{"power":true}}],"schema":"LED-schema","schemaVersion":1}`), owner...)
	wantStatus(t, r, 201)
	plain := r.Str(t, "commandID")
	wantStatus(t, do(t, "PUT", f.commandsURL("thing:"+d.ThingID)+"/"+plain+"/action-results",
		`{"actionResults":[{"turnPower":{"result":false}}]}`, thing...), 204)
	for _, id := range []string{trait, plain} {
		r = do(t, "GET", f.commandsURL("thing:"+d.ThingID)+"/"+id, "", owner...)
		wantStatus(t, r, 200)
		if s := r.Str(t, "commandState"); s != "INCOMPLETE" {
			t.Errorf("command %s: commandState %s; want INCOMPLETE", id, s)
		}
		if _, ok := r.JSON(t)["actionResults"]; !ok {
			t.Errorf("command %s reads no actionResults after the report: %s", id, r.Body)
		}
	}
}
