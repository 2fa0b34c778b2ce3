package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
)

// TestTolerances covers the wire tolerances real Kii clients need.
func TestTolerances(t *testing.T) { forEachStore(t, testTolerances) }

func testTolerances(t *testing.T, cfg config) {
	f := newFixture(t, cfg)
	obj := "/api/apps/{app}/things/{thing}/buckets/tol/objects"
	auth := []string{"Authorization", thingAuth}
	f.run(t, []apiCase{
		{name: "media type in odd case with parameters", method: "POST", path: "/api/apps/{app}/things",
			body: `{"_vendorThingID":"odd-case","_password":"p"}`, headers: []string{"Content-Type", "Application/VND.KII.thingregistrationandauthorizationrequest+JSON; charset=UTF-8"},
			status: 201, ctype: "application/vnd.kii.ThingRegistrationAndAuthorizationResponse+json", bodyHas: []string{`"_accessToken" : "`}},
		{name: "no X-Kii headers at all", method: "POST", path: obj, body: `{}`, headers: auth, status: 201},
		{name: "app key never validated", method: "POST", path: obj, body: `{}`, headers: append([]string{"X-Kii-AppID", "{app}", "X-Kii-AppKey", "k"}, auth...), status: 201},
		{name: "app key in place of the app ID", method: "POST", path: "/api/apps/{key}/things/{thing}/buckets/tol/objects", body: `{}`, headers: auth, status: 201,
			bodyHas: []string{`"dataType" : "application/json"`}},
		{name: "double slash (kii_go)", method: "POST", path: "/api/apps/{app}//things/{thing}/buckets/tol/objects", body: `{}`, headers: auth, status: 201},
		{name: "unknown query parameters", method: "POST", path: obj + "?disable_cache=1700000000000", body: `{}`, headers: auth, status: 201},
		{name: "trailing slash", method: "POST", path: obj + "/", body: `{}`, headers: auth, status: 201},
		{name: "Accept of a vendor type is never 406", method: "GET", path: "/api/apps/{app}/things/{thing}",
			headers: append([]string{"Accept", "application/vnd.kii.ThingRetrievalResponse+json"}, auth...), status: 200},
		{name: "kii SDK headers ignored", method: "POST", path: obj, body: `{}`,
			headers: append([]string{"X-Kii-SDK", "sn=jsi;sv=2.4.19", "kii-m", "0", "userID", "x"}, auth...), status: 201},
		{name: "unknown path is a Kii 404", method: "GET", path: "/api/apps/{app}/nowhere", status: 404, code: "NOT_FOUND"},
		{name: "wrong method is a Kii 405", method: "PATCH", path: "/api/apps/{app}/installations", status: 405, code: "METHOD_NOT_ALLOWED"},
		{name: "unknown app", method: "POST", path: "/api/apps/nope/things/{thing}/buckets/tol/objects", body: `{}`, status: 404, code: "APP_NOT_FOUND"},
		{name: "CORS preflight", method: "OPTIONS", path: obj, headers: []string{"Origin", "http://x", "Access-Control-Request-Method", "POST",
			"Access-Control-Request-Headers", "authorization,content-type"}, status: 204,
			hdrEqual: map[string]string{"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Headers": "authorization,content-type"}},
	})

	n := f.n
	t.Run("absolute-form request line and chunked body (ebisu)", func(t *testing.T) {
		body := `{"a":1}`
		raw := fmt.Sprintf("POST http://%s%s HTTP/1.1\r\nHOST: %s\r\nX-Kii-Appid: %s\r\nX-Kii-Appkey: k\r\nauthorization: bearer %s\r\n"+
			"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: Close\r\n\r\n%x\r\n%s\r\n0\r\n\r\n",
			strings.TrimPrefix(n.base, "http://"), f.expand(obj), "example.com", n.app.AppID, f.thing.Token, len(body), body)
		resp := rawRequest(t, n, raw)
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 201 || resp.Header.Get("ETag") != `"1"` {
			t.Fatalf("status %d ETag %q: %s", resp.StatusCode, resp.Header.Get("ETag"), b)
		}
	})
	t.Run("empty chunked body (ebisu subscribe)", func(t *testing.T) {
		raw := fmt.Sprintf("PUT https://example.com%s HTTP/1.1\r\nHost: example.com\r\nAuthorization: Bearer %s\r\nTransfer-Encoding: chunked\r\nConnection: Close\r\n\r\n0\r\n\r\n",
			f.expand("/api/apps/{app}/things/{thing}/buckets/chunk/filters/all/push/subscriptions/things/{thing}"), f.thing.Token)
		resp := rawRequest(t, n, raw)
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 204 {
			t.Fatalf("status %d: %s", resp.StatusCode, b)
		}
	})
	t.Run("X-MQTT-TTL header spelled as Kii spells it", func(t *testing.T) {
		raw := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nConnection: Close\r\n\r\n",
			f.expand("/api/apps/{app}/installations/{inst}/mqtt-endpoint"), f.thing.Token)
		conn := rawConn(t, n)
		conn.Write([]byte(raw))
		all, _ := io.ReadAll(conn)
		if !strings.Contains(string(all), "\r\nX-MQTT-TTL: 2147483647\r\n") {
			t.Errorf("response lacks the literal X-MQTT-TTL header:\n%s", all)
		}
	})
	t.Run("responses are pretty-printed the Kii way", func(t *testing.T) {
		r := do(t, "POST", n.base+f.expand(obj), `{}`, "Authorization", "Bearer "+f.thing.Token)
		if !strings.HasPrefix(string(r.Body), "{\n  \"") || !strings.Contains(string(r.Body), `" : `) {
			t.Errorf("body not in Kii's style:\n%s", r.Body)
		}
		var m map[string]any
		if err := json.Unmarshal(r.Body, &m); err != nil {
			t.Errorf("pretty body is not valid JSON: %v", err)
		}
	})
}

