package kumo

import (
	"context"
	"slices"
	"strings"
)

// ACLVerb is an action an ACL grants, named as Kii names it.
type ACLVerb string

// The verbs, by what they belong to (rest-core §7.1).
const (
	// A scope's (the app's, a user's, a group's, a thing's).
	CreateNewBucket ACLVerb = "CREATE_NEW_BUCKET"
	CreateNewTopic  ACLVerb = "CREATE_NEW_TOPIC"
	// A bucket's.
	QueryObjectsInBucket     ACLVerb = "QUERY_OBJECTS_IN_BUCKET"
	CreateObjectsInBucket    ACLVerb = "CREATE_OBJECTS_IN_BUCKET"
	ReadObjectsInBucket      ACLVerb = "READ_OBJECTS_IN_BUCKET"
	DropBucketWithAllContent ACLVerb = "DROP_BUCKET_WITH_ALL_CONTENT"
	// An object's. Write covers update and delete.
	ReadExistingObject  ACLVerb = "READ_EXISTING_OBJECT"
	WriteExistingObject ACLVerb = "WRITE_EXISTING_OBJECT"
	// A topic's.
	SubscribeToTopic   ACLVerb = "SUBSCRIBE_TO_TOPIC"
	SendMessageToTopic ACLVerb = "SEND_MESSAGE_TO_TOPIC"
)

var (
	scopeVerbs  = []ACLVerb{CreateNewBucket, CreateNewTopic}
	bucketVerbs = []ACLVerb{QueryObjectsInBucket, CreateObjectsInBucket, ReadObjectsInBucket, DropBucketWithAllContent}
	objectVerbs = []ACLVerb{ReadExistingObject, WriteExistingObject}
	topicVerbs  = []ACLVerb{SubscribeToTopic, SendMessageToTopic}
)

// SubjectKind is the kind of principal an ACL entry names.
type SubjectKind string

// Subject kinds, as they appear in ACL paths ("UserID:…").
const (
	SubjectUser  SubjectKind = "UserID"
	SubjectGroup SubjectKind = "GroupID"
	SubjectThing SubjectKind = "ThingID"
)

// Subject is whom an ACL entry grants a verb to.
type Subject struct {
	Kind SubjectKind
	ID   string
}

// The two subjects that stand for many callers.
var (
	// AnyAuthenticatedUser is every caller with a user or thing token.
	AnyAuthenticatedUser = Subject{SubjectUser, "ANY_AUTHENTICATED_USER"}
	// AnonymousUser is everyone, with or without a token (Kii's meaning).
	AnonymousUser = Subject{SubjectUser, "ANONYMOUS_USER"}
)

// ParseSubject reads a subject in its path form: "UserID:{id}",
// "GroupID:{id}", "ThingID:{id}", "UserID:ANY_AUTHENTICATED_USER" or
// "UserID:ANONYMOUS_USER" (the kind in any case).
func ParseSubject(s string) (Subject, error) {
	kind, id, ok := strings.Cut(s, ":")
	if ok && id != "" {
		for _, k := range []SubjectKind{SubjectUser, SubjectGroup, SubjectThing} {
			if strings.EqualFold(kind, string(k)) {
				return Subject{k, id}, nil
			}
		}
	}
	return Subject{}, Errorf(ErrInvalidInputData, "ACL subject %q is not UserID:{id}, GroupID:{id} or ThingID:{id}", s).With("subject", s)
}

// String returns the path form of s.
func (s Subject) String() string { return string(s.Kind) + ":" + s.ID }

// JSON returns the JSON form of s: {"userID": …}, {"groupID": …} or
// {"thingID": …}.
func (s Subject) JSON() map[string]any {
	switch s.Kind {
	case SubjectGroup:
		return map[string]any{"groupID": s.ID}
	case SubjectThing:
		return map[string]any{"thingID": s.ID}
	}
	return map[string]any{"userID": s.ID}
}

// PrincipalSubject returns the subject naming p (zero for anything but a
// user or a thing).
func PrincipalSubject(p Principal) Subject {
	switch p.Kind {
	case UserCaller:
		return Subject{SubjectUser, p.ID}
	case ThingCaller:
		return Subject{SubjectThing, p.ID}
	}
	return Subject{}
}

