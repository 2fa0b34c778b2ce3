package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files of TestResponseShapes")

// TestResponseShapes pins the wire shape of the API's answers, success and
// error, in golden files (testdata/golden/{name}.json: status,
// Content-Type and body). IDs, tokens and times are replaced by
// placeholders, so the files hold what a client parses: which keys, of
// which types, under which media type. Both stores must give the same
// files. Rewrite them with go test ./cmd/kumo -run TestResponseShapes -update.
func TestResponseShapes(t *testing.T) { forEachStore(t, testResponseShapes) }

// volatile are the keys whose values differ from run to run: strings
// become "<key>", numbers 0.
var volatile = map[string]bool{
	"userID": true, "_thingID": true, "thingID": true, "groupID": true, "objectID": true, "_id": true,
	"installationID": true, "installationRegistrationID": true, "access_token": true, "_accessToken": true,
	"_refreshToken": true, "refresh_token": true, "id": true, "mqttTopic": true, "username": true, "password": true,
	"publicationID": true, "url": true, "uploadID": true, "nextPaginationKey": true, "paginationKey": true,
	"owner": true, "_owner": true, "host": true, "appID": true, "authenticatedAppID": true, "authenticatedPrincipalID": true,
	"accessToken": true, "internalUserID": true,
	"_created": true, "_modified": true, "createdAt": true, "modifiedAt": true, "_onlineStatusModifiedAt": true,
	"portTCP": true, "portSSL": true, "portWS": true, "portWSS": true,
}

