package kumo

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// allowedByDefault applies the default ACL of bucket "b" in s (or of its
// object "o", for WRITE_EXISTING_OBJECT) made by the admin, as the store
// does for a caller with no group memberships.
func allowedByDefault(c Caller, s Scope, st Standing, v ACLVerb) bool {
	t := ACLTarget{Bucket: BucketRef{AppID: "a", Scope: s, Name: "b"}}
	if v == WriteExistingObject {
		t.ObjectID = "o"
	}
	return Allowed(c, s, st, nil, v, DefaultACL(t, ACLOwners{})[v])
}

func TestDefaultBucketACL(t *testing.T) {
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
				action ACLVerb
				want   bool
			}{
				{"create", CreateObjectsInBucket, tt.want.create},
				{"query", QueryObjectsInBucket, tt.want.query},
				{"read", ReadObjectsInBucket, tt.want.read},
				{"drop", DropBucketWithAllContent, tt.want.drop},
				{"write", WriteExistingObject, tt.want.write},
			} {
				if got := allowedByDefault(tt.caller, tt.scope, tt.standing, a.action); got != a.want {
					t.Errorf("allowedByDefault(%s %s, %s %s, %+v, %s) = %v, want %v",
						tt.caller.Kind, tt.caller.ID, tt.scope.Kind, tt.scope.ID, tt.standing, a.name, got, a.want)
				}
			}
		})
	}
}

