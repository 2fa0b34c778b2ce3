package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/kumo-iot/kumo/internal/broker"
)

// mustUser registers a user with a token and returns its ID and token.
func (f *fixture) mustUser(t *testing.T, login string) (id, token string) {
	t.Helper()
	r := do(t, "POST", f.n.base+"/api/apps/"+f.n.app.AppID+"/users", fmt.Sprintf(`{"loginName":%q,"password":"pass-%s"}`, login, login),
		"Content-Type", "application/vnd.kii.RegistrationAndAuthorizationRequest+json")
	wantStatus(t, r, 201)
	return r.Str(t, "userID"), r.Str(t, "_accessToken")
}

// withVars returns the cases with the placeholders of vars (name → value)
// replaced, before the fixture's own.
func withVars(cases []apiCase, vars map[string]string) []apiCase {
	var pairs []string
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		pairs = append(pairs, "{"+k+"}", vars[k])
	}
	rp := strings.NewReplacer(pairs...)
	out := make([]apiCase, len(cases))
	for i, c := range cases {
		c.path, c.body = rp.Replace(c.path), rp.Replace(c.body)
		c.headers = slices.Clone(c.headers)
		for j := range c.headers {
			c.headers[j] = rp.Replace(c.headers[j])
		}
		c.bodyHas = slices.Clone(c.bodyHas)
		for j := range c.bodyHas {
			c.bodyHas[j] = rp.Replace(c.bodyHas[j])
		}
		hdr := map[string]string{}
		for k, v := range c.hdrEqual {
			hdr[k] = rp.Replace(v)
		}
		c.hdrEqual = hdr
		out[i] = c
	}
	return out
}

// TestGroupAPI: groups, their members, and the group scope.
func TestGroupAPI(t *testing.T) { forEachStore(t, testGroupAPI) }

