package main

import (
	"encoding/json"
	"strings"
	"testing"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/kumo-iot/kumo/internal/broker"
)

func TestDirectPushAPI(t *testing.T) { forEachStore(t, testDirectPushAPI) }

// testDirectPushAPI sends direct pushes to a thing over the API and
// checks what its MQTT client receives, and the send-time validation.
func testDirectPushAPI(t *testing.T, cfg config) {
	f := newFixture(t, cfg)
	base := f.n.base + "/api/apps/" + f.n.app.AppID
	admin := []string{"Authorization", "Bearer " + f.adminToken, "Content-Type", "application/vnd.kii.SendPushMessageRequest+json"}
	_, in := connectDevice(t, f.n.mqttURL(broker.TCP), f.thing, 4)
	send := func(body string, headers ...string) response {
		return do(t, "POST", base+"/things/"+f.thing.ThingID+"/push/messages", body, headers...)
	}
	// Not for development installations (the fixture's is one): never arrives.
	r := send(`{"data":{"n":1},"sendToDevelopment":false,"mqtt":{"enabled":true},"gcm":{"enabled":false},"apns":{"enabled":false}}`, admin...)
	wantStatus(t, r, 201)
	// This one arrives, after the other would have (one connection keeps
	// the order of publishes).
	r = send(`{"data":{"n":2,"s":"x","b":true},"sendWhen":true,"sendOrigin":true,"pushMessageType":"reminder",
		"mqtt":{"enabled":true,"data":{"s":"mqtt"}},"gcm":{"enabled":false},"apns":{"enabled":false}}`, admin...)
	wantStatus(t, r, 201)
	if r.Header.Get("Content-Type") != "application/vnd.kii.SendPushMessageResponse+json" || r.Str(t, "pushMessageID") == "" {
		t.Errorf("send: %s %s", r.Header.Get("Content-Type"), r.Body)
	}
	msgs := in.waitFor(t, "the direct push", func(ms []paho.Message) bool { return len(ms) >= 1 })
	var got map[string]any
	if err := json.Unmarshal(msgs[0].Payload(), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"n": float64(2), "s": "mqtt", "b": true, "origin": "EXPLICIT", "type": "reminder",
		"sourceURI": "kiicloud://things/" + f.thing.ThingID, "senderURI": "kiicloud://admins/APP_ADMIN"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("payload %s = %v, want %v (payload %s)", k, got[k], v, msgs[0].Payload())
		}
	}
	if _, ok := got["when"].(float64); !ok || len(got) != len(want)+1 {
		t.Errorf("payload %s: want exactly the keys %v and when", msgs[0].Payload(), want)
	}
	if len(in.Messages()) != 1 {
		t.Errorf("%d messages arrived, want 1 (the one for development installations must not)", len(in.Messages()))
	}

	for _, tc := range []struct {
		name, body string
		headers    []string
		status     int
		code       string
	}{
		{"no channel", `{"data":{"a":1}}`, admin, 400, "INVALID_INPUT_DATA"},
		{"mqtt only (neither fcm, gcm nor apns says enabled)", `{"data":{"a":1},"mqtt":{"enabled":true}}`, admin, 400, "INVALID_INPUT_DATA"},
		{"nested data", `{"data":{"a":{"b":1}},"mqtt":{"enabled":true},"gcm":{"enabled":false}}`, admin, 400, "INVALID_INPUT_DATA"},
		{"gcm data not a string", `{"gcm":{"enabled":true,"data":{"a":1}}}`, admin, 400, "INVALID_INPUT_DATA"},
		{"gcm reserved key", `{"gcm":{"enabled":true,"data":{"from":"x"}}}`, admin, 400, "INVALID_INPUT_DATA"},
		{"over 4096 bytes for MQTT", `{"data":{"a":"` + strings.Repeat("x", 4100) + `"},"mqtt":{"enabled":true},"gcm":{"enabled":false}}`, admin, 400, "INVALID_INPUT_DATA"},
		{"not JSON", `{`, admin, 400, "INVALID_JSON"},
		{"another thing may not send", `{"mqtt":{"enabled":true},"gcm":{"enabled":false}}`, []string{"Authorization", "Bearer " + f.other.Token}, 401, "UNAUTHORIZED"},
		{"anonymous may not send", `{"mqtt":{"enabled":true},"gcm":{"enabled":false}}`, nil, 401, "UNAUTHORIZED"},
	} {
		r := send(tc.body, tc.headers...)
		if r.Status != tc.status || r.JSON(t)["errorCode"] != tc.code {
			t.Errorf("%s: %d %s, want %d %s", tc.name, r.Status, r.Body, tc.status, tc.code)
		}
	}
	r = do(t, "POST", base+"/users/LOGIN_NAME:nobody/push/messages", `{"mqtt":{"enabled":true},"gcm":{"enabled":false}}`, admin...)
	if r.Status != 404 || r.JSON(t)["errorCode"] != "USER_NOT_FOUND" {
		t.Errorf("to a missing user: %d %s", r.Status, r.Body)
	}
}