// Matches reports whether caller c, a member of groups, is one of those s
// names.
func (s Subject) Matches(c Caller, groups []string) bool {
	switch {
	case s == AnonymousUser:
		return true
	case s == AnyAuthenticatedUser:
		return c.Authenticated()
	case s.Kind == SubjectUser:
		return c.Kind == UserCaller && c.ID == s.ID
	case s.Kind == SubjectThing:
		return c.Kind == ThingCaller && c.ID == s.ID
	case s.Kind == SubjectGroup:
		return c.Kind == UserCaller && slices.Contains(groups, s.ID)
	}
	return false
}

// ACLTarget is what an ACL belongs to: a scope (Bucket.Name empty), a
// bucket, an object (ObjectID set), or a topic of the scope (Topic set,
// Bucket.Name and ObjectID empty). Bucket.Scope.ID is canonical.
type ACLTarget struct {
	Bucket   BucketRef
	ObjectID string
	Topic    string
}

// TopicACL returns the ACL target of topic t.
func TopicACL(t TopicRef) ACLTarget {
	return ACLTarget{Bucket: BucketRef{AppID: t.AppID, Scope: t.Scope}, Topic: t.Name}
}

// TopicRef returns the topic t names (when t.Topic is set).
func (t ACLTarget) TopicRef() TopicRef {
	return TopicRef{AppID: t.Bucket.AppID, Scope: t.Bucket.Scope, Name: t.Topic}
}

// Verbs returns the verbs t's ACL has.
func (t ACLTarget) Verbs() []ACLVerb {
	switch {
	case t.Topic != "":
		return topicVerbs
	case t.ObjectID != "":
		return objectVerbs
	case t.Bucket.Name != "":
		return bucketVerbs
	}
	return scopeVerbs
}

// HasVerb reports whether v belongs to t's ACL.
func (t ACLTarget) HasVerb(v ACLVerb) bool { return slices.Contains(t.Verbs(), v) }

// ParseACLVerb checks that s names a verb of t's ACL.
func (t ACLTarget) ParseACLVerb(s string) (ACLVerb, error) {
	if v := ACLVerb(s); t.HasVerb(v) {
		return v, nil
	}
	return "", Errorf(ErrInvalidInputData, "%s is not a verb of this ACL; it has %v", s, t.Verbs()).With("action", s)
}

// CheckSubject returns INVALID_INPUT_DATA when s may not be granted t's
// verbs: ANONYMOUS_USER on a topic (rest-core §7.2).
func (t ACLTarget) CheckSubject(s Subject) error {
	if t.Topic != "" && s == AnonymousUser {
		return Errorf(ErrInvalidInputData, "A topic's ACL cannot name %s", s).With("subject", s.String())
	}
	return nil
}

// ACLOwners are the facts about an ACL target its defaults depend on.
type ACLOwners struct {
	Creator    Principal // who created the bucket, object or topic (zero: the admin)
	GroupOwner string    // group scope: the user who owns the group
}

// ACLChange is a stored change to a target's default ACL: an entry
// granted, or a default entry revoked.
type ACLChange struct {
	Verb    ACLVerb
	Subject Subject
	Granted bool
}

// ACL maps each verb of a target to the subjects it is granted to.
type ACL map[ACLVerb][]Subject

