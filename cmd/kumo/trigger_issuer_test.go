package main

import "testing"

// TestTriggerIssuerIsTheCaller: a user may not send a command as another user
// (POST commands with issuer user:{bob} is 401), but he may make a
// trigger whose command is issued as that user: the trigger's commands go
// out as bob, every minute, and keep going after alice is no longer an
// owner.
func TestTriggerIssuerIsTheCaller(t *testing.T) {
	f := newFixture(t, testConfig(t.TempDir()))
	app, tif := f.n.base+"/api/apps/"+f.n.app.AppID, f.n.base+"/thing-if/apps/"+f.n.app.AppID
	r := do(t, "POST", app+"/users", `{"loginName":"bob","password":"bob-pass"}`,
		"Content-Type", "application/vnd.kii.RegistrationAndAuthorizationRequest+json")
	wantStatus(t, r, 201)
	bobID, bobToken := r.Str(t, "userID"), r.Str(t, "_accessToken")
	d, _ := f.onboardOwned(t, "shared-1")
	// bob becomes an owner too, with the thing's password.
	r = f.onboard(t, onboardType("OnboardingWithVendorThingIDByOwner"),
		`{"vendorThingID":"shared-1","thingPassword":"pw","owner":"user:`+bobID+`"}`, "Authorization", "Bearer "+bobToken)
	wantStatus(t, r, 200)
	alice := []string{"Authorization", "Bearer " + f.userToken, "Content-Type", "application/json"}
	cmd := `{"issuer":"user:` + bobID + `","actions":[{"a":[{"on":true}]}]}`
	r = do(t, "POST", tif+"/targets/thing:"+d.ThingID+"/commands", cmd, alice...)
	wantStatus(t, r, 401) // as it should
	r = do(t, "POST", tif+"/targets/thing:"+d.ThingID+"/triggers",
		`{"predicate":{"eventSource":"SCHEDULE","schedule":"* * * * *"},"triggersWhat":"COMMAND","command":`+cmd+`}`, alice...)
	if r.Status == 201 {
		t.Errorf("alice made a trigger whose commands are issued as bob: %d %s", r.Status, r.Body)
	}
}