func TestRegistrationAPI(t *testing.T) { forEachStore(t, testRegistrationAPI) }

func testRegistrationAPI(t *testing.T, cfg config) {
	f := newFixture(t, cfg)
	things := "/api/apps/{app}/things"
	f.run(t, []apiCase{
		{name: "thing with every field", method: "POST", path: things, headers: []string{"Content-Type", "application/vnd.kii.ThingRegistrationRequest+json"},
			body: `{"_vendorThingID":"full.thing-1_x","_password":"p","_thingType":"CAMERA","_vendor":"acme","_firmwareVersion":"1.0","_productName":"cam",` +
				`"_lot":"L1","_stringField1":"s1","_numberField1":42,"_layoutPosition":"GATEWAY","custom":{"deep":[1,2]},"_ignored":"x"}`,
			status: 201, ctype: "application/vnd.kii.ThingRegistrationResponse+json",
			bodyHas: []string{`"_thingType" : "CAMERA"`, `"_numberField1" : 42`, `"_layoutPosition" : "GATEWAY"`, `"custom" : {`, `"_created" : `, `"_disabled" : false`, `"_thingID" : "th.`}},
		{name: "plain JSON registers without a token", method: "POST", path: things, body: `{"_vendorThingID":"plain","_password":"p"}`, status: 201},
		{name: "duplicate vendor thing ID", method: "POST", path: things, body: `{"_vendorThingID":"{vendor}","_password":"p"}`,
			status: 409, code: "THING_ALREADY_EXISTS", ctype: "application/vnd.kii.ThingAlreadyExistsException+json"},
		{name: "missing password", method: "POST", path: things, body: `{"_vendorThingID":"nopass"}`, status: 400, code: "INVALID_INPUT_DATA", bodyHas: []string{`"_password"`}},
		{name: "bad vendor thing ID", method: "POST", path: things, body: `{"_vendorThingID":"has space","_password":"p"}`, status: 400, code: "INVALID_INPUT_DATA"},
		{name: "number field as a string", method: "POST", path: things, body: `{"_vendorThingID":"nf","_password":"p","_numberField1":"42"}`, status: 400, code: "INVALID_INPUT_DATA"},
		{name: "bad layout position", method: "POST", path: things, body: `{"_vendorThingID":"lp","_password":"p","_layoutPosition":"TOP"}`, status: 400, code: "INVALID_INPUT_DATA"},
		{name: "not JSON", method: "POST", path: things, body: `nope`, status: 400, code: "INVALID_JSON"},
		{name: "user registration", method: "POST", path: "/api/apps/{app}/users", body: `{"loginName":"bob","password":"bob-pass","emailAddress":"bob@example.com","country":"JP"}`,
			status: 201, ctype: "application/vnd.kii.RegistrationResponse+json", bodyHas: []string{`"loginName" : "bob"`, `"userID" : "`, `"_hasPassword" : true`}},
		{name: "duplicate login name", method: "POST", path: "/api/apps/{app}/users", body: `{"loginName":"alice","password":"alice-pass"}`, status: 409, code: "USER_ALREADY_EXISTS"},
		{name: "short password", method: "POST", path: "/api/apps/{app}/users", body: `{"loginName":"carol","password":"abc"}`, status: 400, code: "PASSWORD_TOO_SHORT"},
		{name: "user reads itself", method: "GET", path: "/api/apps/{app}/users/me", headers: []string{"Authorization", "Bearer {usertoken}"}, status: 200,
			bodyHas: []string{`"favorite" : "tea"`, `"displayName" : "Alice"`}},
		{name: "user by login name", method: "GET", path: "/api/apps/{app}/users/LOGIN_NAME:alice", headers: []string{"Authorization", "Bearer {admin}"}, status: 200},
		{name: "unknown user", method: "GET", path: "/api/apps/{app}/users/LOGIN_NAME:nobody", headers: []string{"Authorization", "Bearer {admin}"}, status: 404, code: "USER_NOT_FOUND"},
		{name: "unknown account type", method: "GET", path: "/api/apps/{app}/users/FAX:123", headers: []string{"Authorization", "Bearer {admin}"}, status: 400, code: "ACCOUNT_TYPE_NOT_SUPPORTED"},
	})
}

