package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"

	"github.com/kumo-iot/kumo"
)

// ThingService implements kumo.ThingService, kumo.ThingQueryService and the
// broker's presence service: things, their owners (ownership.go) and their
// online status.
type ThingService struct {
	db     *DB
	apps   *AppService
	tokens *TokenService
	groups *GroupService
	acls   *ACLService
	ledger *DeliveryLedger
	hooks  *HookService // server code: hooks
}

var _ kumo.ThingService = (*ThingService)(nil)
var _ kumo.ThingQueryService = (*ThingService)(nil)

// RegisterThing implements kumo.ThingService.
func (s *ThingService) RegisterThing(ctx context.Context, c kumo.Caller, r kumo.ThingRegistration, withToken bool) (kumo.Thing, *kumo.Token, error) {
	hash, err := s.db.Hasher.HashPassword(r.Password)
	if err != nil {
		return kumo.Thing{}, nil, err
	}
	fields, err := json.Marshal(r.Fields)
	if err != nil {
		return kumo.Thing{}, nil, err
	}
	t := kumo.Thing{ID: kumo.NewThingID(), VendorThingID: r.VendorThingID, Fields: r.Fields, Created: s.db.now()}
	var tok *kumo.Token
	if withToken {
		tok = &kumo.Token{AccessToken: kumo.NewToken(), ExpiresIn: kumo.NeverExpires, PrincipalID: t.ID}
	}
	err = s.db.writeTx(ctx, func(tx *Tx) error {
		if err := insertThing(ctx, tx, c.AppID, t.ID, t.VendorThingID, hash, fields, t.Created, registrar(c)); err != nil {
			return err
		}
		if err := s.hooks.thing(ctx, tx, "THING_CREATED", c.AppID, t.ID, t.VendorThingID, c.Principal()); err != nil {
			return err
		}
		if tok == nil {
			return nil
		}
		return s.tokens.insertToken(ctx, tx, tok.AccessToken, kumo.Caller{AppID: c.AppID, Kind: kumo.ThingCaller, ID: t.ID}, 0)
	})
	if err != nil {
		return kumo.Thing{}, nil, err
	}
	return t, tok, nil
}

// registrar is what things.registrar records of the caller registering a
// thing: "thing:{id}" or "user:{id}", ” for anyone else.
func registrar(c kumo.Caller) string {
	switch c.Kind {
	case kumo.ThingCaller:
		return "thing:" + c.ID
	case kumo.UserCaller:
		return "user:" + c.ID
	}
	return ""
}

// insertThing inserts a new thing's row within a write (registration and
// onboarding); a vendor thing ID already taken is THING_ALREADY_EXISTS.
func insertThing(ctx context.Context, tx *Tx, appID, id, vendorThingID, hash string, fields []byte, now int64, registrar string) error {
	_, err := tx.Exec(ctx, `INSERT INTO things (app_id, id, vendor_thing_id, password_hash, fields, disabled, online, online_modified, created, modified, registrar)
		VALUES (?, ?, ?, ?, ?, 0, 0, 0, ?, ?, ?)`, appID, id, vendorThingID, hash, string(fields), now, now, registrar)
	if tx.db.dialect.IsUniqueViolation(err) {
		return kumo.Errorf(kumo.ErrThingAlreadyExists, "Thing with vendor thing ID %s already exists", vendorThingID).
			With("appID", appID).With("field", "vendorThingID").With("value", vendorThingID)
	}
	return err
}

// FindThing implements kumo.ThingService.
func (s *ThingService) FindThing(ctx context.Context, c kumo.Caller, selector string) (kumo.Thing, error) {
	t, err := s.thing(ctx, c.AppID, selector)
	if err != nil {
		return t, err
	}
	ok, err := s.managesThing(ctx, c, t.ID, true)
	if err != nil {
		return kumo.Thing{}, err
	}
	if !ok {
		return kumo.Thing{}, kumo.Unauthorized(c, "The caller may not read thing %s", t.ID)
	}
	return t, nil
}

// thing loads the thing named by selector without any permission check.
func (s *ThingService) thing(ctx context.Context, appID, selector string) (kumo.Thing, error) {
	col, val, field := "id", selector, "thingID"
	if v, ok := strings.CutPrefix(selector, "VENDOR_THING_ID:"); ok {
		col, val, field = "vendor_thing_id", v, "vendorThingID"
	}
	var (
		t      kumo.Thing
		fields string
	)
	err := s.db.queryRow(ctx, `SELECT id, vendor_thing_id, fields, disabled, online, online_modified, created
		FROM things WHERE app_id = ? AND `+col+` = ?`, appID, val).
		Scan(&t.ID, &t.VendorThingID, &fields, &t.Disabled, &t.Online, &t.OnlineModified, &t.Created)
	if errors.Is(err, sql.ErrNoRows) {
		return t, kumo.Errorf(kumo.ErrThingNotFound, "Thing %s was not found", selector).
			With("appID", appID).With("field", field).With("value", val)
	}
	if err != nil {
		return t, err
	}
	d := json.NewDecoder(strings.NewReader(fields))
	d.UseNumber()
	if err := d.Decode(&t.Fields); err != nil {
		return t, err
	}
	return t, nil
}