// DefaultACL returns the entries a target has when created (rest-core
// §7.4 and what k4j's live tests list): the creator, the group (for the
// group scope), the thing (for the thing scope), and for the app scope
// ANY_AUTHENTICATED_USER and ANONYMOUS_USER as the tables give them. An
// app-scope topic may be subscribed to by any authenticated caller, and
// sent to by its creator only (Kii's guides, "Creating a Topic").
// The scope's owners have rights besides that no entry lists
// (ImplicitlyAllowed).
func DefaultACL(t ACLTarget, o ACLOwners) ACL {
	s := t.Bucket.Scope
	creator := PrincipalSubject(o.Creator)
	owner := Subject{} // the scope's own subject
	switch s.Kind {
	case ScopeUser:
		owner = Subject{SubjectUser, s.ID}
	case ScopeGroup:
		owner = Subject{SubjectGroup, s.ID}
	case ScopeThing:
		owner = Subject{SubjectThing, s.ID}
	}
	list := func(ss ...Subject) []Subject {
		var out []Subject
		for _, x := range ss {
			if x != (Subject{}) && !slices.Contains(out, x) {
				out = append(out, x)
			}
		}
		return out
	}
	acl := ACL{}
	switch {
	case t.Topic != "": // a topic
		switch s.Kind {
		case ScopeApp:
			acl[SubscribeToTopic] = list(creator, AnyAuthenticatedUser)
			acl[SendMessageToTopic] = list(creator)
		case ScopeUser:
			if creator == (Subject{}) {
				creator = owner
			}
			acl[SubscribeToTopic] = list(creator)
			acl[SendMessageToTopic] = list(creator)
		default: // group, thing
			acl[SubscribeToTopic] = list(owner, creator)
			acl[SendMessageToTopic] = list(owner, creator)
		}
	case t.Bucket.Name == "": // the scope
		switch s.Kind {
		case ScopeApp:
			acl[CreateNewBucket] = list(AnyAuthenticatedUser)
		case ScopeGroup:
			groupOwner := Subject{}
			if o.GroupOwner != "" {
				groupOwner = Subject{SubjectUser, o.GroupOwner}
			}
			acl[CreateNewBucket] = list(owner, groupOwner)
			acl[CreateNewTopic] = list(owner, groupOwner)
		default:
			acl[CreateNewBucket] = list(owner)
			acl[CreateNewTopic] = list(owner)
		}
	case t.ObjectID == "": // a bucket
		switch s.Kind {
		case ScopeApp:
			acl[CreateObjectsInBucket] = list(AnyAuthenticatedUser)
			acl[QueryObjectsInBucket] = list(AnyAuthenticatedUser, AnonymousUser)
			acl[ReadObjectsInBucket] = list(AnyAuthenticatedUser, AnonymousUser)
			acl[DropBucketWithAllContent] = list(AnyAuthenticatedUser)
		case ScopeUser:
			if creator == (Subject{}) {
				creator = owner
			}
			for _, v := range bucketVerbs {
				acl[v] = list(creator)
			}
		case ScopeGroup:
			for _, v := range []ACLVerb{CreateObjectsInBucket, QueryObjectsInBucket, ReadObjectsInBucket} {
				acl[v] = list(owner, creator)
			}
			acl[DropBucketWithAllContent] = list(creator)
		case ScopeThing:
			for _, v := range bucketVerbs {
				acl[v] = list(owner, creator)
			}
		}
	default: // an object
		switch s.Kind {
		case ScopeApp:
			acl[ReadExistingObject] = list(creator, AnyAuthenticatedUser, AnonymousUser)
			acl[WriteExistingObject] = list(creator, AnyAuthenticatedUser)
		case ScopeUser:
			if creator == (Subject{}) {
				creator = owner
			}
			acl[ReadExistingObject] = list(creator)
			acl[WriteExistingObject] = list(creator)
		default: // group, thing
			acl[ReadExistingObject] = list(owner, creator)
			acl[WriteExistingObject] = list(owner, creator)
		}
	}
	for v, ss := range acl {
		if len(ss) == 0 {
			delete(acl, v)
		}
	}
	return acl
}

// Apply returns a with the changes made, in order: a grant adds its
// subject, a revocation removes it.
func (a ACL) Apply(changes []ACLChange) ACL {
	out := make(ACL, len(a))
	for v, ss := range a {
		out[v] = slices.Clone(ss)
	}
	for _, ch := range changes {
		ss := out[ch.Verb]
		i := slices.Index(ss, ch.Subject)
		switch {
		case ch.Granted && i < 0:
			out[ch.Verb] = append(ss, ch.Subject)
		case !ch.Granted && i >= 0:
			out[ch.Verb] = slices.Delete(ss, i, i+1)
		}
		if len(out[ch.Verb]) == 0 {
			delete(out, ch.Verb)
		}
	}
	return out
}

