package main

import (
	"encoding/json"
	"testing"
)

func TestInstallationAPI(t *testing.T) { forEachStore(t, testInstallationAPI) }

func testInstallationAPI(t *testing.T, cfg config) {
	f := newFixture(t, cfg)
	inst := "/api/apps/{app}/installations"
	auth := []string{"Authorization", thingAuth, "Content-Type", "application/vnd.kii.InstallationCreationRequest+json"}
	f.run(t, []apiCase{
		{name: "MQTT install is idempotent per owner", method: "POST", path: inst, body: `{"deviceType":"MQTT","development":false}`, headers: auth,
			status: 201, ctype: "application/vnd.kii.InstallationCreationResponse+json", bodyHas: []string{`"installationID" : "{inst}"`},
			hdrEqual: map[string]string{"Location": "/apps/{app}/installations/{inst}"}},
		{name: "development as a string (ebisu)", method: "POST", path: inst, body: `{"deviceType":"MQTT","development":"true"}`, headers: auth, status: 201},
		{name: "development as a bad string", method: "POST", path: inst, body: `{"deviceType":"MQTT","development":"maybe"}`, headers: auth,
			status: 400, code: "INVALID_INPUT_DATA", bodyHas: []string{`"development" : "must be true or false"`}},
		{name: "installationType for deviceType (Embedded-Core)", method: "POST", path: inst, body: `{"installationType":"MQTT","development":false}`, headers: auth,
			status: 201, bodyHas: []string{`"installationID" : "{inst}"`}},
		{name: "no type from a thing means MQTT", method: "POST", path: inst, body: `{}`, headers: auth, status: 201, bodyHas: []string{`"installationID" : "{inst}"`}},
		{name: "unknown device type", method: "POST", path: inst, body: `{"deviceType":"PAGER"}`, headers: auth, status: 400, code: "INVALID_INPUT_DATA"},
		{name: "phone install needs a registration ID", method: "POST", path: inst, body: `{"deviceType":"ANDROID"}`, headers: auth,
			status: 400, code: "INVALID_INPUT_DATA", bodyHas: []string{`"invalidFields"`, `"installationRegistrationID"`}},
		{name: "phone install", method: "POST", path: inst, body: `{"deviceType":"IOS","installationRegistrationID":"apns-token-1"}`, headers: auth, status: 201},
		{name: "get by device type and registration ID", method: "GET", path: inst + "/IOS:apns-token-1", headers: []string{"Authorization", thingAuth},
			status: 200, ctype: "application/vnd.kii.InstallationRetrievalResponse+json", bodyHas: []string{`"deviceType" : "IOS"`, `"thingID" : "{thing}"`}},
		{name: "anonymous may not install", method: "POST", path: inst, body: `{"deviceType":"MQTT"}`, status: 401, code: "UNAUTHORIZED"},
		{name: "admin installs for a thing", method: "POST", path: inst, body: `{"deviceType":"MQTT","thingID":"{thing}"}`,
			headers: []string{"Authorization", "Bearer {admin}"}, status: 201, bodyHas: []string{`"installationID" : "{inst}"`}},
		{name: "admin installs for a user", method: "POST", path: inst, body: `{"deviceType":"MQTT","userID":"{user}"}`,
			headers: []string{"Authorization", "Bearer {admin}"}, status: 201},
		{name: "admin must name an owner", method: "POST", path: inst, body: `{"deviceType":"MQTT"}`,
			headers: []string{"Authorization", "Bearer {admin}"}, status: 400, code: "INVALID_INPUT_DATA"},
		{name: "admin names an unknown thing", method: "POST", path: inst, body: `{"deviceType":"MQTT","thingID":"th.nope"}`,
			headers: []string{"Authorization", "Bearer {admin}"}, status: 404, code: "THING_NOT_FOUND"},
		{name: "get by ID", method: "GET", path: inst + "/{inst}", headers: []string{"Authorization", thingAuth}, status: 200,
			bodyHas: []string{`"deviceType" : "MQTT"`, `"development" : true`, `"thingID" : "{thing}"`}},
		{name: "another thing may not read it", method: "GET", path: inst + "/{inst}", headers: []string{"Authorization", "Bearer {othertoken}"}, status: 401, code: "UNAUTHORIZED"},
		{name: "missing installation", method: "GET", path: inst + "/nope", headers: []string{"Authorization", thingAuth}, status: 404,
			code: "INSTALLATION_NOT_FOUND", ctype: "application/vnd.kii.InstallationNotFoundException+json", bodyHas: []string{`"installationID" : "nope"`}},
		{name: "mqtt-endpoint of a phone installation", method: "GET", path: inst + "/IOS:apns-token-1/mqtt-endpoint", headers: []string{"Authorization", thingAuth},
			status: 404, code: "MQTT_ENDPOINT_NOT_FOUND"},
		{name: "mqtt-endpoint of another's installation", method: "GET", path: inst + "/{inst}/mqtt-endpoint", headers: []string{"Authorization", "Bearer {othertoken}"},
			status: 401, code: "UNAUTHORIZED"},
		{name: "delete by registration ID", method: "DELETE", path: inst + "/IOS:apns-token-1", headers: []string{"Authorization", thingAuth}, status: 204},
		{name: "deleted is gone", method: "DELETE", path: inst + "/IOS:apns-token-1", headers: []string{"Authorization", thingAuth}, status: 404, code: "INSTALLATION_NOT_FOUND"},
	})

	t.Run("mqtt-endpoint fields and types", func(t *testing.T) {
		r := do(t, "GET", f.n.base+f.expand(inst+"/{inst}/mqtt-endpoint"), "", "Authorization", "Bearer "+f.thing.Token)
		wantStatus(t, r, 200)
		if ct := r.Header.Get("Content-Type"); ct != "application/vnd.kii.MQTTEndpointResponse+json" {
			t.Errorf("Content-Type = %q", ct)
		}
		if got := r.Header.Get("X-MQTT-TTL"); got != "2147483647" {
			t.Errorf("X-MQTT-TTL header = %q, want 2147483647", got)
		}
		var m map[string]any
		d := json.NewDecoder(bytesReader(r.Body))
		d.UseNumber()
		d.Decode(&m)
		for _, k := range []string{"installationID", "username", "password", "mqttTopic", "host"} {
			if s, _ := m[k].(string); s == "" {
				t.Errorf("%s missing or empty: %s", k, r.Body)
			}
		}
		for _, k := range []string{"portTCP", "portSSL", "portWS", "portWSS", "X-MQTT-TTL"} {
			n, ok := m[k].(json.Number)
			if _, err := n.Int64(); !ok || err != nil || n == "0" {
				t.Errorf("%s = %v, want a non-zero JSON integer", k, m[k])
			}
		}
		topic, user, pass := m["mqttTopic"].(string), m["username"].(string), m["password"].(string)
		if len(topic) != 23 || !alnum(topic) {
			t.Errorf("mqttTopic %q: want 23 alphanumerics", topic)
		}
		if len(user) > 64 || user[:len(f.n.app.AppID)+1] != f.n.app.AppID+"-" {
			t.Errorf("username %q: want {appID}-… within 64 bytes", user)
		}
		if len(pass) != 64 || !alnum(pass) {
			t.Errorf("password %q: want 64 letters", pass)
		}
		if m["host"] != "127.0.0.1" {
			t.Errorf("host = %v, want the host the client used (127.0.0.1)", m["host"])
		}
	})

	t.Run("public host and ports override", func(t *testing.T) {
		cfg := newStoreLike(t, cfg)
		cfg.PublicHost, cfg.PublicPort, cfg.PublicTLSPort, cfg.PublicWSPort, cfg.PublicWSSPort = "mqtt.example.com", 1883, 8883, 12470, 12473
		n := mustStartNodeConfig(t, cfg)
		n.app, _ = n.db.Apps.CreateApp(t.Context(), kumoAppCreate("pub"))
		d := n.mustDevice("pub-thing")
		if d.Endpoint.Host != "mqtt.example.com" || d.Endpoint.PortTCP != 1883 || d.Endpoint.PortSSL != 8883 || d.Endpoint.PortWS != 12470 || d.Endpoint.PortWSS != 12473 {
			t.Errorf("endpoint = %+v", d.Endpoint)
		}
	})
}

