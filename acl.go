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

// BucketAllowed applies Kii's default bucket ACL (rest-core §7.4) to a
// caller acting in a bucket of scope s (s.ID canonical):
//
//   - the app admin may do everything;
//   - app scope: any authenticated user or thing may create and drop;
//     anyone, anonymous included, may read and query;
//   - user scope: the user;
//   - thing scope: the thing.
//
// Thing owners, groups and explicit ACL entries come with the full ACL
// model.
func BucketAllowed(c Caller, s Scope, a BucketAction) bool {
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
	case ScopeThing:
		return c.Kind == ThingCaller && c.ID == s.ID
	}
	return false
}

// Unauthorized returns Kii's 401 UNAUTHORIZED for caller c.
func Unauthorized(c Caller, format string, args ...any) *Error {
	return Errorf(ErrUnauthorized, format, args...).
		With("authenticatedAppID", c.AppID).
		With("authenticatedPrincipalID", c.ID)
}
