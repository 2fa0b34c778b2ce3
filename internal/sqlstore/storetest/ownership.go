package storetest

import (
	"reflect"
	"strings"
	"testing"

	"github.com/kumo-iot/kumo"
)

// testOwnership checks thing ownership (kumo.ThingService) and what it
// grants: the thing itself and the buckets of its scope.
func testOwnership(t *testing.T, s suite) {
	userOwner := func(id string) kumo.ThingOwner { return kumo.ThingOwner{Kind: kumo.OwnerUser, ID: id} }
	groupOwner := func(id string) kumo.ThingOwner { return kumo.ThingOwner{Kind: kumo.OwnerGroup, ID: id} }

	t.Run("Add", func(t *testing.T) {
		f := newFixture(t, s)
		th, thC := f.mustThing("vt-1")
		_, otherC := f.mustThing("vt-2")
		alice, aliceC := f.mustUser("alice")
		_, bobC := f.mustUser("bob")
		carol, carolC := f.mustUser("carol")
		dave, _ := f.mustUser("dave")
		team := f.mustGroup(bobC, kumo.GroupCreation{ID: "team", Name: "team"})
		other := f.mustGroup(carolC, kumo.GroupCreation{ID: "other", Name: "other"})
		pw := "pw-vt-1"
		tests := []struct {
			name   string
			caller kumo.Caller
			r      kumo.OwnershipRequest
			code   kumo.Code
			fields map[string]any
		}{
			{name: "a user without the password", caller: aliceC, r: kumo.OwnershipRequest{Owner: userOwner(alice.ID)}, code: kumo.ErrWrongPassword},
			{name: "a user with a wrong password", caller: aliceC, r: kumo.OwnershipRequest{Owner: userOwner(alice.ID), Password: "nope"}, code: kumo.ErrWrongPassword},
			{name: "a user, legacy", caller: aliceC, r: kumo.OwnershipRequest{Owner: userOwner(alice.ID), Legacy: true}, code: kumo.ErrUnauthorized},
			{name: "a user for another user", caller: aliceC, r: kumo.OwnershipRequest{Owner: userOwner(dave.ID), Password: pw}, code: kumo.ErrUnauthorized},
			{name: "a user for himself", caller: aliceC, r: kumo.OwnershipRequest{Owner: userOwner(alice.ID), Password: pw}},
			{name: "again", caller: aliceC, r: kumo.OwnershipRequest{Owner: userOwner(alice.ID), Password: pw}, code: kumo.ErrThingOwnershipExists,
				fields: map[string]any{"appID": "app1", "thingID": th.ID, "userID": alice.ID}},
			{name: "a member for his group", caller: bobC, r: kumo.OwnershipRequest{Owner: groupOwner(team.ID), Password: pw}},
			{name: "a group again", caller: f.admin, r: kumo.OwnershipRequest{Owner: groupOwner(team.ID), Legacy: true}, code: kumo.ErrThingOwnershipExists,
				fields: map[string]any{"groupID": team.ID}},
			{name: "a user for a group not his", caller: aliceC, r: kumo.OwnershipRequest{Owner: groupOwner(other.ID), Password: pw}, code: kumo.ErrUnauthorized},
			{name: "an unknown group", caller: aliceC, r: kumo.OwnershipRequest{Owner: groupOwner("nogroup"), Password: pw}, code: kumo.ErrGroupNotFound},
			{name: "the admin, legacy", caller: f.admin, r: kumo.OwnershipRequest{Owner: userOwner(dave.ID), Legacy: true}},
			{name: "the admin, an unknown user", caller: f.admin, r: kumo.OwnershipRequest{Owner: userOwner("nobody"), Legacy: true}, code: kumo.ErrUserNotFound},
			{name: "the thing itself, legacy", caller: thC, r: kumo.OwnershipRequest{Owner: groupOwner(other.ID), Legacy: true}},
			{name: "another thing", caller: otherC, r: kumo.OwnershipRequest{Owner: userOwner(carol.ID), Legacy: true}, code: kumo.ErrUnauthorized},
			{name: "anonymous", caller: f.anon, r: kumo.OwnershipRequest{Owner: userOwner(carol.ID), Password: pw}, code: kumo.ErrUnauthorized},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := f.db.Things.AddThingOwner(f.ctx, tt.caller, th.ID, tt.r)
				if wantCode(t, "AddThingOwner", err, tt.code) && tt.code != "" {
					wantFields(t, "AddThingOwner", err, tt.fields)
				}
			})
		}
		err := f.db.Things.AddThingOwner(f.ctx, f.admin, "VENDOR_THING_ID:nope", kumo.OwnershipRequest{Owner: userOwner(alice.ID)})
		wantCode(t, "AddThingOwner of an unknown thing", err, kumo.ErrThingNotFound)
		got, err := f.db.Things.ThingOwners(f.ctx, aliceC, "VENDOR_THING_ID:vt-1")
		want := kumo.ThingOwners{Users: sorted([]string{alice.ID, dave.ID}), Groups: sorted([]string{team.ID, other.ID})}
		got.Users, got.Groups = sorted(got.Users), sorted(got.Groups) // made within one millisecond
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("ThingOwners = %+v, %v; want %+v", got, err, want)
		}
	})

	t.Run("WrongPasswordsDoNotLockTheThing", func(t *testing.T) {
		// A user's wrong guesses at a thing's password do not count
		// against the thing's login lockout: else any user could lock a
		// device out of its own login (docs/compat.md). They count in a
		// lockout of the thing's claims by password.
		f := newFixture(t, s)
		th, _ := f.mustThing("vt-1")
		alice, aliceC := f.mustUser("alice")
		f.setParams(map[string]any{"maxLoginAttempts": 2, "loginLockPeriodSeconds": 3600, "loginAttemptsTimeoutSeconds": 3600})
		for i := 0; i < 5; i++ {
			err := f.db.Things.AddThingOwner(f.ctx, aliceC, th.ID, kumo.OwnershipRequest{Owner: userOwner(alice.ID), Password: "wrong"})
			if i < 2 {
				wantCode(t, "AddThingOwner with a wrong password", err, kumo.ErrWrongPassword)
			} else if err == nil || !strings.Contains(err.Error(), "locked") {
				t.Errorf("AddThingOwner with a wrong password past the ownership lockout: %v; want it locked", err)
			}
		}
		if _, err := f.db.Tokens.Login(f.ctx, f.app.AppID, kumo.LoginRequest{Username: "VENDOR_THING_ID:vt-1", Password: "pw-vt-1"}); err != nil {
			t.Errorf("the thing's login after a user's wrong ownership passwords: %v", err)
		}
		// They lock the claims by password, for the lock period: the
		// guesses stay bounded, from however many addresses.
		err := f.db.Things.AddThingOwner(f.ctx, aliceC, th.ID, kumo.OwnershipRequest{Owner: userOwner(alice.ID), Password: "pw-vt-1"})
		if err == nil || !strings.Contains(err.Error(), "locked") {
			t.Errorf("AddThingOwner with the right password past the ownership lockout: %v; want it locked", err)
		}
		// Another thing's claims are not locked.
		th2, _ := f.mustThing("vt-2")
		err = f.db.Things.AddThingOwner(f.ctx, aliceC, th2.ID, kumo.OwnershipRequest{Owner: userOwner(alice.ID), Password: "pw-vt-2"})
		wantCode(t, "AddThingOwner of another thing", err, "")
	})

	t.Run("PINFlow", func(t *testing.T) {
		f := newFixture(t, s)
		th, thC := f.mustThing("vt-1")
		_, otherC := f.mustThing("vt-2")
		alice, aliceC := f.mustUser("alice")
		bob, bobC := f.mustUser("bob")
		carol, carolC := f.mustUser("carol")
		team := f.mustGroup(bobC, kumo.GroupCreation{ID: "team", Name: "team", Members: []string{carol.ID}})
		owns := func(o kumo.ThingOwner) bool { return f.db.Things.HasThingOwner(f.ctx, f.admin, th.ID, o) == nil }
		request := func(c kumo.Caller, o kumo.ThingOwner) string {
			t.Helper()
			code, err := f.db.Things.RequestThingOwnership(f.ctx, c, th.ID, o)
			if err != nil || len(code) != 8 {
				t.Fatalf("RequestThingOwnership(%s) = %q, %v; want an 8-digit code", o, code, err)
			}
			return code
		}

		// Started by the thing: the user confirms, not the thing, nor another user.
		code := request(thC, userOwner(alice.ID))
		wantCode(t, "the thing confirms its own flow", f.db.Things.ConfirmThingOwnership(f.ctx, thC, th.ID, code), kumo.ErrUnauthorized)
		wantCode(t, "another user confirms", f.db.Things.ConfirmThingOwnership(f.ctx, bobC, th.ID, code), kumo.ErrUnauthorized)
		wantCode(t, "another thing confirms", f.db.Things.ConfirmThingOwnership(f.ctx, otherC, th.ID, code), kumo.ErrUnauthorized)
		wantCode(t, "anonymous confirms", f.db.Things.ConfirmThingOwnership(f.ctx, f.anon, th.ID, code), kumo.ErrUnauthorized)
		wantCode(t, "a wrong code", f.db.Things.ConfirmThingOwnership(f.ctx, aliceC, th.ID, "00000000x"), kumo.ErrInvalidOwnershipCode)
		if err := f.db.Things.ConfirmThingOwnership(f.ctx, aliceC, "VENDOR_THING_ID:vt-1", code); err != nil || !owns(userOwner(alice.ID)) {
			t.Fatalf("the user confirms: %v (owns: %v)", err, owns(userOwner(alice.ID)))
		}
		wantCode(t, "a code used already (she has no flow left)", f.db.Things.ConfirmThingOwnership(f.ctx, aliceC, th.ID, code), kumo.ErrUnauthorized)
		_, err := f.db.Things.RequestThingOwnership(f.ctx, aliceC, th.ID, userOwner(alice.ID))
		wantCode(t, "a flow for an owner", err, kumo.ErrThingOwnershipExists)

		// Started by a member for his group: the thing confirms, not he.
		code = request(carolC, groupOwner(team.ID))
		wantCode(t, "the member confirms his own flow", f.db.Things.ConfirmThingOwnership(f.ctx, carolC, th.ID, code), kumo.ErrUnauthorized)
		if err := f.db.Things.ConfirmThingOwnership(f.ctx, thC, th.ID, code); err != nil || !owns(groupOwner(team.ID)) {
			t.Fatalf("the thing confirms: %v", err)
		}

		// Who may start one.
		for _, tc := range []struct {
			name   string
			caller kumo.Caller
			owner  kumo.ThingOwner
			code   kumo.Code
		}{
			{"a user for another", aliceC, userOwner(bob.ID), kumo.ErrUnauthorized},
			{"a user for a group not his", aliceC, groupOwner(team.ID), kumo.ErrUnauthorized},
			{"another thing", otherC, userOwner(bob.ID), kumo.ErrUnauthorized},
			{"anonymous", f.anon, userOwner(bob.ID), kumo.ErrUnauthorized},
			{"an unknown user", f.admin, userOwner("nobody"), kumo.ErrUserNotFound},
			{"an unknown group", thC, groupOwner("nogroup"), kumo.ErrGroupNotFound},
		} {
			_, err := f.db.Things.RequestThingOwnership(f.ctx, tc.caller, th.ID, tc.owner)
			wantCode(t, "RequestThingOwnership: "+tc.name, err, tc.code)
		}
		_, err = f.db.Things.RequestThingOwnership(f.ctx, f.admin, "VENDOR_THING_ID:nope", userOwner(bob.ID))
		wantCode(t, "RequestThingOwnership of an unknown thing", err, kumo.ErrThingNotFound)

		// Started by the admin: either party confirms.
		code = request(f.admin, userOwner(bob.ID))
		if err := f.db.Things.ConfirmThingOwnership(f.ctx, bobC, th.ID, code); err != nil || !owns(userOwner(bob.ID)) {
			t.Fatalf("the user confirms the admin's flow: %v", err)
		}

		// Expiry.
		code = request(thC, userOwner(carol.ID))
		f.clock.Advance(kumo.OwnershipCodeTTL)
		wantCode(t, "an expired code", f.db.Things.ConfirmThingOwnership(f.ctx, carolC, th.ID, code), kumo.ErrPINCodeExpired)

		// Wrong codes end the thing's pending flows.
		code = request(thC, userOwner(carol.ID))
		for i := 0; i < kumo.MaxOwnershipCodeFailures; i++ {
			wantCode(t, "a wrong code", f.db.Things.ConfirmThingOwnership(f.ctx, carolC, th.ID, "12345678x"), kumo.ErrInvalidOwnershipCode)
		}
		wantCode(t, "the right code after too many wrong ones (she has no flow left)", f.db.Things.ConfirmThingOwnership(f.ctx, carolC, th.ID, code), kumo.ErrUnauthorized)
		if owns(userOwner(carol.ID)) {
			t.Error("carol owns the thing after her flow ended")
		}

		// A user with no flow to confirm is refused without a look at the
		// code, and his guesses end nobody's flow.
		mallory, malloryC := f.mustUser("mallory")
		code = request(thC, userOwner(carol.ID))
		for i := 0; i < kumo.MaxOwnershipCodeFailures+1; i++ {
			wantCode(t, "a stranger's guess", f.db.Things.ConfirmThingOwnership(f.ctx, malloryC, th.ID, "12345678x"), kumo.ErrUnauthorized)
		}
		wantCode(t, "a stranger with the right code", f.db.Things.ConfirmThingOwnership(f.ctx, malloryC, th.ID, code), kumo.ErrUnauthorized)
		// A new flow for the same owner replaces the previous one.
		newer := request(thC, userOwner(carol.ID))
		wantCode(t, "the replaced code", f.db.Things.ConfirmThingOwnership(f.ctx, carolC, th.ID, code), kumo.ErrInvalidOwnershipCode)
		if err := f.db.Things.ConfirmThingOwnership(f.ctx, carolC, th.ID, newer); err != nil || !owns(userOwner(carol.ID)) {
			t.Fatalf("the newer code: %v", err)
		}

		// Deleting a group ends the flows that name it: a group made again
		// under its ID inherits none.
		crew := f.mustGroup(malloryC, kumo.GroupCreation{ID: "crew", Name: "crew"})
		code = request(thC, groupOwner(crew.ID))
		if err := f.db.Groups.DeleteGroup(f.ctx, malloryC, crew.ID); err != nil {
			t.Fatal(err)
		}
		f.mustGroup(malloryC, kumo.GroupCreation{ID: "crew", Name: "crew again"})
		wantCode(t, "the code of a deleted group", f.db.Things.ConfirmThingOwnership(f.ctx, malloryC, th.ID, code), kumo.ErrUnauthorized)
		if owns(groupOwner(crew.ID)) {
			t.Error("a group made again owns the thing through its predecessor's flow")
		}

		// Deleting the thing ends its flows.
		code = request(thC, userOwner(mallory.ID))
		if err := f.db.Things.DeleteThing(f.ctx, f.admin, th.ID); err != nil {
			t.Fatal(err)
		}
		wantCode(t, "the code of a deleted thing", f.db.Things.ConfirmThingOwnership(f.ctx, malloryC, th.ID, code), kumo.ErrThingNotFound)
	})

	t.Run("Grants", func(t *testing.T) {
		f := newFixture(t, s)
		th, _ := f.mustThing("vt-1")
		alice, aliceC := f.mustUser("alice")
		_, bobC := f.mustUser("bob")
		carol, carolC := f.mustUser("carol")
		_, strangerC := f.mustUser("stranger")
		team := f.mustGroup(bobC, kumo.GroupCreation{Name: "team", Members: []string{carol.ID}})
		for _, o := range []kumo.ThingOwner{userOwner(alice.ID), groupOwner(team.ID)} {
			if err := f.db.Things.AddThingOwner(f.ctx, f.admin, th.ID, kumo.OwnershipRequest{Owner: o}); err != nil {
				t.Fatal(err)
			}
		}
		b := f.bucket(thingScope(th.ID), "readings")
		tests := []struct {
			name   string
			caller kumo.Caller
			code   kumo.Code
		}{
			{"a user owner", aliceC, ""},
			{"the owner group's owner", bobC, ""},
			{"a member of the owner group", carolC, ""},
			{"another user", strangerC, kumo.ErrUnauthorized},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := f.db.Things.FindThing(f.ctx, tt.caller, "VENDOR_THING_ID:vt-1")
				wantCode(t, "FindThing", err, tt.code)
				wantCode(t, "UpdateThing", f.db.Things.UpdateThing(f.ctx, tt.caller, th.ID, map[string]any{"by": tt.name}), tt.code)
				wantCode(t, "SetThingDisabled", f.db.Things.SetThingDisabled(f.ctx, tt.caller, th.ID, false), tt.code)
				_, err = f.db.Things.ThingOwners(f.ctx, tt.caller, th.ID)
				wantCode(t, "ThingOwners", err, tt.code)
				_, err = f.db.Objects.CreateObject(f.ctx, tt.caller, kumo.ObjectCreate{Bucket: b, Data: map[string]any{}})
				wantCode(t, "CreateObject in the thing's scope", err, tt.code)
				_, err = f.db.Buckets.GetBucket(f.ctx, tt.caller, kumo.BucketRef{AppID: f.app.AppID, Scope: thingScope("VENDOR_THING_ID:vt-1"), Name: "readings"})
				wantCode(t, "GetBucket by vendor thing ID", err, tt.code)
			})
		}
		wantCode(t, "a stranger may not delete the thing", f.db.Things.DeleteThing(f.ctx, strangerC, th.ID), kumo.ErrUnauthorized)

		// Leaving the group, carol is no owner any more.
		if err := f.db.Groups.RemoveGroupMember(f.ctx, carolC, team.ID, carol.ID); err != nil {
			t.Fatal(err)
		}
		_, err := f.db.Things.FindThing(f.ctx, carolC, th.ID)
		wantCode(t, "FindThing by a former member", err, kumo.ErrUnauthorized)
	})

	t.Run("HasAndRemove", func(t *testing.T) {
		f := newFixture(t, s)
		th, thC := f.mustThing("vt-1")
		_, otherC := f.mustThing("vt-2")
		alice, aliceC := f.mustUser("alice")
		bob, bobC := f.mustUser("bob")
		carol, carolC := f.mustUser("carol")
		_, strangerC := f.mustUser("stranger")
		team := f.mustGroup(bobC, kumo.GroupCreation{Name: "team", Members: []string{carol.ID}})
		for _, o := range []kumo.ThingOwner{userOwner(alice.ID), groupOwner(team.ID)} {
			if err := f.db.Things.AddThingOwner(f.ctx, f.admin, th.ID, kumo.OwnershipRequest{Owner: o}); err != nil {
				t.Fatal(err)
			}
		}
		has := []struct {
			name   string
			caller kumo.Caller
			owner  kumo.ThingOwner
			code   kumo.Code
		}{
			{"the user himself", aliceC, userOwner(alice.ID), ""},
			{"a group member", carolC, groupOwner(team.ID), ""},
			{"another owner", carolC, userOwner(alice.ID), ""},
			{"the thing", thC, userOwner(alice.ID), ""},
			{"the admin", f.admin, groupOwner(team.ID), ""},
			{"not an owner", f.admin, userOwner(bob.ID), kumo.ErrThingOwnershipNotFound},
			{"a user asks about another user", strangerC, userOwner("x"), kumo.ErrUnauthorized},
			{"a stranger", strangerC, userOwner(alice.ID), kumo.ErrUnauthorized},
			{"another thing", otherC, userOwner(alice.ID), kumo.ErrUnauthorized},
			{"anonymous", f.anon, userOwner(alice.ID), kumo.ErrUnauthorized},
		}
		for _, tt := range has {
			t.Run("has/"+tt.name, func(t *testing.T) {
				wantCode(t, "HasThingOwner", f.db.Things.HasThingOwner(f.ctx, tt.caller, th.ID, tt.owner), tt.code)
			})
		}
		// bob asks about himself, an owner only through his group.
		wantCode(t, "HasThingOwner(bob, himself)", f.db.Things.HasThingOwner(f.ctx, bobC, th.ID, userOwner(bob.ID)), kumo.ErrThingOwnershipNotFound)

		steps := []struct {
			name   string
			caller kumo.Caller
			owner  kumo.ThingOwner
			code   kumo.Code
		}{
			{"another owner may not remove", carolC, userOwner(alice.ID), kumo.ErrUnauthorized},
			{"the user removes himself", aliceC, userOwner(alice.ID), ""},
			{"again", aliceC, userOwner(alice.ID), kumo.ErrThingOwnershipNotFound},
			{"a member removes his group", carolC, groupOwner(team.ID), ""},
			{"the admin, nothing left", f.admin, groupOwner(team.ID), kumo.ErrThingOwnershipNotFound},
		}
		for _, st := range steps {
			err := f.db.Things.RemoveThingOwner(f.ctx, st.caller, th.ID, st.owner)
			if wantCode(t, st.name, err, st.code) && st.code == kumo.ErrThingOwnershipNotFound {
				wantFields(t, st.name, err, map[string]any{"thingID": th.ID, st.owner.IDField(): st.owner.ID})
			}
		}
		_, err := f.db.Things.FindThing(f.ctx, aliceC, th.ID)
		wantCode(t, "FindThing by a former owner", err, kumo.ErrUnauthorized)
		got, err := f.db.Things.ThingOwners(f.ctx, thC, th.ID)
		if err != nil || len(got.Users)+len(got.Groups) != 0 || got.Users == nil || got.Groups == nil {
			t.Errorf("ThingOwners = %#v, %v; want two empty lists", got, err)
		}
		// The thing removes an owner too.
		if err := f.db.Things.AddThingOwner(f.ctx, thC, th.ID, kumo.OwnershipRequest{Owner: userOwner(bob.ID), Legacy: true}); err != nil {
			t.Fatal(err)
		}
		wantCode(t, "the thing removes", f.db.Things.RemoveThingOwner(f.ctx, thC, th.ID, userOwner(bob.ID)), "")
	})

	t.Run("Deleted", func(t *testing.T) {
		f := newFixture(t, s)
		th, _ := f.mustThing("vt-1")
		th2, _ := f.mustThing("vt-2")
		alice, aliceC := f.mustUser("alice")
		for _, id := range []string{th.ID, th2.ID} {
			if err := f.db.Things.AddThingOwner(f.ctx, f.admin, id, kumo.OwnershipRequest{Owner: userOwner(alice.ID)}); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.db.Things.DeleteThing(f.ctx, f.admin, th.ID); err != nil {
			t.Fatal(err)
		}
		// A thing registered again under the vendor thing ID is not alice's.
		again, _ := f.mustThing("vt-1")
		_, err := f.db.Things.FindThing(f.ctx, aliceC, again.ID)
		wantCode(t, "FindThing of the new thing", err, kumo.ErrUnauthorized)
		if err := f.db.Users.DeleteUser(f.ctx, f.admin, alice.ID); err != nil {
			t.Fatal(err)
		}
		got, err := f.db.Things.ThingOwners(f.ctx, f.admin, th2.ID)
		if err != nil || len(got.Users) != 0 {
			t.Errorf("owners after the user's delete = %+v, %v; want none", got, err)
		}
	})

	t.Run("VendorThingIDAndPassword", func(t *testing.T) {
		f := newFixture(t, s)
		th, thC := f.mustThing("vt-1")
		f.mustThing("vt-2")
		alice, aliceC := f.mustUser("alice")
		_, strangerC := f.mustUser("stranger")
		if err := f.db.Things.AddThingOwner(f.ctx, f.admin, th.ID, kumo.OwnershipRequest{Owner: userOwner(alice.ID)}); err != nil {
			t.Fatal(err)
		}
		login := func(vid, pw string) error {
			_, err := f.db.Tokens.Login(f.ctx, f.app.AppID, kumo.LoginRequest{Username: "VENDOR_THING_ID:" + vid, Password: pw})
			return err
		}
		wantCode(t, "a stranger changes it", f.db.Things.ChangeVendorThingID(f.ctx, strangerC, th.ID, "vt-9", "new-pw"), kumo.ErrUnauthorized)
		wantCode(t, "a taken vendor thing ID", f.db.Things.ChangeVendorThingID(f.ctx, aliceC, th.ID, "vt-2", "new-pw"), kumo.ErrThingAlreadyExists)
		wantCode(t, "the owner changes it", f.db.Things.ChangeVendorThingID(f.ctx, aliceC, "VENDOR_THING_ID:vt-1", "vt-9", "new-pw"), "")
		if got, err := f.db.Things.FindThing(f.ctx, thC, th.ID); err != nil || got.VendorThingID != "vt-9" {
			t.Errorf("FindThing = %+v, %v; want vendor thing ID vt-9", got, err)
		}
		wantCode(t, "login with the new ID and password", login("vt-9", "new-pw"), "")
		if login("vt-1", "pw-vt-1") == nil || login("vt-9", "pw-vt-1") == nil {
			t.Error("the old vendor thing ID or password still logs in")
		}
		wantCode(t, "a stranger sets the password", f.db.Things.ChangeThingPassword(f.ctx, strangerC, th.ID, "x"), kumo.ErrUnauthorized)
		wantCode(t, "an empty password", f.db.Things.ChangeThingPassword(f.ctx, thC, th.ID, ""), kumo.ErrInvalidInputData)
		wantCode(t, "the thing sets its password", f.db.Things.ChangeThingPassword(f.ctx, thC, th.ID, "third"), "")
		wantCode(t, "login with the third password", login("vt-9", "third"), "")
	})
}
