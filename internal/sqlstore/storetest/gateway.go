package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/kumo-iot/kumo"
)

// testGateways checks kumo.GatewayService: end nodes linked by end-node
// onboarding and by AddEndNode, listed page by page, their online status
// and tokens, who may do what, and that deleting either thing removes
// the link.
func testGateways(t *testing.T, s suite) {
	f := newFixture(t, s)
	alice, aliceC := f.mustUser("gw-alice")
	_, bobC := f.mustUser("gw-bob")
	owner := kumo.ThingOwner{Kind: kumo.OwnerUser, ID: alice.ID}
	gw, err := f.db.Onboardings.Onboard(f.ctx, aliceC, kumo.Onboarding{Kind: kumo.OnboardVendorThingIDByOwner,
		VendorThingID: "gw", Password: "pw", Owner: &owner, Fields: map[string]any{}})
	ok(f, "Onboard gateway", err)
	gwC := kumo.Caller{AppID: f.app.AppID, Kind: kumo.ThingCaller, ID: gw.ThingID}
	en, err := f.db.Onboardings.Onboard(f.ctx, aliceC, kumo.Onboarding{Kind: kumo.OnboardEndNodeGatewayVendorThingID,
		VendorThingID: "en-a", Password: "pw", Owner: &owner, Gateway: "VENDOR_THING_ID:gw", Fields: map[string]any{}})
	ok(f, "Onboard end node", err)
	// en-b is registered by the gateway itself (kii_go's gateway
	// registers its end node with its own token, then adds it); en-c by
	// nobody in particular, which only the admin may add.
	th2, _, err := f.db.Things.RegisterThing(f.ctx, gwC, kumo.ThingRegistration{VendorThingID: "en-b", Password: "pw-en-b", Fields: map[string]any{}}, false)
	ok(f, "RegisterThing by the gateway", err)
	th2C := kumo.Caller{AppID: f.app.AppID, Kind: kumo.ThingCaller, ID: th2.ID}
	th3, _ := f.mustThing("en-c")
	wantCode(t, "AddEndNode of a thing the gateway did not register", f.db.Gateways.AddEndNode(f.ctx, gwC, gw.ThingID, th3.ID), kumo.ErrUnauthorized)

	list := func(c kumo.Caller, limit int) []string {
		t.Helper()
		var ids []string
		key := ""
		for {
			page, next, err := f.db.Gateways.EndNodes(f.ctx, c, "VENDOR_THING_ID:gw", limit, key)
			if err != nil {
				t.Fatalf("EndNodes: %v", err)
			}
			if len(page) > limit {
				t.Fatalf("EndNodes gave %d end nodes, limit %d", len(page), limit)
			}
			for _, e := range page {
				ids = append(ids, e.ThingID)
			}
			if next == "" {
				return ids
			}
			key = next
		}
	}
	if got := list(gwC, 10); !slices.Equal(got, []string{en.ThingID}) {
		t.Fatalf("end nodes after the end-node onboarding = %v, want [%s]", got, en.ThingID)
	}
	ok(f, "AddEndNode", f.db.Gateways.AddEndNode(f.ctx, gwC, gw.ThingID, th2.ID))
	ok(f, "AddEndNode again", f.db.Gateways.AddEndNode(f.ctx, aliceC, gw.ThingID, "VENDOR_THING_ID:en-b"))
	ok(f, "AddEndNode by the admin", f.db.Gateways.AddEndNode(f.ctx, f.admin, gw.ThingID, th3.ID))
	want := []string{en.ThingID, th2.ID, th3.ID}
	slices.Sort(want)
	for _, limit := range []int{1, 2, 10} {
		if got := list(aliceC, limit); !slices.Equal(got, want) {
			t.Errorf("end nodes by pages of %d = %v, want %v", limit, got, want)
		}
	}

	// Who may: the gateway, its owners, the admin; not a stranger, not
	// the end node, not the app-level caller.
	for _, c := range []kumo.Caller{bobC, th2C, f.anon} {
		_, _, err := f.db.Gateways.EndNodes(f.ctx, c, gw.ThingID, 10, "")
		wantCode(t, "EndNodes by "+c.ID, err, kumo.ErrUnauthorized)
		wantCode(t, "SetEndNodeOnline by "+c.ID, f.db.Gateways.SetEndNodeOnline(f.ctx, c, gw.ThingID, th2.ID, true), kumo.ErrUnauthorized)
		_, err = f.db.Gateways.EndNodeToken(f.ctx, c, gw.ThingID, th2.ID, 0)
		wantCode(t, "EndNodeToken by "+c.ID, err, kumo.ErrUnauthorized)
	}
	// A second gateway may not take the first one's end nodes.
	gw2, gw2C := f.mustThing("gw-2")
	wantCode(t, "AddEndNode of another gateway's end node", f.db.Gateways.AddEndNode(f.ctx, gw2C, gw2.ID, th2.ID), kumo.ErrUnauthorized)
	wantCode(t, "AddEndNode of another gateway's end node by the admin", f.db.Gateways.AddEndNode(f.ctx, f.admin, gw2.ID, th2.ID), kumo.ErrEndNodeOfAnotherGateway)
	wantCode(t, "SetEndNodeOnline of another gateway's end node", f.db.Gateways.SetEndNodeOnline(f.ctx, gw2C, gw2.ID, th2.ID, true), kumo.ErrEndNodeNotOfGateway)
	wantCode(t, "AddEndNode of itself", f.db.Gateways.AddEndNode(f.ctx, gw2C, gw2.ID, gw2.ID), kumo.ErrInvalidInputData)
	wantCode(t, "AddEndNode of an unknown thing", f.db.Gateways.AddEndNode(f.ctx, gw2C, gw2.ID, "th.nope"), kumo.ErrThingNotFound)

	// Beside the admin, only a user's own thing, or a thing without owners
	// that the gateway (or the caller) registered, may be added: the
	// gateway may not take a thing because it shares an owner with it (a
	// thing may add any user as its owner).
	bobs, err := f.db.Onboardings.Onboard(f.ctx, bobC, kumo.Onboarding{Kind: kumo.OnboardVendorThingIDByOwner, VendorThingID: "bobs",
		Password: "pw", Owner: &kumo.ThingOwner{Kind: kumo.OwnerUser, ID: bobC.ID}, Fields: map[string]any{}})
	ok(f, "Onboard bob's thing", err)
	alices, err := f.db.Onboardings.Onboard(f.ctx, aliceC, kumo.Onboarding{Kind: kumo.OnboardVendorThingIDByOwner, VendorThingID: "alices",
		Password: "pw", Owner: &owner, Fields: map[string]any{}})
	ok(f, "Onboard alice's thing", err)
	for _, c := range []kumo.Caller{gwC, aliceC} {
		wantCode(t, "AddEndNode of bob's thing by "+c.ID, f.db.Gateways.AddEndNode(f.ctx, c, gw.ThingID, bobs.ThingID), kumo.ErrUnauthorized)
	}
	wantCode(t, "AddEndNode of alice's thing by her gateway", f.db.Gateways.AddEndNode(f.ctx, gwC, gw.ThingID, alices.ThingID), kumo.ErrUnauthorized)
	ok(f, "AddEndNode of alice's thing by alice", f.db.Gateways.AddEndNode(f.ctx, aliceC, gw.ThingID, alices.ThingID))
	ok(f, "RemoveEndNode of alice's thing", f.db.Gateways.RemoveEndNode(f.ctx, aliceC, gw.ThingID, alices.ThingID))
	ok(f, "AddEndNode of bob's thing by the admin", f.db.Gateways.AddEndNode(f.ctx, f.admin, gw.ThingID, bobs.ThingID))
	ok(f, "RemoveEndNode of bob's thing", f.db.Gateways.RemoveEndNode(f.ctx, f.admin, gw.ThingID, bobs.ThingID))

	// The connection status is the end node's online status.
	for _, online := range []bool{true, false} {
		f.clock.Advance(time.Second)
		ok(f, "SetEndNodeOnline", f.db.Gateways.SetEndNodeOnline(f.ctx, gwC, gw.ThingID, th2.ID, online))
		got, err := f.db.Things.FindThing(f.ctx, f.admin, th2.ID)
		ok(f, "FindThing", err)
		if got.Online != online || got.OnlineModified != f.clock.Millis() {
			t.Errorf("after SetEndNodeOnline(%v): online %v modified %d, want %v at %d", online, got.Online, got.OnlineModified, online, f.clock.Millis())
		}
	}

	// The end-node token authenticates as the end node.
	tok, err := f.db.Gateways.EndNodeToken(f.ctx, gwC, gw.ThingID, th2.ID, 60)
	ok(f, "EndNodeToken", err)
	if c, err := f.db.Tokens.Authenticate(f.ctx, f.app.AppID, tok.AccessToken); err != nil || c.Kind != kumo.ThingCaller || c.ID != th2.ID {
		t.Errorf("Authenticate(end-node token) = %+v, %v; want thing %s", c, err, th2.ID)
	}
	if tok.PrincipalID != th2.ID || tok.ExpiresIn != 60 {
		t.Errorf("end-node token = %+v, want id %s, expires in 60", tok, th2.ID)
	}

	// Removing a link, and deleting either thing, ends it.
	ok(f, "RemoveEndNode", f.db.Gateways.RemoveEndNode(f.ctx, gwC, gw.ThingID, th3.ID))
	wantCode(t, "RemoveEndNode again", f.db.Gateways.RemoveEndNode(f.ctx, gwC, gw.ThingID, th3.ID), kumo.ErrEndNodeNotOfGateway)
	ok(f, "DeleteThing end node", f.db.Things.DeleteThing(f.ctx, f.admin, en.ThingID))
	if got := list(gwC, 10); !slices.Equal(got, []string{th2.ID}) {
		t.Errorf("end nodes after a removal and a delete = %v, want [%s]", got, th2.ID)
	}
	ok(f, "DeleteThing gateway", f.db.Things.DeleteThing(f.ctx, f.admin, gw.ThingID))
	ok(f, "AddEndNode to another gateway after the delete", f.db.Gateways.AddEndNode(f.ctx, f.admin, gw2.ID, th2.ID))
}
