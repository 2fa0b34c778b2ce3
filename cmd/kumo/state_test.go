package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// stateURL is the states URL of a thing's target, below the base URL.
func stateURL(f *fixture, target string) string {
	return f.n.base + "/thing-if/apps/" + f.n.app.AppID + "/targets/" + target + "/states"
}

// onboardOwned onboards a thing owned by the fixture's user and returns
// its ID and token.
func onboardOwned(t *testing.T, f *fixture, vendorID, extra string) (string, string) {
	t.Helper()
	r := f.onboard(t, onboardType("OnboardingWithVendorThingIDByOwner"),
		`{"vendorThingID":"`+vendorID+`","thingPassword":"pw","owner":"user:{user}"`+extra+`}`, "Authorization", "Bearer "+f.userToken)
	wantStatus(t, r, 200)
	return r.Str(t, "thingID"), r.Str(t, "accessToken")
}

// TestThingIFStates drives the state API: PUT 201 then 204, PATCH, an
// alias, bulk uploads (gzip too), GET by the thing and its owner, the
// history query, and the errors.
func TestThingIFStates(t *testing.T) { forEachStore(t, testThingIFStates) }

func testThingIFStates(t *testing.T, cfg config) {
	f := newFixture(t, cfg)
	thingID, token := onboardOwned(t, f, "st-1", "")
	url := stateURL(f, "thing:"+thingID)
	auth := []string{"Authorization", "Bearer " + token}
	trait := append([]string{"Content-Type", "application/vnd.kii.MultipleTraitState+json"}, auth...)

	wantStatus(t, do(t, "PUT", url, `{"ac":{"power":true,"temp":20}}`, trait...), 201)
	wantStatus(t, do(t, "PUT", url, `{"ac":{"power":true,"temp":21}}`, trait...), 204)
	// The target's prefix in any case.
	wantStatus(t, do(t, "PUT", stateURL(f, "THING:"+thingID), `{"ac":{"power":true,"temp":22}}`, trait...), 204)
	wantStatus(t, do(t, "PATCH", url, `{"ac":{"temp":23},"hum":{"level":40}}`,
		append([]string{"Content-Type", "application/vnd.kii.MultipleTraitStatePatch+json"}, auth...)...), 204)
	wantStatus(t, do(t, "PUT", url+"/aliases/hum", `{"level":41}`,
		append([]string{"Content-Type", "application/vnd.kii.TraitState+json"}, auth...)...), 204)
	// A gzip body.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(`{"ac":{"temp":24},"hum":{"level":42}}`))
	zw.Close()
	wantStatus(t, do(t, "PATCH", url, gz.String(), append([]string{"Content-Type", "application/vnd.kii.MultipleTraitStatePatch+json",
		"Content-Encoding", "gzip"}, auth...)...), 204)

	// The owner reads the document and an alias.
	owner := []string{"Authorization", "Bearer " + f.userToken}
	r := do(t, "GET", url, "", owner...)
	wantStatus(t, r, 200)
	if got := compactJSON(t, r.Body); got != `{"ac":{"power":true,"temp":24},"hum":{"level":42}}` {
		t.Errorf("GET states = %s", got)
	}
	r = do(t, "GET", url+"/aliases/ac", "", auth...)
	wantStatus(t, r, 200)
	if got := compactJSON(t, r.Body); got != `{"power":true,"temp":24}` {
		t.Errorf("GET alias = %s", got)
	}

	// Bulk uploads with their own times, then the history.
	bulk := `{"states":[{"generatedAt":1700000000000,"payload":{"env":{"temp":10}}},{"generatedAt":1700000030000,"payload":{"env":{"temp":20}}},` +
		`{"generatedAt":1700001000000,"payload":{"env":{"temp":30}}}]}`
	wantStatus(t, do(t, "POST", url+"-bulk", bulk, append([]string{"Content-Type", "application/vnd.kii.StateBulkUploadRequest+json"}, auth...)...), 204)
	wantStatus(t, do(t, "POST", url+"-bulk", `{"states":[{"generatedAt":1700001100000,"payload":{"env":{"hum":5}}}]}`,
		append([]string{"Content-Type", "application/vnd.kii.StatePatchBulkUploadRequest+json"}, auth...)...), 204)
	query := append([]string{"Content-Type", "application/vnd.kii.TraitStateQueryRequest+json"}, owner...)
	r = do(t, "POST", url+"/aliases/env/query", `{"query":{"clause":{"type":"range","field":"temp","lowerLimit":15,"lowerIncluded":true}},"bestEffortLimit":1}`, query...)
	wantStatus(t, r, 200)
	page := r.JSON(t)
	results, _ := page["results"].([]any)
	if len(results) != 1 || page["nextPaginationKey"] == nil {
		t.Fatalf("page 1 = %s", r.Body)
	}
	r = do(t, "POST", url+"/aliases/env/query", `{"query":{"clause":{"type":"range","field":"temp","lowerLimit":15,"lowerIncluded":true}},"bestEffortLimit":1,"paginationKey":"`+
		page["nextPaginationKey"].(string)+`"}`, query...)
	wantStatus(t, r, 200)
	// The next match; more follow (the patched state keeps temp 30).
	if got := compactJSON(t, r.Body); !strings.HasPrefix(got, `{"nextPaginationKey":"1700001000000_`) ||
		!strings.HasSuffix(got, `","results":[{"_created":1700001000000,"temp":30}]}`) {
		t.Errorf("page 2 = %s", got)
	}
	// Grouped, with aggregations: the golden answer.
	r = do(t, "POST", url+"/aliases/env/query", `{"query":{"grouped":true,"clause":{"type":"and","clauses":[{"type":"withinTimeRange","lowerLimit":1700000000000,"upperLimit":1700002000000},{"type":"all"}]},`+
		`"aggregations":[{"type":"MEAN","field":"temp","fieldType":"INTEGER","putAggregationInto":"mean"},{"type":"MAX","field":"temp","fieldType":"INTEGER","putAggregationInto":"max"},{"type":"COUNT","field":"hum","fieldType":"INTEGER","putAggregationInto":"n"}]}}`, query...)
	checkGolden(t, "state-query-aggregations", r, map[string]string{})

	// A non-trait thing: application/json documents, its own history.
	plainID, plainToken := onboardOwned(t, f, "st-2", "")
	plain := []string{"Content-Type", "application/json", "Authorization", "Bearer " + plainToken}
	wantStatus(t, do(t, "PUT", stateURL(f, "thing:"+plainID), `{"power":true}`, plain...), 201)
	wantStatus(t, do(t, "PUT", stateURL(f, "thing:"+plainID), `{"power":false}`, plain...), 204)
	// A non-trait bulk upload: payloads are documents.
	wantStatus(t, do(t, "POST", stateURL(f, "thing:"+plainID)+"-bulk", `{"states":[{"generatedAt":1700000000000,"payload":{"power":false,"fan":2}}]}`,
		"Content-Type", "application/vnd.kii.StatePatchBulkUploadRequest+json", "Authorization", "Bearer "+plainToken), 204)
	r = do(t, "GET", stateURL(f, "thing:"+plainID), "", plain...)
	if got := compactJSON(t, r.Body); got != `{"fan":2,"power":false}` {
		t.Errorf("non-trait state after a bulk patch = %s", got)
	}
	r = do(t, "POST", stateURL(f, "thing:"+plainID)+"/query", `{"query":{"clause":{"type":"eq","field":"power","value":false}}}`, plain...)
	wantStatus(t, r, 200)
	// In time order: the bulk state (2023), then the PUT of {"power":false}.
	results, _ = r.JSON(t)["results"].([]any)
	if len(results) != 2 || compactJSON(t, mustJSON(t, results[0])) != `{"_created":1700000000000,"fan":2,"power":false}` ||
		results[1].(map[string]any)["fan"] != nil {
		t.Errorf("non-trait history = %s", r.Body)
	}

	// A non-trait thing groups its history by the dataGroupingInterval
	// given at onboarding (here a minute; 15 minutes otherwise).
	minuteID, minuteToken := onboardOwned(t, f, "st-3", `,"dataGroupingInterval":"1_MINUTE"`)
	wantStatus(t, do(t, "POST", stateURL(f, "thing:"+minuteID)+"-bulk", `{"states":[{"generatedAt":1700000000000,"payload":{"power":true}}]}`,
		"Content-Type", "application/vnd.kii.StateBulkUploadRequest+json", "Authorization", "Bearer "+minuteToken), 204)
	for id, width := range map[string]int64{minuteID: 60_000, plainID: 15 * 60_000} {
		tok := map[string]string{minuteID: minuteToken, plainID: plainToken}[id]
		r = do(t, "POST", stateURL(f, "thing:"+id)+"/query", `{"query":{"grouped":true,"clause":{"type":"withinTimeRange","lowerLimit":1700000000000,"upperLimit":1700000000001}}}`,
			"Content-Type", "application/json", "Authorization", "Bearer "+tok)
		wantStatus(t, r, 200)
		groups, _ := r.JSON(t)["groupedResults"].([]any)
		if len(groups) != 1 {
			t.Fatalf("grouped non-trait history = %s", r.Body)
		}
		rng := groups[0].(map[string]any)["range"].(map[string]any)
		from, _ := rng["from"].(json.Number).Int64()
		to, _ := rng["to"].(json.Number).Int64()
		if to-from+1 != width {
			t.Errorf("a non-trait group spans %d ms, want %d: %s", to-from+1, width, r.Body)
		}
	}

	big := `{"ac":{"x":"` + strings.Repeat("a", 11*1024) + `"}}`
	thing := "/thing-if/apps/{app}/targets/thing:" + thingID + "/states"
	tt := "Bearer " + token
	f.run(t, []apiCase{
		{name: "a stranger writes", method: "PUT", path: thing, body: `{"ac":{}}`, headers: []string{"Authorization", "Bearer {othertoken}", "Content-Type", "application/vnd.kii.MultipleTraitState+json"},
			status: 401, code: "UNAUTHORIZED"},
		{name: "a stranger reads", method: "GET", path: thing, headers: []string{"Authorization", "Bearer {othertoken}"}, status: 401, code: "UNAUTHORIZED"},
		{name: "no token", method: "GET", path: thing, status: 401, code: "UNAUTHORIZED"},
		{name: "an unknown thing", method: "PUT", path: "/thing-if/apps/{app}/targets/thing:th.nope/states", body: `{"a":1}`,
			headers: []string{"Authorization", "Bearer {admin}", "Content-Type", "application/json"}, status: 404, code: "TARGET_NOT_FOUND"},
		{name: "not a thing target", method: "GET", path: "/thing-if/apps/{app}/targets/user:{user}/states", headers: []string{"Authorization", tt}, status: 404, code: "NOT_FOUND"},
		{name: "an empty body", method: "PUT", path: thing, headers: []string{"Authorization", tt, "Content-Type", "application/json"}, status: 400, code: "EMPTY_BODY"},
		{name: "an empty bulk body", method: "POST", path: thing + "-bulk", headers: []string{"Authorization", tt, "Content-Type", "application/vnd.kii.StateBulkUploadRequest+json"}, status: 400, code: "EMPTY_BODY"},
		{name: "over 10 KB", method: "PUT", path: thing, body: big, headers: []string{"Authorization", tt, "Content-Type", "application/vnd.kii.MultipleTraitState+json"}, status: 400, code: "INVALID_INPUT_DATA"},
		{name: "a trait state whose alias is no object", method: "PUT", path: thing, body: `{"ac":1}`,
			headers: []string{"Authorization", tt, "Content-Type", "application/vnd.kii.MultipleTraitState+json"}, status: 400, code: "INVALID_INPUT_DATA"},
		{name: "not JSON", method: "PUT", path: thing, body: `{"ac":`, headers: []string{"Authorization", tt, "Content-Type", "application/json"}, status: 400, code: "INVALID_JSON"},
		{name: "bulk of another type", method: "POST", path: thing + "-bulk", body: `{"states":[]}`, headers: []string{"Authorization", tt, "Content-Type", "application/json"}, status: 415, code: "UNSUPPORTED_MEDIA_TYPE"},
		{name: "bulk without generatedAt", method: "POST", path: thing + "-bulk", body: `{"states":[{"payload":{"a":{}}}]}`,
			headers: []string{"Authorization", tt, "Content-Type", "application/vnd.kii.StateBulkUploadRequest+json"}, status: 400, code: "INVALID_INPUT_DATA"},
		{name: "an alias never written", method: "GET", path: thing + "/aliases/nope", headers: []string{"Authorization", tt}, status: 404, code: "STATE_NOT_FOUND"},
		{name: "the history of an alias never written", method: "POST", path: thing + "/aliases/nope/query", body: `{"query":{"clause":{"type":"all"}}}`,
			headers: []string{"Authorization", tt, "Content-Type", "application/vnd.kii.TraitStateQueryRequest+json"}, status: 409, code: "STATE_HISTORY_NOT_AVAILABLE"},
		{name: "a bad clause", method: "POST", path: thing + "/aliases/ac/query", body: `{"query":{"clause":{"type":"like"}}}`,
			headers: []string{"Authorization", tt, "Content-Type", "application/vnd.kii.TraitStateQueryRequest+json"}, status: 400, code: "INVALID_INPUT_DATA"},
		{name: "grouped over too long a range", method: "POST", path: thing + "/aliases/ac/query",
			body:    `{"query":{"grouped":true,"clause":{"type":"withinTimeRange","lowerLimit":0,"upperLimit":1700000000000}}}`,
			headers: []string{"Authorization", tt, "Content-Type", "application/vnd.kii.TraitStateQueryRequest+json"}, status: 400, code: "INVALID_INPUT_DATA"},
	})
}

