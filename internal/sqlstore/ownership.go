package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/kumo-iot/kumo"
)

// ownsThing reports whether user userID owns thing thingID, himself or
// as a member of an owner group (a group's owner is one of its members).
func (s *ThingService) ownsThing(ctx context.Context, appID, thingID, userID string) (bool, error) {
	var n int
	err := s.db.queryRow(ctx, `SELECT COUNT(*) FROM thing_owners WHERE app_id = ? AND thing_id = ? AND (
			(owner_kind = 'user' AND owner_id = ?) OR
			(owner_kind = 'group' AND owner_id IN (SELECT group_id FROM group_members WHERE app_id = ? AND user_id = ?)))`,
		appID, thingID, userID, appID, userID).Scan(&n)
	return n > 0, err
}

// thingFor loads the thing named by selector for a caller who must be the
// admin, an owner of the thing or (with itself set) the thing itself.
// Anonymous callers are refused before any lookup.
func (s *ThingService) thingFor(ctx context.Context, c kumo.Caller, selector string, itself bool, doing string) (kumo.Thing, error) {
	if c.Kind == kumo.Anonymous {
		return kumo.Thing{}, kumo.Unauthorized(c, "%s a thing needs a token", doing)
	}
	t, err := s.thing(ctx, c.AppID, selector)
	if err != nil {
		return t, err
	}
	ok, err := s.managesThing(ctx, c, t.ID, itself)
	if err != nil {
		return kumo.Thing{}, err
	}
	if !ok {
		return kumo.Thing{}, kumo.Unauthorized(c, "The caller may not do this to thing %s", t.ID)
	}
	return t, nil
}

// managesThing reports whether c is the admin, an owner of thing thingID
// or (with itself set) the thing itself.
func (s *ThingService) managesThing(ctx context.Context, c kumo.Caller, thingID string, itself bool) (bool, error) {
	switch {
	case c.IsAdmin():
		return true, nil
	case c.Kind == kumo.ThingCaller:
		return itself && c.ID == thingID, nil
	case c.Kind == kumo.UserCaller:
		return s.ownsThing(ctx, c.AppID, thingID, c.ID)
	}
	return false, nil
}

// isOwnerSubject reports whether c is o itself: the user, or a member of
// the group.
func (s *ThingService) isOwnerSubject(ctx context.Context, c kumo.Caller, o kumo.ThingOwner) (bool, error) {
	if c.Kind != kumo.UserCaller {
		return false, nil
	}
	if o.Kind == kumo.OwnerUser {
		return o.ID == c.ID, nil
	}
	return s.groups.isMember(ctx, c.AppID, o.ID, c.ID)
}

// ownershipError is a THING_OWNERSHIP_* error with Kii's fields.
func ownershipError(code kumo.Code, msg, appID, thingID string, o kumo.ThingOwner) *kumo.Error {
	return kumo.Errorf(code, "%s", msg).With("appID", appID).With("thingID", thingID).With(o.IDField(), o.ID)
}

// AddThingOwner implements kumo.ThingService.
func (s *ThingService) AddThingOwner(ctx context.Context, c kumo.Caller, selector string, r kumo.OwnershipRequest) error {
	if c.Kind == kumo.Anonymous {
		return kumo.Unauthorized(c, "Adding a thing owner needs a token")
	}
	t, err := s.thing(ctx, c.AppID, selector)
	if err != nil {
		return err
	}
	if r.Owner.Kind == kumo.OwnerGroup {
		if _, err := s.groups.group(ctx, c.AppID, r.Owner.ID); err != nil {
			return err
		}
	}
	if c.Kind == kumo.UserCaller {
		if err := s.checkOwnerCandidate(ctx, c, t.ID, r); err != nil {
			return err
		}
	} else if !c.IsAdmin() && !(c.Kind == kumo.ThingCaller && c.ID == t.ID) {
		return kumo.Unauthorized(c, "Only the thing itself, a user or group member for himself, or the app admin may add an owner")
	}
	now := s.db.now()
	return s.db.writeTx(ctx, func(tx *Tx) error {
		return addOwner(ctx, tx, c.AppID, t.ID, r.Owner, now)
	})
}

