package storetest

import (
	"testing"

	"github.com/kumo-iot/kumo"
)

// testOnboarding checks kumo.OnboardingService: one write registers (or
// logs in) the thing, adds its owner, issues its token and its MQTT
// installation, or does nothing at all; a wrong password counts in the
// thing's login lockout.
func testOnboarding(t *testing.T, s suite) {
	f := newFixture(t, s)
	alice, aliceC := f.mustUser("alice")
	byOwner := func(vid string, owner kumo.ThingOwner) kumo.Onboarding {
		return kumo.Onboarding{Kind: kumo.OnboardVendorThingIDByOwner, VendorThingID: vid, Password: "pw", Owner: &owner,
			Fields: map[string]any{"_thingType": "LAMP"}}
	}

	// An owner that does not exist: nothing is left of the onboarding.
	_, err := f.db.Onboardings.Onboard(f.ctx, f.admin, byOwner("vt-1", kumo.ThingOwner{Kind: kumo.OwnerUser, ID: "nobody"}))
	wantCode(t, "Onboard for a missing owner", err, kumo.ErrUserNotFound)
	_, err = f.db.Things.FindThing(f.ctx, f.admin, "VENDOR_THING_ID:vt-1")
	wantCode(t, "the thing of a failed onboarding", err, kumo.ErrThingNotFound)

	// A new thing: registered, owned, with a working token and an MQTT
	// installation the broker finds by its username.
	res, err := f.db.Onboardings.Onboard(f.ctx, aliceC, byOwner("vt-1", kumo.ThingOwner{Kind: kumo.OwnerUser, ID: alice.ID}))
	if err != nil {
		t.Fatal(err)
	}
	th, err := f.db.Things.FindThing(f.ctx, aliceC, "VENDOR_THING_ID:vt-1")
	if err != nil || th.ID != res.ThingID || th.Fields["_thingType"] != "LAMP" {
		t.Fatalf("FindThing by its owner = %+v, %v; want thing %s of type LAMP", th, err, res.ThingID)
	}
	c, err := f.db.Tokens.Authenticate(f.ctx, f.app.AppID, res.AccessToken)
	if err != nil || c.Kind != kumo.ThingCaller || c.ID != res.ThingID {
		t.Fatalf("Authenticate(onboarding token) = %+v, %v", c, err)
	}
	if res.Installation == nil {
		t.Fatal("no installation")
	}
	in, err := f.db.Installations.MQTTInstallation(f.ctx, res.Installation.MQTTUsername)
	if err != nil || in.ID != res.Installation.ID || !c.Is(in.Owner) {
		t.Fatalf("MQTTInstallation = %+v, %v; want %s of the thing", in, err, res.Installation.ID)
	}

	// Again, by thing: the same thing and installation, a new token.
	again, err := f.db.Onboardings.Onboard(f.ctx, f.anon, kumo.Onboarding{Kind: kumo.OnboardVendorThingIDByThing, VendorThingID: "vt-1", Password: "pw"})
	if err != nil || again.ThingID != res.ThingID || again.Installation.ID != res.Installation.ID || again.AccessToken == res.AccessToken {
		t.Fatalf("onboarding again = %+v, %v; want thing %s, installation %s, a new token", again, err, res.ThingID, res.Installation.ID)
	}

	// Wrong passwords lock the thing out, as its logins.
	f.setParams(map[string]any{"maxLoginAttempts": 2, "loginLockPeriodSeconds": 60, "loginAttemptsTimeoutSeconds": 60})
	wrong := kumo.Onboarding{Kind: kumo.OnboardVendorThingIDByThing, VendorThingID: "vt-1", Password: "nope"}
	for range 2 {
		_, err = f.db.Onboardings.Onboard(f.ctx, f.anon, wrong)
		wantCode(t, "a wrong password", err, kumo.ErrWrongPassword)
	}
	_, err = f.db.Onboardings.Onboard(f.ctx, f.anon, kumo.Onboarding{Kind: kumo.OnboardVendorThingIDByThing, VendorThingID: "vt-1", Password: "pw"})
	wantCode(t, "the right password while locked", err, kumo.ErrInvalidGrant)
}
