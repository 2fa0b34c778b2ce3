package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// gatewayWorld is a gateway onboarded by the fixture's user, with an end
// node onboarded through it.
type gatewayWorld struct {
	app, thingIF      string // base URLs of /api/apps/{app} and /thing-if/apps/{app}
	gwID, gwToken     string
	enID, enVendorID  string
	admin, user, gwAu []string // Authorization headers
}

func newGatewayWorld(t *testing.T, f *fixture) gatewayWorld {
	t.Helper()
	w := gatewayWorld{app: f.n.base + "/api/apps/" + f.n.app.AppID, thingIF: f.n.base + "/thing-if/apps/" + f.n.app.AppID,
		admin: []string{"Authorization", "Bearer " + f.adminToken}, user: []string{"Authorization", "Bearer " + f.userToken}}
	r := f.onboard(t, onboardType("OnboardingWithVendorThingIDByOwner"),
		`{"vendorThingID":"gw-1","thingPassword":"gw-pass","owner":"user:{user}","layoutPosition":"GATEWAY"}`, w.user...)
	wantStatus(t, r, 200)
	w.gwID, w.gwToken = r.Str(t, "thingID"), r.Str(t, "accessToken")
	w.gwAu = []string{"Authorization", "Bearer " + w.gwToken}
	r = f.onboard(t, onboardType("OnboardingEndNodeWithGatewayThingID"),
		`{"gatewayThingID":"`+w.gwID+`","endNodeVendorThingID":"en-1","endNodePassword":"en-pass","owner":"user:{user}"}`, w.user...)
	wantStatus(t, r, 200)
	w.enID, w.enVendorID = r.Str(t, "endNodeThingID"), "en-1"
	return w
}

// endNodes lists a gateway's end nodes (one page) with the given query.
func (w gatewayWorld) endNodes(t *testing.T, query string, auth ...string) (ids []string, next string) {
	t.Helper()
	r := do(t, "GET", w.thingIF+"/things/"+w.gwID+"/end-nodes"+query, "", auth...)
	wantStatus(t, r, 200)
	m := r.JSON(t)
	for _, v := range m["results"].([]any) {
		e := v.(map[string]any)
		id, _ := e["thingID"].(string)
		if vid, _ := e["vendorThingID"].(string); vid == "" || id == "" {
			t.Errorf("end node entry without thingID or vendorThingID: %v", e)
		}
		ids = append(ids, id)
	}
	next, _ = m["nextPaginationKey"].(string)
	return ids, next
}

// number reads a JSON integer decoded as a json.Number.
func number(v any) (int64, error) {
	n, _ := v.(json.Number)
	return n.Int64()
}

// TestGatewayEndNodes onboards a gateway and an end node through it, adds
// a second end node, lists them page by page, reports the end node's
// connection (which drives its _online in GET thing and in a thing
// query), issues an end-node token and uses it, and removes the link.
func TestGatewayEndNodes(t *testing.T) { forEachStore(t, testGatewayEndNodes) }