// compactJSON re-encodes a JSON body with sorted keys and no spaces.
func compactJSON(t *testing.T, b []byte) string {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("not JSON: %s", b)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

// TestThingIFConfiguration configures a thing type, a firmware version, a
// trait (versions, finalize) and an alias the way Kii's tools do, and
// checks that a thing of that type may only write known aliases, and
// that its history groups by the trait's interval.
func TestThingIFConfiguration(t *testing.T) { forEachStore(t, testThingIFConfiguration) }

func testThingIFConfiguration(t *testing.T, cfg config) {
	f := newFixture(t, cfg)
	admin := []string{"Authorization", "Bearer " + f.adminToken}
	api, tif := f.n.base+"/api/apps/"+f.n.app.AppID, f.n.base+"/thing-if/apps/"+f.n.app.AppID
	wantStatus(t, do(t, "PUT", api+"/configuration/thing-types/LAMP", `{"simpleFlow":true,"verificationCodeFlowStartedByUser":true}`,
		append([]string{"Content-Type", "application/vnd.kii.ThingTypeConfigurationRequest+json"}, admin...)...), 201)
	wantStatus(t, do(t, "PUT", api+"/configuration/thing-types/LAMP/firmware-versions/v1", "", append([]string{"Content-Type", "text/plain"}, admin...)...), 201)
	r := do(t, "POST", tif+"/traits/Light/versions", `{"dataGroupingInterval":"1_MINUTE","actions":[{"turnPower":{"payloadSchema":{"type":"boolean"}}}],"states":[{"power":{"payloadSchema":{"type":"boolean"}}}]}`,
		append([]string{"Content-Type", "application/vnd.kii.TraitCreationRequest+json"}, admin...)...)
	wantStatus(t, r, 201)
	if r.JSON(t)["traitVersion"] != json.Number("1") && r.JSON(t)["traitVersion"] != float64(1) {
		t.Errorf("trait version = %s", r.Body)
	}
	wantStatus(t, do(t, "PUT", tif+"/traits/Light/versions/1/finalize", "", admin...), 204)
	wantStatus(t, do(t, "PUT", tif+"/configuration/thing-types/LAMP/firmware-versions/v1/aliases/light", `{"trait":"Light","traitVersion":"1"}`,
		append([]string{"Content-Type", "application/vnd.kii.TraitAliasCreationRequest+json"}, admin...)...), 201)

	// What Kii's tools read back.
	r = do(t, "GET", api+"/configuration/thing-types", "", admin...)
	wantStatus(t, r, 200)
	if got := compactJSON(t, r.Body); got != `[{"simpleFlow":true,"thingType":"LAMP","verificationCodeFlowStartedByUser":true}]` {
		t.Errorf("thing types = %s", got)
	}
	r = do(t, "GET", api+"/configuration/thing-types/LAMP/firmware-versions", "", admin...)
	if got := compactJSON(t, r.Body); got != `{"results":[{"firmwareVersion":"v1"}]}` {
		t.Errorf("firmware versions = %s", got)
	}
	r = do(t, "GET", tif+"/configuration/thing-types/LAMP/firmware-versions/v1/aliases", "", "Authorization", "Bearer "+f.userToken)
	if got := compactJSON(t, r.Body); got != `{"aliases":[{"alias":"light","trait":"Light","traitVersion":1}]}` {
		t.Errorf("aliases = %s", got)
	}
	r = do(t, "GET", tif+"/traits/Light/versions/1", "", admin...)
	wantStatus(t, r, 200)
	if m := r.JSON(t); m["finalized"] != true || m["dataGroupingInterval"] != "1_MINUTE" {
		t.Errorf("trait version 1 = %s", r.Body)
	}

	// A thing of that type and firmware version.
	thingID, token := onboardOwned(t, f, "lamp-1", `,"thingType":"LAMP","firmwareVersion":"v1"`)
	trait := []string{"Content-Type", "application/vnd.kii.MultipleTraitState+json", "Authorization", "Bearer " + token}
	r = do(t, "PUT", stateURL(f, "thing:"+thingID), `{"heater":{"on":true}}`, trait...)
	wantStatus(t, r, 404)
	if r.JSON(t)["errorCode"] != "TRAIT_ALIAS_NOT_FOUND" {
		t.Errorf("a state of an unknown alias: %s", r.Body)
	}
	// Its owner's commands are checked the same way.
	owner := []string{"Content-Type", "application/vnd.kii.CommandCreationRequest+json", "Authorization", "Bearer " + f.userToken}
	r = do(t, "POST", f.commandsURL("thing:"+thingID), `{"issuer":"user:`+f.userID+`","actions":[{"heater":[{"turnPower":true}]}]}`, owner...)
	wantStatus(t, r, 404)
	if r.JSON(t)["errorCode"] != "TRAIT_ALIAS_NOT_FOUND" {
		t.Errorf("a command of an unknown alias: %s", r.Body)
	}
	wantStatus(t, do(t, "POST", f.commandsURL("thing:"+thingID), `{"issuer":"user:`+f.userID+`","actions":[{"light":[{"turnPower":true}]}]}`, owner...), 201)
	now := time.Now().UnixMilli()
	wantStatus(t, do(t, "PUT", stateURL(f, "thing:"+thingID), `{"light":{"power":true}}`, trait...), 201)
	r = do(t, "POST", stateURL(f, "thing:"+thingID)+"/aliases/light/query",
		`{"query":{"grouped":true,"clause":{"type":"withinTimeRange","lowerLimit":`+itoa64(now-1000)+`,"upperLimit":`+itoa64(now+120_000)+`}}}`,
		"Content-Type", "application/vnd.kii.TraitStateQueryRequest+json", "Authorization", "Bearer "+token)
	wantStatus(t, r, 200)
	groups, _ := r.JSON(t)["groupedResults"].([]any)
	if len(groups) != 1 {
		t.Fatalf("grouped = %s", r.Body)
	}
	rng := groups[0].(map[string]any)["range"].(map[string]any)
	from, _ := rng["from"].(json.Number).Int64()
	to, _ := rng["to"].(json.Number).Int64()
	if to-from != 59_999 || from%60_000 != 0 {
		t.Errorf("the group's range %s is not the trait's minute", r.Body)
	}

	f.run(t, []apiCase{
		{name: "a user configures", method: "PUT", path: "/api/apps/{app}/configuration/thing-types/X", body: `{}`,
			headers: []string{"Authorization", "Bearer {usertoken}", "Content-Type", "application/json"}, status: 401, code: "UNAUTHORIZED"},
		{name: "a thing creates a trait", method: "POST", path: "/thing-if/apps/{app}/traits/T/versions", body: `{}`,
			headers: []string{"Authorization", "Bearer {token}", "Content-Type", "application/json"}, status: 401, code: "UNAUTHORIZED"},
		{name: "a firmware version of an unknown type", method: "PUT", path: "/api/apps/{app}/configuration/thing-types/NOPE/firmware-versions/v1",
			headers: []string{"Authorization", "Bearer {admin}"}, status: 404, code: "THING_TYPE_NOT_FOUND"},
		{name: "a finalized version changes", method: "PUT", path: "/thing-if/apps/{app}/traits/Light/versions/1", body: `{"actions":[]}`,
			headers: []string{"Authorization", "Bearer {admin}", "Content-Type", "application/json"}, status: 409, code: "TRAIT_VERSION_FINALIZED"},
		{name: "an alias twice", method: "PUT", path: "/thing-if/apps/{app}/configuration/thing-types/LAMP/firmware-versions/v1/aliases/light",
			body: `{"trait":"Light","traitVersion":1}`, headers: []string{"Authorization", "Bearer {admin}", "Content-Type", "application/json"}, status: 409, code: "TRAIT_ALIAS_ALREADY_EXISTS"},
		{name: "an alias of an unknown trait version", method: "PUT", path: "/thing-if/apps/{app}/configuration/thing-types/LAMP/firmware-versions/v1/aliases/x",
			body: `{"trait":"Light","traitVersion":7}`, headers: []string{"Authorization", "Bearer {admin}", "Content-Type", "application/json"}, status: 404, code: "TRAIT_VERSION_NOT_FOUND"},
		{name: "a bad interval", method: "POST", path: "/thing-if/apps/{app}/traits/T/versions", body: `{"dataGroupingInterval":"2_MINUTES"}`,
			headers: []string{"Authorization", "Bearer {admin}", "Content-Type", "application/json"}, status: 400, code: "INVALID_INPUT_DATA"},
		{name: "an unknown trait", method: "GET", path: "/thing-if/apps/{app}/traits/Nope/versions", headers: []string{"Authorization", "Bearer {admin}"}, status: 404, code: "TRAIT_NOT_FOUND"},
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func itoa64(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestStateHistoryPruned checks --state-history-days: the history older
// than that is pruned while the node runs.
func TestStateHistoryPruned(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.StateHistoryDays, cfg.statePruneEvery = 1, 20*time.Millisecond
	f := newFixture(t, cfg)
	thingID, token := onboardOwned(t, f, "old-1", "")
	url := stateURL(f, "thing:"+thingID)
	old := time.Now().AddDate(0, 0, -2).UnixMilli()
	wantStatus(t, do(t, "POST", url+"-bulk", `{"states":[{"generatedAt":`+itoa64(old)+`,"payload":{"a":{"v":1}}},{"generatedAt":`+itoa64(time.Now().UnixMilli())+`,"payload":{"a":{"v":2}}}]}`,
		"Content-Type", "application/vnd.kii.StateBulkUploadRequest+json", "Authorization", "Bearer "+token), 204)
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := do(t, "POST", url+"/aliases/a/query", `{"query":{"clause":{"type":"all"}}}`,
			"Content-Type", "application/vnd.kii.TraitStateQueryRequest+json", "Authorization", "Bearer "+token)
		wantStatus(t, r, 200)
		results, _ := r.JSON(t)["results"].([]any)
		if len(results) == 1 {
			if v := results[0].(map[string]any)["v"]; v != json.Number("2") && v != float64(2) {
				t.Fatalf("the state kept = %s", r.Body)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the old state was not pruned: %s", r.Body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
