package main

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/kumo-iot/kumo"
)

// triggerFixture is a fixture whose user owns {thing}.
func triggerFixture(t *testing.T, cfg config) *fixture {
	t.Helper()
	f := newFixture(t, cfg)
	wantStatus(t, do(t, "PUT", f.n.base+"/api/apps/"+f.n.app.AppID+"/things/"+f.thing.ThingID+"/ownership/user:"+f.userID, "",
		"Authorization", "Bearer "+f.adminToken), 204)
	return f
}

// triggersURL is the trigger collection of a thing.
func (f *fixture) triggersURL(thingID string) string {
	return f.n.base + "/thing-if/apps/" + f.n.app.AppID + "/targets/thing:" + thingID + "/triggers"
}

// postTrigger creates a trigger of {thing} as the user and returns its ID.
func (f *fixture) postTrigger(t *testing.T, body string) string {
	t.Helper()
	r := do(t, "POST", f.triggersURL(f.thing.ThingID), f.expandPlain(body), "Authorization", "Bearer "+f.userToken, "Content-Type", "application/json")
	wantStatus(t, r, 201)
	return r.Str(t, "triggerID")
}

// TestTriggerAPI checks every trigger endpoint and its errors: create
// (201 {"triggerID"}), get (the whole trigger with disabled), patch,
// enable, disable, list with pagination, server-code results, delete
// (204s); WRONG_TRIGGER for bad bodies, 404 for missing triggers and
// things and bad targets, 401 for strangers and 403 for bad tokens.
func TestTriggerAPI(t *testing.T) { forEachStore(t, testTriggerAPI) }