// TestDefaultACLListing checks the defaults GET …/acl lists, as k4j's live
// tests assert them and as the tables of rest-core §7.4 give them.
func TestDefaultACLListing(t *testing.T) {
	u, g, th := Subject{SubjectUser, "u"}, Subject{SubjectGroup, "g"}, Subject{SubjectThing, "th.t"}
	v := Subject{SubjectUser, "v"}
	anyAuth, anon := AnyAuthenticatedUser, AnonymousUser
	userU := Principal{Kind: UserCaller, ID: "u"}
	userV := Principal{Kind: UserCaller, ID: "v"}
	scopeU, group, thing := Scope{ScopeUser, "u"}, Scope{ScopeGroup, "g"}, Scope{ScopeThing, "th.t"}
	target := func(s Scope, bucket, object string) ACLTarget {
		return ACLTarget{Bucket: BucketRef{AppID: "a", Scope: s, Name: bucket}, ObjectID: object}
	}
	all4 := func(ss ...Subject) ACL {
		return ACL{QueryObjectsInBucket: ss, CreateObjectsInBucket: ss, ReadObjectsInBucket: ss, DropBucketWithAllContent: ss}
	}
	tests := []struct {
		name   string
		target ACLTarget
		owners ACLOwners
		want   ACL
	}{
		{"app scope", target(AppScope, "", ""), ACLOwners{}, ACL{CreateNewBucket: {anyAuth}}},
		{"user scope", target(scopeU, "", ""), ACLOwners{}, ACL{CreateNewBucket: {u}, CreateNewTopic: {u}}},
		{"group scope", target(group, "", ""), ACLOwners{GroupOwner: "v"}, ACL{CreateNewBucket: {g, v}, CreateNewTopic: {g, v}}},
		{"thing scope", target(thing, "", ""), ACLOwners{}, ACL{CreateNewBucket: {th}, CreateNewTopic: {th}}},
		{"app bucket", target(AppScope, "b", ""), ACLOwners{Creator: userU},
			ACL{CreateObjectsInBucket: {anyAuth}, QueryObjectsInBucket: {anyAuth, anon}, ReadObjectsInBucket: {anyAuth, anon}, DropBucketWithAllContent: {anyAuth}}},
		{"user bucket made by its owner", target(scopeU, "b", ""), ACLOwners{Creator: userU}, all4(u)},
		{"user bucket made by the admin", target(scopeU, "b", ""), ACLOwners{}, all4(u)},
		{"group bucket", target(group, "b", ""), ACLOwners{Creator: userV},
			ACL{CreateObjectsInBucket: {g, v}, QueryObjectsInBucket: {g, v}, ReadObjectsInBucket: {g, v}, DropBucketWithAllContent: {v}}},
		{"thing bucket made by the thing", target(thing, "b", ""), ACLOwners{Creator: Principal{Kind: ThingCaller, ID: "th.t"}}, all4(th)},
		{"thing bucket made by a user", target(thing, "b", ""), ACLOwners{Creator: userU}, all4(th, u)},
		{"app object", target(AppScope, "b", "o"), ACLOwners{Creator: userU},
			ACL{ReadExistingObject: {u, anyAuth, anon}, WriteExistingObject: {u, anyAuth}}},
		{"app object made by the admin", target(AppScope, "b", "o"), ACLOwners{},
			ACL{ReadExistingObject: {anyAuth, anon}, WriteExistingObject: {anyAuth}}},
		{"user object", target(scopeU, "b", "o"), ACLOwners{Creator: userU}, ACL{ReadExistingObject: {u}, WriteExistingObject: {u}}},
		{"group object", target(group, "b", "o"), ACLOwners{Creator: userV}, ACL{ReadExistingObject: {g, v}, WriteExistingObject: {g, v}}},
		{"thing object", target(thing, "b", "o"), ACLOwners{Creator: userU}, ACL{ReadExistingObject: {th, u}, WriteExistingObject: {th, u}}},
	}
	for _, tt := range tests {
		if got := DefaultACL(tt.target, tt.owners); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: DefaultACL = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestSubjectMatches(t *testing.T) {
	user := Caller{AppID: "a", Kind: UserCaller, ID: "u"}
	thing := Caller{AppID: "a", Kind: ThingCaller, ID: "th.t"}
	admin := Caller{AppID: "a", Kind: Admin, ID: "cid"}
	anon := Caller{AppID: "a"}
	groups := []string{"g"}
	tests := []struct {
		subject string
		matches []Caller
	}{
		{"UserID:ANONYMOUS_USER", []Caller{user, thing, admin, anon}},
		{"UserID:ANY_AUTHENTICATED_USER", []Caller{user, thing}},
		{"UserID:u", []Caller{user}},
		{"ThingID:th.t", []Caller{thing}},
		{"GroupID:g", []Caller{user}},
		{"GroupID:h", nil},
		{"userid:u", []Caller{user}}, // the kind in any case
	}
	for _, tt := range tests {
		s, err := ParseSubject(tt.subject)
		if err != nil {
			t.Fatalf("ParseSubject(%q): %v", tt.subject, err)
		}
		for _, c := range []Caller{user, thing, admin, anon} {
			want := slices.Contains(tt.matches, c)
			if got := s.Matches(c, groups); got != want {
				t.Errorf("%s matches %v = %v, want %v", tt.subject, c, got, want)
			}
		}
	}
	for _, bad := range []string{"", "UserID:", "u", "DeviceID:x", ":x"} {
		if _, err := ParseSubject(bad); ErrorCode(err) != ErrInvalidInputData {
			t.Errorf("ParseSubject(%q) = %v, want INVALID_INPUT_DATA", bad, err)
		}
	}
}

func TestMayEditACL(t *testing.T) {
	user := Caller{AppID: "a", Kind: UserCaller, ID: "u"}
	other := Caller{AppID: "a", Kind: UserCaller, ID: "v"}
	thing := Caller{AppID: "a", Kind: ThingCaller, ID: "th.t"}
	admin := Caller{AppID: "a", Kind: Admin, ID: "cid"}
	anon := Caller{AppID: "a"}
	appBucket := ACLTarget{Bucket: BucketRef{AppID: "a", Scope: AppScope, Name: "b"}}
	appObject := ACLTarget{Bucket: appBucket.Bucket, ObjectID: "o"}
	userBucket := ACLTarget{Bucket: BucketRef{AppID: "a", Scope: Scope{ScopeUser, "u"}, Name: "b"}}
	groupScope := ACLTarget{Bucket: BucketRef{AppID: "a", Scope: Scope{ScopeGroup, "g"}}}
	thingBucket := ACLTarget{Bucket: BucketRef{AppID: "a", Scope: Scope{ScopeThing, "th.t"}, Name: "b"}}
	byUser := ACLOwners{Creator: Principal{Kind: UserCaller, ID: "u"}}
	tests := []struct {
		name   string
		c      Caller
		t      ACLTarget
		st     Standing
		owners ACLOwners
		want   bool
	}{
		{"admin, app bucket", admin, appBucket, Standing{}, ACLOwners{}, true},
		{"user, app bucket", user, appBucket, Standing{}, byUser, false},
		{"creator, app object", user, appObject, Standing{}, byUser, true},
		{"another user, app object", other, appObject, Standing{}, byUser, false},
		{"anonymous, app object made by the admin", anon, appObject, Standing{}, ACLOwners{}, false},
		{"the user, his bucket", user, userBucket, Standing{}, byUser, true},
		{"another user, user bucket", other, userBucket, Standing{}, byUser, false},
		{"group owner, group scope", user, groupScope, Standing{GroupOwner: true, GroupMember: true}, ACLOwners{}, true},
		{"group member, group scope", user, groupScope, Standing{GroupMember: true}, ACLOwners{}, false},
		{"the thing, its bucket", thing, thingBucket, Standing{}, ACLOwners{}, true},
		{"a thing owner, thing bucket", other, thingBucket, Standing{ThingOwner: true}, ACLOwners{}, true},
		{"a user, thing bucket", other, thingBucket, Standing{}, ACLOwners{}, false},
	}
	for _, tt := range tests {
		if got := MayEditACL(tt.c, tt.t, tt.st, tt.owners); got != tt.want {
			t.Errorf("%s: MayEditACL = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// FuzzACLApply checks Apply against its meaning on random changes: after
// a grant the subject holds the verb, after a revocation it does not, no
// subject is listed twice, and no verb is listed empty.
func FuzzACLApply(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7})
	f.Add([]byte{255, 0, 255, 0})
	subjects := []Subject{AnyAuthenticatedUser, AnonymousUser, {SubjectUser, "u"}, {SubjectGroup, "g"}, {SubjectThing, "th.t"}}
	targets := []ACLTarget{
		{Bucket: BucketRef{AppID: "a", Scope: AppScope}},
		{Bucket: BucketRef{AppID: "a", Scope: AppScope, Name: "b"}},
		{Bucket: BucketRef{AppID: "a", Scope: Scope{ScopeUser, "u"}, Name: "b"}, ObjectID: "o"},
		{Bucket: BucketRef{AppID: "a", Scope: Scope{ScopeGroup, "g"}, Name: "b"}},
	}
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) == 0 {
			return
		}
		target := targets[int(ops[0])%len(targets)]
		verbs := target.Verbs()
		acl := DefaultACL(target, ACLOwners{Creator: Principal{Kind: UserCaller, ID: "u"}})
		for _, op := range ops[1:] {
			ch := ACLChange{Verb: verbs[int(op)%len(verbs)], Subject: subjects[int(op/8)%len(subjects)], Granted: op&0x80 != 0}
			acl = acl.Apply([]ACLChange{ch})
			if got := slices.Contains(acl[ch.Verb], ch.Subject); got != ch.Granted {
				t.Fatalf("after %+v the subject is listed: %v", ch, got)
			}
			for v, ss := range acl {
				if len(ss) == 0 {
					t.Fatalf("verb %s listed empty", v)
				}
				for i := range ss {
					if slices.Contains(ss[i+1:], ss[i]) {
						t.Fatalf("verb %s lists %v twice", v, ss[i])
					}
				}
			}
		}
	})
}

func TestDefaultTopicACL(t *testing.T) {
	u, v, g, th := Subject{SubjectUser, "u"}, Subject{SubjectUser, "v"}, Subject{SubjectGroup, "g"}, Subject{SubjectThing, "th.t"}
	userU, userV := Principal{Kind: UserCaller, ID: "u"}, Principal{Kind: UserCaller, ID: "v"}
	topic := func(s Scope) ACLTarget { return TopicACL(TopicRef{AppID: "a", Scope: s, Name: "t"}) }
	both := func(ss ...Subject) ACL { return ACL{SubscribeToTopic: ss, SendMessageToTopic: ss} }
	tests := []struct {
		name   string
		target ACLTarget
		owners ACLOwners
		want   ACL
	}{
		{"app topic made by the admin", topic(AppScope), ACLOwners{}, ACL{SubscribeToTopic: {AnyAuthenticatedUser}}},
		{"app topic made by a granted user", topic(AppScope), ACLOwners{Creator: userU},
			ACL{SubscribeToTopic: {u, AnyAuthenticatedUser}, SendMessageToTopic: {u}}},
		{"user topic (k4j)", topic(Scope{ScopeUser, "u"}), ACLOwners{Creator: userU}, both(u)},
		{"user topic made by the admin", topic(Scope{ScopeUser, "u"}), ACLOwners{}, both(u)},
		{"group topic", topic(Scope{ScopeGroup, "g"}), ACLOwners{Creator: userV}, both(g, v)},
		{"thing topic made by the thing", topic(Scope{ScopeThing, "th.t"}), ACLOwners{Creator: Principal{Kind: ThingCaller, ID: "th.t"}}, both(th)},
		{"thing topic made by an owner", topic(Scope{ScopeThing, "th.t"}), ACLOwners{Creator: userU}, both(th, u)},
	}
	for _, tt := range tests {
		if got := DefaultACL(tt.target, tt.owners); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: DefaultACL = %v, want %v", tt.name, got, tt.want)
		}
		if !slices.Equal(tt.target.Verbs(), []ACLVerb{SubscribeToTopic, SendMessageToTopic}) {
			t.Errorf("%s: Verbs = %v", tt.name, tt.target.Verbs())
		}
	}
	app := topic(AppScope)
	if err := app.CheckSubject(AnonymousUser); ErrorCode(err) != ErrInvalidInputData {
		t.Errorf("CheckSubject(ANONYMOUS_USER) on a topic = %v, want INVALID_INPUT_DATA", err)
	}
	if err := app.CheckSubject(AnyAuthenticatedUser); err != nil {
		t.Errorf("CheckSubject(ANY_AUTHENTICATED_USER) on a topic = %v", err)
	}
	bucket := ACLTarget{Bucket: BucketRef{AppID: "a", Scope: AppScope, Name: "b"}}
	if err := bucket.CheckSubject(AnonymousUser); err != nil {
		t.Errorf("CheckSubject(ANONYMOUS_USER) on a bucket = %v", err)
	}
	// The creator may edit the topic's ACL; another user may not.
	c := func(id string) Caller { return Caller{AppID: "a", Kind: UserCaller, ID: id} }
	if !MayEditACL(c("v"), app, Standing{}, ACLOwners{Creator: userV}) || MayEditACL(c("u"), app, Standing{}, ACLOwners{Creator: userV}) {
		t.Error("MayEditACL of an app topic: want its creator only")
	}
}

func TestParseTopicID(t *testing.T) {
	for s, ok := range map[string]bool{
		"a": true, "news": true, "topic-1_X": true, strings.Repeat("a", 64): true,
		"": false, strings.Repeat("a", 65): false, "bad.name": false, "a/b": false, "a b": false, "é": false,
	} {
		if _, err := ParseTopicID(s); (err == nil) != ok {
			t.Errorf("ParseTopicID(%q) = %v, want ok %v", s, err, ok)
		}
	}
}
