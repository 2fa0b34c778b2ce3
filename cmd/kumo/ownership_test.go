package main

import (
	"strings"
	"testing"
)

// TestOwnershipAPI: thing owners (users and groups), what owning grants,
// and the thing's vendor thing ID, password and HEAD.
func TestOwnershipAPI(t *testing.T) { forEachStore(t, testOwnershipAPI) }

func testOwnershipAPI(t *testing.T, cfg config) {
	f := newFixture(t, cfg)
	bob, bobToken := f.mustUser(t, "bob")
	carol, carolToken := f.mustUser(t, "carol")
	r := do(t, "PUT", f.n.base+f.expand("/api/apps/{app}/groups/crew"), `{"name":"Crew"}`, "Authorization", "Bearer "+bobToken)
	wantStatus(t, r, 201)

	th := "/api/apps/{app}/things/{thing}"
	own := th + "/ownership"
	alice := []string{"Authorization", "Bearer {usertoken}"}
	asBob := []string{"Authorization", "Bearer {bobtoken}"}
	asCarol := []string{"Authorization", "Bearer {caroltoken}"}
	asThing := []string{"Authorization", thingAuth}
	admin := []string{"Authorization", "Bearer {admin}"}
	ownership := "application/vnd.kii.ThingOwnershipRequest+json"
	f.run(t, withVars([]apiCase{
		{name: "a stranger may not read the thing", method: "GET", path: th, headers: alice, status: 401, code: "UNAUTHORIZED"},
		{name: "a wrong password", method: "POST", path: own, body: `{"userID":"{user}","thingPassword":"nope"}`,
			headers: append([]string{"Content-Type", ownership}, alice...), status: 401, code: "WRONG_PASSWORD"},
		{name: "no password", method: "POST", path: own, body: `{"userID":"{user}"}`, headers: alice, status: 401, code: "WRONG_PASSWORD"},
		{name: "neither user nor group", method: "POST", path: own, body: `{"thingPassword":"pass-1234"}`, headers: alice, status: 400, code: "INVALID_INPUT_DATA"},
		{name: "a user adds himself", method: "POST", path: own, body: `{"userID":"{user}","thingPassword":"pass-1234"}`,
			headers: append([]string{"Content-Type", ownership}, alice...), status: 204},
		{name: "again", method: "POST", path: own, body: `{"userID":"{user}","thingPassword":"pass-1234"}`, headers: alice,
			status: 409, code: "THING_OWNERSHIP_ALREADY_EXISTS", ctype: "application/vnd.kii.ThingOwnershipAlreadyExistsException+json",
			bodyHas: []string{`"userID" : "{user}"`, `"thingID" : "{thing}"`, `"appID" : "{app}"`}},
		{name: "a user for another", method: "POST", path: own, body: `{"userID":"{carol}","thingPassword":"pass-1234"}`, headers: alice, status: 401, code: "UNAUTHORIZED"},
		{name: "by vendor thing ID, for his group", method: "POST", path: "/api/apps/{app}/things/VENDOR_THING_ID:{vendor}/ownership",
			body: `{"groupID":"crew","thingPassword":"pass-1234"}`, headers: append([]string{"Content-Type", "application/json"}, asBob...), status: 204},
		{name: "an unknown group", method: "POST", path: own, body: `{"groupID":"nope","thingPassword":"pass-1234"}`, headers: alice, status: 404, code: "GROUP_NOT_FOUND"},
		{name: "anonymous", method: "POST", path: own, body: `{"userID":"{user}","thingPassword":"pass-1234"}`, status: 401, code: "UNAUTHORIZED"},
		{name: "the owners", method: "GET", path: own, headers: alice, status: 200, ctype: "application/vnd.kii.ThingOwnershipRetrievalResponse+json",
			bodyHas: []string{`"users" : [ "{user}" ]`, `"groups" : [ "crew" ]`}},
		{name: "a stranger may not list the owners", method: "GET", path: own, headers: asCarol, status: 401, code: "UNAUTHORIZED"},
		{name: "legacy PUT by a user needs the password", method: "PUT", path: own + "/user:{carol}", headers: asCarol, status: 401, code: "UNAUTHORIZED"},
		{name: "legacy PUT by the thing", method: "PUT", path: own + "/user:{carol}", headers: asThing, status: 204},
		{name: "legacy PUT again", method: "PUT", path: own + "/USER:{carol}", headers: admin, status: 409, code: "THING_OWNERSHIP_ALREADY_EXISTS"},
		{name: "legacy PUT of an unknown user", method: "PUT", path: own + "/user:nobody", headers: admin, status: 404, code: "USER_NOT_FOUND"},
		{name: "a bad owner", method: "PUT", path: own + "/thing:x", headers: admin, status: 400, code: "INVALID_INPUT_DATA"},
		{name: "HEAD an owner", method: "HEAD", path: own + "/user:{user}", headers: alice, status: 204},
		{name: "HEAD a group owner", method: "HEAD", path: own + "/group:crew", headers: asBob, status: 204},
		{name: "HEAD not an owner", method: "HEAD", path: own + "/user:{bob}", headers: admin, status: 404},

		{name: "an owner reads the thing", method: "GET", path: th, headers: alice, status: 200, bodyHas: []string{`"_vendorThingID" : "fx-thing"`}},
		{name: "a member of an owner group reads it", method: "GET", path: th, headers: asBob, status: 200},
		{name: "an owner updates it", method: "PATCH", path: th, body: `{"color":"green"}`, headers: alice, status: 204},
		{name: "an owner enables it", method: "PUT", path: th + "/status", body: `{"disabled":false}`, headers: alice, status: 204},
		{name: "an owner writes in its scope", method: "POST", path: th + "/buckets/tb/objects", body: `{}`, headers: alice, status: 201},
		{name: "a group owner reads its bucket", method: "GET", path: "/api/apps/{app}/things/VENDOR_THING_ID:{vendor}/buckets/tb", headers: asBob,
			status: 200, bodyHas: []string{`"size" : 1`}},
		{name: "another thing may not delete it", method: "DELETE", path: th, headers: []string{"Authorization", "Bearer {othertoken}"}, status: 401, code: "UNAUTHORIZED"},
		{name: "HEAD the thing", method: "HEAD", path: th, headers: alice, status: 200},
		{name: "HEAD a missing thing", method: "HEAD", path: "/api/apps/{app}/things/th.nope", headers: admin, status: 404},

		{name: "vendor thing ID", method: "GET", path: th + "/vendor-thing-id", headers: alice, status: 200,
			ctype: "application/vnd.kii.VendorThingIDRetrievalResponse+json", bodyHas: []string{`"_vendorThingID" : "fx-thing"`}},
		{name: "a taken vendor thing ID", method: "PUT", path: th + "/vendor-thing-id", body: `{"_vendorThingID":"fx-other","_password":"new-pass"}`,
			headers: alice, status: 409, code: "THING_ALREADY_EXISTS"},
		{name: "no new password", method: "PUT", path: th + "/vendor-thing-id", body: `{"_vendorThingID":"fx-renamed"}`, headers: alice, status: 400, code: "INVALID_INPUT_DATA"},
		{name: "change the vendor thing ID", method: "PUT", path: th + "/vendor-thing-id", body: `{"_vendorThingID":"fx-renamed","_password":"new-pass"}`,
			headers: append([]string{"Content-Type", "application/vnd.kii.VendorThingIDUpdateRequest+json"}, alice...), status: 204},
		{name: "the thing logs in with both", method: "POST", path: "/api/apps/{app}/oauth2/token",
			body: `{"username":"VENDOR_THING_ID:fx-renamed","password":"new-pass"}`, status: 200},
		{name: "the old vendor thing ID is gone", method: "GET", path: "/api/apps/{app}/things/VENDOR_THING_ID:fx-thing", headers: admin, status: 404, code: "THING_NOT_FOUND"},
		{name: "another thing may not set the password", method: "PUT", path: th + "/password", body: `{"newPassword":"x"}`,
			headers: []string{"Authorization", "Bearer {othertoken}"}, status: 401, code: "UNAUTHORIZED"},
		{name: "an empty password", method: "PUT", path: th + "/password", body: `{"newPassword":""}`, headers: asThing, status: 400, code: "INVALID_INPUT_DATA"},
		{name: "the thing sets its password", method: "PUT", path: th + "/password", body: `{"newPassword":"third-pass"}`,
			headers: append([]string{"Content-Type", "application/vnd.kii.ChangeThingPasswordRequest+json"}, asThing...), status: 204},
		{name: "it logs in with it", method: "POST", path: "/api/apps/{app}/oauth2/token",
			body: `{"username":"VENDOR_THING_ID:fx-renamed","password":"third-pass"}`, status: 200},
		{name: "its token still works", method: "GET", path: th, headers: asThing, status: 200},

		{name: "another owner may not remove alice", method: "DELETE", path: own + "/user:{user}", headers: asBob, status: 401, code: "UNAUTHORIZED"},
		{name: "alice removes herself", method: "DELETE", path: own + "/user:{user}", headers: alice, status: 204},
		{name: "removed already", method: "DELETE", path: own + "/user:{user}", headers: alice, status: 404, code: "THING_OWNERSHIP_NOT_FOUND",
			ctype: "application/vnd.kii.ThingOwnershipNotFoundException+json"},
		{name: "alice may no longer read it", method: "GET", path: th, headers: alice, status: 401, code: "UNAUTHORIZED"},
		{name: "deleting the group ends its ownership", method: "DELETE", path: "/api/apps/{app}/groups/crew", headers: asBob, status: 204},
		{name: "bob may no longer read it", method: "GET", path: th, headers: asBob, status: 401, code: "UNAUTHORIZED"},
		{name: "what is left", method: "GET", path: own, headers: admin, status: 200, bodyHas: []string{`"users" : [ "{carol}" ]`, `"groups" : [ ]`}},
	}, map[string]string{"bob": bob, "bobtoken": bobToken, "carol": carol, "caroltoken": carolToken}))
}