// thingID resolves a thing selector to a thing ID. A plain thing ID is
// checked to exist only when check is set.
func (s *ThingService) thingID(ctx context.Context, appID, selector string, check bool) (string, error) {
	if !check && !strings.HasPrefix(selector, "VENDOR_THING_ID:") {
		return selector, nil
	}
	t, err := s.thing(ctx, appID, selector)
	return t.ID, err
}

// UpdateThing implements kumo.ThingService.
func (s *ThingService) UpdateThing(ctx context.Context, c kumo.Caller, selector string, fields map[string]any) error {
	t, err := s.thingFor(ctx, c, selector, true, "Updating")
	if err != nil {
		return err
	}
	now := s.db.now()
	return s.db.writeTx(ctx, func(tx *Tx) error {
		if err := mergeThingFields(ctx, tx, c.AppID, t.ID, fields, now); err != nil {
			return err
		}
		return s.hooks.thing(ctx, tx, "THING_UPDATED", c.AppID, t.ID, t.VendorThingID, c.Principal())
	})
}

// mergeThingFields merges fields into a thing's within a write (an
// update, an onboarding again).
func mergeThingFields(ctx context.Context, tx *Tx, appID, thingID string, fields map[string]any, now int64) error {
	var current string
	if err := tx.QueryRow(ctx, "SELECT fields FROM things WHERE app_id = ? AND id = ?", appID, thingID).Scan(&current); err != nil {
		return err
	}
	merged := map[string]any{}
	d := json.NewDecoder(strings.NewReader(current))
	d.UseNumber()
	if err := d.Decode(&merged); err != nil {
		return err
	}
	if merged == nil { // a thing stored with no fields ("null")
		merged = map[string]any{}
	}
	for k, v := range fields {
		merged[k] = v
	}
	b, err := json.Marshal(merged)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, "UPDATE things SET fields = ?, modified = ? WHERE app_id = ? AND id = ?", string(b), now, appID, thingID)
	return err
}

// revokeTokens deletes a principal's tokens within a write and
// invalidates every node's token cache.
func revokeTokens(ctx context.Context, tx *Tx, appID, principalID string) error {
	if _, err := tx.Exec(ctx, "DELETE FROM tokens WHERE app_id = ? AND principal_id = ?", appID, principalID); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, "DELETE FROM refresh_tokens WHERE app_id = ? AND principal_id = ?", appID, principalID); err != nil {
		return err
	}
	return forgetTokens(ctx, tx)
}

// forgetTokens makes every node drop its cached tokens after a write
// that deleted some.
func forgetTokens(ctx context.Context, tx *Tx) error {
	// This node forgets once the deletion has committed, before the write
	// returns; the others within tokenCheckInterval.
	return bumpCounter(ctx, tx, counterTokens)
}

// deletePrincipal deletes a user or thing with everything that names
// it (cascade.go): its installations with their queued pushes, its push
// subscriptions and others' to its buckets and topics, the buckets,
// objects, object bodies and topics of its scope, the ACL entries naming
// it, its tokens, login failures, ownerships and pending ownership codes;
// a user's memberships too, and the groups he owned are left without an
// owner (the admin's to manage). It returns the ledger records of the
// pushes dropped. The caller empties the blob trash after the commit.
func deletePrincipal(ctx context.Context, tx *Tx, appID string, p kumo.Principal) ([]kumo.DeliveryRecord, error) {
	done, err := cascade(ctx, tx, doomedPrincipal(appID, p))
	if err != nil {
		return nil, err
	}
	return done.dropped, bumpCounter(ctx, tx, counterSubscriptions)
}

// DeleteThing implements kumo.ThingService.
func (s *ThingService) DeleteThing(ctx context.Context, c kumo.Caller, selector string) error {
	t, err := s.thingFor(ctx, c, selector, true, "Deleting")
	if err != nil {
		return err
	}
	var dropped []kumo.DeliveryRecord
	err = s.db.writeTx(ctx, func(tx *Tx) (err error) {
		dropped, err = deletePrincipal(ctx, tx, c.AppID, kumo.Principal{Kind: kumo.ThingCaller, ID: t.ID})
		if err != nil {
			return err
		}
		return s.hooks.thing(ctx, tx, "THING_DELETED", c.AppID, t.ID, t.VendorThingID, c.Principal())
	})
	if err == nil {
		s.ledger.record(ctx, dropped)
		s.db.emptyTrash(ctx, s.db.Log)
	}
	return err
}

