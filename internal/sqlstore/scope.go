package sqlstore

import (
	"context"

	"github.com/kumo-iot/kumo"
)

// resolveScope turns the scope selector of a request ("me",
// "VENDOR_THING_ID:x", an ID) into the canonical scope. The scope's owner
// must exist, except when the caller is that owner (its token proves it).
func (db *DB) resolveScope(ctx context.Context, c kumo.Caller, s kumo.Scope) (kumo.Scope, error) {
	var err error
	switch s.Kind {
	case kumo.ScopeThing:
		s.ID, err = db.thingID(ctx, c.AppID, s.ID, !(c.Kind == kumo.ThingCaller && c.ID == s.ID))
	case kumo.ScopeUser:
		s.ID, err = db.userID(ctx, c, s.ID, !(c.Kind == kumo.UserCaller && (c.ID == s.ID || s.ID == "me")))
	case kumo.ScopeGroup:
		err = kumo.Errorf(kumo.ErrNotImplemented, "Group scopes are not implemented yet")
	}
	return s, err
}

// resolvePrincipal turns a subscriber selector into a canonical principal
// and checks that it exists (unless it is the caller).
func (db *DB) resolvePrincipal(ctx context.Context, c kumo.Caller, p kumo.Principal) (kumo.Principal, error) {
	var err error
	switch p.Kind {
	case kumo.ThingCaller:
		p.ID, err = db.thingID(ctx, c.AppID, p.ID, !(c.Kind == kumo.ThingCaller && c.ID == p.ID))
	case kumo.UserCaller:
		p.ID, err = db.userID(ctx, c, p.ID, !(c.Kind == kumo.UserCaller && (c.ID == p.ID || p.ID == "me")))
	default:
		err = kumo.Errorf(kumo.ErrInvalidInputData, "A subscriber is a user or a thing")
	}
	return p, err
}

func (db *DB) resolveBucket(ctx context.Context, c kumo.Caller, b kumo.BucketRef) (kumo.BucketRef, error) {
	s, err := db.resolveScope(ctx, c, b.Scope)
	b.Scope = s
	return b, err
}

func ensureBucket(ctx context.Context, tx *Tx, b kumo.BucketRef, now int64) error {
	_, err := tx.Exec(ctx, "INSERT INTO buckets (app_id, scope, name, created) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
		b.AppID, b.Scope.Key(), b.Name, now)
	return err
}
