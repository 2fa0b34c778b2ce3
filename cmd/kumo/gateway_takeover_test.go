package main

import (
	"testing"
)

// TestGatewayTakeover: a thing anyone can register (no user, no
// admin) makes itself a "gateway" of a thing it has no right to and mints
// that thing's tokens. Two routes: (a) a thing without owners; (b) a thing
// owned by a user, after the attacker's thing adds that user as its own
// owner (a thing may add any owner to itself), so that they "share an
// owner".
func TestGatewayTakeover(t *testing.T) {
	f := newFixture(t, testConfig(t.TempDir()))
	app := f.n.base + "/api/apps/" + f.n.app.AppID
	ct := []string{"Content-Type", "application/json"}
	// The victim: bob and his thing.
	r := do(t, "POST", app+"/users", `{"loginName":"bob","password":"bob-pass"}`,
		"Content-Type", "application/vnd.kii.RegistrationAndAuthorizationRequest+json")
	wantStatus(t, r, 201)
	bobID, bobToken := r.Str(t, "userID"), r.Str(t, "_accessToken")
	r = f.onboard(t, onboardType("OnboardingWithVendorThingIDByOwner"),
		`{"vendorThingID":"bobs-lock","thingPassword":"secret","owner":"user:`+bobID+`"}`, "Authorization", "Bearer "+bobToken)
	wantStatus(t, r, 200)
	bobs := r.Str(t, "thingID")
	// The attacker: a thing registered without any credentials but the app's.
	r = do(t, "POST", app+"/things", `{"_vendorThingID":"evil-gw","_password":"evil-pass"}`,
		"Content-Type", "application/vnd.kii.ThingRegistrationAndAuthorizationRequest+json")
	wantStatus(t, r, 201)
	evil, evilTok := r.Str(t, "_thingID"), r.Str(t, "_accessToken")
	evilAu := append([]string{"Authorization", "Bearer " + evilTok}, ct...)

	// (a) An ownerless thing ({other}): taken without its password.
	if r := do(t, "PUT", app+"/things/"+evil+"/end-nodes/"+f.other.ThingID, "", evilAu...); r.Status == 204 {
		tok := do(t, "POST", app+"/things/"+evil+"/end-nodes/"+f.other.ThingID+"/token", "", evilAu...)
		t.Errorf("a stranger thing took ownerless thing %s as its end node; token mint: %d %s", f.other.ThingID, tok.Status, tok.Body)
	}
	// (b) bob's thing: the attacker's thing adds bob as its owner, then
	// "shares an owner" with bob's thing.
	r = do(t, "PUT", app+"/things/"+evil+"/ownership/user:"+bobID, "", evilAu...)
	t.Logf("evil thing adds bob as its owner: %d %s", r.Status, r.Body)
	if r := do(t, "PUT", app+"/things/"+evil+"/end-nodes/"+bobs, "", evilAu...); r.Status == 204 {
		tok := do(t, "POST", app+"/things/"+evil+"/end-nodes/"+bobs+"/token", "", evilAu...)
		t.Errorf("a stranger thing took bob's thing %s as its end node; token mint: %d %s", bobs, tok.Status, tok.Body)
	}
}