func TestSubscriptionAPI(t *testing.T) { forEachStore(t, testSubscriptionAPI) }

func testSubscriptionAPI(t *testing.T, cfg config) {
	f := newFixture(t, cfg)
	sub := "/api/apps/{app}/things/{thing}/buckets/sb/filters/all/push/subscriptions/things/{thing}"
	appSub := "/api/apps/{app}/buckets/asb/filters/all/push/subscriptions/things/{thing}"
	auth := []string{"Authorization", thingAuth}
	f.run(t, []apiCase{
		{name: "not subscribed yet", method: "GET", path: sub, headers: auth, status: 404, code: "PUSH_SUBSCRIPTION_NOT_FOUND"},
		{name: "subscribe", method: "PUT", path: sub, headers: auth, status: 204},
		{name: "subscribe again", method: "PUT", path: sub, headers: auth, status: 409, code: "PUSH_SUBSCRIPTION_ALREADY_EXISTS",
			ctype: "application/vnd.kii.PushSubscriptionAlreadyExistsException+json", bodyHas: []string{`"objectScope"`}},
		{name: "subscribed", method: "GET", path: sub, headers: auth, status: 204},
		{name: "unsubscribe", method: "DELETE", path: sub, headers: auth, status: 204},
		{name: "unsubscribe again", method: "DELETE", path: sub, headers: auth, status: 404, code: "PUSH_SUBSCRIPTION_NOT_FOUND"},
		{name: "POST form subscribes the caller", method: "POST", path: "/api/apps/{app}/things/{thing}/buckets/sb/filters/all/push/subscriptions/things", headers: auth, status: 204},
		{name: "POST form again", method: "POST", path: "/api/apps/{app}/things/{thing}/buckets/sb/filters/all/push/subscriptions/things", headers: auth, status: 409, code: "PUSH_SUBSCRIPTION_ALREADY_EXISTS"},
		{name: "POST form for users needs a user", method: "POST", path: "/api/apps/{app}/buckets/asb/filters/all/push/subscriptions/users", headers: auth, status: 401, code: "UNAUTHORIZED"},
		{name: "app-scope bucket", method: "PUT", path: appSub, headers: auth, status: 204},
		{name: "app-scope bucket with the app key in the path", method: "GET", path: "/api/apps/{key}/buckets/asb/filters/all/push/subscriptions/things/{thing}", headers: auth, status: 204},
		{name: "chunked-style empty body with a Content-Type", method: "PUT", path: "/api/apps/{app}/buckets/asb2/filters/all/push/subscriptions/things/{thing}",
			headers: []string{"Authorization", thingAuth, "Content-Type", "application/json"}, status: 204},
		{name: "vendor thing ID as subscriber", method: "PUT", path: "/api/apps/{app}/buckets/asb3/filters/all/push/subscriptions/things/VENDOR_THING_ID:{vendor}", headers: auth, status: 204},
		{name: "another thing may not subscribe me", method: "PUT", path: "/api/apps/{app}/buckets/asb/filters/all/push/subscriptions/things/{thing}",
			headers: []string{"Authorization", "Bearer {othertoken}"}, status: 401, code: "UNAUTHORIZED"},
		{name: "another thing may not use my bucket", method: "PUT", path: "/api/apps/{app}/things/{thing}/buckets/sb/filters/all/push/subscriptions/things/{other}",
			headers: []string{"Authorization", "Bearer {othertoken}"}, status: 401, code: "UNAUTHORIZED"},
		{name: "admin subscribes a thing", method: "PUT", path: "/api/apps/{app}/buckets/asb/filters/all/push/subscriptions/things/{other}",
			headers: []string{"Authorization", "Bearer {admin}"}, status: 204},
		{name: "admin subscribes an unknown thing", method: "PUT", path: "/api/apps/{app}/buckets/asb/filters/all/push/subscriptions/things/th.nope",
			headers: []string{"Authorization", "Bearer {admin}"}, status: 404, code: "THING_NOT_FOUND"},
		{name: "user subscribes itself", method: "PUT", path: "/api/apps/{app}/buckets/asb/filters/all/push/subscriptions/users/{user}",
			headers: []string{"Authorization", "Bearer {usertoken}"}, status: 204},
		{name: "user subscription exists", method: "GET", path: "/api/apps/{app}/buckets/asb/filters/all/push/subscriptions/users/{user}",
			headers: []string{"Authorization", "Bearer {usertoken}"}, status: 204},
		{name: "unknown filter", method: "PUT", path: "/api/apps/{app}/buckets/asb/filters/mine/push/subscriptions/things/{thing}", headers: auth,
			status: 404, code: "FILTER_NOT_FOUND"},
		{name: "anonymous", method: "PUT", path: appSub, status: 401, code: "UNAUTHORIZED"},
	})
}

func alnum(s string) bool {
	for _, c := range s {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}
