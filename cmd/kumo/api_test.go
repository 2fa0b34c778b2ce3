package main

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"github.com/kumo-iot/kumo"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// apiCase is one request and what must come back.
type apiCase struct {
	name     string
	method   string
	path     string // below the base URL; {app} {key} {thing} {vendor} {token} {other} {inst} {user} are replaced
	body     string
	headers  []string
	status   int
	code     string // errorCode of an error response
	ctype    string // expected Content-Type, when set
	bodyHas  []string
	hdrEqual map[string]string
}

// fixture is the state the API table tests run against.
type fixture struct {
	n                     *testNode
	thing, other          device
	userID, userToken     string
	adminToken, anonToken string
	foreignToken          string // a thing token of another app
}

// newFixture starts a node on cfg's store and sets the fixture up on it.
func newFixture(t *testing.T, cfg config) *fixture {
	n := mustStartNodeConfig(t, cfg)
	f := &fixture{n: n, thing: n.mustDevice("fx-thing"), other: n.mustDevice("fx-other")}
	r := do(t, "POST", n.base+"/api/apps/"+n.app.AppID+"/users", `{"loginName":"alice","password":"alice-pass","displayName":"Alice","favorite":"tea"}`,
		"Content-Type", "application/vnd.kii.RegistrationAndAuthorizationRequest+json")
	wantStatus(t, r, 201)
	f.userID, f.userToken = r.Str(t, "userID"), r.Str(t, "_accessToken")
	r = do(t, "POST", n.base+"/api/apps/"+n.app.AppID+"/oauth2/token",
		fmt.Sprintf(`{"grant_type":"client_credentials","client_id":%q,"client_secret":%q}`, n.app.ClientID, n.app.ClientSecret))
	wantStatus(t, r, 200)
	f.adminToken = r.Str(t, "access_token")
	r = do(t, "POST", n.base+"/api/apps/"+n.app.AppID+"/oauth2/token",
		fmt.Sprintf(`{"grant_type":"client_credentials","client_id":%q,"client_secret":"dummy"}`, n.app.AppID))
	wantStatus(t, r, 200)
	f.anonToken = r.Str(t, "access_token")
	other, err := n.db.Apps.CreateApp(t.Context(), kumo.AppCreate{Name: "other"})
	if err != nil {
		t.Fatal(err)
	}
	r = do(t, "POST", n.base+"/api/apps/"+other.AppID+"/things", `{"_vendorThingID":"fx-thing","_password":"pass-1234"}`,
		"Content-Type", "application/vnd.kii.ThingRegistrationAndAuthorizationRequest+json")
	wantStatus(t, r, 201)
	f.foreignToken = r.Str(t, "_accessToken")
	return f
}

func (f *fixture) expand(s string) string {
	s = f.expandPlain(s)
	if i := strings.Index(s, "{basic:"); i >= 0 {
		j := strings.Index(s[i:], "}") + i
		s = s[:i] + base64.StdEncoding.EncodeToString([]byte(s[i+len("{basic:"):j])) + s[j+1:]
	}
	return s
}

func (f *fixture) expandPlain(s string) string {
	return strings.NewReplacer("{app}", f.n.app.AppID, "{key}", f.n.app.AppKey, "{thing}", f.thing.ThingID,
		"{vendor}", f.thing.VendorID, "{token}", f.thing.Token, "{other}", f.other.ThingID, "{othertoken}", f.other.Token,
		"{inst}", f.thing.InstallationID, "{user}", f.userID, "{usertoken}", f.userToken, "{admin}", f.adminToken,
		"{anon}", f.anonToken, "{foreign}", f.foreignToken, "{clientid}", f.n.app.ClientID, "{secret}", f.n.app.ClientSecret).Replace(s)
}

func (f *fixture) run(t *testing.T, cases []apiCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hs := make([]string, len(tc.headers))
			for i, h := range tc.headers {
				hs[i] = f.expand(h)
			}
			r := do(t, tc.method, f.n.base+f.expand(tc.path), f.expand(tc.body), hs...)
			if r.Status != tc.status {
				t.Fatalf("status = %d, want %d; body: %s", r.Status, tc.status, r.Body)
			}
			if tc.code != "" {
				m := r.JSON(t)
				if m["errorCode"] != tc.code {
					t.Errorf("errorCode = %v, want %s; body: %s", m["errorCode"], tc.code, r.Body)
				}
				if _, ok := m["message"].(string); !ok {
					t.Errorf("error body has no message: %s", r.Body)
				}
				if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/vnd.kii.") || !strings.HasSuffix(ct, "Exception+json") {
					t.Errorf("error Content-Type = %q, want application/vnd.kii.<Name>Exception+json", ct)
				}
			} else if r.Status < 300 && len(r.Body) > 0 && strings.Contains(string(r.Body), `"errorCode"`) {
				t.Errorf("a 2xx body must never carry errorCode: %s", r.Body)
			}
			if tc.ctype != "" && r.Header.Get("Content-Type") != f.expand(tc.ctype) {
				t.Errorf("Content-Type = %q, want %q", r.Header.Get("Content-Type"), f.expand(tc.ctype))
			}
			for _, s := range tc.bodyHas {
				if !strings.Contains(string(r.Body), f.expand(s)) {
					t.Errorf("body lacks %q: %s", f.expand(s), r.Body)
				}
			}
			for k, v := range tc.hdrEqual {
				if got := r.Header.Get(k); got != f.expand(v) {
					t.Errorf("header %s = %q, want %q", k, got, f.expand(v))
				}
			}
		})
	}
}