func testGatewayEndNodes(t *testing.T, cfg config) {
	f := newFixture(t, cfg)
	w := newGatewayWorld(t, f)

	// The onboarding linked the end node to its gateway.
	if ids, next := w.endNodes(t, "", w.gwAu...); !slices.Equal(ids, []string{w.enID}) || next != "" {
		t.Fatalf("end nodes after the end-node onboarding = %v (next %q), want [%s]", ids, next, w.enID)
	}
	// The gateway adds a thing it registered with its own token (kii_go's
	// RegisterThing, then AddEndNode), twice.
	r := do(t, "POST", w.app+"/things", `{"_vendorThingID":"gw-registered","_password":"pass-1234","_layoutPosition":"END_NODE"}`,
		append(w.gwAu, "Content-Type", "application/vnd.kii.ThingRegistrationRequest+json")...)
	wantStatus(t, r, 201)
	mine := r.Str(t, "_thingID")
	for range 2 {
		wantStatus(t, do(t, "PUT", w.app+"/things/"+w.gwID+"/end-nodes/"+mine, "", append(w.gwAu, "Content-Type", "application/json")...), 204)
	}
	want := []string{w.enID, mine}
	slices.Sort(want)
	// Pages of one, by paginationKey and by kii_go's nextPaginationKey;
	// the owner and the admin list as the gateway does.
	for _, param := range []string{"paginationKey", "nextPaginationKey"} {
		first, next := w.endNodes(t, "?bestEffortLimit=1", w.user...)
		if len(first) != 1 || next == "" {
			t.Fatalf("first page = %v (next %q), want one end node and a next page", first, next)
		}
		second, last := w.endNodes(t, "?bestEffortLimit=1&"+param+"="+next, w.admin...)
		if got := append(first, second...); !slices.Equal(got, want) || last != "" {
			t.Errorf("pages by %s = %v (last next %q), want %v", param, got, last, want)
		}
	}

	// The connection status drives _online in GET thing and thing queries.
	thing := func() map[string]any {
		r := do(t, "GET", w.app+"/things/"+w.enID, "", w.admin...)
		wantStatus(t, r, 200)
		return r.JSON(t)
	}
	queryOnline := func(online bool) []string {
		r := do(t, "POST", w.app+"/things/query", fmt.Sprintf(`{"thingQuery":{"clause":{"type":"eq","field":"_online","value":%v}}}`, online),
			append(w.admin, "Content-Type", "application/vnd.kii.ThingQueryRequest+json")...)
		wantStatus(t, r, 200)
		var ids []string
		for _, v := range r.JSON(t)["results"].([]any) {
			ids = append(ids, v.(map[string]any)["_thingID"].(string))
		}
		return ids
	}
	if thing()["_online"] != false {
		t.Fatalf("a new end node is online: %v", thing())
	}
	for _, online := range []bool{true, false, true} {
		wantStatus(t, do(t, "PUT", w.thingIF+"/things/"+w.gwID+"/end-nodes/"+w.enID+"/connection",
			fmt.Sprintf(`{"online":%v}`, online), append(w.gwAu, "Content-Type", "application/json")...), 204)
		got := thing()
		if got["_online"] != online {
			t.Errorf("after connection online=%v, _online = %v", online, got["_online"])
		}
		if at, _ := number(got["_onlineStatusModifiedAt"]); at <= 0 {
			t.Errorf("after connection online=%v, no _onlineStatusModifiedAt: %v", online, got)
		}
		if !slices.Contains(queryOnline(online), w.enID) || slices.Contains(queryOnline(!online), w.enID) {
			t.Errorf("after connection online=%v, the query of _online finds %v; of !_online %v", online, queryOnline(online), queryOnline(!online))
		}
	}

	// The end-node token is a token of the end node (kii_go's
	// GenerateEndNodeToken, expires_in as a string).
	r = do(t, "POST", w.app+"/things/"+w.gwID+"/end-nodes/"+w.enID+"/token", `{"expires_in":"3600"}`,
		append(w.gwAu, "Content-Type", "application/json")...)
	wantStatus(t, r, 200)
	if r.Str(t, "id") != w.enID {
		t.Errorf("end-node token id = %q, want %s", r.Str(t, "id"), w.enID)
	}
	if e, _ := number(r.JSON(t)["expires_in"]); e <= 0 || e > 3600 {
		t.Errorf("end-node token expires_in = %v, want 1..3600", r.JSON(t)["expires_in"])
	}
	enAu := []string{"Authorization", "Bearer " + r.Str(t, "access_token")}
	g := do(t, "GET", w.app+"/things/"+w.enID, "", enAu...)
	wantStatus(t, g, 200)
	if g.Str(t, "_thingID") != w.enID {
		t.Errorf("the end-node token reads thing %s, want %s", g.Str(t, "_thingID"), w.enID)
	}
	wantStatus(t, do(t, "PUT", w.thingIF+"/things/"+w.enID+"/firmware-version", `{"firmwareVersion":"en-fw"}`,
		append(enAu, "Content-Type", "application/vnd.kii.ThingFirmwareVersionUpdateRequest+json")...), 204)
	wantStatus(t, do(t, "GET", w.app+"/things/"+w.gwID, "", enAu...), 401) // not the gateway's token
	// Without expires_in (an empty body): the app's default, no expiry.
	r = do(t, "POST", w.app+"/things/"+w.gwID+"/end-nodes/"+mine+"/token", "", w.user...)
	wantStatus(t, r, 200)
	if r.Str(t, "id") != mine || r.Str(t, "access_token") == "" {
		t.Errorf("end-node token of the added end node: %s", r.Body)
	}

	// Removing the link: the end node is no longer listed, its connection
	// no longer the gateway's to report; the thing stays.
	wantStatus(t, do(t, "DELETE", w.app+"/things/"+w.gwID+"/end-nodes/"+w.enID, "", w.gwAu...), 204)
	if ids, _ := w.endNodes(t, "", w.gwAu...); !slices.Equal(ids, []string{mine}) {
		t.Errorf("end nodes after the removal = %v, want [%s]", ids, mine)
	}
	r = do(t, "PUT", w.thingIF+"/things/"+w.gwID+"/end-nodes/"+w.enID+"/connection", `{"online":false}`, w.gwAu...)
	wantStatus(t, r, 404)
	if r.JSON(t)["errorCode"] != "THING_END_NODE_DOES_NOT_BELONG_TO_GATEWAY" {
		t.Errorf("connection of a removed end node: %s", r.Body)
	}
	wantStatus(t, do(t, "GET", w.app+"/things/"+w.enID, "", w.admin...), 200)

	// Deleting the gateway removes its links: its end node may join another.
	wantStatus(t, do(t, "DELETE", w.app+"/things/"+w.gwID, "", w.user...), 204)
	wantStatus(t, do(t, "PUT", w.app+"/things/"+f.thing.ThingID+"/end-nodes/"+mine, "", w.admin...), 204)
}