func testResponseShapes(t *testing.T, cfg config) {
	f := newFixture(t, cfg)
	base := f.n.base + "/api/apps/" + f.n.app.AppID
	user := []string{"Authorization", "Bearer " + f.userToken}
	thing := []string{"Authorization", "Bearer " + f.thing.Token}
	admin := []string{"Authorization", "Bearer " + f.adminToken}
	ctype := func(mt string, h []string) []string { return append([]string{"Content-Type", mt}, h...) }
	// volatile value -> placeholder, for values inside other strings
	seen := map[string]string{f.n.app.AppID: "<app>", f.thing.ThingID: "<thing>", f.other.ThingID: "<other>",
		f.userID: "<user>", f.thing.VendorID: "<vendor>", f.thing.Token: "<token>", f.userToken: "<usertoken>"}
	check := func(name string, r response) response {
		t.Helper()
		return checkGolden(t, name, r, seen)
	}

	check("token-admin", do(t, "POST", base+"/oauth2/token",
		fmt.Sprintf(`{"grant_type":"client_credentials","client_id":%q,"client_secret":%q}`, f.n.app.ClientID, f.n.app.ClientSecret)))
	check("token-wrong-password", do(t, "POST", base+"/oauth2/token", `{"username":"alice","password":"nope"}`))
	check("user-register", do(t, "POST", base+"/users", `{"loginName":"shape","password":"shape-pass","emailAddress":"shape@example.com","displayName":"Shape","country":"JP","hobby":"go"}`,
		"Content-Type", "application/vnd.kii.RegistrationAndAuthorizationRequest+json"))
	check("user-register-taken", do(t, "POST", base+"/users", `{"loginName":"shape","password":"shape-pass"}`))
	check("user-me", do(t, "GET", base+"/users/me", "", user...))
	check("user-other", do(t, "GET", base+"/users/LOGIN_NAME:shape", "", user...))
	check("user-missing", do(t, "GET", base+"/users/LOGIN_NAME:nobody", "", admin...))
	check("user-update", do(t, "POST", base+"/users/me", `{"displayName":"A"}`, ctype("application/vnd.kii.UserUpdateRequest+json", user)...))
	check("thing-register", do(t, "POST", base+"/things", `{"_vendorThingID":"shape-thing","_password":"pw","_thingType":"LAMP","_numberField1":3}`,
		"Content-Type", "application/vnd.kii.ThingRegistrationAndAuthorizationRequest+json"))
	check("thing-get", do(t, "GET", base+"/things/"+f.thing.ThingID, "", thing...))
	check("thing-missing", do(t, "GET", base+"/things/VENDOR_THING_ID:nope", "", admin...))
	check("thing-status", do(t, "GET", base+"/things/"+f.thing.ThingID+"/status", "", thing...))
	check("thing-query", do(t, "POST", base+"/things/query", `{"thingQuery":{"clause":{"type":"eq","field":"_thingType","value":"LAMP"}}}`, admin...))
	check("thing-ownership", do(t, "GET", base+"/things/"+f.thing.ThingID+"/ownership", "", admin...))

	bucket := base + "/things/" + f.thing.ThingID + "/buckets/shapes"
	r := check("object-create", do(t, "POST", bucket+"/objects", `{"n":1,"s":"x"}`, ctype("application/vnd."+f.n.app.AppID+".reading+json", thing)...))
	obj := bucket + "/objects/" + r.Str(t, "objectID")
	check("object-get", do(t, "GET", obj, "", thing...))
	check("object-patch", do(t, "POST", obj, `{"n":2}`, append([]string{"X-HTTP-Method-Override", "PATCH"}, thing...)...))
	check("object-put-stale", do(t, "PUT", obj, `{"n":3}`, append([]string{"If-Match", `"1"`}, thing...)...))
	check("object-missing", do(t, "GET", bucket+"/objects/nope", "", thing...))
	check("object-unauthorized", do(t, "GET", obj, "", "Authorization", "Bearer "+f.other.Token))
	check("object-too-large", do(t, "POST", bucket+"/objects", `{"big":"`+strings.Repeat("x", 70000)+`"}`, thing...))
	check("object-bad-json", do(t, "POST", bucket+"/objects", `{"n":`, thing...))
	check("bucket-get", do(t, "GET", bucket, "", thing...))
	check("bucket-missing", do(t, "GET", bucket+"x", "", thing...))
	check("bucket-list", do(t, "GET", base+"/things/"+f.thing.ThingID+"/buckets", "", thing...))
	check("query", do(t, "POST", bucket+"/query", `{"bucketQuery":{"clause":{"type":"eq","field":"n","value":2}}}`,
		ctype("application/vnd.kii.QueryRequest+json", thing)...))
	check("query-bad-clause", do(t, "POST", bucket+"/query", `{"bucketQuery":{"clause":{"type":"nope"}}}`, thing...))
	check("acl-object", do(t, "GET", obj+"/acl", "", thing...))
	check("acl-object-verb", do(t, "GET", obj+"/acl/READ_EXISTING_OBJECT", "", thing...))
	check("acl-grant-twice", do(t, "PUT", obj+"/acl/READ_EXISTING_OBJECT/ThingID:"+f.thing.ThingID, "", thing...))
	check("acl-app-scope", do(t, "GET", base+"/acl", "", admin...))
	check("body-put", do(t, "PUT", obj+"/body", "hello", ctype("text/plain", thing)...))
	check("body-publish", do(t, "POST", obj+"/body/publish", `{"expiresIn":60}`, ctype("application/vnd.kii.ObjectBodyPublicationRequest+json", thing)...))
	check("body-range-unsatisfiable", do(t, "GET", obj+"/body", "", append([]string{"Range", "bytes=100-200"}, thing...)...))

	r = check("group-create", do(t, "POST", base+"/groups", fmt.Sprintf(`{"name":"crew","owner":%q,"members":["nobody"]}`, f.userID),
		ctype("application/vnd.kii.GroupCreationRequest+json", user)...))
	group := base + "/groups/" + r.Str(t, "groupID")
	check("group-get", do(t, "GET", group, "", user...))
	check("group-members", do(t, "GET", group+"/members", "", user...))
	check("groups-of-member", do(t, "GET", base+"/groups?is_member="+f.userID, "", user...))
	check("group-missing", do(t, "GET", base+"/groups/nope", "", admin...))

	check("installation-create", do(t, "POST", base+"/installations", `{"deviceType":"MQTT","development":false}`,
		ctype("application/vnd.kii.InstallationCreationRequest+json", user)...))
	check("mqtt-endpoint", do(t, "GET", base+"/installations/"+f.thing.InstallationID+"/mqtt-endpoint", "", thing...))
	check("subscription-exists", do(t, "PUT", bucket+"/filters/all/push/subscriptions/things/"+f.thing.ThingID, "", thing...))
	check("subscription-missing", do(t, "GET", bucket+"x/filters/all/push/subscriptions/things/"+f.thing.ThingID, "", thing...))
	topic := base + "/topics/news"
	wantStatus(t, do(t, "PUT", topic, "", admin...), 204)
	check("topic-exists", do(t, "PUT", topic, "", admin...))
	check("topic-missing", do(t, "PUT", base+"/topics/absent-topic/push/subscriptions/things/"+f.thing.ThingID, "", thing...))
	check("topic-list", do(t, "GET", base+"/topics", "", thing...))
	wantStatus(t, do(t, "POST", topic+"/push/subscriptions/things", "", thing...), 204)
	check("topic-subscription-exists", do(t, "POST", topic+"/push/subscriptions/things", "", thing...))
	check("topic-subscription-missing", do(t, "GET", topic+"/push/subscriptions/users/"+f.userID, "", user...))
	check("topic-acl", do(t, "GET", topic+"/acl", "", admin...))
	check("app-params", do(t, "PATCH", base+"/configuration/parameters", `{"maxLoginAttempts":5}`, admin...))
	check("wrong-token", do(t, "GET", base+"/users/me", "", "Authorization", "Bearer nope"))
	check("no-such-api", do(t, "GET", base+"/nowhere", ""))
	check("method-not-allowed", do(t, "PATCH", base+"/installations", ""))
}

