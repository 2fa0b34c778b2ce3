package storetest

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/kumo-iot/kumo"
)

// groupScope returns the scope of group id.
func groupScope(id string) kumo.Scope { return kumo.Scope{Kind: kumo.ScopeGroup, ID: id} }

// mustGroup creates a group as c and returns it.
func (f *fixture) mustGroup(c kumo.Caller, g kumo.GroupCreation) kumo.Group {
	f.t.Helper()
	got, _, err := f.db.Groups.CreateGroup(f.ctx, c, g)
	if err != nil {
		f.t.Fatalf("CreateGroup(%+v): %v", g, err)
	}
	return got
}

// sorted returns a sorted copy of s.
func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// testGroups checks kumo.GroupService and the group scope.
func testGroups(t *testing.T, s suite) {
	t.Run("Create", func(t *testing.T) {
		f := newFixture(t, s)
		alice, aliceC := f.mustUser("alice")
		bob, _ := f.mustUser("bob")
		g, notFound, err := f.db.Groups.CreateGroup(f.ctx, aliceC, kumo.GroupCreation{Name: "Team ☁", Members: []string{bob.ID, "nobody", alice.ID, bob.ID}})
		if err != nil {
			t.Fatalf("CreateGroup: %v", err)
		}
		wantShape(t, "group ID", g.ID, 25, lowerAlnum)
		want := kumo.Group{ID: g.ID, Name: "Team ☁", Owner: alice.ID, Created: epoch, Modified: epoch}
		if g != want {
			t.Errorf("CreateGroup = %+v, want %+v", g, want)
		}
		if !reflect.DeepEqual(notFound, []string{"nobody"}) {
			t.Errorf("notFoundUsers = %q, want [nobody]", notFound)
		}
		if got, err := f.db.Groups.FindGroup(f.ctx, aliceC, g.ID); err != nil || got != want {
			t.Errorf("FindGroup = %+v, %v; want %+v", got, err, want)
		}
		members, err := f.db.Groups.GroupMembers(f.ctx, aliceC, g.ID)
		if err != nil || !reflect.DeepEqual(sorted(members), sorted([]string{alice.ID, bob.ID})) {
			t.Errorf("GroupMembers = %q, %v; want the owner and bob", members, err)
		}
		// Without members, notFoundUsers is empty, not nil.
		_, notFound, err = f.db.Groups.CreateGroup(f.ctx, aliceC, kumo.GroupCreation{Name: "solo"})
		if err != nil || notFound == nil || len(notFound) != 0 {
			t.Errorf("CreateGroup without members: notFound %#v, %v; want an empty list", notFound, err)
		}
	})

	t.Run("CreateRules", func(t *testing.T) {
		f := newFixture(t, s)
		alice, aliceC := f.mustUser("alice")
		bob, _ := f.mustUser("bob")
		_, thingC := f.mustThing("vt-1")
		f.mustGroup(aliceC, kumo.GroupCreation{ID: "taken", Name: "first"})
		tests := []struct {
			name   string
			caller kumo.Caller
			g      kumo.GroupCreation
			code   kumo.Code
			fields map[string]any
			owner  string
		}{
			{name: "a user owns his group", caller: aliceC, g: kumo.GroupCreation{Name: "g"}, owner: alice.ID},
			{name: "a user names himself", caller: aliceC, g: kumo.GroupCreation{Name: "g", Owner: alice.ID}, owner: alice.ID},
			{name: "a user names another owner", caller: aliceC, g: kumo.GroupCreation{Name: "g", Owner: bob.ID}, code: kumo.ErrUnauthorized},
			{name: "the admin without an owner", caller: f.admin, g: kumo.GroupCreation{Name: "g"}},
			{name: "the admin for a user", caller: f.admin, g: kumo.GroupCreation{Name: "g", Owner: bob.ID}, owner: bob.ID},
			{name: "the admin for an unknown user", caller: f.admin, g: kumo.GroupCreation{Name: "g", Owner: "nobody"}, code: kumo.ErrUserNotFound,
				fields: map[string]any{"field": "userID", "value": "nobody"}},
			{name: "a thing", caller: thingC, g: kumo.GroupCreation{Name: "g"}, code: kumo.ErrUnauthorized},
			{name: "anonymous", caller: f.anon, g: kumo.GroupCreation{Name: "g", Owner: alice.ID}, code: kumo.ErrUnauthorized},
			{name: "a chosen ID", caller: aliceC, g: kumo.GroupCreation{ID: "my.group-1_x", Name: "g"}, owner: alice.ID},
			{name: "a chosen ID taken", caller: aliceC, g: kumo.GroupCreation{ID: "taken", Name: "g"}, code: kumo.ErrGroupAlreadyExists,
				fields: map[string]any{"groupID": "taken", "appID": "app1"}},
			{name: "an empty name", caller: aliceC, g: kumo.GroupCreation{Name: ""}, code: kumo.ErrInvalidInputData},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				g, _, err := f.db.Groups.CreateGroup(f.ctx, tt.caller, tt.g)
				if !wantCode(t, "CreateGroup", err, tt.code) {
					return
				}
				if tt.code != "" {
					wantFields(t, "CreateGroup", err, tt.fields)
					return
				}
				if g.Owner != tt.owner {
					t.Errorf("owner = %q, want %q", g.Owner, tt.owner)
				}
				if tt.g.ID != "" && g.ID != tt.g.ID {
					t.Errorf("ID = %q, want %q", g.ID, tt.g.ID)
				}
			})
		}
		// The taken group is unchanged.
		if g, err := f.db.Groups.FindGroup(f.ctx, f.admin, "taken"); err != nil || g.Name != "first" {
			t.Errorf("FindGroup(taken) = %+v, %v; want the first group", g, err)
		}
	})

	t.Run("Read", func(t *testing.T) {
		f := newFixture(t, s)
		_, ownerC := f.mustUser("owner")
		member, memberC := f.mustUser("member")
		_, strangerC := f.mustUser("stranger")
		_, thingC := f.mustThing("vt-1")
		g := f.mustGroup(ownerC, kumo.GroupCreation{Name: "g", Members: []string{member.ID}})
		tests := []struct {
			name   string
			caller kumo.Caller
			id     string
			code   kumo.Code
		}{
			{"the owner", ownerC, g.ID, ""},
			{"a member", memberC, g.ID, ""},
			{"the admin", f.admin, g.ID, ""},
			{"another user", strangerC, g.ID, kumo.ErrUnauthorized},
			{"a thing", thingC, g.ID, kumo.ErrUnauthorized},
			{"anonymous", f.anon, g.ID, kumo.ErrUnauthorized},
			{"a missing group", f.admin, "nogroup", kumo.ErrGroupNotFound},
			{"a missing group, a user", memberC, "nogroup", kumo.ErrGroupNotFound},
			{"a missing group, anonymous", f.anon, "nogroup", kumo.ErrUnauthorized},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := f.db.Groups.FindGroup(f.ctx, tt.caller, tt.id)
				if wantCode(t, "FindGroup", err, tt.code) && tt.code == kumo.ErrGroupNotFound {
					wantFields(t, "FindGroup", err, map[string]any{"groupID": tt.id, "appID": "app1"})
				}
				_, err = f.db.Groups.GroupMembers(f.ctx, tt.caller, tt.id)
				wantCode(t, "GroupMembers", err, tt.code)
			})
		}
	})

	t.Run("Change", func(t *testing.T) {
		f := newFixture(t, s)
		owner, ownerC := f.mustUser("owner")
		member, memberC := f.mustUser("member")
		carol, carolC := f.mustUser("carol")
		dave, daveC := f.mustUser("dave")
		g := f.mustGroup(ownerC, kumo.GroupCreation{Name: "g", Members: []string{member.ID}})
		f.clock.Advance(time.Second)
		steps := []struct {
			name string
			do   func() error
			code kumo.Code
		}{
			{"a member may not rename", func() error { return f.db.Groups.RenameGroup(f.ctx, memberC, g.ID, "x") }, kumo.ErrUnauthorized},
			{"the owner renames", func() error { return f.db.Groups.RenameGroup(f.ctx, ownerC, g.ID, "renamed") }, ""},
			{"a too long name", func() error { return f.db.Groups.RenameGroup(f.ctx, ownerC, g.ID, string(make([]byte, 191))) }, kumo.ErrInvalidInputData},
			{"rename a missing group", func() error { return f.db.Groups.RenameGroup(f.ctx, f.admin, "nogroup", "x") }, kumo.ErrGroupNotFound},
			{"a member may not add", func() error { return f.db.Groups.AddGroupMember(f.ctx, memberC, g.ID, carol.ID) }, kumo.ErrUnauthorized},
			{"the owner adds", func() error { return f.db.Groups.AddGroupMember(f.ctx, ownerC, g.ID, carol.ID) }, ""},
			{"adding again succeeds", func() error { return f.db.Groups.AddGroupMember(f.ctx, ownerC, g.ID, carol.ID) }, ""},
			{"the admin adds", func() error { return f.db.Groups.AddGroupMember(f.ctx, f.admin, g.ID, dave.ID) }, ""},
			{"add an unknown user", func() error { return f.db.Groups.AddGroupMember(f.ctx, ownerC, g.ID, "nobody") }, kumo.ErrUserNotFound},
			{"a member may not remove another", func() error { return f.db.Groups.RemoveGroupMember(f.ctx, memberC, g.ID, carol.ID) }, kumo.ErrUnauthorized},
			{"a member removes himself", func() error { return f.db.Groups.RemoveGroupMember(f.ctx, daveC, g.ID, dave.ID) }, ""},
			{"no longer a member", func() error { return f.db.Groups.RemoveGroupMember(f.ctx, ownerC, g.ID, dave.ID) }, kumo.ErrUserNotFound},
			{"the owner cannot leave", func() error { return f.db.Groups.RemoveGroupMember(f.ctx, ownerC, g.ID, owner.ID) }, kumo.ErrUnauthorized},
			{"a member may not change the owner", func() error { return f.db.Groups.ChangeGroupOwner(f.ctx, memberC, g.ID, member.ID) }, kumo.ErrUnauthorized},
			{"owner to an unknown user", func() error { return f.db.Groups.ChangeGroupOwner(f.ctx, ownerC, g.ID, "nobody") }, kumo.ErrUserNotFound},
			{"the owner hands over to a non-member", func() error { return f.db.Groups.ChangeGroupOwner(f.ctx, ownerC, g.ID, dave.ID) }, ""},
			{"the old owner may no longer rename", func() error { return f.db.Groups.RenameGroup(f.ctx, ownerC, g.ID, "x") }, kumo.ErrUnauthorized},
			{"the new owner removes the old", func() error { return f.db.Groups.RemoveGroupMember(f.ctx, daveC, g.ID, owner.ID) }, ""},
			{"the admin removes", func() error { return f.db.Groups.RemoveGroupMember(f.ctx, f.admin, g.ID, carol.ID) }, ""},
		}
		for _, st := range steps {
			wantCode(t, st.name, st.do(), st.code)
		}
		got, err := f.db.Groups.FindGroup(f.ctx, daveC, g.ID)
		want := kumo.Group{ID: g.ID, Name: "renamed", Owner: dave.ID, Created: epoch, Modified: epoch + 1000}
		if err != nil || got != want {
			t.Errorf("FindGroup = %+v, %v; want %+v", got, err, want)
		}
		members, err := f.db.Groups.GroupMembers(f.ctx, f.admin, g.ID)
		if err != nil || !reflect.DeepEqual(sorted(members), sorted([]string{member.ID, dave.ID})) {
			t.Errorf("GroupMembers = %q, %v; want member and dave (the new owner)", members, err)
		}
		if _, err := f.db.Groups.FindGroup(f.ctx, carolC, g.ID); kumo.ErrorCode(err) != kumo.ErrUnauthorized {
			t.Errorf("a removed member reads the group: %v", err)
		}
	})

	t.Run("List", func(t *testing.T) {
		f := newFixture(t, s)
		alice, aliceC := f.mustUser("alice")
		bob, bobC := f.mustUser("bob")
		_, thingC := f.mustThing("vt-1")
		g1 := f.mustGroup(aliceC, kumo.GroupCreation{Name: "one", Members: []string{bob.ID}})
		f.clock.Advance(time.Millisecond)
		g2 := f.mustGroup(bobC, kumo.GroupCreation{Name: "two"})
		f.clock.Advance(time.Millisecond)
		g3 := f.mustGroup(f.admin, kumo.GroupCreation{Name: "three"})
		ids := func(gs []kumo.Group) []string {
			out := []string{}
			for _, g := range gs {
				out = append(out, g.ID)
			}
			return out
		}
		tests := []struct {
			name   string
			caller kumo.Caller
			filter kumo.GroupFilter
			want   []string
			code   kumo.Code
		}{
			{name: "alice's groups", caller: aliceC, filter: kumo.GroupFilter{Member: alice.ID}, want: []string{g1.ID}},
			{name: "bob's groups, in creation order", caller: bobC, filter: kumo.GroupFilter{Member: bob.ID}, want: []string{g1.ID, g2.ID}},
			{name: "me", caller: bobC, filter: kumo.GroupFilter{Member: "me"}, want: []string{g1.ID, g2.ID}},
			{name: "by login name", caller: bobC, filter: kumo.GroupFilter{Owner: "LOGIN_NAME:bob"}, want: []string{g2.ID}},
			{name: "owned by bob", caller: bobC, filter: kumo.GroupFilter{Owner: bob.ID}, want: []string{g2.ID}},
			{name: "the admin, bob's", caller: f.admin, filter: kumo.GroupFilter{Member: bob.ID}, want: []string{g1.ID, g2.ID}},
			{name: "the admin, all", caller: f.admin, want: []string{g1.ID, g2.ID, g3.ID}},
			{name: "a user, all", caller: aliceC, code: kumo.ErrUnauthorized},
			{name: "another user's", caller: aliceC, filter: kumo.GroupFilter{Member: bob.ID}, code: kumo.ErrUnauthorized},
			{name: "both filters", caller: f.admin, filter: kumo.GroupFilter{Member: bob.ID, Owner: bob.ID}, code: kumo.ErrInvalidInputData},
			{name: "an unknown user", caller: f.admin, filter: kumo.GroupFilter{Member: "nobody"}, code: kumo.ErrUserNotFound},
			{name: "a thing", caller: thingC, filter: kumo.GroupFilter{Member: bob.ID}, code: kumo.ErrUnauthorized},
			{name: "anonymous", caller: f.anon, filter: kumo.GroupFilter{Member: bob.ID}, code: kumo.ErrUnauthorized},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				gs, err := f.db.Groups.ListGroups(f.ctx, tt.caller, tt.filter)
				if !wantCode(t, "ListGroups", err, tt.code) || tt.code != "" {
					return
				}
				if got := ids(gs); !reflect.DeepEqual(got, tt.want) {
					t.Errorf("ListGroups = %q, want %q", got, tt.want)
				}
			})
		}
	})

	t.Run("Scope", func(t *testing.T) {
		f := newFixture(t, s)
		_, ownerC := f.mustUser("owner")
		member, memberC := f.mustUser("member")
		_, strangerC := f.mustUser("stranger")
		_, thingC := f.mustThing("vt-1")
		g := f.mustGroup(ownerC, kumo.GroupCreation{ID: "g1", Name: "g", Members: []string{member.ID}})
		b := f.bucket(groupScope(g.ID), "shared")
		if err := f.db.Buckets.CreateBucket(f.ctx, ownerC, b); err != nil {
			t.Fatalf("CreateBucket: %v", err)
		}
		o := f.mustObject(memberC, b, map[string]any{"n": 1})
		tests := []struct {
			name   string
			caller kumo.Caller
			code   kumo.Code
		}{
			{"a member", memberC, ""},
			{"the owner", ownerC, ""},
			{"the admin", f.admin, ""},
			{"another user", strangerC, kumo.ErrUnauthorized},
			{"a thing", thingC, kumo.ErrUnauthorized},
			{"anonymous", f.anon, kumo.ErrUnauthorized},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := f.db.Objects.GetObject(f.ctx, tt.caller, b, o.ID)
				wantCode(t, "GetObject", err, tt.code)
				_, err = f.db.Objects.CreateObject(f.ctx, tt.caller, kumo.ObjectCreate{Bucket: b, Data: map[string]any{}})
				wantCode(t, "CreateObject", err, tt.code)
				_, err = f.db.Buckets.GetBucket(f.ctx, tt.caller, b)
				wantCode(t, "GetBucket", err, tt.code)
			})
		}
		// The events name the group scope.
		for _, e := range f.claimAll() {
			if e.Bucket.Scope != groupScope(g.ID) {
				t.Errorf("event bucket scope = %+v, want group %s", e.Bucket.Scope, g.ID)
			}
		}
		wantCode(t, "a member drops a bucket he did not create", f.db.Buckets.DeleteBucket(f.ctx, memberC, b), kumo.ErrUnauthorized)
		wantCode(t, "the owner drops", f.db.Buckets.DeleteBucket(f.ctx, ownerC, b), "")
		_, err := f.db.Objects.CreateObject(f.ctx, f.admin, kumo.ObjectCreate{Bucket: f.bucket(groupScope("nogroup"), "x"), Data: map[string]any{}})
		if wantCode(t, "CreateObject in a missing group", err, kumo.ErrGroupNotFound) {
			wantFields(t, "CreateObject in a missing group", err, map[string]any{"groupID": "nogroup"})
		}
		_, err = f.db.Objects.CreateObject(f.ctx, memberC, kumo.ObjectCreate{Bucket: f.bucket(groupScope("nogroup"), "x"), Data: map[string]any{}})
		wantCode(t, "CreateObject in a missing group, a user", err, kumo.ErrGroupNotFound)
	})

	t.Run("Delete", func(t *testing.T) {
		f := newFixture(t, s)
		owner, ownerC := f.mustUser("owner")
		member, memberC := f.mustUser("member")
		th, _ := f.mustThing("vt-1")
		g := f.mustGroup(ownerC, kumo.GroupCreation{ID: "g1", Name: "g", Members: []string{member.ID}})
		b := f.bucket(groupScope(g.ID), "shared")
		f.mustObject(memberC, b, map[string]any{"n": 1})
		f.mustInstall(memberC, kumo.InstallationCreate{DeviceType: kumo.DeviceMQTT})
		if err := f.db.Subscriptions.SubscribeBucket(f.ctx, memberC, b, kumo.Principal{Kind: kumo.UserCaller, ID: member.ID}); err != nil {
			t.Fatal(err)
		}
		if topics, err := f.db.Outbox.SubscriberTopics(f.ctx, []kumo.BucketRef{b}); err != nil || len(topics[b]) != 1 {
			t.Fatalf("subscriber topics of the group's bucket = %v, %v; want the member's", topics, err)
		}
		if err := f.db.Things.AddThingOwner(f.ctx, f.admin, th.ID, kumo.OwnershipRequest{Owner: kumo.ThingOwner{Kind: kumo.OwnerGroup, ID: g.ID}}); err != nil {
			t.Fatal(err)
		}
		wantCode(t, "a member deletes", f.db.Groups.DeleteGroup(f.ctx, memberC, g.ID), kumo.ErrUnauthorized)
		wantCode(t, "the owner deletes", f.db.Groups.DeleteGroup(f.ctx, ownerC, g.ID), "")
		wantCode(t, "delete again", f.db.Groups.DeleteGroup(f.ctx, ownerC, g.ID), kumo.ErrGroupNotFound)
		_, err := f.db.Groups.FindGroup(f.ctx, f.admin, g.ID)
		wantCode(t, "FindGroup after the delete", err, kumo.ErrGroupNotFound)
		if gs, err := f.db.Groups.ListGroups(f.ctx, memberC, kumo.GroupFilter{Member: member.ID}); err != nil || len(gs) != 0 {
			t.Errorf("the member's groups after the delete: %+v, %v; want none", gs, err)
		}
		owners, err := f.db.Things.ThingOwners(f.ctx, f.admin, th.ID)
		if err != nil || len(owners.Groups) != 0 {
			t.Errorf("thing owners after the delete: %+v, %v; want no group", owners, err)
		}
		// A group made again under the ID starts empty: no bucket, no
		// member but its owner, no subscription.
		f.mustGroup(ownerC, kumo.GroupCreation{ID: "g1", Name: "again"})
		_, err = f.db.Buckets.GetBucket(f.ctx, ownerC, b)
		wantCode(t, "the old bucket", err, kumo.ErrBucketNotFound)
		members, err := f.db.Groups.GroupMembers(f.ctx, ownerC, g.ID)
		if err != nil || !reflect.DeepEqual(members, []string{owner.ID}) {
			t.Errorf("members of the new group = %q, %v; want only its owner", members, err)
		}
		topics, err := f.db.Outbox.SubscriberTopics(f.ctx, []kumo.BucketRef{b})
		if err != nil || len(topics[b]) != 0 {
			t.Errorf("subscriber topics of the old bucket = %v, %v; want none", topics, err)
		}
	})

	t.Run("UserDeleted", func(t *testing.T) {
		f := newFixture(t, s)
		owner, ownerC := f.mustUser("owner")
		member, memberC := f.mustUser("member")
		g := f.mustGroup(ownerC, kumo.GroupCreation{Name: "g", Members: []string{member.ID}})
		if err := f.db.Users.DeleteUser(f.ctx, memberC, member.ID); err != nil {
			t.Fatal(err)
		}
		if err := f.db.Users.DeleteUser(f.ctx, ownerC, owner.ID); err != nil {
			t.Fatal(err)
		}
		got, err := f.db.Groups.FindGroup(f.ctx, f.admin, g.ID)
		if err != nil || got.Owner != "" {
			t.Errorf("the group of a deleted owner = %+v, %v; want it kept without an owner", got, err)
		}
		members, err := f.db.Groups.GroupMembers(f.ctx, f.admin, g.ID)
		if err != nil || len(members) != 0 {
			t.Errorf("members after both were deleted = %q, %v; want none", members, err)
		}
	})
}
