package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/kumo-iot/kumo"
)

// onboardType is the media type of an onboarding form.
func onboardType(form string) string { return "application/vnd.kii." + form + "+json" }

// onboard posts an onboarding request.
func (f *fixture) onboard(t *testing.T, mediaType, body string, headers ...string) response {
	t.Helper()
	h := append([]string{"Content-Type", mediaType}, headers...)
	return do(t, "POST", f.n.base+"/thing-if/apps/"+f.n.app.AppID+"/onboardings", f.expandPlain(body), h...)
}

// owners returns the owners of a thing as the admin reads them.
func (f *fixture) owners(t *testing.T, thingID string) string {
	t.Helper()
	r := do(t, "GET", f.n.base+"/api/apps/"+f.n.app.AppID+"/things/"+thingID+"/ownership", "", "Authorization", "Bearer "+f.adminToken)
	wantStatus(t, r, 200)
	return string(r.Body)
}

// TestOnboardForms onboards by each of the six forms, with each kind of
// caller the form allows, and checks what the onboarding left: a thing
// with the fields sent, a token that works, the owner, and an MQTT
// endpoint whose credentials are the thing's installation's.
func TestOnboardForms(t *testing.T) { forEachStore(t, testOnboardForms) }

func testOnboardForms(t *testing.T, cfg config) {
	f := newFixture(t, cfg)
	anon, user, admin := "Bearer {anon}", "Bearer {usertoken}", "Bearer {admin}"
	// A gateway the user owns, for the end-node forms.
	gw := f.onboard(t, onboardType("OnboardingWithVendorThingIDByOwner"),
		`{"vendorThingID":"gw-1","thingPassword":"gw-pass","owner":"user:{user}","layoutPosition":"GATEWAY"}`, "Authorization", f.expandPlain(user))
	wantStatus(t, gw, 200)
	gwID := gw.Str(t, "thingID")
	cases := []struct {
		name, mediaType, body, auth string
		thing                       string // selector of the onboarded thing
		endNode, owned              bool
		fields                      map[string]string // fields the thing must have
	}{
		{"vendor-by-thing anonymous token", onboardType("OnboardingWithVendorThingIDByThing"),
			`{"vendorThingID":"v-1","thingPassword":"p-1","thingType":"LAMP","firmwareVersion":"1.0","layoutPosition":"STANDALONE","thingProperties":{"_vendor":"acme","color":"red"}}`,
			anon, "VENDOR_THING_ID:v-1", false, false, map[string]string{"_thingType": "LAMP", "_firmwareVersion": "1.0", "_vendor": "acme", "color": "red", "_layoutPosition": "STANDALONE"}},
		{"vendor-by-thing lower case with charset, no token", "application/vnd.kii.onboardingwithvendorthingidbything+json; charset=utf-8",
			`{"vendorThingID":"v-2","thingPassword":"p-2"}`, "", "VENDOR_THING_ID:v-2", false, false, nil},
		{"vendor-by-thing with Basic app credentials (node-red)", onboardType("OnboardingWithVendorThingIDByThing"),
			`{"vendorThingID":"v-5","thingPassword":"p-5"}`, "Basic {basic:{app}:{key}}", "VENDOR_THING_ID:v-5", false, false, nil},
		{"vendor-by-thing again with its password, the thing's token", onboardType("onboardingWithVendorThingIDByThing"),
			`{"vendorThingID":"{vendor}","thingPassword":"pass-1234"}`, "Bearer {token}", "{thing}", false, false, nil},
		{"thing-id-by-thing", onboardType("OnboardingWithThingIDByThing"),
			`{"thingID":"{other}","thingPassword":"pass-1234"}`, anon, "{other}", false, false, nil},
		{"vendor-by-owner user", onboardType("OnboardingWithVendorThingIDByOwner"),
			`{"vendorThingID":"v-3","thingPassword":"p-3","owner":"USER:{user}","thingType":"AC","firmwareVersion":"2.0"}`,
			user, "VENDOR_THING_ID:v-3", false, true, map[string]string{"_thingType": "AC", "_firmwareVersion": "2.0"}},
		{"thing-id-by-owner user", onboardType("onboardingWithThingIDByOwner"),
			`{"thingID":"{thing}","thingPassword":"pass-1234","owner":"user:{user}"}`, user, "{thing}", false, true, nil},
		{"vendor-by-owner admin", onboardType("OnboardingWithVendorThingIDByOwner"),
			`{"vendorThingID":"v-4","thingPassword":"p-4","owner":"user:{user}"}`, admin, "VENDOR_THING_ID:v-4", false, true, nil},
		{"end node by gateway thing ID", onboardType("OnboardingEndNodeWithGatewayThingID"),
			`{"gatewayThingID":"` + gwID + `","endNodeVendorThingID":"en-1","endNodePassword":"en-pass","owner":"user:{user}","endNodeThingType":"SENSOR","endNodeFirmwareVersion":"0.1","endNodeThingProperties":{"room":"kitchen"}}`,
			user, "VENDOR_THING_ID:en-1", true, true, map[string]string{"_thingType": "SENSOR", "_firmwareVersion": "0.1", "room": "kitchen", "_layoutPosition": "END_NODE"}},
		{"end node by gateway vendor thing ID", onboardType("OnboardingEndNodeWithGatewayVendorThingID"),
			`{"gatewayVendorThingID":"gw-1","endNodeVendorThingID":"en-2","endNodePassword":"en-pass","owner":"user:{user}"}`,
			user, "VENDOR_THING_ID:en-2", true, true, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var h []string
			if tc.auth != "" {
				h = []string{"Authorization", f.expand(tc.auth)}
			}
			r := f.onboard(t, tc.mediaType, tc.body, h...)
			wantStatus(t, r, 200)
			idKey := "thingID"
			if tc.endNode {
				idKey = "endNodeThingID"
			}
			id, token := r.Str(t, idKey), r.Str(t, "accessToken")
			// The new token is the thing's.
			g := do(t, "GET", f.n.base+"/api/apps/"+f.n.app.AppID+"/things/"+f.expandPlain(tc.thing), "", "Authorization", "Bearer "+token)
			wantStatus(t, g, 200)
			got := g.JSON(t)
			if got["_thingID"] != id {
				t.Fatalf("onboarded %s, but the token reads thing %v", id, got["_thingID"])
			}
			for k, v := range tc.fields {
				if got[k] != v {
					t.Errorf("thing field %s = %v, want %q", k, got[k], v)
				}
			}
			if owners := f.owners(t, id); strings.Contains(owners, f.userID) != tc.owned {
				t.Errorf("owners of %s: %s; want the user among them: %v", id, owners, tc.owned)
			}
			if tc.endNode {
				if _, ok := r.JSON(t)["mqttEndpoint"]; ok {
					t.Errorf("an end node's answer has an mqttEndpoint: %s", r.Body)
				}
				return
			}
			var ans struct{ MQTTEndpoint map[string]any }
			if err := json.Unmarshal(r.Body, &ans); err != nil || ans.MQTTEndpoint == nil {
				t.Fatalf("no mqttEndpoint: %v %s", err, r.Body)
			}
			// It is the endpoint of the thing's one MQTT installation.
			inst, _ := ans.MQTTEndpoint["installationID"].(string)
			e := do(t, "GET", f.n.base+"/api/apps/"+f.n.app.AppID+"/installations/"+inst+"/mqtt-endpoint", "", "Authorization", "Bearer "+token)
			wantStatus(t, e, 200)
			ep := e.JSON(t)
			for _, k := range []string{"username", "password", "mqttTopic", "host"} {
				if ep[k] != ans.MQTTEndpoint[k] || ep[k] == "" {
					t.Errorf("mqttEndpoint.%s = %v; the installation's is %v", k, ans.MQTTEndpoint[k], ep[k])
				}
			}
			if ttl, ok := ans.MQTTEndpoint["ttl"].(float64); !ok || int64(ttl) != kumo.NeverExpires {
				t.Errorf("mqttEndpoint.ttl = %v, want %d", ans.MQTTEndpoint["ttl"], kumo.NeverExpires)
			}
		})
	}
	// Onboarding again reuses the installation.
	a := f.onboard(t, onboardType("OnboardingWithVendorThingIDByThing"), `{"vendorThingID":"v-1","thingPassword":"p-1"}`)
	b := f.onboard(t, onboardType("OnboardingWithVendorThingIDByThing"), `{"vendorThingID":"v-1","thingPassword":"p-1"}`)
	wantStatus(t, a, 200)
	wantStatus(t, b, 200)
	if a.Str(t, "thingID") != b.Str(t, "thingID") || !bytes.Equal(endpointOf(t, a), endpointOf(t, b)) {
		t.Errorf("onboarding twice gave two things or two endpoints:\n%s\n%s", a.Body, b.Body)
	}
}

