package main

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestThingQueryAPI(t *testing.T) { forEachStore(t, testThingQueryAPI) }

func testThingQueryAPI(t *testing.T, cfg config) {
	f := newFixture(t, cfg)
	base := f.n.base + "/api/apps/" + f.n.app.AppID
	admin := []string{"Authorization", "Bearer " + f.adminToken}
	var ids []string
	for i, typ := range []string{"LAMP", "LAMP", "CAMERA"} {
		r := do(t, "POST", base+"/things", fmt.Sprintf(`{"_vendorThingID":"q-%d","_password":"pw","_thingType":%q,"_numberField1":%d,"custom":"x"}`, i, typ, 10*i),
			"Content-Type", "application/vnd.kii.ThingRegistrationRequest+json")
		wantStatus(t, r, 201)
		ids = append(ids, r.Str(t, "_thingID"))
	}
	r := do(t, "POST", base+"/groups", fmt.Sprintf(`{"name":"home","owner":%q}`, f.userID), "Authorization", "Bearer "+f.userToken)
	wantStatus(t, r, 201)
	group := r.Str(t, "groupID")
	wantStatus(t, do(t, "PUT", base+"/things/"+ids[0]+"/ownership/user:"+f.userID, "", admin...), 204)
	wantStatus(t, do(t, "PUT", base+"/things/"+ids[2]+"/ownership/group:"+group, "", admin...), 204)

	query := func(token, body string) response {
		return do(t, "POST", base+"/things/query", body, "Authorization", "Bearer "+token,
			"Content-Type", "application/vnd.kii.ThingQueryRequest+json")
	}
	found := func(r response) []string {
		t.Helper()
		wantStatus(t, r, 200)
		var out []string
		for _, v := range r.JSON(t)["results"].([]any) {
			out = append(out, v.(map[string]any)["_thingID"].(string))
		}
		return out
	}
	want := func(what string, got []string, idx ...int) {
		t.Helper()
		var w []string
		for _, i := range idx {
			w = append(w, ids[i])
		}
		if strings.Join(got, ",") != strings.Join(w, ",") {
			t.Errorf("%s: %v, want %v", what, got, w)
		}
	}
	want("admin, eq _thingType", found(query(f.adminToken, `{"thingQuery":{"clause":{"type":"eq","field":"_thingType","value":"LAMP"},"orderBy":"_numberField1"}}`)), 0, 1)
	want("admin, all, descending", found(query(f.adminToken, `{"thingQuery":{"clause":{"type":"prefix","field":"_vendorThingID","prefix":"q-"},"orderBy":"_numberField1","descending":true}}`)), 2, 1, 0)
	want("custom fields are not queryable", found(query(f.adminToken, `{"thingQuery":{"clause":{"type":"eq","field":"custom","value":"x"}}}`)))
	r = query(f.adminToken, `{"thingQuery":{"clause":{"type":"prefix","field":"_vendorThingID","prefix":"q-"},"orderBy":"_numberField1"},"bestEffortLimit":"2"}`)
	want("page 1", found(r), 0, 1)
	key, _ := r.JSON(t)["nextPaginationKey"].(string)
	if key == "" {
		t.Fatalf("no nextPaginationKey: %s", r.Body)
	}
	r = query(f.adminToken, fmt.Sprintf(`{"thingQuery":{"clause":{"type":"prefix","field":"_vendorThingID","prefix":"q-"},"orderBy":"_numberField1"},"bestEffortLimit":2,"paginationKey":%q}`, key))
	want("page 2", found(r), 2)
	if _, more := r.JSON(t)["nextPaginationKey"]; more {
		t.Errorf("the last page has a nextPaginationKey: %s", r.Body)
	}
	want("a user's own things", found(query(f.userToken, fmt.Sprintf(`{"thingQuery":{"clause":{"type":"contains","field":"userOwners","value":%q}}}`, f.userID))), 0)
	want("a user's group's things", found(query(f.userToken, fmt.Sprintf(`{"thingQuery":{"clause":{"type":"contains","field":"groupOwners","value":%q}}}`, group))), 2)
	want("a user sees only what he owns", found(query(f.userToken, `{"thingQuery":{"clause":{"type":"all"},"orderBy":"_numberField1"}}`)), 0, 2)
	for _, tc := range []struct {
		name, token, body string
		status            int
		code              string
	}{
		{"a thing may not query", f.thing.Token, `{}`, 401, "UNAUTHORIZED"},
		{"anonymous may not query", "", `{}`, 401, "UNAUTHORIZED"},
		{"a bad clause", f.adminToken, `{"thingQuery":{"clause":{"type":"eq"}}}`, 400, "INVALID_INPUT_DATA"},
		{"a bad pagination key", f.adminToken, `{"paginationKey":"x"}`, 400, "INVALID_INPUT_DATA"},
	} {
		headers := []string{"Content-Type", "application/vnd.kii.ThingQueryRequest+json"}
		if tc.token != "" {
			headers = append(headers, "Authorization", "Bearer "+tc.token)
		}
		r := do(t, "POST", base+"/things/query", tc.body, headers...)
		if r.Status != tc.status || r.JSON(t)["errorCode"] != tc.code {
			t.Errorf("%s: %d %s, want %d %s", tc.name, r.Status, r.Body, tc.status, tc.code)
		}
	}
	r = do(t, "POST", base+"/buckets/bq/query", `{"bucketQuery":{"clause":{"type":"contains","field":"userOwners","value":"u"}}}`, admin...)
	if r.Status != 400 || r.JSON(t)["errorCode"] != "QUERY_NOT_SUPPORTED" {
		t.Errorf("contains in a bucket query: %d %s, want 400 QUERY_NOT_SUPPORTED", r.Status, r.Body)
	}
}