// shape returns the golden form of a response: its status, Content-Type
// and body with volatile values replaced (seen collects them, so that
// they are replaced inside other strings too).
func shape(t *testing.T, r response, seen map[string]string) []byte {
	t.Helper()
	var body any
	if len(bytes.TrimSpace(r.Body)) > 0 {
		d := json.NewDecoder(bytes.NewReader(r.Body))
		d.UseNumber()
		if err := d.Decode(&body); err != nil {
			body = string(r.Body) // not JSON (a body download)
		}
	}
	body = placeholders(body, "", seen)
	body = replaceSeen(body, seen)
	ct := replaceSeen(r.Header.Get("Content-Type"), seen)
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false) // keep <placeholders> readable
	enc.SetIndent("", "  ")
	if err := enc.Encode(map[string]any{"status": r.Status, "contentType": ct, "body": body}); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func placeholders(v any, key string, seen map[string]string) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = placeholders(e, k, seen)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = placeholders(e, key, seen)
		}
		return x
	case string:
		if volatile[key] && x != "" {
			if len(x) >= 4 {
				seen[x] = "<" + key + ">"
			}
			return "<" + key + ">"
		}
	case json.Number:
		if volatile[key] {
			return json.Number("0")
		}
	}
	return v
}

// replaceSeen replaces volatile values inside other strings, longest first.
func replaceSeen(v any, seen map[string]string) any {
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return len(keys[i]) > len(keys[j]) })
	var walk func(v any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				x[k] = walk(e)
			}
		case []any:
			for i, e := range x {
				x[i] = walk(e)
			}
		case string:
			for _, k := range keys {
				x = strings.ReplaceAll(x, k, seen[k])
			}
			return x
		}
		return v
	}
	return walk(v)
}

// checkGolden compares the shape of r (volatile values replaced by the
// placeholders of seen) with testdata/golden/{name}.json, or writes it
// there with -update, and returns r.
func checkGolden(t *testing.T, name string, r response, seen map[string]string) response {
	t.Helper()
	got := shape(t, r, seen)
	path := filepath.Join("testdata", "golden", name+".json")
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return r
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: %v (run with -update to create it)", name, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s: the answer's shape changed\n--- got\n%s--- want (%s)\n%s", name, got, path, want)
	}
	return r
}