// SetThingDisabled implements kumo.ThingService.
func (s *ThingService) SetThingDisabled(ctx context.Context, c kumo.Caller, selector string, disabled bool) error {
	t, err := s.thingFor(ctx, c, selector, false, "Enabling or disabling")
	if err != nil {
		return err
	}
	now := s.db.now()
	return s.db.writeTx(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(ctx, "UPDATE things SET disabled = ?, modified = ? WHERE app_id = ? AND id = ?",
			boolInt(disabled), now, c.AppID, t.ID); err != nil {
			return err
		}
		when := "THING_DISABLED"
		if !disabled {
			when = "THING_ENABLED"
		}
		if err := s.hooks.thing(ctx, tx, when, c.AppID, t.ID, t.VendorThingID, c.Principal()); err != nil {
			return err
		}
		if !disabled {
			return nil
		}
		if _, err := revokeOwnerMQTT(ctx, tx, c.AppID, kumo.Principal{Kind: kumo.ThingCaller, ID: t.ID}); err != nil {
			return err
		}
		return revokeTokens(ctx, tx, c.AppID, t.ID)
	})
}

// SetThingOnline implements broker.Presence. A change older than the
// recorded one (two nodes reporting a reconnection out of order) is
// ignored.
func (s *ThingService) SetThingOnline(ctx context.Context, appID, thingID string, online bool) error {
	now := s.db.now()
	return s.db.writeTx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(ctx, "UPDATE things SET online = ?, online_modified = ? WHERE app_id = ? AND id = ? AND online_modified <= ?",
			boolInt(online), now, appID, thingID, now)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var exists int
			if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM things WHERE app_id = ? AND id = ?", appID, thingID).Scan(&exists); err != nil {
				return err
			}
			if exists == 0 {
				return kumo.Errorf(kumo.ErrThingNotFound, "Thing %s was not found", thingID)
			}
		}
		return nil
	})
}

// ChangeVendorThingID implements kumo.ThingService.
func (s *ThingService) ChangeVendorThingID(ctx context.Context, c kumo.Caller, selector, vendorThingID, password string) error {
	t, err := s.thingFor(ctx, c, selector, true, "Changing the vendor thing ID of")
	if err != nil {
		return err
	}
	hash, err := s.db.Hasher.HashPassword(password)
	if err != nil {
		return err
	}
	now := s.db.now()
	return s.db.writeTx(ctx, func(tx *Tx) error {
		_, err := tx.Exec(ctx, "UPDATE things SET vendor_thing_id = ?, password_hash = ?, modified = ? WHERE app_id = ? AND id = ?",
			vendorThingID, hash, now, c.AppID, t.ID)
		if s.db.dialect.IsUniqueViolation(err) {
			return kumo.Errorf(kumo.ErrThingAlreadyExists, "Thing with vendor thing ID %s already exists", vendorThingID).
				With("appID", c.AppID).With("field", "vendorThingID").With("value", vendorThingID)
		}
		// The thing's tokens stay: thing-if's owner apps change these
		// while the device keeps running (to end its sessions, disable it).
		if err != nil {
			return err
		}
		return s.hooks.thing(ctx, tx, "THING_UPDATED", c.AppID, t.ID, vendorThingID, c.Principal())
	})
}

// ChangeThingPassword implements kumo.ThingService.
func (s *ThingService) ChangeThingPassword(ctx context.Context, c kumo.Caller, selector, password string) error {
	t, err := s.thingFor(ctx, c, selector, true, "Changing the password of")
	if err != nil {
		return err
	}
	if !kumo.ValidThingPassword(password) {
		return kumo.InvalidInput(map[string]string{"newPassword": "must be 1 to 200 printable ASCII characters"})
	}
	hash, err := s.db.Hasher.HashPassword(password)
	if err != nil {
		return err
	}
	now := s.db.now()
	return s.db.writeTx(ctx, func(tx *Tx) error {
		// As for the vendor thing ID, the thing's tokens stay; its MQTT
		// credentials are replaced (it reads them again with its token).
		_, err := tx.Exec(ctx, "UPDATE things SET password_hash = ?, modified = ? WHERE app_id = ? AND id = ?", hash, now, c.AppID, t.ID)
		if err != nil {
			return err
		}
		return rotateMQTT(ctx, tx, c.AppID, kumo.Principal{Kind: kumo.ThingCaller, ID: t.ID})
	})
}
