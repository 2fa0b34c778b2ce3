package kumo

// BucketAction is something a caller may do in a bucket.
type BucketAction int

// Bucket actions, named after Kii's bucket ACL verbs.
const (
	CreateObjectsInBucket BucketAction = iota
	QueryObjectsInBucket
	ReadObjectsInBucket
	DropBucketWithAllContent
	// WriteExistingObject is the object verb, applied with the object's
	// default ACL (which for now is the same for every object of a bucket).
	WriteExistingObject
)

// Standing is what a caller is to the owner of a scope, beyond being it:
// the facts the default ACL needs that only the store knows. The store
// loads them for the caller and the scope at hand (the zero Standing for
// the app and user scopes, the admin and anonymous callers).
type Standing struct {
	GroupMember bool // the caller is a member of the scope's group (its owner is one)
	GroupOwner  bool // the caller owns the scope's group
	ThingOwner  bool // the caller owns the scope's thing, himself or through a group
}

// BucketAllowed applies Kii's default bucket ACL (rest-core §7.4) to a
// caller acting in a bucket of scope s (s.ID canonical), given the
// caller's standing in that scope:
//
//   - the app admin may do everything;
//   - app scope: any authenticated user or thing may create and drop;
//     anyone, anonymous included, may read and query;
//   - user scope: the user;
//   - group scope: the members (the owner is one) may create, query,
//     read and write objects; the owner may drop;
//   - thing scope: the thing and its owners.
//
// The bucket's and objects' creators and explicit ACL entries come with
// the full ACL model.
func BucketAllowed(c Caller, s Scope, st Standing, a BucketAction) bool {
	if c.IsAdmin() {
		return true
	}
	switch s.Kind {
	case ScopeApp:
		if a == ReadObjectsInBucket || a == QueryObjectsInBucket {
			return true
		}
		return c.Authenticated() // creating, dropping, and writing any object
	case ScopeUser:
		return c.Kind == UserCaller && c.ID == s.ID
	case ScopeGroup:
		if a == DropBucketWithAllContent {
			return c.Kind == UserCaller && st.GroupOwner
		}
		return c.Kind == UserCaller && (st.GroupMember || st.GroupOwner)
	case ScopeThing:
		return c.Kind == ThingCaller && c.ID == s.ID || c.Kind == UserCaller && st.ThingOwner
	}
	return false
}

// Unauthorized returns Kii's 401 UNAUTHORIZED for caller c.
func Unauthorized(c Caller, format string, args ...any) *Error {
	return Errorf(ErrUnauthorized, format, args...).
		With("authenticatedAppID", c.AppID).
		With("authenticatedPrincipalID", c.ID)
}