// TestGatewayErrors checks each failure of the gateway endpoints, in
// Kii's format: wrong callers, unknown things, end nodes of no or of
// another gateway, bad bodies.
func TestGatewayErrors(t *testing.T) { forEachStore(t, testGatewayErrors) }

func testGatewayErrors(t *testing.T, cfg config) {
	f := newFixture(t, cfg)
	w := newGatewayWorld(t, f)
	// A second gateway, with an end node of its own.
	r := f.onboard(t, onboardType("OnboardingWithVendorThingIDByOwner"),
		`{"vendorThingID":"gw-2","thingPassword":"gw-pass","owner":"user:{user}","layoutPosition":"GATEWAY"}`, w.user...)
	wantStatus(t, r, 200)
	gw2 := r.Str(t, "thingID")
	wantStatus(t, do(t, "PUT", w.app+"/things/"+gw2+"/end-nodes/"+f.other.ThingID, "", w.admin...), 204)
	// A thing of another user.
	r = do(t, "POST", w.app+"/users", `{"loginName":"bob","password":"bob-pass"}`,
		"Content-Type", "application/vnd.kii.RegistrationAndAuthorizationRequest+json")
	wantStatus(t, r, 201)
	bobID, bobToken := r.Str(t, "userID"), r.Str(t, "_accessToken")
	r = f.onboard(t, onboardType("OnboardingWithVendorThingIDByOwner"),
		`{"vendorThingID":"bobs","thingPassword":"pw","owner":"user:`+bobID+`"}`, "Authorization", "Bearer "+bobToken)
	wantStatus(t, r, 200)
	bobs := r.Str(t, "thingID")
	enTok := do(t, "POST", w.app+"/things/"+w.gwID+"/end-nodes/"+w.enID+"/token", "", w.gwAu...).Str(t, "access_token")

	gw, en := "/things/"+w.gwID, "/end-nodes/"+w.enID
	api, tif := "/api/apps/{app}", "/thing-if/apps/{app}"
	ct := []string{"Content-Type", "application/json"}
	as := func(token string) []string { return append([]string{"Authorization", "Bearer " + token}, ct...) }
	gwAu, thing, user, anon := as(w.gwToken), as("{token}"), as("{usertoken}"), ct
	cases := []apiCase{
		{name: "list by another thing", method: "GET", path: tif + gw + "/end-nodes", headers: thing, status: 401, code: "UNAUTHORIZED"},
		{name: "list by the end node", method: "GET", path: tif + gw + "/end-nodes", headers: as(enTok), status: 401, code: "UNAUTHORIZED"},
		{name: "list without a token", method: "GET", path: tif + gw + "/end-nodes", headers: anon, status: 401, code: "UNAUTHORIZED"},
		{name: "list of an unknown gateway", method: "GET", path: tif + "/things/th.nope/end-nodes", headers: gwAu, status: 404, code: "THING_NOT_FOUND"},
		{name: "list with a bad bestEffortLimit", method: "GET", path: tif + gw + "/end-nodes?bestEffortLimit=0", headers: gwAu, status: 400, code: "INVALID_INPUT_DATA"},
		{name: "add an unknown end node", method: "PUT", path: api + gw + "/end-nodes/th.nope", headers: gwAu, status: 404, code: "THING_NOT_FOUND"},
		{name: "add by another thing", method: "PUT", path: api + gw + "/end-nodes/{thing}", headers: thing, status: 401, code: "UNAUTHORIZED"},
		{name: "add an ownerless thing it did not register", method: "PUT", path: api + gw + "/end-nodes/{thing}", headers: gwAu, status: 401, code: "UNAUTHORIZED"},
		{name: "add another gateway's end node", method: "PUT", path: api + gw + "/end-nodes/{other}", headers: as("{admin}"), status: 409,
			code: "THING_END_NODE_ALREADY_BELONGS_TO_GATEWAY", ctype: "application/vnd.kii.ThingEndNodeAlreadyBelongsToGatewayException+json"},
		{name: "add a thing of another owner", method: "PUT", path: api + gw + "/end-nodes/" + bobs, headers: gwAu, status: 401, code: "UNAUTHORIZED"},
		{name: "add a thing of another owner, as the gateway's owner", method: "PUT", path: api + gw + "/end-nodes/" + bobs, headers: user, status: 401, code: "UNAUTHORIZED"},
		{name: "add the gateway to itself", method: "PUT", path: api + gw + "/end-nodes/" + w.gwID, headers: user, status: 400, code: "INVALID_INPUT_DATA"},
		{name: "remove a thing that is not its end node", method: "DELETE", path: api + gw + "/end-nodes/{other}", headers: gwAu, status: 404,
			code: "THING_END_NODE_DOES_NOT_BELONG_TO_GATEWAY", ctype: "application/vnd.kii.ThingEndNodeDoesNotBelongToGatewayException+json"},
		{name: "connection of another gateway's end node", method: "PUT", path: tif + gw + "/end-nodes/{other}/connection", body: `{"online":true}`,
			headers: gwAu, status: 404, code: "THING_END_NODE_DOES_NOT_BELONG_TO_GATEWAY"},
		{name: "connection of an unknown end node", method: "PUT", path: tif + gw + "/end-nodes/th.nope/connection", body: `{"online":true}`,
			headers: gwAu, status: 404, code: "THING_NOT_FOUND"},
		{name: "connection without online", method: "PUT", path: tif + gw + en + "/connection", body: `{"online":"yes"}`, headers: gwAu, status: 400, code: "INVALID_INPUT_DATA"},
		{name: "connection not JSON", method: "PUT", path: tif + gw + en + "/connection", body: `{"online":`, headers: gwAu, status: 400, code: "INVALID_JSON"},
		{name: "connection by the end node", method: "PUT", path: tif + gw + en + "/connection", body: `{"online":true}`, headers: as(enTok), status: 401, code: "UNAUTHORIZED"},
		{name: "connection by a stranger user", method: "PUT", path: tif + "/things/{thing}/end-nodes/{other}/connection", body: `{"online":true}`, headers: user, status: 401, code: "UNAUTHORIZED"},
		{name: "token of a thing that is not its end node", method: "POST", path: api + gw + "/end-nodes/{other}/token", headers: gwAu, status: 404, code: "THING_END_NODE_DOES_NOT_BELONG_TO_GATEWAY"},
		{name: "token with a bad expires_in", method: "POST", path: api + gw + en + "/token", body: `{"expires_in":"soon"}`, headers: gwAu, status: 400, code: "INVALID_INPUT_DATA"},
		{name: "token by another thing", method: "POST", path: api + gw + en + "/token", headers: thing, status: 401, code: "UNAUTHORIZED"},
		{name: "token by the app-level token", method: "POST", path: api + gw + en + "/token", headers: as("{anon}"), status: 401, code: "UNAUTHORIZED"},
	}
	f.run(t, cases)

	// End-node onboarding of an end node of another gateway.
	r = f.onboard(t, onboardType("OnboardingEndNodeWithGatewayThingID"),
		`{"gatewayThingID":"`+gw2+`","endNodeVendorThingID":"en-1","endNodePassword":"en-pass","owner":"user:{user}"}`, w.user...)
	wantStatus(t, r, 409)
	if r.JSON(t)["errorCode"] != "THING_END_NODE_ALREADY_BELONGS_TO_GATEWAY" {
		t.Errorf("onboarding another gateway's end node: %s", r.Body)
	}
	// A disabled end node gets no token.
	wantStatus(t, do(t, "PUT", w.app+"/things/"+w.enID+"/status", `{"disabled":true}`, w.admin...), 204)
	r = do(t, "POST", w.app+gw+en+"/token", "", w.gwAu...)
	wantStatus(t, r, 401)
	if r.JSON(t)["errorCode"] != "THING_DISABLED" {
		t.Errorf("token of a disabled end node: %s", r.Body)
	}
}