// ownerExists returns USER_NOT_FOUND or GROUP_NOT_FOUND when o does not
// exist, within a write (which keeps its row locked on PostgreSQL, so that
// no deletion slips in before the write ends).
func ownerExists(ctx context.Context, tx *Tx, appID string, o kumo.ThingOwner) error {
	if o.Kind == kumo.OwnerGroup {
		ok, err := groupExists(ctx, tx, appID, o.ID)
		if err == nil && !ok {
			err = kumo.GroupNotFound(appID, o.ID)
		}
		return err
	}
	ok, err := userExists(ctx, tx, appID, o.ID)
	if err == nil && !ok {
		err = userNotFound(appID, o.ID)
	}
	return err
}

// addOwner makes o an owner of thing thingID, within a write:
// USER_NOT_FOUND, GROUP_NOT_FOUND, THING_OWNERSHIP_ALREADY_EXISTS.
func addOwner(ctx context.Context, tx *Tx, appID, thingID string, o kumo.ThingOwner, now int64) error {
	if err := ownerExists(ctx, tx, appID, o); err != nil {
		return err
	}
	res, err := tx.Exec(ctx, `INSERT INTO thing_owners (app_id, thing_id, owner_kind, owner_id, created)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, appID, thingID, string(o.Kind), o.ID, now)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ownershipError(kumo.ErrThingOwnershipExists, o.String()+" owns the thing already", appID, thingID, o)
	}
	return nil
}

// checkOwnerCandidate checks a user's request to add an owner to thing
// thingID: he names himself or a group he is a member of, and gives the
// thing's password.
func (s *ThingService) checkOwnerCandidate(ctx context.Context, c kumo.Caller, thingID string, r kumo.OwnershipRequest) error {
	ok, err := s.isOwnerSubject(ctx, c, r.Owner)
	if err != nil {
		return err
	}
	if !ok {
		return kumo.Unauthorized(c, "A user may add himself, or a group he is a member of, as a thing owner")
	}
	if r.Legacy {
		return kumo.Unauthorized(c, "Adding a thing owner needs the thing's password: use POST …/ownership with thingPassword")
	}
	var hash string
	if err := s.db.queryRow(ctx, "SELECT password_hash FROM things WHERE app_id = ? AND id = ?", c.AppID, thingID).Scan(&hash); err != nil {
		return err
	}
	// Guesses of the thing's password through this request count in a
	// lockout of their own (the login lockout's parameters, under the key
	// ownershipLockKey), not in the thing's login lockout: guesses from
	// many addresses stay bounded, and no user can lock a device out of
	// its own login. The API also counts them as failed logins of the
	// source address (docs/compat.md).
	p, err := s.apps.params(ctx, c.AppID)
	if err != nil {
		return err
	}
	lock := kumo.Caller{AppID: c.AppID, Kind: kumo.ThingCaller, ID: ownershipLockKey(thingID)}
	if p.MaxLoginAttempts > 0 {
		if err := s.tokens.reserveAttempt(ctx, lock, p); err != nil {
			return err
		}
	}
	if r.Password == "" || !s.db.Hasher.CheckPassword(hash, r.Password) {
		return kumo.Errorf(kumo.ErrWrongPassword, "The thing password is missing or wrong").With("appID", c.AppID).With("thingID", thingID)
	}
	if p.MaxLoginAttempts > 0 {
		return s.db.writeTx(ctx, func(tx *Tx) error { return loginSucceeded(ctx, tx, lock, p, s.db.now()) })
	}
	return nil
}

// ownershipLockKey is the login_failures key that counts the guesses of a
// thing's password in ownership requests (checkOwnerCandidate).
func ownershipLockKey(thingID string) string { return "ownership:" + thingID }

// Who started a PIN code flow of thing ownership (thing_ownership_codes).
const (
	startedByThing = "thing"
	startedByOwner = "owner" // the user, or a member of the group, to add
	startedByAdmin = "admin"
)

// maxPendingCodes bounds the pending PIN code flows of one thing. Each
// owner has one at most (a new one replaces it); beyond the bound, a new
// flow ends the oldest one a user started (the thing's and the admin's
// stay).
const maxPendingCodes = 100

// RequestThingOwnership implements kumo.ThingService.
func (s *ThingService) RequestThingOwnership(ctx context.Context, c kumo.Caller, selector string, o kumo.ThingOwner) (string, error) {
	if c.Kind == kumo.Anonymous {
		return "", kumo.Unauthorized(c, "Starting an ownership flow needs a token")
	}
	t, err := s.thing(ctx, c.AppID, selector)
	if err != nil {
		return "", err
	}
	if o.Kind == kumo.OwnerGroup {
		if _, err := s.groups.group(ctx, c.AppID, o.ID); err != nil {
			return "", err
		}
	}
	by := startedByAdmin
	switch {
	case c.IsAdmin():
	case c.Kind == kumo.ThingCaller && c.ID == t.ID:
		by = startedByThing
	default:
		ok, err := s.isOwnerSubject(ctx, c, o)
		if err != nil {
			return "", err
		}
		if !ok {
			return "", kumo.Unauthorized(c, "The thing itself, the user to add, a member of the group to add or the app admin may start an ownership flow")
		}
		by = startedByOwner
	}
	code, now := kumo.NewOwnershipCode(), s.db.now()
	err = s.db.writeTx(ctx, func(tx *Tx) error {
		if err := ownerExists(ctx, tx, c.AppID, o); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM thing_owners WHERE app_id = ? AND thing_id = ? AND owner_kind = ? AND owner_id = ?",
			c.AppID, t.ID, string(o.Kind), o.ID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return ownershipError(kumo.ErrThingOwnershipExists, o.String()+" owns the thing already", c.AppID, t.ID, o)
		}
		// The owner's previous flow ends, and the expired ones.
		if _, err := tx.Exec(ctx, `DELETE FROM thing_ownership_codes WHERE app_id = ? AND thing_id = ? AND (expires <= ? OR (owner_kind = ? AND owner_id = ?))`,
			c.AppID, t.ID, now, string(o.Kind), o.ID); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM thing_ownership_codes WHERE app_id = ? AND thing_id = ?", c.AppID, t.ID).Scan(&n); err != nil {
			return err
		}
		if n >= maxPendingCodes {
			if _, err := tx.Exec(ctx, `DELETE FROM thing_ownership_codes WHERE app_id = ? AND thing_id = ? AND code_hash IN (
					SELECT code_hash FROM thing_ownership_codes WHERE app_id = ? AND thing_id = ?
					ORDER BY CASE WHEN started_by = ? THEN 0 ELSE 1 END, expires, code_hash LIMIT ?)`,
				c.AppID, t.ID, c.AppID, t.ID, startedByOwner, n-maxPendingCodes+1); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO thing_ownership_codes (app_id, thing_id, code_hash, owner_kind, owner_id, started_by, expires)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, c.AppID, t.ID, kumo.TokenKey(code), string(o.Kind), o.ID, by, now+kumo.OwnershipCodeTTL.Milliseconds())
		return err
	})
	if err != nil {
		return "", err
	}
	return code, nil
}

// confirmable returns the SQL condition (and its arguments) of the pending
// flows of thing thingID that c may confirm: the admin any; the thing the
// ones its owners or the admin started; a user the ones that name him, or
// a group he is a member of, that the thing or the admin started. ok is
// false for any other caller.
func confirmable(c kumo.Caller, thingID string) (cond string, args []any, ok bool) {
	switch {
	case c.IsAdmin():
		return "1 = 1", nil, true
	case c.Kind == kumo.ThingCaller && c.ID == thingID:
		return "started_by <> ?", []any{startedByThing}, true
	case c.Kind == kumo.UserCaller:
		return `started_by <> ? AND ((owner_kind = ? AND owner_id = ?) OR
			(owner_kind = ? AND owner_id IN (SELECT group_id FROM group_members WHERE app_id = ? AND user_id = ?)))`,
			[]any{startedByOwner, string(kumo.OwnerUser), c.ID, string(kumo.OwnerGroup), c.AppID, c.ID}, true
	}
	return "", nil, false
}

// ConfirmThingOwnership implements kumo.ThingService. A caller with no
// flow of the thing to confirm is refused before any code is looked at:
// he learns nothing of the codes, and his guesses count against nobody's
// flows. A wrong code counts against the flows the caller may confirm.
func (s *ThingService) ConfirmThingOwnership(ctx context.Context, c kumo.Caller, selector, code string) error {
	if c.Kind == kumo.Anonymous {
		return kumo.Unauthorized(c, "Confirming an ownership flow needs a token")
	}
	t, err := s.thing(ctx, c.AppID, selector)
	if err != nil {
		return err
	}
	cond, condArgs, ok := confirmable(c, t.ID)
	if !ok {
		return kumo.Unauthorized(c, "Only the thing, the user (or a member of the group) it names, or the app admin confirms an ownership flow")
	}
	key, now := kumo.TokenKey(code), s.db.now()
	flows := func(extra string, args ...any) (string, []any) {
		return "FROM thing_ownership_codes WHERE app_id = ? AND thing_id = ? AND " + extra + "(" + cond + ")",
			append(append([]any{c.AppID, t.ID}, args...), condArgs...)
	}
	var outcome error // the answer of a write that commits (a failure counted, an expired flow ended)
	err = s.db.writeTx(ctx, func(tx *Tx) error {
		outcome = nil
		from, args := flows("")
		var n int
		if err := tx.QueryRow(ctx, "SELECT COUNT(*) "+from, args...).Scan(&n); err != nil {
			return err
		}
		if n == 0 && !c.IsAdmin() {
			return kumo.Unauthorized(c, "The caller has no ownership flow of thing %s to confirm", t.ID)
		}
		var (
			o       kumo.ThingOwner
			kind    string
			expires int64
		)
		from, args = flows("code_hash = ? AND ", key)
		err := tx.QueryRow(ctx, "SELECT owner_kind, owner_id, expires "+from, args...).Scan(&kind, &o.ID, &expires)
		if errors.Is(err, sql.ErrNoRows) {
			outcome = kumo.Errorf(kumo.ErrInvalidOwnershipCode, "The code is not one of thing %s's ownership flows", t.ID).
				With("appID", c.AppID).With("thingID", t.ID)
			from, args = flows("")
			if _, err := tx.Exec(ctx, "UPDATE thing_ownership_codes SET failures = failures + 1 "+strings.TrimPrefix(from, "FROM thing_ownership_codes "), args...); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "DELETE FROM thing_ownership_codes WHERE app_id = ? AND thing_id = ? AND failures >= ?", c.AppID, t.ID, kumo.MaxOwnershipCodeFailures)
			return err
		}
		if err != nil {
			return err
		}
		o.Kind = kumo.OwnerKind(kind)
		if _, err := tx.Exec(ctx, "DELETE FROM thing_ownership_codes WHERE app_id = ? AND thing_id = ? AND code_hash = ?", c.AppID, t.ID, key); err != nil {
			return err
		}
		if expires <= now {
			outcome = kumo.Errorf(kumo.ErrPINCodeExpired, "The ownership flow's code expired").With("appID", c.AppID).With("thingID", t.ID)
			return nil
		}
		return addOwner(ctx, tx, c.AppID, t.ID, o, now)
	})
	if err != nil {
		return err
	}
	return outcome
}

// HasThingOwner implements kumo.ThingService.
func (s *ThingService) HasThingOwner(ctx context.Context, c kumo.Caller, selector string, o kumo.ThingOwner) error {
	t, err := s.ownershipFor(ctx, c, selector, o, true)
	if err != nil {
		return err
	}
	var n int
	if err := s.db.queryRow(ctx, "SELECT COUNT(*) FROM thing_owners WHERE app_id = ? AND thing_id = ? AND owner_kind = ? AND owner_id = ?",
		c.AppID, t.ID, string(o.Kind), o.ID).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return ownershipError(kumo.ErrThingOwnershipNotFound, o.String()+" does not own the thing", c.AppID, t.ID, o)
	}
	return nil
}

// RemoveThingOwner implements kumo.ThingService.
func (s *ThingService) RemoveThingOwner(ctx context.Context, c kumo.Caller, selector string, o kumo.ThingOwner) error {
	t, err := s.ownershipFor(ctx, c, selector, o, false)
	if err != nil {
		return err
	}
	return s.db.writeTx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(ctx, "DELETE FROM thing_owners WHERE app_id = ? AND thing_id = ? AND owner_kind = ? AND owner_id = ?",
			c.AppID, t.ID, string(o.Kind), o.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ownershipError(kumo.ErrThingOwnershipNotFound, o.String()+" does not own the thing", c.AppID, t.ID, o)
		}
		if o.Kind != kumo.OwnerUser {
			return nil // the members of a group keep subscriptions they made as owners (docs/compat.md)
		}
		// A former owner's push subscriptions in the thing's scope end with
		// his ownership, unless he still owns it through a group.
		var still int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM thing_owners t JOIN group_members m ON m.app_id = t.app_id AND m.group_id = t.owner_id
			WHERE t.app_id = ? AND t.thing_id = ? AND t.owner_kind = ? AND m.user_id = ?`, c.AppID, t.ID, string(kumo.OwnerGroup), o.ID).Scan(&still); err != nil || still > 0 {
			return err
		}
		scope := kumo.Scope{Kind: kumo.ScopeThing, ID: t.ID}.Key()
		return dropSubscriptions(ctx, tx, c.AppID, scope, kumo.Principal{Kind: kumo.UserCaller, ID: o.ID})
	})
}

