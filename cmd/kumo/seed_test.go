package main

import (
	"encoding/json"
	"strings"
	"testing"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/kumo-iot/kumo/internal/broker"
)

// TestSeedFlow walks the founding document's flow end to end, with the
// requests as the seed sends them: register a thing and get its token,
// create an MQTT installation, subscribe the thing to a bucket (with the
// app KEY in the path and curl's form Content-Type), read the MQTT
// endpoint, connect and subscribe over MQTT, write an object over REST and
// receive the push.
func TestSeedFlow(t *testing.T) {
	for _, tc := range []struct {
		name     string
		listener string
		protocol uint
	}{
		{"mqtt 3.1 over tcp", broker.TCP, 3},
		{"mqtt 3.1.1 over tcp", broker.TCP, 4},
		{"mqtt 3.1.1 over tls", broker.TLS, 4},
		{"mqtt 3.1.1 over websocket", broker.WS, 4},
		{"mqtt 3.1.1 over secure websocket", broker.WSS, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forEachStore(t, func(t *testing.T, cfg config) { seedFlow(t, cfg, tc.listener, tc.protocol) })
		})
	}
}

// seedFlow walks the flow on a node over cfg's store, the device speaking
// MQTT protocol version protocol to the listener of kind listener.
func seedFlow(t *testing.T, cfg config, listener string, protocol uint) {
	n := mustStartNodeConfig(t, cfg)
	app, base := n.app, n.base

	// Register the thing, then log in as it.
	r := do(t, "POST", base+"/api/apps/"+app.AppID+"/things", `{"_vendorThingID":"seed-thing","_password":"1234"}`,
		"Content-Type", "application/vnd.kii.ThingRegistrationRequest+json", "X-Kii-AppID", app.AppID, "X-Kii-AppKey", app.AppKey)
	wantStatus(t, r, 201)
	thingID := r.Str(t, "_thingID")
	r = do(t, "POST", base+"/api/apps/"+app.AppID+"/oauth2/token", `{"username":"VENDOR_THING_ID:seed-thing","password":"1234"}`,
		"Content-Type", "application/vnd.kii.OauthTokenRequest+json")
	wantStatus(t, r, 200)
	if got := r.Str(t, "id"); got != thingID {
		t.Fatalf("token id = %q, want the thing ID %q", got, thingID)
	}
	token := r.Str(t, "access_token")
	auth := []string{"Authorization", "Bearer " + token, "X-Kii-AppID", app.AppID, "X-Kii-AppKey", app.AppKey}

	// 1. Installation.
	r = do(t, "POST", base+"/api/apps/"+app.AppID+"/installations", `{"deviceType": "MQTT", "development": true}`,
		append(auth, "Content-Type", "application/vnd.kii.InstallationCreationRequest+json")...)
	wantStatus(t, r, 201)
	installationID := r.Str(t, "installationID")
	r = do(t, "GET", base+"/api/apps/"+app.AppID+"/installations/"+installationID, "", auth...)
	wantStatus(t, r, 200)
	if m := r.JSON(t); m["deviceType"] != "MQTT" || m["thingID"] != thingID || m["development"] != true {
		t.Fatalf("installation = %s", r.Body)
	}

	// 2. Subscription: PUT with the app key in the path, as the seed does.
	r = do(t, "PUT", base+"/api/apps/"+app.AppKey+"/things/"+thingID+"/buckets/test/filters/all/push/subscriptions/things/"+thingID, "",
		append(auth, "Content-Type", "application/x-www-form-urlencoded")...)
	wantStatus(t, r, 204)
	r = do(t, "GET", base+"/api/apps/"+app.AppID+"/things/"+thingID+"/buckets/test/filters/all/push/subscriptions/things/"+thingID, "", auth...)
	wantStatus(t, r, 204)

	// 3. MQTT endpoint.
	r = do(t, "GET", base+"/api/apps/"+app.AppID+"/installations/"+installationID+"/mqtt-endpoint", "", auth...)
	wantStatus(t, r, 200)
	var ep struct {
		InstallationID, Username, Password, MQTTTopic, Host string
		PortTCP                                             any `json:"portTCP"`
	}
	if err := json.Unmarshal(r.Body, &ep); err != nil {
		t.Fatal(err)
	}
	d := device{ThingID: thingID, Token: token, InstallationID: installationID}
	json.Unmarshal(r.Body, &d.Endpoint)

	// 4. Subscribe over MQTT.
	_, in := connectDevice(t, n.mqttURL(listener), d, protocol)

	// 5. Write an object with a typed media type; the push arrives.
	r = do(t, "POST", base+"/api/apps/"+app.AppID+"/things/"+thingID+"/buckets/test/objects", `{"score": "1800", "name": "game1"}`,
		append(auth, "Content-Type", "application/vnd."+app.AppID+".mydata+json")...)
	wantStatus(t, r, 201)
	objectID := r.Str(t, "objectID")
	msgs := in.waitFor(t, "the push", func(m []paho.Message) bool { return len(m) > 0 })
	m := msgs[0]
	if m.Topic() != d.Endpoint.MQTTTopic || m.Qos() != 0 || m.Retained() {
		t.Errorf("push topic=%q qos=%d retained=%v, want %q, 0, false", m.Topic(), m.Qos(), m.Retained(), d.Endpoint.MQTTTopic)
	}
	var push map[string]any
	if err := json.Unmarshal(m.Payload(), &push); err != nil {
		t.Fatalf("push is not JSON: %s", m.Payload())
	}
	want := map[string]any{
		"type": "DATA_OBJECT_CREATED", "origin": "EVENT", "sender": thingID,
		"objectScopeType": "APP_AND_THING", "objectScopeAppID": app.AppID, "objectScopeThingID": thingID,
		"bucketID": "test", "bucketType": "rw", "objectID": objectID,
		"sourceURI": "kiicloud://things/" + thingID + "/buckets/test/objects/" + objectID,
		"senderURI": "kiicloud://things/" + thingID,
	}
	for k, v := range want {
		if push[k] != v {
			t.Errorf("push[%q] = %v, want %v", k, push[k], v)
		}
	}
	for _, k := range []string{"when", "modifiedAt"} {
		if _, ok := push[k].(float64); !ok {
			t.Errorf("push[%q] = %v, want a number", k, push[k])
		}
	}
	if !strings.HasPrefix(string(m.Payload()), "{") {
		t.Errorf("push payload must start with '{': %s", m.Payload())
	}

	// The object is stored as written.
	r = do(t, "GET", base+"/api/apps/"+app.AppID+"/things/"+thingID+"/buckets/test/objects/"+objectID, "", auth...)
	wantStatus(t, r, 200)
	obj := r.JSON(t)
	if obj["score"] != "1800" || obj["name"] != "game1" || obj["_dataType"] != "mydata" || obj["_version"] != "1" || obj["_owner"] != thingID {
		t.Errorf("object = %s", r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/vnd."+app.AppID+".mydata+json" {
		t.Errorf("object Content-Type = %q", ct)
	}
}
