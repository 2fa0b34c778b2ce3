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
	)
	type allowed struct{ create, query, read, drop bool }
	all, none := allowed{true, true, true, true}, allowed{}
	readOnly := allowed{query: true, read: true}
	tests := []struct {
		name   string
		caller Caller
		scope  Scope
		want   allowed
	}{
		{"admin, app", admin, app, all},
		{"admin, user", admin, scopeU, all},
		{"admin, thing", admin, scopeA, all},
		{"admin, group", admin, group, all},

		{"user, app", userU, app, all},
		{"thing, app", thingA, app, all},
		{"anonymous, app", anon, app, readOnly},

		{"the user, its scope", userU, scopeU, all},
		{"another user, user scope", userV, scopeU, none},
		{"a thing, user scope", thingA, scopeU, none},
		{"a thing with the user's ID, user scope", thingU, scopeU, none},
		{"anonymous, user scope", anon, scopeU, none},

		{"the thing, its scope", thingA, scopeA, all},
		{"another thing, thing scope", thingB, scopeA, none},
		{"a user, thing scope", userU, scopeA, none},
		{"anonymous, thing scope", anon, scopeA, none},

		{"user, group", userU, group, none},
		{"thing, group", thingA, group, none},
		{"anonymous, group", anon, group, none},
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
			} {
				if got := BucketAllowed(tt.caller, tt.scope, a.action); got != a.want {
					t.Errorf("BucketAllowed(%s %s, %s %s, %s) = %v, want %v",
						tt.caller.Kind, tt.caller.ID, tt.scope.Kind, tt.scope.ID, a.name, got, a.want)
				}
			}
		})
	}
}