func TestUserQueryAPI(t *testing.T) { forEachStore(t, testUserQueryAPI) }

// testUserQueryAPI queries users as the admin (the go SDK's
// UserQueryRequest), with pages, and checks that users may not.
func testUserQueryAPI(t *testing.T, cfg config) {
	f := newFixture(t, cfg)
	base := f.n.base + "/api/apps/" + f.n.app.AppID
	for i, c := range []string{"JP", "JP", "US"} {
		wantStatus(t, do(t, "POST", base+"/users", fmt.Sprintf(`{"loginName":"uq%d","password":"pw-1234","country":%q,"custom":"x"}`, i, c)), 201)
	}
	query := func(token, body string) response {
		return do(t, "POST", base+"/users/query", body, "Authorization", "Bearer "+token, "Content-Type", "application/vnd.kii.UserQueryRequest+json")
	}
	logins := func(r response) []string {
		t.Helper()
		wantStatus(t, r, 200)
		var out []string
		for _, u := range r.JSON(t)["results"].([]any) {
			out = append(out, u.(map[string]any)["loginName"].(string))
		}
		return out
	}
	r := query(f.adminToken, `{"userQuery":{"clause":{"type":"eq","field":"country","value":"JP"},"orderBy":"loginName"},"bestEffortLimit":1}`)
	if got := logins(r); strings.Join(got, ",") != "uq0" {
		t.Errorf("page 1: %v", got)
	}
	key, _ := r.JSON(t)["nextPaginationKey"].(string)
	r = query(f.adminToken, fmt.Sprintf(`{"userQuery":{"clause":{"type":"eq","field":"country","value":"JP"},"orderBy":"loginName"},"bestEffortLimit":1,"paginationKey":%q}`, key))
	if got := logins(r); strings.Join(got, ",") != "uq1" {
		t.Errorf("page 2: %v", got)
	}
	if got := logins(query(f.adminToken, `{"userQuery":{"clause":{"type":"eq","field":"custom","value":"x"}}}`)); len(got) != 0 {
		t.Errorf("custom fields are not queryable: %v", got)
	}
	if r := query(f.userToken, `{}`); r.Status != 401 {
		t.Errorf("a user querying users: %d %s", r.Status, r.Body)
	}
}

func TestThingQuerySystemFields(t *testing.T) { forEachStore(t, testThingQuerySystemFields) }