func testTriggerAPI(t *testing.T, cfg config) {
	f := triggerFixture(t, cfg)
	state := `{"predicate":{"eventSource":"STATES","triggersWhen":"CONDITION_FALSE_TO_TRUE","condition":{"type":"range","alias":"AC","field":"temp","lowerLimit":30,"lowerIncluded":true}},` +
		`"triggersWhat":"COMMAND","command":{"target":"thing:{thing}","issuer":"user:{user}","actions":[{"AC":[{"turnPower":true}]}]},"title":"cool down","description":"d","metadata":{"k":"v"}}`
	id := f.postTrigger(t, state)
	sc := f.postTrigger(t, `{"predicate":{"eventSource":"SCHEDULE","schedule":"0 12 1 * *"},"triggersWhat":"SERVER_CODE","serverCode":{"endpoint":"fn","executorAccessToken":"tok","targetAppID":"{app}","parameters":{"a":1}}}`)
	user, admin := []string{"Authorization", "Bearer {usertoken}"}, []string{"Authorization", "Bearer {admin}"}
	withJSON := func(h []string) []string { return append(append([]string{}, h...), "Content-Type", "application/json") }
	base := "/thing-if/apps/{app}/targets/thing:{thing}/triggers"
	f.run(t, []apiCase{
		{name: "get", method: "GET", path: base + "/" + id, headers: user, status: 200, ctype: jsonCT,
			bodyHas: []string{`"triggerID" : "` + id + `"`, `"disabled" : false`, `"triggersWhat" : "COMMAND"`, `"eventSource" : "STATES"`,
				`"triggersWhen" : "CONDITION_FALSE_TO_TRUE"`, `"alias" : "AC"`, `"lowerLimit" : 30`, `"target" : "thing:{thing}"`, `"issuer" : "user:{user}"`,
				`"title" : "cool down"`, `"description" : "d"`, `"k" : "v"`}},
		{name: "get with THING: in upper case, by the admin", method: "GET", path: "/thing-if/apps/{app}/targets/THING:{thing}/triggers/" + id, headers: admin, status: 200},
		{name: "get server code trigger", method: "GET", path: base + "/" + sc, headers: user, status: 200,
			bodyHas: []string{`"triggersWhat" : "SERVER_CODE"`, `"endpoint" : "fn"`, `"executorAccessToken" : "tok"`, `"targetAppID" : "{app}"`, `"a" : 1`, `"schedule" : "0 12 1 * *"`}},
		{name: "get missing", method: "GET", path: base + "/nope", headers: user, status: 404, code: "TRIGGER_NOT_FOUND"},
		{name: "get by a stranger thing", method: "GET", path: base + "/" + id, headers: []string{"Authorization", "Bearer {othertoken}"}, status: 401, code: "UNAUTHORIZED"},
		{name: "get by the thing itself", method: "GET", path: base + "/" + id, headers: []string{"Authorization", "Bearer {token}"}, status: 401, code: "UNAUTHORIZED"},
		{name: "get with a bad token", method: "GET", path: base + "/" + id, headers: []string{"Authorization", "Bearer nope"}, status: 403, code: "WRONG_TOKEN"},
		{name: "get of another thing", method: "GET", path: "/thing-if/apps/{app}/targets/thing:{other}/triggers/" + id, headers: admin, status: 404, code: "TRIGGER_NOT_FOUND"},
		{name: "missing thing", method: "GET", path: "/thing-if/apps/{app}/targets/thing:th.nope/triggers", headers: admin, status: 404, code: "THING_NOT_FOUND"},
		{name: "bad target", method: "GET", path: "/thing-if/apps/{app}/targets/user:{user}/triggers", headers: admin, status: 404, code: "NOT_FOUND"},
		{name: "create bad json", method: "POST", path: base, body: `{`, headers: withJSON(user), status: 400, code: "INVALID_JSON"},
		{name: "create no predicate", method: "POST", path: base, body: `{"triggersWhat":"COMMAND","command":{"issuer":"user:{user}","actions":[{"a":[{"on":true}]}]}}`, headers: withJSON(user), status: 400, code: "WRONG_TRIGGER"},
		{name: "create bad cron", method: "POST", path: base, body: `{"predicate":{"eventSource":"SCHEDULE","schedule":"61 * * * *"},"command":{"issuer":"user:{user}","actions":[{"a":[{"on":true}]}]}}`, headers: withJSON(user), status: 400, code: "WRONG_TRIGGER"},
		{name: "create past once", method: "POST", path: base, body: `{"predicate":{"eventSource":"SCHEDULE_ONCE","scheduleAt":1469089120402},"command":{"issuer":"user:{user}","actions":[{"a":[{"on":true}]}]}}`, headers: withJSON(user), status: 400, code: "WRONG_TRIGGER"},
		{name: "create issuer not owner", method: "POST", path: base, body: `{"predicate":{"eventSource":"SCHEDULE","schedule":"* * * * *"},"command":{"issuer":"user:someone","actions":[{"a":[{"on":true}]}]}}`, headers: withJSON(admin), status: 400, code: "WRONG_TRIGGER"},
		{name: "create by a stranger", method: "POST", path: "/thing-if/apps/{app}/targets/thing:{other}/triggers", body: state, headers: withJSON(user), status: 401, code: "UNAUTHORIZED"},
		{name: "create anonymous", method: "POST", path: base, body: state, headers: []string{"Content-Type", "application/json"}, status: 401, code: "UNAUTHORIZED"},
		{name: "patch", method: "PATCH", path: base + "/" + id, body: `{"title":"warm up","predicate":{"eventSource":"STATES","triggersWhen":"CONDITION_CHANGED","condition":{"type":"eq","alias":"AC","field":"power","value":true}}}`, headers: withJSON(user), status: 204},
		{name: "after patch", method: "GET", path: base + "/" + id, headers: user, status: 200, bodyHas: []string{`"title" : "warm up"`, `"triggersWhen" : "CONDITION_CHANGED"`, `"type" : "eq"`, `"description" : "d"`}},
		{name: "patch bad", method: "PATCH", path: base + "/" + id, body: `{"triggersWhat":"SERVER_CODE"}`, headers: withJSON(user), status: 400, code: "WRONG_TRIGGER"},
		{name: "patch missing", method: "PATCH", path: base + "/nope", body: `{"title":"x"}`, headers: withJSON(user), status: 404, code: "TRIGGER_NOT_FOUND"},
		{name: "disable", method: "PUT", path: base + "/" + id + "/disable", headers: user, status: 204},
		{name: "disabled", method: "GET", path: base + "/" + id, headers: user, status: 200, bodyHas: []string{`"disabled" : true`}},
		{name: "enable, as the JS SDK writes it", method: "PUT", path: base + "/" + id + "}/enable", headers: user, status: 204},
		{name: "enabled", method: "GET", path: base + "/" + id, headers: user, status: 200, bodyHas: []string{`"disabled" : false`}},
		{name: "enable missing", method: "PUT", path: base + "/nope/enable", headers: user, status: 404, code: "TRIGGER_NOT_FOUND"},
		{name: "server-code results, none yet", method: "GET", path: base + "/" + sc + "/results/server-code", headers: user, status: 200, bodyHas: []string{`"triggerServerCodeResults" : [ ]`}},
		{name: "server-code results of a missing trigger", method: "GET", path: base + "/nope/results/server-code", headers: user, status: 404, code: "TRIGGER_NOT_FOUND"},
		{name: "list bad limit", method: "GET", path: base + "?bestEffortLimit=x", headers: user, status: 400, code: "INVALID_INPUT_DATA"},
		{name: "delete by a stranger", method: "DELETE", path: base + "/" + id, headers: []string{"Authorization", "Bearer {othertoken}"}, status: 401, code: "UNAUTHORIZED"},
	})

	// List, a page at a time.
	seen := map[string]bool{}
	key := ""
	for range 4 {
		u := f.triggersURL(f.thing.ThingID) + "?bestEffortLimit=1"
		if key != "" {
			u += "&paginationKey=" + key
		}
		r := do(t, "GET", u, "", "Authorization", "Bearer "+f.userToken)
		wantStatus(t, r, 200)
		var page struct {
			Triggers []map[string]any `json:"triggers"`
			Next     string           `json:"nextPaginationKey"`
		}
		if err := json.Unmarshal(r.Body, &page); err != nil {
			t.Fatal(err)
		}
		for _, tr := range page.Triggers {
			seen[tr["triggerID"].(string)] = true
		}
		if key = page.Next; key == "" {
			break
		}
	}
	if !seen[id] || !seen[sc] || len(seen) != 2 {
		t.Errorf("listed %v, want %s and %s", seen, id, sc)
	}

	f.run(t, []apiCase{
		{name: "delete", method: "DELETE", path: base + "/" + id, headers: user, status: 204},
		{name: "deleted", method: "GET", path: base + "/" + id, headers: user, status: 404, code: "TRIGGER_NOT_FOUND"},
		{name: "delete again", method: "DELETE", path: base + "/" + id, headers: user, status: 404, code: "TRIGGER_NOT_FOUND"},
	})
}