// TestOwnershipPINAPI: the PIN code flow over HTTP (its paths, media
// types and errors); storetest "Ownership/PINFlow" walks who may do what.
func TestOwnershipPINAPI(t *testing.T) { forEachStore(t, testOwnershipPINAPI) }

func testOwnershipPINAPI(t *testing.T, cfg config) {
	f := newFixture(t, cfg)
	carol, carolToken := f.mustUser(t, "carol")
	own := f.n.base + f.expand("/api/apps/{app}/things/{thing}/ownership")
	asThing := []string{"Authorization", "Bearer " + f.thing.Token}
	asCarol := []string{"Authorization", "Bearer " + carolToken}

	r := do(t, "POST", own+"/request/user:"+carol, "", asThing...)
	wantStatus(t, r, 200)
	if ct := r.Header.Get("Content-Type"); ct != "application/vnd.kii.ThingOwnershipRequestResponse+json" {
		t.Errorf("Content-Type = %q", ct)
	}
	code := r.Str(t, "code")
	confirm := func(body string, h ...string) response {
		return do(t, "POST", own+"/confirm", body, append([]string{"Content-Type", "application/vnd.kii.ThingOwnershipConfirmationRequest+json"}, h...)...)
	}
	for _, tc := range []struct {
		name, body  string
		headers     []string
		status      int
		code, ctype string
	}{
		{"no code", `{}`, asCarol, 400, "INVALID_INPUT_DATA", ""},
		{"not JSON", `{`, asCarol, 400, "INVALID_JSON", ""},
		{"the thing confirms its own flow", `{"code":"` + code + `"}`, asThing, 401, "UNAUTHORIZED", ""},
		{"a wrong code", `{"code":"nope"}`, asCarol, 409, "INVALID_THING_OWNERSHIP_CODE", "application/vnd.kii.InvalidThingOwnershipCodeException+json"},
	} {
		r := confirm(tc.body, tc.headers...)
		if r.Status != tc.status || !strings.Contains(string(r.Body), `"`+tc.code+`"`) || tc.ctype != "" && r.Header.Get("Content-Type") != tc.ctype {
			t.Errorf("%s: %d %s %s, want %d %s", tc.name, r.Status, r.Header.Get("Content-Type"), r.Body, tc.status, tc.code)
		}
	}
	wantStatus(t, confirm(`{"code":"`+code+`"}`, asCarol...), 204)
	wantStatus(t, do(t, "HEAD", own+"/user:"+carol, "", asCarol...), 204)
	r = do(t, "POST", own+"/request/user:"+carol, "", asCarol...)
	if r.Status != 409 || !strings.Contains(string(r.Body), `"THING_OWNERSHIP_ALREADY_EXISTS"`) {
		t.Errorf("a flow for an owner: %d %s", r.Status, r.Body)
	}
	r = do(t, "POST", own+"/request/group:nogroup", "", asThing...)
	if r.Status != 404 || !strings.Contains(string(r.Body), `"GROUP_NOT_FOUND"`) {
		t.Errorf("a flow for an unknown group: %d %s", r.Status, r.Body)
	}
	r = do(t, "POST", own+"/request/planet:x", "", asThing...)
	if r.Status != 400 {
		t.Errorf("a flow for a bad owner: %d %s", r.Status, r.Body)
	}
}
