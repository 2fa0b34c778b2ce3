package main

import (
	"strings"
	"testing"
)

// TestThingIFProbes sends malformed Thing-IF requests as the thing's owner
// and reports any 5xx or error without {errorCode, message}.
func TestThingIFProbes(t *testing.T) {
	f := newFixture(t, testConfig(t.TempDir()))
	d, _ := f.onboardOwned(t, "probe-1")
	tif := f.n.base + "/thing-if/apps/" + f.n.app.AppID
	tg := tif + "/targets/thing:" + d.ThingID
	user := []string{"Authorization", "Bearer " + f.userToken}
	thing := []string{"Authorization", "Bearer " + d.Token}
	deep := strings.Repeat(`{"and":[`, 1) + strings.Repeat(`[`, 5000) + strings.Repeat(`]`, 5000) + `]}`
	type pr struct {
		m, path, body, ct string
		au                []string
	}
	cmd := `{"issuer":"user:` + f.userID + `","actions":[{"a":[{"on":true}]}]}`
	probes := []pr{
		{"POST", tg + "/commands", `{"issuer":5,"actions":[]}`, "application/json", user},
		{"POST", tg + "/commands", `{"issuer":"user:` + f.userID + `","actions":[{"a":[{"on":true}]}],"metadata":[1]}`, "application/json", user},
		{"POST", tg + "/commands", `{"issuer":"user:` + f.userID + `","schema":"s","schemaVersion":"1","actions":[{"a":{}}]}`, "application/json", user},
		{"POST", tg + "/commands", `{"issuer":"user:` + f.userID + `","actions":[{"a":[{"on":true}]}],"target":"thing:"}`, "application/json", user},
		{"POST", tg + "/commands", `null`, "application/json", user},
		{"POST", tg + "/commands", `[]`, "application/json", user},
		{"POST", tg + "/commands", `{"issuer":"user:` + f.userID + `","actions":[{"a":[{"on":` + strings.Repeat("[", 3000) + strings.Repeat("]", 3000) + `}]}]}`, "application/json", user},
		{"GET", tg + "/commands?paginationKey=abc", "", "", user},
		{"GET", tg + "/commands?paginationKey=99999999999999999999", "", "", user},
		{"GET", tg + "/commands?bestEffortLimit=99999999999999999999", "", "", user},
		{"GET", tg + "/commands/nope", "", "", user},
		{"PUT", tg + "/commands/nope/action-results", `{"actionResults":[]}`, "application/json", thing},
		{"PUT", tg + "/states", `{"a":` + strings.Repeat("[", 3000) + strings.Repeat("]", 3000) + `}`, "application/json", thing},
		{"PUT", tg + "/states", `{"a":"` + strings.Repeat("x", 10*1024) + `"}`, "application/json", thing},
		{"PATCH", tg + "/states", `{"AC":5}`, "application/vnd.kii.MultipleTraitStatePatch+json", thing},
		{"PUT", tg + "/states", `{"AC":5}`, "application/vnd.kii.MultipleTraitState+json", thing},
		{"PUT", tg + "/states/aliases/AC", `{"on":true}`, "application/vnd.kii.TraitState+json", thing},
		{"POST", tg + "/states-bulk", `{"states":[null,{"generatedAt":"x","payload":{}}]}`, "application/vnd.kii.StateBulkUploadRequest+json", thing},
		{"POST", tg + "/states-bulk", `{"states":[{"generatedAt":1e30,"payload":{"a":1}}]}`, "application/vnd.kii.StateBulkUploadRequest+json", thing},
		{"POST", tg + "/states-bulk", `{"states":[{"generatedAt":9223372036854775807,"payload":{"a":1}}]}`, "application/vnd.kii.StateBulkUploadRequest+json", thing},
		{"POST", tg + "/states/aliases/AC/query", `{"query":{"clause":` + deep + `}}`, "application/vnd.kii.TraitStateQueryRequest+json", thing},
		{"POST", tg + "/states/aliases/AC/query", `{"query":{"clause":{"type":"withinTimeRange","lowerLimit":-9223372036854775808,"upperLimit":9223372036854775807},"grouped":true}}`, "application/vnd.kii.TraitStateQueryRequest+json", thing},
		{"POST", tg + "/states/aliases/AC/query", `{"query":{"clause":{"type":"withinTimeRange","lowerLimit":-1e300,"upperLimit":1e300},"grouped":true,"aggregations":[{"type":"count","putAggregationInto":"c","field":"on","fieldType":"BOOLEAN"}]}}`, "application/vnd.kii.TraitStateQueryRequest+json", thing},
		{"POST", tg + "/states/aliases/AC/query", `{"query":{"clause":{"type":"range","field":"on","lowerLimit":[1]}},"paginationKey":"1_x"}`, "application/vnd.kii.TraitStateQueryRequest+json", thing},
		{"POST", tg + "/states/aliases/AC/query", `{"bestEffortLimit":1e300}`, "application/vnd.kii.TraitStateQueryRequest+json", thing},
		{"POST", tg + "/states/aliases/AC/query", `{"paginationKey":"9223372036854775807_9223372036854775807"}`, "application/vnd.kii.TraitStateQueryRequest+json", thing},
		{"POST", tg + "/triggers", `{"predicate":{"eventSource":"SCHEDULE","schedule":"1/9223372036854775807 * * * *"},"triggersWhat":"COMMAND","command":` + cmd + `}`, "application/json", user},
		{"POST", tg + "/triggers", `{"predicate":{"eventSource":"SCHEDULE_ONCE","scheduleAt":1e300},"triggersWhat":"COMMAND","command":` + cmd + `}`, "application/json", user},
		{"POST", tg + "/triggers", `{"predicate":{"eventSource":"SCHEDULE_ONCE","scheduleAt":9223372036854775807},"triggersWhat":"COMMAND","command":` + cmd + `}`, "application/json", user},
		{"POST", tg + "/triggers", `{"predicate":{"eventSource":"STATES","triggersWhen":"CONDITION_TRUE","condition":` + deep + `},"triggersWhat":"COMMAND","command":` + cmd + `}`, "application/json", user},
		{"POST", tg + "/triggers", `{"predicate":{"eventSource":"STATES","triggersWhen":"CONDITION_TRUE","condition":{"type":"and","clauses":null}},"triggersWhat":"COMMAND","command":` + cmd + `}`, "application/json", user},
		{"POST", tg + "/triggers", `{"predicate":null,"triggersWhat":"COMMAND","command":null}`, "application/json", user},
		{"POST", tg + "/triggers", `{"predicate":[],"triggersWhat":5,"command":[]}`, "application/json", user},
		{"POST", tg + "/triggers", `{"predicate":{"eventSource":"SCHEDULE","schedule":"* * * * *"},"triggersWhat":"SERVER_CODE","serverCode":[]}`, "application/json", user},
		{"POST", tg + "/triggers", `{"predicate":{"eventSource":"SCHEDULE","schedule":"* * * * *"},"triggersWhat":"SERVER_CODE","serverCode":{"endpoint":5,"parameters":[1]}}`, "application/json", user},
		{"GET", tg + "/triggers?paginationKey=%00&bestEffortLimit=-1", "", "", user},
		{"PATCH", tg + "/triggers/nope", `{}`, "application/json", user},
		{"GET", tg + "/triggers/nope/results/server-code?paginationKey=zz&bestEffortLimit=x", "", "", user},
		{"GET", tif + "/things/" + d.ThingID + "/end-nodes?paginationKey=" + strings.Repeat("z", 5000), "", "", user},
		{"POST", f.n.base + "/api/apps/" + f.n.app.AppID + "/things/" + d.ThingID + "/end-nodes/x/token", `[]`, "application/json", user},
		{"POST", tif + "/onboardings", `{"vendorThingID":"v1","thingPassword":"p","thingProperties":[1],"layoutPosition":5,"dataGroupingInterval":[]}`, "application/vnd.kii.OnboardingWithVendorThingIDByThing+json", nil},
		{"POST", tif + "/onboardings", `{"vendorThingID":"v2","thingPassword":"p","thingType":{"a":1},"firmwareVersion":[1]}`, "application/vnd.kii.onboardingwithvendorthingidbything+json", nil},
		{"POST", tif + "/onboardings", `{"endNodeVendorThingID":"v3","endNodePassword":"p","gatewayThingID":"` + d.ThingID + `","owner":"user:` + f.userID + `","endNodeThingProperties":{"_layoutPosition":"GATEWAY"}}`, "application/vnd.kii.OnboardingEndNodeWithGatewayThingID+json", user},
		{"POST", tif + "/traits/T/versions", `{"dataGroupingInterval":5,"traitDefinition":[]}`, "application/json", []string{"Authorization", "Bearer " + f.adminToken}},
		{"PUT", f.n.base + "/api/apps/" + f.n.app.AppID + "/configuration/thing-types/" + strings.Repeat("x", 3000), `{}`, "application/json", []string{"Authorization", "Bearer " + f.adminToken}},
	}
	for i, p := range probes {
		h := append([]string{}, p.au...)
		if p.ct != "" {
			h = append(h, "Content-Type", p.ct)
		}
		r := do(t, p.m, p.path, p.body, h...)
		if r.Status >= 500 {
			t.Errorf("probe %d %s %s: %d %.300s", i, p.m, strings.TrimPrefix(p.path, f.n.base), r.Status, r.Body)
		} else if r.Status >= 400 && !strings.Contains(string(r.Body), "errorCode") {
			t.Errorf("probe %d: %d without errorCode: %.200s", i, r.Status, r.Body)
		} else {
			t.Logf("probe %d %s %s: %d %.160s", i, p.m, strings.TrimPrefix(p.path, f.n.base)[:min(60, len(strings.TrimPrefix(p.path, f.n.base)))], r.Status, r.Body)
		}
	}
}