func endpointOf(t *testing.T, r response) []byte {
	t.Helper()
	var ans struct{ MQTTEndpoint json.RawMessage }
	if err := json.Unmarshal(r.Body, &ans); err != nil {
		t.Fatal(err)
	}
	return ans.MQTTEndpoint
}

// TestOnboardErrors checks each failure of an onboarding, in Kii's format.
func TestOnboardErrors(t *testing.T) { forEachStore(t, testOnboardErrors) }

func testOnboardErrors(t *testing.T, cfg config) {
	f := newFixture(t, cfg)
	// A second user, a stranger to the first.
	r := do(t, "POST", f.n.base+"/api/apps/"+f.n.app.AppID+"/users", `{"loginName":"bob","password":"bob-pass"}`,
		"Content-Type", "application/vnd.kii.RegistrationAndAuthorizationRequest+json")
	wantStatus(t, r, 201)
	bob := "Bearer " + r.Str(t, "_accessToken")
	gw := f.onboard(t, onboardType("OnboardingWithVendorThingIDByOwner"),
		`{"vendorThingID":"gw-e","thingPassword":"gw-pass","owner":"user:{user}"}`, "Authorization", "Bearer "+f.userToken)
	wantStatus(t, gw, 200)
	gwID := gw.Str(t, "thingID")
	user := "Bearer " + f.userToken
	cases := []struct {
		name, mediaType, body, auth string
		status                      int
		code                        string
		ctype                       string
	}{
		{"wrong password", onboardType("OnboardingWithVendorThingIDByThing"), `{"vendorThingID":"{vendor}","thingPassword":"nope"}`, "",
			401, "WRONG_PASSWORD", "application/vnd.kii.WrongPasswordException+json"},
		{"wrong password by thing ID", onboardType("OnboardingWithThingIDByOwner"), `{"thingID":"{thing}","thingPassword":"nope","owner":"user:{user}"}`, user,
			401, "WRONG_PASSWORD", ""},
		{"unknown media type", "application/json", `{"vendorThingID":"x","thingPassword":"y"}`, "",
			415, "UNSUPPORTED_MEDIA_TYPE", "application/vnd.kii.UnsupportedMediaTypeException+json"},
		{"no media type", "", `{"vendorThingID":"x","thingPassword":"y"}`, "", 415, "UNSUPPORTED_MEDIA_TYPE", ""},
		{"missing vendorThingID", onboardType("OnboardingWithVendorThingIDByThing"), `{"thingPassword":"y"}`, "",
			400, "INVALID_INPUT_DATA", "application/vnd.kii.ValidationException+json"},
		{"missing password", onboardType("OnboardingWithVendorThingIDByThing"), `{"vendorThingID":"new-1"}`, "", 400, "INVALID_INPUT_DATA", ""},
		{"missing owner", onboardType("OnboardingWithVendorThingIDByOwner"), `{"vendorThingID":"new-2","thingPassword":"y"}`, user, 400, "INVALID_INPUT_DATA", ""},
		{"bad layoutPosition", onboardType("OnboardingWithVendorThingIDByThing"), `{"vendorThingID":"new-3","thingPassword":"y","layoutPosition":"UP"}`, "", 400, "INVALID_INPUT_DATA", ""},
		{"thingProperties not an object", onboardType("OnboardingWithVendorThingIDByThing"), `{"vendorThingID":"new-4","thingPassword":"y","thingProperties":3}`, "", 400, "INVALID_INPUT_DATA", ""},
		{"body not JSON", onboardType("OnboardingWithVendorThingIDByThing"), `{"vendorThingID":`, "", 400, "INVALID_JSON", ""},
		{"unknown thing ID", onboardType("OnboardingWithThingIDByThing"), `{"thingID":"th.nope","thingPassword":"y"}`, "", 404, "THING_NOT_FOUND", ""},
		{"stranger onboards for another user", onboardType("OnboardingWithVendorThingIDByOwner"), `{"vendorThingID":"new-5","thingPassword":"y","owner":"user:{user}"}`, bob,
			401, "UNAUTHORIZED", "application/vnd.kii.UnauthorizedAccessException+json"},
		{"owner form without a user token", onboardType("OnboardingWithVendorThingIDByOwner"), `{"vendorThingID":"new-6","thingPassword":"y","owner":"user:{user}"}`, "Bearer {anon}",
			401, "UNAUTHORIZED", ""},
		{"owner form with a thing token", onboardType("OnboardingWithThingIDByOwner"), `{"thingID":"{thing}","thingPassword":"pass-1234","owner":"user:{user}"}`, "Bearer {token}",
			401, "UNAUTHORIZED", ""},
		{"bad token", onboardType("OnboardingWithVendorThingIDByThing"), `{"vendorThingID":"new-7","thingPassword":"y"}`, "Bearer nope", 403, "WRONG_TOKEN", ""},
		{"unknown gateway", onboardType("OnboardingEndNodeWithGatewayVendorThingID"), `{"gatewayVendorThingID":"nope","endNodeVendorThingID":"en-x","endNodePassword":"y","owner":"user:{user}"}`, user,
			404, "THING_NOT_FOUND", ""},
		{"gateway of another owner", onboardType("OnboardingEndNodeWithGatewayThingID"), `{"gatewayThingID":"` + gwID + `","endNodeVendorThingID":"en-y","endNodePassword":"y","owner":"user:{bob}"}`, bob,
			401, "UNAUTHORIZED", ""},
		{"end node without gateway", onboardType("OnboardingEndNodeWithGatewayThingID"), `{"endNodeVendorThingID":"en-z","endNodePassword":"y","owner":"user:{user}"}`, user,
			400, "INVALID_INPUT_DATA", ""},
	}
	bobID := do(t, "GET", f.n.base+"/api/apps/"+f.n.app.AppID+"/users/me", "", "Authorization", bob).Str(t, "userID")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var h []string
			if tc.auth != "" {
				h = []string{"Authorization", f.expandPlain(tc.auth)}
			}
			body := strings.ReplaceAll(tc.body, "{bob}", bobID)
			r := f.onboard(t, tc.mediaType, body, h...)
			wantStatus(t, r, tc.status)
			if got := r.JSON(t)["errorCode"]; got != tc.code {
				t.Errorf("errorCode = %v, want %s: %s", got, tc.code, r.Body)
			}
			if _, ok := r.JSON(t)["message"].(string); !ok {
				t.Errorf("no message: %s", r.Body)
			}
			if tc.ctype != "" && r.Header.Get("Content-Type") != tc.ctype {
				t.Errorf("Content-Type = %q, want %q", r.Header.Get("Content-Type"), tc.ctype)
			}
		})
	}
	// Nothing was registered by the failures.
	for _, v := range []string{"new-1", "new-2", "new-5", "new-6", "new-7", "en-x", "en-y", "en-z"} {
		r := do(t, "GET", f.n.base+"/api/apps/"+f.n.app.AppID+"/things/VENDOR_THING_ID:"+v, "", "Authorization", "Bearer "+f.adminToken)
		wantStatus(t, r, 404)
	}
}