// TestThingInfo writes and reads a thing's firmware version and thing
// type through the Thing-IF endpoints, as the thing, its owner and the
// admin, and checks their errors.
func TestThingInfo(t *testing.T) { forEachStore(t, testThingInfo) }

func testThingInfo(t *testing.T, cfg config) {
	f := newFixture(t, cfg)
	app := f.n.base + "/api/apps/" + f.n.app.AppID
	r := f.onboard(t, onboardType("OnboardingWithVendorThingIDByOwner"),
		`{"vendorThingID":"info-1","thingPassword":"pw","owner":"user:{user}"}`, "Authorization", "Bearer "+f.userToken)
	wantStatus(t, r, 200)
	owned := r.Str(t, "thingID")
	fw := "application/vnd.kii.ThingFirmwareVersionUpdateRequest+json"
	tt := "application/vnd.kii.ThingTypeUpdateRequest+json"
	tif := "/thing-if/apps/{app}/things/"
	au := func(token string, ct string) []string {
		return []string{"Authorization", "Bearer " + token, "Content-Type", ct}
	}
	long := strings.Repeat("x", 101)
	f.run(t, []apiCase{
		{name: "firmware version never set", method: "GET", path: tif + "{thing}/firmware-version", headers: au("{token}", jsonCT), status: 404,
			code: "THING_WITHOUT_FIRMWARE_VERSION", ctype: "application/vnd.kii.ThingWithoutFirmwareVersionException+json"},
		{name: "thing type never set", method: "GET", path: tif + "{thing}/thing-type", headers: au("{token}", jsonCT), status: 404,
			code: "THING_WITHOUT_THING_TYPE", ctype: "application/vnd.kii.ThingWithoutThingTypeException+json"},
		{name: "the thing sets its firmware version", method: "PUT", path: tif + "{thing}/firmware-version", body: `{"firmwareVersion":"v1"}`, headers: au("{token}", fw), status: 204},
		{name: "the thing reads it", method: "GET", path: tif + "{thing}/firmware-version", headers: au("{token}", jsonCT), status: 200, bodyHas: []string{`"firmwareVersion" : "v1"`}},
		{name: "the admin sets the thing type", method: "PUT", path: tif + "{thing}/thing-type", body: `{"thingType":"LAMP"}`, headers: au("{admin}", tt), status: 204},
		{name: "the thing reads its type", method: "GET", path: tif + "{thing}/thing-type", headers: au("{token}", jsonCT), status: 200, bodyHas: []string{`"thingType" : "LAMP"`}},
		{name: "the owner sets the firmware version", method: "PUT", path: tif + owned + "/firmware-version", body: `{"firmwareVersion":"v2"}`, headers: au("{usertoken}", fw), status: 204},
		{name: "the owner sets the thing type", method: "PUT", path: tif + owned + "/thing-type", body: `{"thingType":"AC"}`, headers: au("{usertoken}", tt), status: 204},
		{name: "the admin reads the owner's", method: "GET", path: tif + owned + "/firmware-version", headers: au("{admin}", jsonCT), status: 200, bodyHas: []string{`"v2"`}},
		{name: "another thing may not write", method: "PUT", path: tif + owned + "/firmware-version", body: `{"firmwareVersion":"v3"}`, headers: au("{token}", fw), status: 401, code: "UNAUTHORIZED"},
		{name: "another thing may not read", method: "GET", path: tif + owned + "/thing-type", headers: au("{othertoken}", jsonCT), status: 401, code: "UNAUTHORIZED"},
		{name: "a stranger user may not write", method: "PUT", path: tif + "{thing}/thing-type", body: `{"thingType":"X"}`, headers: au("{usertoken}", tt), status: 401, code: "UNAUTHORIZED"},
		{name: "no token", method: "PUT", path: tif + "{thing}/thing-type", body: `{"thingType":"X"}`, headers: []string{"Content-Type", tt}, status: 401, code: "UNAUTHORIZED"},
		{name: "unknown thing", method: "GET", path: tif + "th.nope/firmware-version", headers: au("{admin}", jsonCT), status: 404, code: "THING_NOT_FOUND"},
		{name: "unknown thing PUT", method: "PUT", path: tif + "th.nope/thing-type", body: `{"thingType":"X"}`, headers: au("{admin}", tt), status: 404, code: "THING_NOT_FOUND"},
		{name: "no firmwareVersion", method: "PUT", path: tif + "{thing}/firmware-version", body: `{}`, headers: au("{token}", fw), status: 400, code: "INVALID_INPUT_DATA"},
		{name: "firmwareVersion not a string", method: "PUT", path: tif + "{thing}/firmware-version", body: `{"firmwareVersion":2}`, headers: au("{token}", fw), status: 400, code: "INVALID_INPUT_DATA"},
		{name: "thingType too long", method: "PUT", path: tif + "{thing}/thing-type", body: `{"thingType":"` + long + `"}`, headers: au("{token}", tt), status: 400, code: "INVALID_INPUT_DATA"},
		{name: "body not JSON", method: "PUT", path: tif + "{thing}/thing-type", body: `{"thingType":`, headers: au("{token}", tt), status: 400, code: "INVALID_JSON"},
	})
	// They are the thing's _firmwareVersion and _thingType fields.
	for id, want := range map[string][2]string{f.thing.ThingID: {"v1", "LAMP"}, owned: {"v2", "AC"}} {
		r := do(t, "GET", app+"/things/"+id, "", "Authorization", "Bearer "+f.adminToken)
		wantStatus(t, r, 200)
		if got := r.JSON(t); got["_firmwareVersion"] != want[0] || got["_thingType"] != want[1] {
			t.Errorf("thing %s: _firmwareVersion %v, _thingType %v; want %v", id, got["_firmwareVersion"], got["_thingType"], want)
		}
	}
}

