package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/kumo-iot/kumo"
)

// InstallationService implements kumo.InstallationService.
type InstallationService struct {
	db     *DB
	things *ThingService
	users  *UserService
	ledger *DeliveryLedger
	hooks  *HookService // server code: hooks
}

var _ kumo.InstallationService = (*InstallationService)(nil)

const installationColumns = `id, app_id, device_type, registration_id, development, owner_kind, owner_id,
	mqtt_username, mqtt_topic, created`

func scanInstallation(row interface{ Scan(...any) error }) (kumo.Installation, error) {
	var (
		in         kumo.Installation
		kind       int
		user, tpic sql.NullString
	)
	err := row.Scan(&in.ID, &in.AppID, &in.DeviceType, &in.RegistrationID, &in.Development, &kind, &in.Owner.ID,
		&user, &tpic, &in.Created)
	in.Owner.Kind = kumo.CallerKind(kind)
	in.MQTTUsername, in.MQTTTopic = user.String, tpic.String
	return in, err
}

// CreateInstallation implements kumo.InstallationService.
func (s *InstallationService) CreateInstallation(ctx context.Context, c kumo.Caller, r kumo.InstallationCreate) (kumo.Installation, error) {
	owner, err := s.installationOwner(ctx, c, r)
	if err != nil {
		return kumo.Installation{}, err
	}
	now := s.db.now()
	in := kumo.Installation{ID: kumo.NewInstallationID(), AppID: c.AppID, DeviceType: r.DeviceType,
		RegistrationID: r.RegistrationID, Development: r.Development, Owner: owner, Created: now}
	if in.DeviceType == kumo.DeviceMQTT {
		in.RegistrationID = kumo.NewObjectID()
		in.MQTTUsername, in.MQTTTopic = kumo.NewMQTTUsername(c.AppID), kumo.NewMQTTTopic()
	} else if r.RegistrationID == "" {
		return kumo.Installation{}, kumo.InvalidInput(map[string]string{
			"installationRegistrationID": "is required for deviceType " + r.DeviceType})
	}
	err = s.db.writeTx(ctx, func(tx *Tx) error {
		// One MQTT installation per owner; a phone token belongs to one
		// installation, which moves to whoever installs it again.
		var row *sql.Row
		if in.DeviceType == kumo.DeviceMQTT {
			row = tx.QueryRow(ctx, "SELECT "+installationColumns+` FROM installations
				WHERE app_id = ? AND owner_kind = ? AND owner_id = ? AND device_type = 'MQTT'`, c.AppID, int(owner.Kind), owner.ID)
		} else {
			row = tx.QueryRow(ctx, "SELECT "+installationColumns+` FROM installations
				WHERE app_id = ? AND device_type = ? AND registration_id = ?`, c.AppID, in.DeviceType, in.RegistrationID)
		}
		old, err := scanInstallation(row)
		switch {
		case err == nil && in.DeviceType == kumo.DeviceMQTT:
			in = old // the development flag first given is kept
			return nil
		case err == nil:
			_, err = tx.Exec(ctx, "UPDATE installations SET owner_kind = ?, owner_id = ?, development = ? WHERE app_id = ? AND id = ?",
				int(owner.Kind), owner.ID, boolInt(in.Development), c.AppID, old.ID)
			old.Owner, old.Development = owner, in.Development
			in = old
			if err != nil {
				return err
			}
			return bumpCounter(ctx, tx, counterSubscriptions)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		_, err = tx.Exec(ctx, "INSERT INTO installations ("+installationColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			in.ID, in.AppID, in.DeviceType, in.RegistrationID, boolInt(in.Development), int(owner.Kind), owner.ID,
			nullString(in.MQTTUsername), nullString(in.MQTTTopic), now)
		if err != nil {
			return err
		}
		if err := s.hooks.installation(ctx, tx, "INSTALLATION_CREATED", in, c.Principal()); err != nil {
			return err
		}
		return bumpCounter(ctx, tx, counterSubscriptions)
	})
	if err != nil {
		return kumo.Installation{}, err
	}
	return in, nil
}

// installationOwner decides whose installation a request creates: the
// caller's own, or (for the admin) the user or thing it names.
func (s *InstallationService) installationOwner(ctx context.Context, c kumo.Caller, r kumo.InstallationCreate) (kumo.Principal, error) {
	switch c.Kind {
	case kumo.UserCaller, kumo.ThingCaller:
		return c.Principal(), nil
	case kumo.Admin:
		switch {
		case r.ThingID != "":
			id, err := s.things.thingID(ctx, c.AppID, r.ThingID, true)
			return kumo.Principal{Kind: kumo.ThingCaller, ID: id}, err
		case r.UserID != "":
			id, err := s.users.userID(ctx, c, r.UserID, true)
			return kumo.Principal{Kind: kumo.UserCaller, ID: id}, err
		}
		return kumo.Principal{}, kumo.InvalidInput(map[string]string{"userID": "the admin must name a userID or a thingID"})
	}
	return kumo.Principal{}, kumo.Unauthorized(c, "Installations need a user or thing token")
}

// GetInstallation implements kumo.InstallationService.
func (s *InstallationService) GetInstallation(ctx context.Context, c kumo.Caller, selector string) (kumo.Installation, error) {
	var row *sql.Row
	if t, reg, ok := strings.Cut(selector, ":"); ok {
		dt, _ := kumo.ParseDeviceType(t)
		row = s.db.queryRow(ctx, "SELECT "+installationColumns+" FROM installations WHERE app_id = ? AND device_type = ? AND registration_id = ?",
			c.AppID, dt, reg)
	} else {
		row = s.db.queryRow(ctx, "SELECT "+installationColumns+" FROM installations WHERE app_id = ? AND id = ?", c.AppID, selector)
	}
	in, err := scanInstallation(row)
	if errors.Is(err, sql.ErrNoRows) {
		return in, kumo.InstallationNotFound(c.AppID, selector)
	}
	if err != nil {
		return in, err
	}
	if !c.IsAdmin() && !c.Is(in.Owner) {
		return kumo.Installation{}, kumo.Unauthorized(c, "The caller may not access installation %s", in.ID)
	}
	return in, nil
}

// DeleteInstallation implements kumo.InstallationService.
func (s *InstallationService) DeleteInstallation(ctx context.Context, c kumo.Caller, selector string) error {
	in, err := s.GetInstallation(ctx, c, selector)
	if err != nil {
		return err
	}
	var dropped []kumo.DeliveryRecord // its queued pushes, dropped
	err = s.db.writeTx(ctx, func(tx *Tx) error {
		// The installation, its MQTT credentials revoked, and its queued
		// pushes (cascade.go).
		done, err := cascade(ctx, tx, doomed{kind: doomInstallation, appID: c.AppID, id: in.ID,
			reason: "the installation was deleted", owner: in.Owner})
		if err != nil {
			return err
		}
		if done.deleted["installations"] == 0 {
			return kumo.InstallationNotFound(c.AppID, selector)
		}
		dropped = done.dropped
		if err := s.hooks.installation(ctx, tx, "INSTALLATION_DELETED", in, c.Principal()); err != nil {
			return err
		}
		return bumpCounter(ctx, tx, counterSubscriptions)
	})
	if err == nil {
		s.ledger.record(ctx, dropped)
	}
	return err
}

// MQTTInstallation implements kumo.InstallationService. An installation
// of a disabled thing is refused (until the thing is enabled again).
func (s *InstallationService) MQTTInstallation(ctx context.Context, username string) (kumo.Installation, error) {
	row := s.db.queryRow(ctx, "SELECT "+installationColumns+`, persistent,
		owner_kind = ? AND EXISTS (SELECT 1 FROM things t WHERE t.app_id = installations.app_id AND t.id = installations.owner_id AND t.disabled <> 0)
		FROM installations WHERE mqtt_username = ?`, int(kumo.ThingCaller), username)
	var persistent, disabled bool
	in, err := scanInstallation(scanFunc(func(dest ...any) error { return row.Scan(append(dest, &persistent, &disabled)...) }))
	in.Persistent = persistent
	if errors.Is(err, sql.ErrNoRows) {
		return in, kumo.Errorf(kumo.ErrInstallationNotFound, "No MQTT installation has username %s", username)
	}
	if err == nil && disabled {
		return kumo.Installation{}, kumo.Errorf(kumo.ErrThingDisabled, "The thing %s of MQTT username %s is disabled", in.Owner.ID, username)
	}
	return in, err
}

// scanFunc is a Scan method as a function.
type scanFunc func(dest ...any) error

func (f scanFunc) Scan(dest ...any) error { return f(dest...) }

// mqttInstallationTx returns the MQTT installation of owner, within a
// write, creating it when owner has none (one per owner, as
// CreateInstallation keeps them).
func mqttInstallationTx(ctx context.Context, tx *Tx, appID string, owner kumo.Principal, now int64) (kumo.Installation, error) {
	in, err := scanInstallation(tx.QueryRow(ctx, "SELECT "+installationColumns+` FROM installations
		WHERE app_id = ? AND owner_kind = ? AND owner_id = ? AND device_type = 'MQTT'`, appID, int(owner.Kind), owner.ID))
	if !errors.Is(err, sql.ErrNoRows) {
		return in, err
	}
	in = kumo.Installation{ID: kumo.NewInstallationID(), AppID: appID, DeviceType: kumo.DeviceMQTT,
		RegistrationID: kumo.NewObjectID(), Owner: owner, Created: now,
		MQTTUsername: kumo.NewMQTTUsername(appID), MQTTTopic: kumo.NewMQTTTopic()}
	_, err = tx.Exec(ctx, "INSERT INTO installations ("+installationColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		in.ID, in.AppID, in.DeviceType, in.RegistrationID, boolInt(false), int(owner.Kind), owner.ID,
		nullString(in.MQTTUsername), nullString(in.MQTTTopic), now)
	if err != nil {
		return kumo.Installation{}, err
	}
	return in, bumpCounter(ctx, tx, counterSubscriptions)
}