// TestOnboardShapes pins the wire shape of onboarding answers in golden
// files (testdata/golden/onboard-*.json), as TestResponseShapes does;
// -update rewrites them.
func TestOnboardShapes(t *testing.T) { forEachStore(t, testOnboardShapes) }

func testOnboardShapes(t *testing.T, cfg config) {
	f := newFixture(t, cfg)
	seen := map[string]string{f.n.app.AppID: "<app>", f.thing.ThingID: "<thing>", f.userID: "<user>", f.thing.VendorID: "<vendor>"}
	check := func(name string, r response) response {
		t.Helper()
		return checkGolden(t, name, r, seen)
	}
	r := check("onboard-thing", f.onboard(t, onboardType("OnboardingWithVendorThingIDByThing"),
		`{"vendorThingID":"shape-1","thingPassword":"pw"}`, "Authorization", "Bearer "+f.anonToken))
	gw := r.Str(t, "thingID")
	check("onboard-owner", f.onboard(t, onboardType("OnboardingWithThingIDByOwner"),
		`{"thingID":"`+gw+`","thingPassword":"pw","owner":"user:{user}"}`, "Authorization", "Bearer "+f.userToken))
	check("onboard-end-node", f.onboard(t, onboardType("OnboardingEndNodeWithGatewayThingID"),
		`{"gatewayThingID":"`+gw+`","endNodeVendorThingID":"shape-2","endNodePassword":"pw","owner":"user:{user}"}`, "Authorization", "Bearer "+f.userToken))
	check("onboard-wrong-password", f.onboard(t, onboardType("OnboardingWithVendorThingIDByThing"), `{"vendorThingID":"shape-1","thingPassword":"nope"}`))
	check("onboard-unsupported-media-type", f.onboard(t, "text/plain", `{}`))
	check("onboard-invalid", f.onboard(t, onboardType("OnboardingWithVendorThingIDByOwner"), `{"vendorThingID":"shape-3"}`, "Authorization", "Bearer "+f.userToken))
}

