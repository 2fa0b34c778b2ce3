package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/kumo-iot/kumo"
)

// OnboardingService implements kumo.OnboardingService: Thing-IF
// onboarding, which registers a thing or logs it in, makes its owner an
// owner and gives it its MQTT installation, in one write.
type OnboardingService struct {
	db     *DB
	apps   *AppService
	things *ThingService
	tokens *TokenService
	hooks  *HookService // server code: hooks
}

var _ kumo.OnboardingService = (*OnboardingService)(nil)

// Onboard implements kumo.OnboardingService.
func (s *OnboardingService) Onboard(ctx context.Context, c kumo.Caller, o kumo.Onboarding) (kumo.Onboarded, error) {
	out, err := s.onboard(ctx, c, o)
	if kumo.ErrorCode(err) == kumo.ErrThingAlreadyExists {
		// Another onboarding registered the thing meanwhile: this one
		// logs it in.
		out, err = s.onboard(ctx, c, o)
	}
	return out, err
}

func (s *OnboardingService) onboard(ctx context.Context, c kumo.Caller, o kumo.Onboarding) (kumo.Onboarded, error) {
	gatewayID, err := s.mayOnboard(ctx, c, o)
	if err != nil {
		return kumo.Onboarded{}, err
	}
	p, err := s.apps.params(ctx, c.AppID)
	if err != nil {
		return kumo.Onboarded{}, err
	}
	col, val, selector := "id", o.ThingID, o.ThingID
	if o.VendorThingID != "" {
		col, val, selector = "vendor_thing_id", o.VendorThingID, "VENDOR_THING_ID:"+o.VendorThingID
	}
	var (
		thingID, hash string
		disabled      bool
	)
	err = s.db.queryRow(ctx, "SELECT id, password_hash, disabled FROM things WHERE app_id = ? AND "+col+" = ?", c.AppID, val).
		Scan(&thingID, &hash, &disabled)
	exists := err == nil
	switch {
	case errors.Is(err, sql.ErrNoRows) && o.ThingID != "":
		return kumo.Onboarded{}, kumo.Errorf(kumo.ErrThingNotFound, "Thing %s was not found", selector).
			With("appID", c.AppID).With("field", "thingID").With("value", val)
	case errors.Is(err, sql.ErrNoRows):
		if hash, err = s.db.Hasher.HashPassword(o.Password); err != nil {
			return kumo.Onboarded{}, err
		}
		thingID = kumo.NewThingID()
	case err != nil:
		return kumo.Onboarded{}, err
	}
	thing := kumo.Caller{AppID: c.AppID, Kind: kumo.ThingCaller, ID: thingID}
	lockout := exists && p.MaxLoginAttempts > 0
	if exists {
		// An existing thing onboards again with its password, under its
		// login lockout.
		if lockout {
			if err := s.tokens.reserveAttempt(ctx, thing, p); err != nil {
				return kumo.Onboarded{}, err
			}
		}
		if !s.db.Hasher.CheckPassword(hash, o.Password) {
			return kumo.Onboarded{}, kumo.Errorf(kumo.ErrWrongPassword, "The thing password is wrong").
				With("appID", c.AppID).With("thingID", thingID)
		}
		if disabled {
			return kumo.Onboarded{}, kumo.Errorf(kumo.ErrThingDisabled, "Thing %s is disabled", thingID).
				With("appID", c.AppID).With("thingID", thingID)
		}
	}
	fields, err := json.Marshal(o.Fields)
	if err != nil {
		return kumo.Onboarded{}, err
	}
	now := s.db.now()
	var expiresAt int64
	tok := newToken(now, thing, &expiresAt, p, false)
	out := kumo.Onboarded{ThingID: thingID, AccessToken: tok.AccessToken}
	err = s.db.writeTx(ctx, func(tx *Tx) error {
		if !exists {
			// THING_ALREADY_EXISTS when another request onboarded it at the same moment.
			if err := insertThing(ctx, tx, c.AppID, thingID, o.VendorThingID, hash, fields, now, ""); err != nil {
				return err
			}
			if err := s.hooks.thing(ctx, tx, "THING_CREATED", c.AppID, thingID, o.VendorThingID, c.Principal()); err != nil {
				return err
			}
		} else if len(o.Updates) > 0 {
			if err := mergeThingFields(ctx, tx, c.AppID, thingID, o.Updates, now); err != nil {
				return err
			}
			if err := s.hooks.thing(ctx, tx, "THING_UPDATED", c.AppID, thingID, o.VendorThingID, c.Principal()); err != nil {
				return err
			}
		}
		if lockout {
			if err := loginSucceeded(ctx, tx, thing, p, now); err != nil {
				return err
			}
		}
		if o.Owner != nil {
			err := addOwner(ctx, tx, c.AppID, thingID, *o.Owner, now)
			if err != nil && kumo.ErrorCode(err) != kumo.ErrThingOwnershipExists {
				return err
			}
		}
		if err := s.tokens.insertTokens(ctx, tx, tok, thing, expiresAt); err != nil {
			return err
		}
		if o.Kind.EndNode() {
			// An end node reaches MQTT through its gateway.
			return linkEndNode(ctx, tx, c.AppID, gatewayID, thingID, now)
		}
		in, err := mqttInstallationTx(ctx, tx, c.AppID, thing.Principal(), now)
		out.Installation = &in
		return err
	})
	if err != nil {
		return kumo.Onboarded{}, err
	}
	return out, nil
}

// mayOnboard checks who onboards: anyone with the thing's password for
// the forms by thing; for the owner forms the admin, or the user who is
// the owner (or a member of the owner group); for an end node, its
// gateway must exist and such a user must own it. It returns the
// gateway's thing ID (end-node forms).
func (s *OnboardingService) mayOnboard(ctx context.Context, c kumo.Caller, o kumo.Onboarding) (string, error) {
	if !o.Kind.ByOwner() {
		return "", nil
	}
	switch c.Kind {
	case kumo.Admin:
	case kumo.UserCaller:
		ok, err := s.things.isOwnerSubject(ctx, c, *o.Owner)
		if err != nil {
			return "", err
		}
		if !ok {
			return "", kumo.Unauthorized(c, "A user may onboard a thing for himself, or for a group he is a member of")
		}
	default:
		return "", kumo.Unauthorized(c, "Onboarding by owner needs the owner's token")
	}
	if !o.Kind.EndNode() {
		return "", nil
	}
	gw, err := s.things.thing(ctx, c.AppID, o.Gateway)
	if err != nil {
		return "", err
	}
	ok, err := s.things.managesThing(ctx, c, gw.ID, false)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", kumo.Unauthorized(c, "Only an owner of gateway %s may onboard its end nodes", gw.ID)
	}
	return gw.ID, nil
}
