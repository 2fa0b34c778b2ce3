package sqlstore_test

import (
	"testing"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/sqlstore"
)

// TestLockKeysDiffer checks that two objects never share a lock key, so
// that two moves between them lock in one order.
func TestLockKeysDiffer(t *testing.T) {
	scope := kumo.Scope{Kind: kumo.ScopeThing, ID: "th.1"}
	a := kumo.BodyRef{Bucket: kumo.BucketRef{AppID: "app", Scope: scope, Name: "ab"}, ObjectID: "x"}
	b := kumo.BodyRef{Bucket: kumo.BucketRef{AppID: "app", Scope: scope, Name: "a"}, ObjectID: "bx"}
	if sqlstore.LockKey(a) == sqlstore.LockKey(b) {
		t.Errorf("objects %+v and %+v share the lock key %s", a, b, sqlstore.LockKey(a))
	}
}