// TestOnboardThenPush onboards a thing, connects a real MQTT client (3.1
// and 3.1.1) with nothing but the answer's mqttEndpoint, and receives a
// push of an object created in the thing's bucket.
func TestOnboardThenPush(t *testing.T) { forEachStore(t, testOnboardThenPush) }

func testOnboardThenPush(t *testing.T, cfg config) {
	f := newFixture(t, cfg)
	for _, protocol := range []uint{3, 4} {
		t.Run(fmt.Sprintf("mqtt protocol %d", protocol), func(t *testing.T) {
			vendor := fmt.Sprintf("push-%d", protocol)
			r := f.onboard(t, onboardType("OnboardingWithVendorThingIDByThing"),
				`{"vendorThingID":"`+vendor+`","thingPassword":"pw"}`, "Authorization", "Bearer "+f.anonToken)
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
			d := device{ThingID: ans.ThingID, VendorID: vendor, Token: ans.AccessToken, InstallationID: ep.InstallationID,
				Endpoint: kumo.MQTTEndpoint{MQTTTopic: ep.MQTTTopic, Username: ep.Username, Password: ep.Password}}
			_, in := connectDevice(t, fmt.Sprintf("tcp://%s:%d", ep.Host, ep.PortTCP), d, protocol)
			f.n.subscribe(d, "inbox")
			id := f.n.createObject(d, "inbox", `{"hello":"onboarded"}`)
			in.waitFor(t, "the push of object "+id, func(msgs []paho.Message) bool {
				_, ok := pushesByObject(t, msgs)[id]
				return ok
			})
		})
	}
}