const (
	jsonCT    = "application/json"
	thingAuth = "Bearer {token}"
)

func TestTokenAPI(t *testing.T) { forEachStore(t, testTokenAPI) }

func testTokenAPI(t *testing.T, cfg config) {
	f := newFixture(t, cfg)
	f.run(t, []apiCase{
		{name: "thing login by vendor thing ID", method: "POST", path: "/api/apps/{app}/oauth2/token",
			body: `{"username":"VENDOR_THING_ID:{vendor}","password":"pass-1234","grant_type":"password"}`, headers: []string{"Content-Type", "application/vnd.kii.OauthTokenRequest+json"},
			status: 200, ctype: jsonCT, bodyHas: []string{`"id" : "{thing}"`, `"token_type" : "bearer"`, `"expires_in" : 2147483647`, `"access_token" : "`}},
		{name: "thing login by thing ID without grant_type", method: "POST", path: "/api/apps/{app}/oauth2/token",
			body: `{"username":"{thing}","password":"pass-1234"}`, status: 200, bodyHas: []string{`"id" : "{thing}"`}},
		{name: "app-less path with X-Kii-AppID", method: "POST", path: "/api/oauth2/token",
			body: `{"username":"VENDOR_THING_ID:{vendor}","password":"pass-1234"}`, headers: []string{"X-Kii-AppID", "{app}", "X-Kii-AppKey", "k"}, status: 200},
		{name: "app-less path, lower-case header name", method: "POST", path: "/api/oauth2/token",
			body: `{"username":"alice","password":"alice-pass"}`, headers: []string{"x-kii-appid", "{app}"}, status: 200, bodyHas: []string{`"id" : "{user}"`}},
		{name: "app-less path with Basic app credentials", method: "POST", path: "/api/oauth2/token",
			body: `{"username":"alice","password":"alice-pass"}`, headers: []string{"Authorization", "Basic " + basic("{app}:anything")}, status: 200},
		{name: "app-less path without app", method: "POST", path: "/api/oauth2/token",
			body: `{"username":"alice","password":"alice-pass"}`, status: 404, code: "APP_NOT_FOUND"},
		{name: "form-encoded body", method: "POST", path: "/api/apps/{app}/oauth2/token",
			body: `username=VENDOR_THING_ID%3A{vendor}&password=pass-1234&grant_type=password`, headers: []string{"Content-Type", "application/x-www-form-urlencoded"}, status: 200},
		{name: "admin client credentials", method: "POST", path: "/api/apps/{app}/oauth2/token",
			body: `{"grant_type":"client_credentials","client_id":"{clientid}","client_secret":"{secret}"}`, status: 200, bodyHas: []string{`"id" : "{clientid}"`}},
		{name: "admin without grant_type", method: "POST", path: "/api/apps/{app}/oauth2/token",
			body: `{"client_id":"{clientid}","client_secret":"{secret}"}`, status: 200},
		{name: "admin wrong secret", method: "POST", path: "/api/apps/{app}/oauth2/token",
			body: `{"grant_type":"client_credentials","client_id":"{clientid}","client_secret":"nope"}`, status: 400, code: "invalid_grant"},
		{name: "ebisu app-level token with a dummy secret and no headers", method: "POST", path: "/api/apps/{app}/oauth2/token",
			body: `{"grant_type":"client_credentials","client_id":"{app}","client_secret":"dummy"}`, headers: []string{"Content-Type", "application/json"}, status: 200},
		{name: "wrong password", method: "POST", path: "/api/apps/{app}/oauth2/token",
			body: `{"username":"VENDOR_THING_ID:{vendor}","password":"wrong"}`, status: 400, code: "invalid_grant",
			bodyHas: []string{`"error_description" : "The user was not found or a wrong password was provided"`, `"error" : "invalid_grant"`}},
		{name: "unknown thing", method: "POST", path: "/api/apps/{app}/oauth2/token",
			body: `{"username":"VENDOR_THING_ID:nobody","password":"x"}`, status: 400, code: "invalid_grant"},
		{name: "unknown user", method: "POST", path: "/api/apps/{app}/oauth2/token",
			body: `{"username":"bob","password":"x"}`, status: 400, code: "invalid_grant"},
		{name: "unknown app", method: "POST", path: "/api/apps/nosuchapp/oauth2/token",
			body: `{"username":"bob","password":"x"}`, status: 404, code: "APP_NOT_FOUND"},
		{name: "malformed JSON", method: "POST", path: "/api/apps/{app}/oauth2/token", body: `{"username":`, status: 400, code: "INVALID_JSON"},
		{name: "refresh not enabled", method: "POST", path: "/api/apps/{app}/oauth2/token",
			body: `{"grant_type":"refresh_token","refresh_token":"abc"}`, status: 400, code: "invalid_grant"},
	})
}