// testThingQuerySystemFields queries things by every system field the
// spec lists for them: _layoutPosition (STANDALONE when not given),
// _thingType, _vendor, _firmwareVersion, _productName, _lot, _created,
// _disabled, _online and _onlineStatusModifiedAt.
func testThingQuerySystemFields(t *testing.T, cfg config) {
	n := mustStartNodeConfig(t, cfg)
	base := n.base + "/api/apps/" + n.app.AppID
	r := do(t, "POST", base+"/oauth2/token", fmt.Sprintf(`{"grant_type":"client_credentials","client_id":%q,"client_secret":%q}`, n.app.ClientID, n.app.ClientSecret))
	wantStatus(t, r, 200)
	admin := []string{"Authorization", "Bearer " + r.Str(t, "access_token"), "Content-Type", "application/vnd.kii.ThingQueryRequest+json"}
	for _, body := range []string{
		`{"_vendorThingID":"sf-0","_password":"pw","_layoutPosition":"GATEWAY","_thingType":"HUB","_vendor":"acme","_firmwareVersion":"1.0","_productName":"hub-1","_lot":"L7"}`,
		`{"_vendorThingID":"sf-1","_password":"pw","_layoutPosition":"END_NODE","_thingType":"LAMP","_firmwareVersion":"2.0"}`,
		`{"_vendorThingID":"sf-2","_password":"pw","_layoutPosition":"STANDALONE"}`,
	} {
		wantStatus(t, do(t, "POST", base+"/things", body, "Content-Type", "application/vnd.kii.ThingRegistrationRequest+json"), 201)
	}
	wantStatus(t, do(t, "PUT", base+"/things/VENDOR_THING_ID:sf-1/status", `{"disabled":true}`, admin...), 204)
	d := n.mustDevice("sf-3") // no _layoutPosition given: STANDALONE

	query := func(clause string) (string, string) {
		body := `{"thingQuery":{"clause":{"type":"and","clauses":[{"type":"prefix","field":"_vendorThingID","prefix":"sf-"},` + clause + `]},"orderBy":"_vendorThingID"}}`
		r := do(t, "POST", base+"/things/query", body, admin...)
		if r.Status != 200 {
			return "", fmt.Sprintf("%d %s", r.Status, r.Body)
		}
		var got []string
		for _, v := range r.JSON(t)["results"].([]any) {
			got = append(got, v.(map[string]any)["_vendorThingID"].(string))
		}
		return strings.Join(got, ","), string(r.Body)
	}
	for _, tc := range []struct {
		name, clause, want string
	}{
		{"_layoutPosition GATEWAY", `{"type":"eq","field":"_layoutPosition","value":"GATEWAY"}`, "sf-0"},
		{"_layoutPosition END_NODE", `{"type":"eq","field":"_layoutPosition","value":"END_NODE"}`, "sf-1"},
		{"_layoutPosition STANDALONE, given or not", `{"type":"eq","field":"_layoutPosition","value":"STANDALONE"}`, "sf-2,sf-3"},
		{"_layoutPosition in", `{"type":"in","field":"_layoutPosition","values":["GATEWAY","END_NODE"]}`, "sf-0,sf-1"},
		{"_thingType", `{"type":"eq","field":"_thingType","value":"LAMP"}`, "sf-1"},
		{"_vendor", `{"type":"eq","field":"_vendor","value":"acme"}`, "sf-0"},
		{"_firmwareVersion", `{"type":"eq","field":"_firmwareVersion","value":"2.0"}`, "sf-1"},
		{"_productName", `{"type":"prefix","field":"_productName","prefix":"hub"}`, "sf-0"},
		{"_lot", `{"type":"eq","field":"_lot","value":"L7"}`, "sf-0"},
		{"_created", `{"type":"range","field":"_created","lowerLimit":1}`, "sf-0,sf-1,sf-2,sf-3"},
		{"_disabled", `{"type":"eq","field":"_disabled","value":true}`, "sf-1"},
		{"_online false before any connection", `{"type":"eq","field":"_online","value":false}`, "sf-0,sf-1,sf-2,sf-3"},
		{"no _onlineStatusModifiedAt before any connection", `{"type":"hasField","field":"_onlineStatusModifiedAt","fieldType":"INTEGER"}`, ""},
	} {
		if got, body := query(tc.clause); got != tc.want {
			t.Errorf("%s: %q, want %q (%s)", tc.name, got, tc.want, body)
		}
	}

	c, _ := connectDevice(t, n.mqttURL("tcp"), d, 4)
	defer c.Disconnect(100)
	// The device's connection is recorded a moment after CONNACK: wait
	// for it (the only query that depends on time).
	deadline := time.Now().Add(20 * time.Second)
	for got, _ := query(`{"type":"eq","field":"_online","value":true}`); got != "sf-3"; got, _ = query(`{"type":"eq","field":"_online","value":true}`) {
		if time.Now().After(deadline) {
			t.Fatalf("_online eq true: %q, want sf-3", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, tc := range []struct {
		name, clause, want string
	}{
		{"_online false", `{"type":"eq","field":"_online","value":false}`, "sf-0,sf-1,sf-2"},
		{"_onlineStatusModifiedAt", `{"type":"hasField","field":"_onlineStatusModifiedAt","fieldType":"INTEGER"}`, "sf-3"},
	} {
		if got, body := query(tc.clause); got != tc.want {
			t.Errorf("%s: %q, want %q (%s)", tc.name, got, tc.want, body)
		}
	}
}