func init() { volatile["endNodeThingID"] = true } // for the golden files of TestOnboardShapes

// TestOnboardOwnerDeletes checks that an onboarding owner may delete the
// thing (and a thing itself), a stranger not.
func TestOnboardOwnerDeletes(t *testing.T) { forEachStore(t, testOnboardOwnerDeletes) }

func testOnboardOwnerDeletes(t *testing.T, cfg config) {
	f := newFixture(t, cfg)
	app := f.n.base + "/api/apps/" + f.n.app.AppID
	r := f.onboard(t, onboardType("OnboardingWithVendorThingIDByOwner"),
		`{"vendorThingID":"del-1","thingPassword":"pw","owner":"user:{user}"}`, "Authorization", "Bearer "+f.userToken)
	wantStatus(t, r, 200)
	owned := r.Str(t, "thingID")
	r = f.onboard(t, onboardType("OnboardingWithVendorThingIDByThing"), `{"vendorThingID":"del-2","thingPassword":"pw"}`)
	wantStatus(t, r, 200)
	self, selfToken := r.Str(t, "thingID"), r.Str(t, "accessToken")

	wantStatus(t, do(t, "DELETE", app+"/things/"+owned, "", "Authorization", "Bearer "+f.thing.Token), 401) // another thing
	wantStatus(t, do(t, "DELETE", app+"/things/"+self, "", "Authorization", "Bearer "+f.userToken), 401)    // not its owner
	wantStatus(t, do(t, "DELETE", app+"/things/"+owned, "", "Authorization", "Bearer "+f.userToken), 204)
	wantStatus(t, do(t, "DELETE", app+"/things/"+self, "", "Authorization", "Bearer "+selfToken), 204)
	for _, id := range []string{owned, self} {
		wantStatus(t, do(t, "GET", app+"/things/"+id, "", "Authorization", "Bearer "+f.adminToken), 404)
	}
}