func testGroupAPI(t *testing.T, cfg config) {
	f := newFixture(t, cfg)
	bob, bobToken := f.mustUser(t, "bob")
	carol, carolToken := f.mustUser(t, "carol")
	groups := "/api/apps/{app}/groups"
	crew := groups + "/crew"
	alice := []string{"Authorization", "Bearer {usertoken}"}
	asBob := []string{"Authorization", "Bearer {bobtoken}"}
	asCarol := []string{"Authorization", "Bearer {caroltoken}"}
	admin := []string{"Authorization", "Bearer {admin}"}
	creation := "application/vnd.kii.GroupCreationRequest+json"
	f.run(t, withVars([]apiCase{
		{name: "create with a chosen ID", method: "PUT", path: crew, body: `{"name":"Crew","owner":"{user}","members":["{bob}","nobody"]}`,
			headers: append([]string{"Content-Type", creation}, alice...), status: 201, ctype: "application/vnd.kii.GroupCreationResponse+json",
			bodyHas: []string{`"groupID" : "crew"`, `"notFoundUsers" : [ "nobody" ]`}, hdrEqual: map[string]string{"Location": "{base}/api/apps/{app}/groups/crew"}},
		{name: "the ID is taken", method: "PUT", path: crew, body: `{"name":"Crew"}`, headers: alice, status: 409, code: "GROUP_ALREADY_EXISTS",
			ctype: "application/vnd.kii.GroupAlreadyExistsException+json", bodyHas: []string{`"groupID" : "crew"`, `"appID" : "{app}"`}},
		{name: "an invalid chosen ID", method: "PUT", path: groups + "/Crew", body: `{"name":"Crew"}`, headers: alice, status: 400, code: "INVALID_INPUT_DATA",
			ctype: "application/vnd.kii.ValidationException+json"},
		{name: "create with a generated ID, plain JSON", method: "POST", path: groups, body: `{"name":"Other"}`,
			headers: append([]string{"Content-Type", "application/json"}, asCarol...), status: 201, bodyHas: []string{`"notFoundUsers" : [ ]`}},
		{name: "no name", method: "POST", path: groups, body: `{"owner":"{user}"}`, headers: alice, status: 400, code: "INVALID_INPUT_DATA"},
		{name: "a name too long", method: "POST", path: groups, body: `{"name":"` + strings.Repeat("é", 191) + `"}`, headers: alice, status: 400, code: "INVALID_INPUT_DATA"},
		{name: "another owner", method: "POST", path: groups, body: `{"name":"x","owner":"{bob}"}`, headers: alice, status: 401, code: "UNAUTHORIZED"},
		{name: "a thing may not create", method: "POST", path: groups, body: `{"name":"x"}`, headers: []string{"Authorization", thingAuth}, status: 401, code: "UNAUTHORIZED"},
		{name: "anonymous may not create", method: "POST", path: groups, body: `{"name":"x"}`, status: 401, code: "UNAUTHORIZED"},
		{name: "the admin without an owner", method: "PUT", path: groups + "/adm", body: `{"name":"Admins"}`, headers: admin, status: 201},
		{name: "the admin for an unknown owner", method: "POST", path: groups, body: `{"name":"x","owner":"nobody"}`, headers: admin,
			status: 404, code: "USER_NOT_FOUND", bodyHas: []string{`"value" : "nobody"`}},

		{name: "a member reads it", method: "GET", path: crew, headers: asBob, status: 200, ctype: "application/vnd.kii.GroupRetrievalResponse+json",
			bodyHas: []string{`"groupID" : "crew"`, `"name" : "Crew"`, `"owner" : "{user}"`, `"createdAt" : `, `"modifiedAt" : `}},
		{name: "a stranger may not read it", method: "GET", path: crew, headers: asCarol, status: 401, code: "UNAUTHORIZED"},
		{name: "a missing group", method: "GET", path: groups + "/nope", headers: alice, status: 404, code: "GROUP_NOT_FOUND",
			ctype: "application/vnd.kii.GroupNotFoundException+json", bodyHas: []string{`"groupID" : "nope"`, `"appID" : "{app}"`}},
		{name: "members", method: "GET", path: crew + "/members", headers: asBob, status: 200, ctype: "application/vnd.kii.MembersRetrievalResponse+json",
			bodyHas: []string{`"userID" : "{user}"`, `"userID" : "{bob}"`}},
		{name: "a member may not add", method: "PUT", path: crew + "/members/{carol}", headers: asBob, status: 401, code: "UNAUTHORIZED"},
		{name: "the owner adds", method: "PUT", path: crew + "/members/{carol}", headers: alice, status: 204},
		{name: "adding again", method: "PUT", path: crew + "/members/{carol}", headers: alice, status: 204},
		{name: "add an unknown user", method: "PUT", path: crew + "/members/nobody", headers: alice, status: 404, code: "USER_NOT_FOUND"},
		{name: "my groups", method: "GET", path: groups + "?is_member={carol}", headers: asCarol, status: 200,
			ctype: "application/vnd.kii.GroupsRetrievalResponse+json", bodyHas: []string{`"groupID" : "crew"`, `"name" : "Other"`}},
		{name: "my groups, JS SDK trailing slash", method: "GET", path: groups + "/?is_member={carol}", headers: asCarol, status: 200,
			bodyHas: []string{`"groupID" : "crew"`}},
		{name: "groups I own", method: "GET", path: groups + "?owner={user}", headers: alice, status: 200, bodyHas: []string{`"groupID" : "crew"`}},
		{name: "another user's groups", method: "GET", path: groups + "?owner={user}", headers: asCarol, status: 401, code: "UNAUTHORIZED"},
		{name: "groups of an unknown user", method: "GET", path: groups + "?is_member=nobody", headers: admin, status: 404, code: "USER_NOT_FOUND"},
		{name: "a member may not rename", method: "PUT", path: crew + "/name", body: "Mutiny", headers: append([]string{"Content-Type", "text/plain"}, asBob...),
			status: 401, code: "UNAUTHORIZED"},
		{name: "rename", method: "PUT", path: crew + "/name", body: "Crew 2 ☁", headers: append([]string{"Content-Type", "text/plain"}, alice...), status: 204},
		{name: "renamed", method: "GET", path: crew, headers: asBob, status: 200, bodyHas: []string{`"name" : "Crew 2 ☁"`}},
		{name: "rename with a JSON string", method: "PUT", path: crew + "/name", body: `"Crew 3"`, headers: append([]string{"Content-Type", "application/json"}, alice...), status: 204},
		{name: "renamed again", method: "GET", path: crew, headers: asBob, status: 200, bodyHas: []string{`"name" : "Crew 3"`}},
		{name: "an empty name", method: "PUT", path: crew + "/name", body: "", headers: alice, status: 400, code: "INVALID_INPUT_DATA"},
		{name: "hand over to bob", method: "PUT", path: crew + "/owner", body: `{"owner":"{bob}"}`,
			headers: append([]string{"Content-Type", "application/vnd.kii.GroupOwnerChangeRequest+json"}, alice...), status: 204},
		{name: "bob owns it", method: "GET", path: crew, headers: alice, status: 200, bodyHas: []string{`"owner" : "{bob}"`}},
		{name: "the old owner may not rename", method: "PUT", path: crew + "/name", body: "x", headers: alice, status: 401, code: "UNAUTHORIZED"},
		{name: "the owner cannot leave", method: "DELETE", path: crew + "/members/{bob}", headers: asBob, status: 401, code: "UNAUTHORIZED"},
		{name: "alice leaves", method: "DELETE", path: crew + "/members/{user}", headers: alice, status: 204},
		{name: "alice is no member", method: "DELETE", path: crew + "/members/{user}", headers: asBob, status: 404, code: "USER_NOT_FOUND"},

		{name: "the owner creates a bucket", method: "PUT", path: crew + "/buckets/gb", headers: asBob, status: 204},
		{name: "a member writes in the group scope", method: "POST", path: crew + "/buckets/gb/objects", body: `{"n":1}`, headers: asCarol, status: 201},
		{name: "a former member may not", method: "POST", path: crew + "/buckets/gb/objects", body: `{}`, headers: alice, status: 401, code: "UNAUTHORIZED"},
		{name: "a thing may not", method: "POST", path: crew + "/buckets/gb/objects", body: `{}`, headers: []string{"Authorization", thingAuth}, status: 401, code: "UNAUTHORIZED"},
		{name: "anonymous may not read", method: "GET", path: crew + "/buckets/gb", status: 401, code: "UNAUTHORIZED"},
		{name: "the owner reads the bucket", method: "GET", path: crew + "/buckets/gb", headers: asBob, status: 200, bodyHas: []string{`"size" : 1`}},
		{name: "a bucket of a missing group", method: "POST", path: groups + "/nope/buckets/gb/objects", body: `{}`, headers: admin, status: 404, code: "GROUP_NOT_FOUND"},
		{name: "a member may not drop a bucket he did not create", method: "DELETE", path: crew + "/buckets/gb", headers: asCarol, status: 401, code: "UNAUTHORIZED"},
		{name: "the owner drops", method: "DELETE", path: crew + "/buckets/gb", headers: asBob, status: 204},

		{name: "a member may not delete the group", method: "DELETE", path: crew, headers: asCarol, status: 401, code: "UNAUTHORIZED"},
		{name: "the owner deletes it", method: "DELETE", path: crew, headers: asBob, status: 204},
		{name: "deleted", method: "GET", path: crew, headers: admin, status: 404, code: "GROUP_NOT_FOUND"},
	}, map[string]string{"bob": bob, "bobtoken": bobToken, "carol": carol, "caroltoken": carolToken, "base": f.n.base}))

	t.Run("response shapes", func(t *testing.T) {
		h := []string{"Authorization", "Bearer " + f.userToken}
		r := do(t, "POST", f.n.base+f.expand(groups), `{"name":"Shapes","members":["`+bob+`"]}`, h...)
		wantStatus(t, r, 201)
		id := r.Str(t, "groupID")
		if len(id) != 25 || strings.Trim(id, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
			t.Errorf("generated group ID %q, want 25 lower-case alphanumerics", id)
		}
		if loc := r.Header.Get("Location"); loc != f.n.base+f.expand(groups)+"/"+id {
			t.Errorf("Location = %q", loc)
		}
		wantKeys(t, "GroupCreationResponse", r.JSON(t), "groupID", "notFoundUsers")
		r = do(t, "GET", f.n.base+f.expand(groups)+"/"+id, "", h...)
		wantStatus(t, r, 200)
		wantKeys(t, "GroupRetrievalResponse", r.JSON(t), "groupID", "name", "owner", "createdAt", "modifiedAt")
		r = do(t, "GET", f.n.base+f.expand(groups)+"?is_member="+f.userID, "", h...)
		wantStatus(t, r, 200)
		var list struct{ Groups []map[string]any }
		if err := json.Unmarshal(r.Body, &list); err != nil || len(list.Groups) != 1 {
			t.Fatalf("GroupsRetrievalResponse %s: %v", r.Body, err)
		}
		wantKeys(t, "a listed group", list.Groups[0], "groupID", "name", "owner")
		r = do(t, "GET", f.n.base+f.expand(groups)+"/"+id+"/members", "", h...)
		wantStatus(t, r, 200)
		var members struct{ Members []map[string]any }
		if err := json.Unmarshal(r.Body, &members); err != nil || len(members.Members) != 2 {
			t.Fatalf("MembersRetrievalResponse %s: %v", r.Body, err)
		}
		wantKeys(t, "a member", members.Members[0], "userID")
	})
}

