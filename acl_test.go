package kumo

import "testing"

func TestBucketAllowed(t *testing.T) {
	var (
		admin  = Caller{AppID: "a", Kind: Admin, ID: "cid"}
		userU  = Caller{AppID: "a", Kind: UserCaller, ID: "u"}
		userV  = Caller{AppID: "a", Kind: UserCaller, ID: "v"}
		thingA = Caller{AppID: "a", Kind: ThingCaller, ID: "th.a"}
		thingB = Caller{AppID: "a", Kind: ThingCaller, ID: "th.b"}
		// A thing whose ID is a user's ID is still not that user.
		thingU = Caller{AppID: "a", Kind: ThingCaller, ID: "u"}
		anon   = Caller{AppID: "a"}

		app    = AppScope
		scopeU = Scope{Kind: ScopeUser, ID: "u"}
		scopeA = Scope{Kind: ScopeThing, ID: "th.a"}
		group  = Scope{Kind: ScopeGroup, ID: "g"}

		none_      = Standing{}
		member     = Standing{GroupMember: true}
		owner      = Standing{GroupMember: true, GroupOwner: true}
		thingOwner = Standing{ThingOwner: true}
		everything = Standing{GroupMember: true, GroupOwner: true, ThingOwner: true}
	)
	// write is WRITE_EXISTING_OBJECT, which the default object ACL grants
	// to those who may create objects in the bucket.
	type allowed struct{ create, query, read, drop, write bool }
	all, none := allowed{true, true, true, true, true}, allowed{}
	readOnly := allowed{query: true, read: true}
	allButDrop := allowed{create: true, query: true, read: true, write: true}
	tests := []struct {
		name     string
		caller   Caller
		scope    Scope
		standing Standing
		want     allowed
	}{
		{"admin, app", admin, app, none_, all},
		{"admin, user", admin, scopeU, none_, all},
		{"admin, thing", admin, scopeA, none_, all},
		{"admin, group", admin, group, none_, all},

		{"user, app", userU, app, none_, all},
		{"thing, app", thingA, app, none_, all},
		{"anonymous, app", anon, app, none_, readOnly},
		{"anonymous said to stand everywhere, app", anon, app, everything, readOnly},

		{"the user, its scope", userU, scopeU, none_, all},
		{"another user, user scope", userV, scopeU, none_, none},
		{"another user standing everywhere, user scope", userV, scopeU, everything, none},
		{"a thing, user scope", thingA, scopeU, none_, none},
		{"a thing with the user's ID, user scope", thingU, scopeU, none_, none},
		{"anonymous, user scope", anon, scopeU, none_, none},

		{"the thing, its scope", thingA, scopeA, none_, all},
		{"the thing, its scope, said to own itself", thingA, scopeA, thingOwner, all},
		{"another thing, thing scope", thingB, scopeA, none_, none},
		{"another thing said to own it, thing scope", thingB, scopeA, thingOwner, none},
		{"a user, thing scope", userU, scopeA, none_, none},
		{"an owner of the thing, thing scope", userU, scopeA, thingOwner, all},
		{"a group member and owner, thing scope", userU, scopeA, owner, none},
		{"anonymous, thing scope", anon, scopeA, none_, none},
		{"anonymous said to own it, thing scope", anon, scopeA, thingOwner, none},

		{"a user, group", userU, group, none_, none},
		{"a member, group", userU, group, member, allButDrop},
		{"the owner, group", userU, group, owner, all},
		{"an owner who is no member, group", userU, group, Standing{GroupOwner: true}, all},
		{"a thing owner, group", userU, group, thingOwner, none},
		{"a thing, group", thingA, group, none_, none},
		{"a thing said to be a member, group", thingA, group, everything, none},
		{"anonymous, group", anon, group, none_, none},
		{"anonymous said to be a member, group", anon, group, everything, none},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, a := range []struct {
				name   string
				action BucketAction
				want   bool
			}{
				{"create", CreateObjectsInBucket, tt.want.create},
				{"query", QueryObjectsInBucket, tt.want.query},
				{"read", ReadObjectsInBucket, tt.want.read},
				{"drop", DropBucketWithAllContent, tt.want.drop},
				{"write", WriteExistingObject, tt.want.write},
			} {
				if got := BucketAllowed(tt.caller, tt.scope, tt.standing, a.action); got != a.want {
					t.Errorf("BucketAllowed(%s %s, %s %s, %+v, %s) = %v, want %v",
						tt.caller.Kind, tt.caller.ID, tt.scope.Kind, tt.scope.ID, tt.standing, a.name, got, a.want)
				}
			}
		})
	}
}