// TestTriggerScheduleOnceServerCode: the scheduler of a running node
// fires a one-time SERVER_CODE schedule once: its run (which fails: the
// app has no current version) is recorded, and the trigger disables
// itself.
func TestTriggerScheduleOnceServerCode(t *testing.T) {
	forEachStore(t, testTriggerScheduleOnceServerCode)
}

func testTriggerScheduleOnceServerCode(t *testing.T, cfg config) {
	cfg.TriggerInterval = 20 * time.Millisecond
	cfg.serverCode = &hookRecorder{answer: func(kumo.ServerCodeCall) (kumo.ServerCodeResult, error) {
		return kumo.ServerCodeResult{}, kumo.Errorf(kumo.ErrServerCodeVersionNotFound, "App has no current server code version")
	}} // server code: hooks
	f := triggerFixture(t, cfg)
	at := time.Now().Add(300 * time.Millisecond).UnixMilli()
	id := f.postTrigger(t, `{"predicate":{"eventSource":"SCHEDULE_ONCE","scheduleAt":`+strconv.FormatInt(at, 10)+`},"triggersWhat":"SERVER_CODE","serverCode":{"endpoint":"cool"}}`)
	url := f.triggersURL(f.thing.ThingID) + "/" + id
	var results []map[string]any
	deadline := time.Now().Add(10 * time.Second)
	for len(results) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the one-time schedule did not fire")
		}
		r := do(t, "GET", url+"/results/server-code", "", "Authorization", "Bearer "+f.userToken)
		wantStatus(t, r, 200)
		var page struct {
			Results []map[string]any `json:"triggerServerCodeResults"`
		}
		if err := json.Unmarshal(r.Body, &page); err != nil {
			t.Fatal(err)
		}
		results = page.Results
		time.Sleep(20 * time.Millisecond)
	}
	if len(results) != 1 || results[0]["succeeded"] != false || results[0]["endpoint"] != "cool" || results[0]["error"] == nil {
		t.Errorf("results = %v", results)
	}
	if ex, _ := results[0]["executedAt"].(float64); int64(ex) < at {
		t.Errorf("executedAt %v is before scheduleAt %d", results[0]["executedAt"], at)
	}
	r := do(t, "GET", url, "", "Authorization", "Bearer "+f.userToken)
	wantStatus(t, r, 200)
	if !strings.Contains(string(r.Body), `"disabled" : true`) || !strings.Contains(string(r.Body), `"disabledReason" : "SCHEDULE_ONCE_FIRED"`) {
		t.Errorf("a fired SCHEDULE_ONCE: %s", r.Body)
	}
}