// dropSubscriptions deletes, within a write, p's push subscriptions to the
// buckets and topics of a scope. Only bucket subscriptions are cached
// (SubscriberTopics): the cache is told when some of them went.
func dropSubscriptions(ctx context.Context, tx *Tx, appID, scope string, p kumo.Principal) error {
	if _, err := tx.Exec(ctx, "DELETE FROM topic_subscriptions WHERE app_id = ? AND scope = ? AND subscriber_kind = ? AND subscriber_id = ?",
		appID, scope, int(p.Kind), p.ID); err != nil {
		return err
	}
	res, err := tx.Exec(ctx, "DELETE FROM bucket_subscriptions WHERE app_id = ? AND scope = ? AND subscriber_kind = ? AND subscriber_id = ?",
		appID, scope, int(p.Kind), p.ID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	return bumpCounter(ctx, tx, counterSubscriptions)
}

// ownershipFor loads the thing of an ownership request about owner o for
// a caller who must be the admin, the thing, o itself (the user or a
// member of the group) or, with owners set, an owner of the thing.
func (s *ThingService) ownershipFor(ctx context.Context, c kumo.Caller, selector string, o kumo.ThingOwner, owners bool) (kumo.Thing, error) {
	if c.Kind == kumo.Anonymous {
		return kumo.Thing{}, kumo.Unauthorized(c, "Thing ownerships need a token")
	}
	t, err := s.thing(ctx, c.AppID, selector)
	if err != nil {
		return t, err
	}
	ok := c.IsAdmin() || c.Kind == kumo.ThingCaller && c.ID == t.ID
	if !ok {
		if ok, err = s.isOwnerSubject(ctx, c, o); err != nil {
			return kumo.Thing{}, err
		}
	}
	if !ok && owners && c.Kind == kumo.UserCaller {
		if ok, err = s.ownsThing(ctx, c.AppID, t.ID, c.ID); err != nil {
			return kumo.Thing{}, err
		}
	}
	if !ok {
		return kumo.Thing{}, kumo.Unauthorized(c, "The caller may not manage the ownership of thing %s by %s", t.ID, o)
	}
	return t, nil
}

// ThingOwners implements kumo.ThingService.
func (s *ThingService) ThingOwners(ctx context.Context, c kumo.Caller, selector string) (kumo.ThingOwners, error) {
	t, err := s.thingFor(ctx, c, selector, true, "Reading the owners of")
	if err != nil {
		return kumo.ThingOwners{}, err
	}
	rows, err := s.db.query(ctx, "SELECT owner_kind, owner_id FROM thing_owners WHERE app_id = ? AND thing_id = ? ORDER BY created, owner_kind, owner_id",
		c.AppID, t.ID)
	if err != nil {
		return kumo.ThingOwners{}, err
	}
	defer rows.Close()
	owners := kumo.ThingOwners{Users: []string{}, Groups: []string{}}
	for rows.Next() {
		var kind, id string
		if err := rows.Scan(&kind, &id); err != nil {
			return kumo.ThingOwners{}, err
		}
		if kumo.OwnerKind(kind) == kumo.OwnerGroup {
			owners.Groups = append(owners.Groups, id)
		} else {
			owners.Users = append(owners.Users, id)
		}
	}
	return owners, rows.Err()
}