// wantKeys reports an error unless m has exactly the keys.
func wantKeys(t *testing.T, what string, m map[string]any, keys ...string) {
	t.Helper()
	got := slices.Sorted(maps.Keys(m))
	slices.Sort(keys)
	if !slices.Equal(got, keys) {
		t.Errorf("%s has keys %q, want %q", what, got, keys)
	}
}

// TestGroupPush: a user and a thing subscribed to a group-scope bucket
// get DATA_OBJECT_CREATED when a member writes in it.
func TestGroupPush(t *testing.T) { forEachStore(t, testGroupPush) }

func testGroupPush(t *testing.T, cfg config) {
	f := newFixture(t, cfg)
	n := f.n
	app := n.base + "/api/apps/" + n.app.AppID
	bob, bobToken := f.mustUser(t, "bob")
	alice := []string{"Authorization", "Bearer " + f.userToken}
	wantStatus(t, do(t, "PUT", app+"/groups/crew", `{"name":"Crew","members":["`+bob+`"]}`, alice...), 201)
	bucket := app + "/groups/crew/buckets/news"

	// bob: an MQTT installation of his own, subscribed by himself.
	asBob := []string{"Authorization", "Bearer " + bobToken}
	r := do(t, "POST", app+"/installations", `{"deviceType":"MQTT"}`, asBob...)
	wantStatus(t, r, 201)
	bobDevice := device{InstallationID: r.Str(t, "installationID")}
	r = do(t, "GET", app+"/installations/"+bobDevice.InstallationID+"/mqtt-endpoint", "", asBob...)
	wantStatus(t, r, 200)
	if err := json.Unmarshal(r.Body, &bobDevice.Endpoint); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, do(t, "PUT", bucket+"/filters/all/push/subscriptions/users/"+bob, "", asBob...), 204)
	// The thing: subscribed by the admin (a thing is no member).
	wantStatus(t, do(t, "PUT", bucket+"/filters/all/push/subscriptions/things/"+f.thing.ThingID, "", "Authorization", "Bearer "+f.thing.Token),
		401)
	wantStatus(t, do(t, "PUT", bucket+"/filters/all/push/subscriptions/things/"+f.thing.ThingID, "", "Authorization", "Bearer "+f.adminToken), 204)

	_, bobInbox := connectDevice(t, n.mqttURL(broker.TCP), bobDevice, 4)
	_, thingInbox := connectDevice(t, n.mqttURL(broker.TCP), f.thing, 4)
	r = do(t, "POST", bucket+"/objects", `{"headline":"hello"}`, alice...)
	wantStatus(t, r, 201)
	id := r.Str(t, "objectID")
	for name, in := range map[string]*inbox{"bob": bobInbox, "the thing": thingInbox} {
		msgs := in.waitFor(t, name+"'s push", func(m []paho.Message) bool { return len(m) >= 1 })
		p := pushesByObject(t, msgs)[id]
		if p == nil || p["type"] != "DATA_OBJECT_CREATED" || p["objectScopeType"] != "APP_AND_GROUP" ||
			p["objectScopeGroupID"] != "crew" || p["bucketID"] != "news" {
			t.Errorf("%s's push = %s, want DATA_OBJECT_CREATED of %s in group crew's bucket news", name, msgs[0].Payload(), id)
		}
	}
}