// firedBy returns, of the messages a device got, the commands fired by
// trigger triggerID (their MQTT payloads).
func firedBy(t testing.TB, msgs []paho.Message, triggerID string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, m := range msgs {
		var p map[string]any
		if err := json.Unmarshal(m.Payload(), &p); err != nil {
			continue
		}
		if p["firedByTriggerID"] == triggerID {
			out = append(out, p)
		}
	}
	return out
}

// putState writes a trait state of the thing with its token.
func putState(t testing.TB, base, appID, thingID, token, state string) {
	t.Helper()
	wantStatus2xx(t, do(t, "PUT", base+"/thing-if/apps/"+appID+"/targets/thing:"+thingID+"/states", state,
		"Authorization", "Bearer "+token, "Content-Type", "application/vnd.kii.MultipleTraitState+json"))
}

func wantStatus2xx(t testing.TB, r response) {
	t.Helper()
	if r.Status < 200 || r.Status > 299 {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
}

// TestTriggerFiresCommandOverMQTT: a state write over HTTP fires the
// thing's CONDITION_FALSE_TO_TRUE trigger once, and the command reaches
// the thing's MQTT client (firedByTriggerID, the trigger's issuer and
// actions); a write where the condition stays true fires nothing; a
// one-time schedule fires its command too, through the node's scheduler.
func TestTriggerFiresCommandOverMQTT(t *testing.T) { forEachStore(t, testTriggerFiresCommandOverMQTT) }

func testTriggerFiresCommandOverMQTT(t *testing.T, cfg config) {
	cfg.TriggerInterval = 20 * time.Millisecond
	f := triggerFixture(t, cfg)
	_, in := connectDevice(t, f.n.mqttURL("tcp"), f.thing, 3)
	hot := f.postTrigger(t, `{"predicate":{"eventSource":"STATES","triggersWhen":"CONDITION_FALSE_TO_TRUE","condition":{"type":"range","alias":"AC","field":"temp","lowerLimit":30,"lowerIncluded":true}},`+
		`"triggersWhat":"COMMAND","command":{"issuer":"user:{user}","actions":[{"AC":[{"turnPower":false}]}],"title":"cool down"}}`)
	put := func(state string) { putState(t, f.n.base, f.n.app.AppID, f.thing.ThingID, f.thing.Token, state) }
	put(`{"AC":{"temp":25}}`)
	put(`{"AC":{"temp":31}}`)
	msgs := in.waitFor(t, "the fired command", func(ms []paho.Message) bool { return len(firedBy(t, ms, hot)) > 0 })
	c := firedBy(t, msgs, hot)[0]
	if c["issuer"] != "user:"+f.userID || c["target"] != "thing:"+f.thing.ThingID || c["title"] != "cool down" || c["commandID"] == nil {
		t.Errorf("fired command = %v", c)
	}
	if b, _ := json.Marshal(c["actions"]); string(b) != `[{"AC":[{"turnPower":false}]}]` {
		t.Errorf("actions = %s", b)
	}
	put(`{"AC":{"temp":35}}`) // still hot: no fire

	// A one-time schedule, after those writes: once its command is here,
	// the state trigger's are all here too (one outbox, in commit order).
	once := f.postTrigger(t, `{"predicate":{"eventSource":"SCHEDULE_ONCE","scheduleAt":`+strconv.FormatInt(time.Now().Add(200*time.Millisecond).UnixMilli(), 10)+`},`+
		`"triggersWhat":"COMMAND","command":{"issuer":"user:{user}","actions":[{"AC":[{"turnPower":true}]}]}}`)
	msgs = in.waitFor(t, "the scheduled command", func(ms []paho.Message) bool { return len(firedBy(t, ms, once)) > 0 })
	if n := len(firedBy(t, msgs, hot)); n != 1 {
		t.Errorf("the state trigger fired %d commands, want 1", n)
	}
	if n := len(firedBy(t, msgs, once)); n != 1 {
		t.Errorf("the one-time schedule fired %d commands, want 1", n)
	}
}