func TestTopicPushAPI(t *testing.T) { forEachStore(t, testTopicPushAPI) }

// testTopicPushAPI sends a message to an app-scope topic and to a user's
// topic and checks that the subscribed things receive Kii's push-to-user
// payload, and who may send.
func testTopicPushAPI(t *testing.T, cfg config) {
	f := newFixture(t, cfg)
	base := f.n.base + "/api/apps/" + f.n.app.AppID
	admin := []string{"Authorization", "Bearer " + f.adminToken}
	user := []string{"Authorization", "Bearer " + f.userToken}
	asThing := []string{"Authorization", "Bearer " + f.thing.Token}
	wantStatus(t, do(t, "PUT", base+"/topics/news", "", admin...), 204)
	wantStatus(t, do(t, "PUT", base+"/topics/news/push/subscriptions/things/"+f.thing.ThingID, "", asThing...), 204)
	wantStatus(t, do(t, "PUT", base+"/users/me/topics/mine", "", user...), 204)
	wantStatus(t, do(t, "PUT", base+"/users/"+f.userID+"/topics/mine/push/subscriptions/things/"+f.thing.ThingID, "", admin...), 204)
	_, in := connectDevice(t, f.n.mqttURL(broker.TCP), f.thing, 4)

	body := `{"data":{"greeting":"hi"},"sendWhen":true,"mqtt":{"enabled":true},"gcm":{"enabled":false},"apns":{"enabled":false}}`
	r := do(t, "POST", base+"/topics/news/push/messages", body, append([]string{"Content-Type", "application/vnd.kii.SendPushMessageRequest+json"}, admin...)...)
	wantStatus(t, r, 201)
	r = do(t, "POST", base+"/users/me/topics/mine/push/messages", body, user...)
	wantStatus(t, r, 201)
	msgs := in.waitFor(t, "two topic messages", func(ms []paho.Message) bool { return len(ms) >= 2 })
	var app, mine map[string]any
	json.Unmarshal(msgs[0].Payload(), &app)
	json.Unmarshal(msgs[1].Payload(), &mine)
	if app["topic"] != "news" || app["objectScopeType"] != "APP" || app["greeting"] != "hi" || app["senderURI"] != "kiicloud://admins/APP_ADMIN" ||
		app["sourceURI"] != "kiicloud://topics/news" {
		t.Errorf("app topic message = %s", msgs[0].Payload())
	}
	if mine["topic"] != "mine" || mine["objectScopeType"] != "APP_AND_USER" || mine["objectScopeUserID"] != f.userID || mine["sender"] != f.userID ||
		mine["sourceURI"] != "kiicloud://users/"+f.userID+"/topics/mine" {
		t.Errorf("user topic message = %s", msgs[1].Payload())
	}
	if _, ok := mine["when"].(float64); !ok {
		t.Errorf("sendWhen: no when in %s", msgs[1].Payload())
	}
	for _, tc := range []struct {
		name, path string
		headers    []string
		status     int
		code       string
	}{
		{"a user may not send to an app topic", "/topics/news/push/messages", user, 401, "UNAUTHORIZED"},
		{"a thing may not send to a user's topic", "/users/" + f.userID + "/topics/mine/push/messages", asThing, 401, "UNAUTHORIZED"},
		{"a missing topic", "/topics/nope/push/messages", admin, 404, "TOPIC_NOT_FOUND"},
		{"anonymous", "/topics/news/push/messages", nil, 401, "UNAUTHORIZED"},
	} {
		r := do(t, "POST", base+tc.path, body, tc.headers...)
		if r.Status != tc.status || r.JSON(t)["errorCode"] != tc.code {
			t.Errorf("%s: %d %s, want %d %s", tc.name, r.Status, r.Body, tc.status, tc.code)
		}
	}
}
