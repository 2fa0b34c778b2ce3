package main

import "testing"

// TestThingWriteAPI: update (PATCH and POST + override), status
// (disable revokes tokens and logins), delete.
func TestThingWriteAPI(t *testing.T) { forEachStore(t, testThingWriteAPI) }

func testThingWriteAPI(t *testing.T, cfg config) {
	f := newFixture(t, cfg)
	th := "/api/apps/{app}/things/{thing}"
	auth := []string{"Authorization", thingAuth}
	admin := []string{"Authorization", "Bearer {admin}"}
	f.run(t, []apiCase{
		{name: "update by the thing", method: "PATCH", path: th, body: `{"_thingType":"LAMP","_numberField2":7,"color":"red","_vendorThingID":"ignored","_password":"ignored"}`,
			headers: append([]string{"Content-Type", "application/vnd.kii.ThingUpdateRequest+json"}, auth...), status: 204},
		{name: "merged", method: "GET", path: th, headers: auth, status: 200,
			bodyHas: []string{`"_thingType" : "LAMP"`, `"_numberField2" : 7`, `"color" : "red"`, `"_vendorThingID" : "fx-thing"`}},
		{name: "update with POST and override (k4j)", method: "POST", path: th, body: `{"color":"blue"}`,
			headers: append([]string{"X-HTTP-Method-Override", "PATCH"}, auth...), status: 204},
		{name: "override applied", method: "GET", path: th, headers: auth, status: 200, bodyHas: []string{`"color" : "blue"`, `"_thingType" : "LAMP"`}},
		{name: "bad predefined field", method: "PATCH", path: th, body: `{"_numberField1":"x"}`, headers: auth, status: 400, code: "INVALID_INPUT_DATA"},
		{name: "another thing may not update", method: "PATCH", path: th, body: `{}`, headers: []string{"Authorization", "Bearer {othertoken}"}, status: 401, code: "UNAUTHORIZED"},
		{name: "anonymous may not update", method: "PATCH", path: th, body: `{}`, status: 401, code: "UNAUTHORIZED"},
		{name: "status", method: "GET", path: th + "/status", headers: auth, status: 200, ctype: "application/vnd.kii.ThingStatusRetrievalResponse+json",
			bodyHas: []string{`"disabled" : false`}},
		{name: "a thing may not disable itself", method: "PUT", path: th + "/status", body: `{"disabled":true}`, headers: auth, status: 401, code: "UNAUTHORIZED"},
		{name: "bad status body", method: "PUT", path: th + "/status", body: `{"disabled":"yes"}`, headers: admin, status: 400, code: "INVALID_INPUT_DATA"},
		{name: "admin disables", method: "PUT", path: th + "/status", body: `{"disabled":true}`,
			headers: append([]string{"Content-Type", "application/vnd.kii.ThingStatusUpdateRequest+json"}, admin...), status: 204},
		{name: "the disabled thing's token is revoked", method: "GET", path: th, headers: auth, status: 403, code: "WRONG_TOKEN"},
		{name: "the disabled thing cannot log in", method: "POST", path: "/api/apps/{app}/oauth2/token",
			body: `{"username":"VENDOR_THING_ID:fx-thing","password":"pass-1234"}`, status: 400, code: "invalid_grant"},
		{name: "admin reads it disabled", method: "GET", path: th + "/status", headers: admin, status: 200, bodyHas: []string{`"disabled" : true`}},
		{name: "admin enables", method: "PUT", path: th + "/status", body: `{"disabled":false}`, headers: admin, status: 204},
		{name: "it logs in again", method: "POST", path: "/api/apps/{app}/oauth2/token",
			body: `{"username":"VENDOR_THING_ID:fx-thing","password":"pass-1234"}`, status: 200},
		{name: "a thing may not delete another", method: "DELETE", path: "/api/apps/{app}/things/{thing}", headers: []string{"Authorization", "Bearer {othertoken}"}, status: 401, code: "UNAUTHORIZED"},
		{name: "admin deletes by vendor thing ID", method: "DELETE", path: "/api/apps/{app}/things/VENDOR_THING_ID:fx-other", headers: admin, status: 204},
		{name: "deleted", method: "GET", path: "/api/apps/{app}/things/{other}", headers: admin, status: 404, code: "THING_NOT_FOUND"},
		{name: "its token is gone", method: "GET", path: "/api/apps/{app}/installations/IOS:none", headers: []string{"Authorization", "Bearer {othertoken}"},
			status: 403, code: "WRONG_TOKEN"},
		{name: "its vendor thing ID is free again", method: "POST", path: "/api/apps/{app}/things", body: `{"_vendorThingID":"fx-other","_password":"p"}`, status: 201},
		{name: "delete a missing thing", method: "DELETE", path: "/api/apps/{app}/things/th.nope", headers: admin, status: 404, code: "THING_NOT_FOUND"},
	})
}