// TestHTTP10StatusLine sends what KiiThingSDK-Embedded sends (HTTP/1.0, an
// absolute URI, lower-case headers, Content-Length): its parser looks for
// the literal "HTTP/1.1 " status prefix, and, being HTTP/1.0, reads the
// body until the server closes the connection.
func TestHTTP10StatusLine(t *testing.T) {
	n := mustStartNode(t)
	d := n.mustDevice("http10")
	host := strings.TrimPrefix(n.base, "http://")
	body := `{"value":1}`
	for _, tc := range []struct{ name, raw, want string }{
		{"HTTP/1.0 write", fmt.Sprintf("POST %s/api/apps/%s/things/%s/buckets/b10/objects HTTP/1.0\r\nhost: %s\r\nauthorization: Bearer %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s",
			n.base, n.app.AppID, d.ThingID, host, d.Token, len(body), body), "HTTP/1.1 201 "},
		{"HTTP/1.0 error", fmt.Sprintf("GET /api/apps/%s/nowhere HTTP/1.0\r\n\r\n", n.app.AppID), "HTTP/1.1 404 "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := rawConn(t, n)
			if _, err := io.WriteString(conn, tc.raw); err != nil {
				t.Fatal(err)
			}
			all, err := io.ReadAll(conn) // ends only when the server closes
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if !strings.HasPrefix(string(all), tc.want) {
				t.Fatalf("response starts %q, want %q", firstLine(all), tc.want)
			}
			if strings.Contains(strings.ToLower(string(all)), "transfer-encoding: chunked") {
				t.Errorf("an HTTP/1.0 client got a chunked body:\n%s", all)
			}
		})
	}
	t.Run("HTTP/1.1 keeps the connection", func(t *testing.T) {
		resp := rawRequest(t, n, fmt.Sprintf("GET /api/apps/%s/nowhere HTTP/1.1\r\nHost: %s\r\n\r\n", n.app.AppID, host))
		if resp.Proto != "HTTP/1.1" || resp.Close {
			t.Errorf("HTTP/1.1 response %s, close %v; want HTTP/1.1 kept alive", resp.Proto, resp.Close)
		}
	})
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\r\n")
	return s
}