func TestAuthorizationRules(t *testing.T) { forEachStore(t, testAuthorizationRules) }

func testAuthorizationRules(t *testing.T, cfg config) {
	f := newFixture(t, cfg)
	obj := "/api/apps/{app}/things/{thing}/buckets/b1/objects"
	f.run(t, []apiCase{
		{name: "bad token is 403 WRONG_TOKEN", method: "POST", path: obj, body: `{}`, headers: []string{"Authorization", "Bearer nope"},
			status: 403, code: "WRONG_TOKEN", ctype: "application/vnd.kii.WrongTokenException+json", bodyHas: []string{`"appID" : "{app}"`}},
		{name: "not allowed is 401 UNAUTHORIZED", method: "POST", path: obj, body: `{}`, headers: []string{"Authorization", "Bearer {othertoken}"},
			status: 401, code: "UNAUTHORIZED", ctype: "application/vnd.kii.UnauthorizedAccessException+json", bodyHas: []string{`"authenticatedPrincipalID" : "{other}"`}},
		{name: "anonymous may not write a thing's bucket", method: "POST", path: obj, body: `{}`, status: 401, code: "UNAUTHORIZED"},
		{name: "app-level token is anonymous", method: "POST", path: obj, body: `{}`, headers: []string{"Authorization", "Bearer {anon}"}, status: 401, code: "UNAUTHORIZED"},
		{name: "admin may write a thing's bucket", method: "POST", path: obj, body: `{}`, headers: []string{"Authorization", "Bearer {admin}"}, status: 201},
		{name: "lower-case bearer scheme", method: "POST", path: obj, body: `{}`, headers: []string{"Authorization", "bearer {token}"}, status: 201},
		{name: "upper-case bearer scheme", method: "POST", path: obj, body: `{}`, headers: []string{"authorization", "BEARER {token}"}, status: 201},
		{name: "token of another app", method: "POST", path: obj, body: `{}`, headers: []string{"Authorization", "Bearer {foreign}"}, status: 403, code: "WRONG_TOKEN"},
		{name: "anonymous may write no app bucket", method: "POST", path: "/api/apps/{app}/buckets/open/objects", body: `{}`, status: 401, code: "UNAUTHORIZED"},
		{name: "a user may write an app bucket", method: "POST", path: "/api/apps/{app}/buckets/open/objects", body: `{}`, headers: []string{"Authorization", "Bearer {usertoken}"}, status: 201},
		{name: "a user may write its own bucket via me", method: "POST", path: "/api/apps/{app}/users/me/buckets/mine/objects", body: `{}`,
			headers: []string{"Authorization", "Bearer {usertoken}"}, status: 201, hdrEqual: map[string]string{"ETag": `"1"`}},
		{name: "a thing may not write a user's bucket", method: "POST", path: "/api/apps/{app}/users/{user}/buckets/mine/objects", body: `{}`,
			headers: []string{"Authorization", "Bearer {token}"}, status: 401, code: "UNAUTHORIZED"},
		{name: "users/me needs a user", method: "POST", path: "/api/apps/{app}/users/me/buckets/mine/objects", body: `{}`,
			headers: []string{"Authorization", "Bearer {token}"}, status: 401, code: "UNAUTHORIZED"},
		{name: "thing read by itself", method: "GET", path: "/api/apps/{app}/things/{thing}", headers: []string{"Authorization", thingAuth}, status: 200,
			ctype: "application/vnd.kii.ThingRetrievalResponse+json", bodyHas: []string{`"_vendorThingID" : "fx-thing"`, `"_online" : false`}},
		{name: "thing read by another thing", method: "GET", path: "/api/apps/{app}/things/{thing}", headers: []string{"Authorization", "Bearer {othertoken}"}, status: 401, code: "UNAUTHORIZED"},
		{name: "thing read by vendor thing ID", method: "GET", path: "/api/apps/{app}/things/VENDOR_THING_ID:{vendor}", headers: []string{"Authorization", "Bearer {admin}"}, status: 200},
		{name: "unknown thing", method: "GET", path: "/api/apps/{app}/things/VENDOR_THING_ID:nope", headers: []string{"Authorization", "Bearer {admin}"},
			status: 404, code: "THING_NOT_FOUND", bodyHas: []string{`"field" : "vendorThingID"`, `"value" : "nope"`}},
	})
}

// basic is the Basic credential of s, after expanding placeholders later:
// it encodes the placeholder text, so expand first.
func basic(s string) string { return "{basic:" + s + "}" }

// rawRequest sends raw bytes to the API and returns the response.
func rawRequest(t *testing.T, n *testNode, raw string) *http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(n.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// rawConn dials the API.
func rawConn(t *testing.T, n *testNode) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(n.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	return conn
}
