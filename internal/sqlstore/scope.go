package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/kumo-iot/kumo"
)

// resolveScope turns the scope selector of a request ("me",
// "VENDOR_THING_ID:x", an ID) into the canonical scope. The scope's owner
// must exist, except when the caller is that owner (its token proves it);
// a group must exist (GROUP_NOT_FOUND).
func (as *ACLService) resolveScope(ctx context.Context, c kumo.Caller, s kumo.Scope) (kumo.Scope, error) {
	var err error
	switch s.Kind {
	case kumo.ScopeThing:
		s.ID, err = as.things.thingID(ctx, c.AppID, s.ID, !(c.Kind == kumo.ThingCaller && c.ID == s.ID))
	case kumo.ScopeUser:
		s.ID, err = as.users.userID(ctx, c, s.ID, !(c.Kind == kumo.UserCaller && (c.ID == s.ID || s.ID == "me")))
	case kumo.ScopeGroup:
		_, err = as.groups.group(ctx, c.AppID, s.ID)
	}
	return s, err
}

// resolvePrincipal turns a subscriber selector into a canonical principal
// and checks that it exists (unless it is the caller).
func (as *ACLService) resolvePrincipal(ctx context.Context, c kumo.Caller, p kumo.Principal) (kumo.Principal, error) {
	var err error
	switch p.Kind {
	case kumo.ThingCaller:
		p.ID, err = as.things.thingID(ctx, c.AppID, p.ID, !(c.Kind == kumo.ThingCaller && c.ID == p.ID))
	case kumo.UserCaller:
		p.ID, err = as.users.userID(ctx, c, p.ID, !(c.Kind == kumo.UserCaller && (c.ID == p.ID || p.ID == "me")))
	default:
		err = kumo.Errorf(kumo.ErrInvalidInputData, "A subscriber is a user or a thing")
	}
	return p, err
}

// resolveBucket resolves the scope of b (resolveScope) and loads the
// caller's standing in it, for the ACL checks.
func (as *ACLService) resolveBucket(ctx context.Context, c kumo.Caller, b kumo.BucketRef) (kumo.BucketRef, kumo.Standing, error) {
	s, err := as.resolveScope(ctx, c, b.Scope)
	b.Scope = s
	if err != nil {
		return b, kumo.Standing{}, err
	}
	st, err := as.standing(ctx, c, s)
	return b, st, err
}

// standing loads what caller c is to the owner of scope s (canonical):
// a member or the owner of its group, an owner of its thing. Only users
// stand anywhere: things, anonymous callers and the admin (who needs no
// standing) get the zero Standing without a query.
func (as *ACLService) standing(ctx context.Context, c kumo.Caller, s kumo.Scope) (kumo.Standing, error) {
	var st kumo.Standing
	if c.Kind != kumo.UserCaller {
		return st, nil
	}
	var err error
	switch s.Kind {
	case kumo.ScopeGroup:
		var owner string
		var members int
		err = as.db.queryRow(ctx, `SELECT owner, (SELECT COUNT(*) FROM group_members WHERE app_id = ? AND group_id = ? AND user_id = ?)
			FROM groups WHERE app_id = ? AND id = ?`, c.AppID, s.ID, c.ID, c.AppID, s.ID).Scan(&owner, &members)
		if errors.Is(err, sql.ErrNoRows) {
			return st, kumo.GroupNotFound(c.AppID, s.ID)
		}
		st.GroupOwner, st.GroupMember = owner == c.ID, members > 0
	case kumo.ScopeThing:
		st.ThingOwner, err = as.things.ownsThing(ctx, c.AppID, s.ID, c.ID)
	}
	return st, err
}

// ensureBucket creates b, made by c, unless it exists.
func ensureBucket(ctx context.Context, tx *Tx, b kumo.BucketRef, c kumo.Caller, now int64) error {
	_, err := tx.Exec(ctx, "INSERT INTO buckets (app_id, scope, name, created, creator) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
		b.AppID, b.Scope.Key(), b.Name, now, owner(c))
	return err
}