// TestOnboardAgainUpdates onboards a thing, then again with other
// fields: its firmware version, layout position and data grouping
// interval follow; its thing type and properties stay, as Kii's SDKs
// document. A bad dataGroupingInterval is refused.
func TestOnboardAgainUpdates(t *testing.T) { forEachStore(t, testOnboardAgainUpdates) }

func testOnboardAgainUpdates(t *testing.T, cfg config) {
	f := newFixture(t, cfg)
	get := func(id string) map[string]any {
		r := do(t, "GET", f.n.base+"/api/apps/"+f.n.app.AppID+"/things/"+id, "", "Authorization", "Bearer "+f.adminToken)
		wantStatus(t, r, 200)
		return r.JSON(t)
	}
	check := func(what string, got map[string]any, want map[string]string) {
		t.Helper()
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %s = %v, want %q", what, k, got[k], v)
			}
		}
	}
	byThing := onboardType("OnboardingWithVendorThingIDByThing")
	r := f.onboard(t, byThing, `{"vendorThingID":"again-1","thingPassword":"pw","thingType":"LAMP","firmwareVersion":"1.0",
		"layoutPosition":"STANDALONE","dataGroupingInterval":"1_MINUTE","thingProperties":{"color":"red"}}`)
	wantStatus(t, r, 200)
	id := r.Str(t, "thingID")
	check("first onboarding", get(id), map[string]string{"_thingType": "LAMP", "_firmwareVersion": "1.0", "_layoutPosition": "STANDALONE",
		"_dataGroupingInterval": "1_MINUTE", "color": "red"})

	r = f.onboard(t, byThing, `{"vendorThingID":"again-1","thingPassword":"pw","thingType":"AC","firmwareVersion":"2.0",
		"layoutPosition":"GATEWAY","dataGroupingInterval":"1_hour","thingProperties":{"color":"blue","_firmwareVersion":"9"}}`)
	wantStatus(t, r, 200)
	check("onboarding again", get(id), map[string]string{"_thingType": "LAMP", "_firmwareVersion": "2.0", "_layoutPosition": "GATEWAY",
		"_dataGroupingInterval": "1_HOUR", "color": "red"})

	// By thing ID and owner: the layout position and interval given.
	r = f.onboard(t, onboardType("OnboardingWithThingIDByOwner"), `{"thingID":"`+id+`","thingPassword":"pw","owner":"user:{user}",
		"layoutPosition":"STANDALONE","dataGroupingInterval":"12_HOURS"}`, "Authorization", "Bearer "+f.userToken)
	wantStatus(t, r, 200)
	check("onboarding by thing ID", get(id), map[string]string{"_firmwareVersion": "2.0", "_layoutPosition": "STANDALONE", "_dataGroupingInterval": "12_HOURS"})
	// Without them, nothing changes.
	wantStatus(t, f.onboard(t, byThing, `{"vendorThingID":"again-1","thingPassword":"pw"}`), 200)
	check("onboarding with no fields", get(id), map[string]string{"_thingType": "LAMP", "_firmwareVersion": "2.0", "_layoutPosition": "STANDALONE",
		"_dataGroupingInterval": "12_HOURS"})

	// A bad interval is refused, for a new thing and an existing one.
	for _, vid := range []string{"again-2", "again-1"} {
		r = f.onboard(t, byThing, `{"vendorThingID":"`+vid+`","thingPassword":"pw","dataGroupingInterval":"2_DAYS"}`)
		wantStatus(t, r, 400)
		if inv, _ := r.JSON(t)["invalidFields"].(map[string]any); r.JSON(t)["errorCode"] != "INVALID_INPUT_DATA" || inv["dataGroupingInterval"] == nil {
			t.Errorf("a bad dataGroupingInterval: %s", r.Body)
		}
	}
	r = f.onboard(t, onboardType("OnboardingEndNodeWithGatewayThingID"), `{"gatewayThingID":"`+id+`","endNodeVendorThingID":"again-en",
		"endNodePassword":"pw","owner":"user:{user}","dataGroupingInterval":"15_MINUTES"}`, "Authorization", "Bearer "+f.userToken)
	wantStatus(t, r, 200)
	check("end node", get(r.Str(t, "endNodeThingID")), map[string]string{"_dataGroupingInterval": "15_MINUTES", "_layoutPosition": "END_NODE"})
}