// TestOnboardConcurrently onboards one new thing from many requests at
// once: every one succeeds, with the same thing and endpoint.
func TestOnboardConcurrently(t *testing.T) { forEachStore(t, testOnboardConcurrently) }

func testOnboardConcurrently(t *testing.T, cfg config) {
	f := newFixture(t, cfg)
	const n = 8
	results := make(chan response, n)
	for range n {
		go func() {
			results <- f.onboard(t, onboardType("OnboardingWithVendorThingIDByThing"), `{"vendorThingID":"same","thingPassword":"pw"}`)
		}()
	}
	var first response
	for i := range n {
		r := <-results
		wantStatus(t, r, 200)
		if i == 0 {
			first = r
			continue
		}
		if r.Str(t, "thingID") != first.Str(t, "thingID") || !bytes.Equal(endpointOf(t, r), endpointOf(t, first)) {
			t.Errorf("two onboardings of one thing differ:\n%s\n%s", first.Body, r.Body)
		}
	}
}

// TestOnboardAnswerLines checks the answer's layout that the ebisu owner
// scripts rely on: "thingID" and "accessToken" each on a line of their
// own that ends in a comma.
func TestOnboardAnswerLines(t *testing.T) {
	f := newFixture(t, testConfig(t.TempDir()))
	r := f.onboard(t, onboardType("OnboardingWithVendorThingIDByThing"), `{"vendorThingID":"lines","thingPassword":"pw"}`)
	wantStatus(t, r, 200)
	for _, key := range []string{"thingID", "accessToken"} {
		found := false
		for _, line := range strings.Split(string(r.Body), "\n") {
			if strings.Contains(line, `"`+key+`" : "`) && strings.HasSuffix(line, `",`) {
				found = true
			}
		}
		if !found {
			t.Errorf("no line `\"%s\" : \"…\",` in\n%s", key, r.Body)
		}
	}
}