// Standing is what a caller is to the owner of a scope, beyond being it:
// the facts the default ACL needs that only the store knows. The store
// loads them for the caller and the scope at hand (the zero Standing for
// the app and user scopes, the admin and anonymous callers).
type Standing struct {
	GroupMember bool // the caller is a member of the scope's group (its owner is one)
	GroupOwner  bool // the caller owns the scope's group
	ThingOwner  bool // the caller owns the scope's thing, himself or through a group
}

// ImplicitlyAllowed applies the rights the owners of scope s have on
// everything in it, which no ACL entry lists and no revocation takes away
// (rest-core §7.4): the app admin everywhere; the user in his scope; a
// group's owner in its scope, and its members there except dropping
// buckets; a thing and its owners in its scope.
func ImplicitlyAllowed(c Caller, s Scope, st Standing, v ACLVerb) bool {
	if c.IsAdmin() {
		return true
	}
	switch s.Kind {
	case ScopeUser:
		return c.Kind == UserCaller && c.ID == s.ID
	case ScopeGroup:
		if c.Kind != UserCaller {
			return false
		}
		return st.GroupOwner || st.GroupMember && v != DropBucketWithAllContent
	case ScopeThing:
		return c.Kind == ThingCaller && c.ID == s.ID || c.Kind == UserCaller && st.ThingOwner
	}
	return false
}

// Allowed reports whether caller c (a member of groups, with standing st
// in scope s) may do v where entries are the subjects v is granted to.
func Allowed(c Caller, s Scope, st Standing, groups []string, v ACLVerb, entries []Subject) bool {
	if ImplicitlyAllowed(c, s, st, v) {
		return true
	}
	for _, e := range entries {
		if e.Matches(c, groups) {
			return true
		}
	}
	return false
}

// MayEditACL reports whether c may read and change the ACL of t (rest-core
// §7.3): the admin always; a scope's or a bucket's ACL, the scope's owner
// (the user, the group's owner, the thing or its owners; the app's: the
// admin only); an object's or a topic's ACL, besides, its creator.
func MayEditACL(c Caller, t ACLTarget, st Standing, o ACLOwners) bool {
	if c.IsAdmin() {
		return true
	}
	s := t.Bucket.Scope
	scopeOwner := false
	switch s.Kind {
	case ScopeUser:
		scopeOwner = c.Kind == UserCaller && c.ID == s.ID
	case ScopeGroup:
		scopeOwner = c.Kind == UserCaller && st.GroupOwner
	case ScopeThing:
		scopeOwner = c.Kind == ThingCaller && c.ID == s.ID || c.Kind == UserCaller && st.ThingOwner
	}
	if scopeOwner {
		return true
	}
	return (t.ObjectID != "" || t.Topic != "") && o.Creator.ID != "" && c.Principal() == o.Creator
}

// ACLService reads and changes ACLs. Every method checks MayEditACL
// (UNAUTHORIZED) after resolving the target: GROUP_NOT_FOUND,
// USER_NOT_FOUND, THING_NOT_FOUND, BUCKET_NOT_FOUND (reading a missing
// bucket's ACL), OBJECT_NOT_FOUND, TOPIC_NOT_FOUND.
type ACLService interface {
	// ACL returns t's entries, by verb.
	ACL(ctx context.Context, c Caller, t ACLTarget) (ACL, error)
	// GrantACL grants v on t to s; ACL_ALREADY_EXISTS when it is
	// granted. Granting on a bucket that does not exist creates it (not
	// so a topic). INVALID_INPUT_DATA when t.CheckSubject refuses s.
	// An object's change commits DATA_OBJECT_ACL_MODIFIED.
	GrantACL(ctx context.Context, c Caller, t ACLTarget, v ACLVerb, s Subject) error
	// RevokeACL revokes v on t from s; ACL_NOT_FOUND when it is not
	// granted.
	RevokeACL(ctx context.Context, c Caller, t ACLTarget, v ACLVerb, s Subject) error
}

// Unauthorized returns Kii's 401 UNAUTHORIZED for caller c.
func Unauthorized(c Caller, format string, args ...any) *Error {
	return Errorf(ErrUnauthorized, format, args...).
		With("authenticatedAppID", c.AppID).
		With("authenticatedPrincipalID", c.ID)
}
