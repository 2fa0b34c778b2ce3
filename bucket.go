package kumo

import (
	"context"
	"strings"
)

// ScopeKind is where a bucket lives. The values are Kii's objectScope types.
type ScopeKind string

// Scope kinds.
const (
	ScopeApp   ScopeKind = "APP"
	ScopeUser  ScopeKind = "APP_AND_USER"
	ScopeGroup ScopeKind = "APP_AND_GROUP"
	ScopeThing ScopeKind = "APP_AND_THING"
)

// Scope is the owner of a bucket: the app, or a user, group or thing in it.
// In requests ID may be a selector ("me", "VENDOR_THING_ID:x"); the store
// resolves it to the canonical ID.
type Scope struct {
	Kind ScopeKind
	ID   string
}

// AppScope is the scope of app-level buckets.
var AppScope = Scope{Kind: ScopeApp}

// Key returns a compact, unique form of s for storage: "" for the app
// scope, else "user:{id}", "group:{id}" or "thing:{id}".
func (s Scope) Key() string {
	switch s.Kind {
	case ScopeUser:
		return "user:" + s.ID
	case ScopeGroup:
		return "group:" + s.ID
	case ScopeThing:
		return "thing:" + s.ID
	}
	return ""
}

// Path returns the URL path of s below /api/apps/{appID}: "" for the app
// scope, "/things/{id}" for a thing.
func (s Scope) Path() string {
	switch s.Kind {
	case ScopeUser:
		return "/users/" + s.ID
	case ScopeGroup:
		return "/groups/" + s.ID
	case ScopeThing:
		return "/things/" + s.ID
	}
	return ""
}

// ObjectScope returns Kii's "objectScope" JSON form of s, used in error
// bodies.
func (s Scope) ObjectScope(appID string) map[string]any {
	m := map[string]any{"appID": appID, "type": string(s.Kind)}
	switch s.Kind {
	case ScopeUser:
		m["userID"] = s.ID
	case ScopeGroup:
		m["groupID"] = s.ID
	case ScopeThing:
		m["thingID"] = s.ID
	}
	return m
}

// BucketRef names a bucket: its app, scope and name. Name keeps a
// "CRYPTO:" prefix for encrypted buckets.
type BucketRef struct {
	AppID string
	Scope Scope
	Name  string
}

// Type returns Kii's bucketType of b: "crypto" for CRYPTO: buckets, else
// "rw".
func (b BucketRef) Type() string {
	if strings.HasPrefix(b.Name, "CRYPTO:") {
		return "crypto"
	}
	return "rw"
}

// BucketInfo is what GET {bucket} answers.
type BucketInfo struct {
	Type string // "rw" or "crypto"
	Size int64  // number of objects
}

// BucketService manages buckets as a whole.
type BucketService interface {
	// GetBucket returns a bucket's type and size. BUCKET_NOT_FOUND when it
	// does not exist.
	GetBucket(ctx context.Context, c Caller, b BucketRef) (BucketInfo, error)
	// CreateBucket creates an empty bucket. BUCKET_ALREADY_EXISTS on a
	// repeat.
	CreateBucket(ctx context.Context, c Caller, b BucketRef) error
	// DeleteBucket drops a bucket with all its objects and commits a
	// BUCKET_DELETED event. BUCKET_NOT_FOUND when absent. Subscriptions
	// to the bucket stay (a bucket created again under the name keeps
	// pushing to them).
	DeleteBucket(ctx context.Context, c Caller, b BucketRef) error
	// ListBuckets returns the names of the buckets of scope s (its ID may
	// be a selector), sorted, at most limit (1 to 1000) after the name
	// after (a page's last, "" for the first page). The admin and the
	// scope's owners (the user, the group's members, the thing and its
	// owners) may list; the app scope's buckets, the admin only.
	ListBuckets(ctx context.Context, c Caller, s Scope, after string, limit int) ([]BucketRef, error)
}

// BucketNotFound returns Kii's BUCKET_NOT_FOUND error for b.
func BucketNotFound(b BucketRef) *Error {
	return Errorf(ErrBucketNotFound, "Bucket %s was not found", b.Name).
		With("objectScope", b.Scope.ObjectScope(b.AppID)).With("bucketID", b.Name)
}

// ParseBucketName validates a bucket name from a path and returns it in
// canonical form (a "crypto:" prefix in any case becomes "CRYPTO:"; a
// type prefix "rw:" or "default:" in any case, which some of Kii's SDKs
// send, names the plain bucket and is dropped). Names are 2 to 64
// characters of [a-zA-Z0-9-_], not starting with "_", and not one of
// Kii's reserved names; any other prefix is refused.
func ParseBucketName(s string) (string, error) {
	name, prefix := s, ""
	if p, rest, ok := strings.Cut(s, ":"); ok {
		switch strings.ToUpper(p) {
		case "CRYPTO":
			name, prefix = rest, "CRYPTO:"
		case "RW", "DEFAULT":
			name = rest
		}
	}
	if !validChars(name, 2, 64, idChars) || name[0] == '_' {
		return "", Errorf(ErrInvalidBucket, "Bucket name %q is not valid: 2 to 64 characters of [a-zA-Z0-9-_], not starting with _", s).With("bucketID", s)
	}
	switch name {
	case "users", "devices", "installations", "internal", "things":
		return "", Errorf(ErrInvalidBucket, "Bucket name %q is reserved", s).With("bucketID", s)
	}
	return prefix + name, nil
}
