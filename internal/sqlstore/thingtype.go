package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/kumo-iot/kumo"
)

// ThingTypeService implements kumo.ThingTypeService: thing types
// (thing_types), their firmware versions (firmware_versions) and the
// aliases of each firmware version (trait_aliases); and the checks of
// states and commands against them.
type ThingTypeService struct {
	db     *DB
	things *ThingService
}

var _ kumo.ThingTypeService = (*ThingTypeService)(nil)

// mayConfigure refuses a caller other than the admin.
func mayConfigure(c kumo.Caller) error {
	if !c.IsAdmin() {
		return kumo.Unauthorized(c, "Only the admin (an app token) may change the Thing-IF configuration")
	}
	return nil
}

// mayReadConfig refuses anonymous callers.
func mayReadConfig(c kumo.Caller) error {
	if c.Kind == kumo.Anonymous {
		return kumo.Unauthorized(c, "Reading the Thing-IF configuration needs a token")
	}
	return nil
}

func thingTypeNotFound(appID, name string) error {
	return kumo.Errorf(kumo.ErrThingTypeNotFound, "Thing type %s was not found", name).With("appID", appID)
}

func firmwareVersionNotFound(appID, thingType, name string) error {
	return kumo.Errorf(kumo.ErrFirmwareVersionNotFound, "Firmware version %s of thing type %s was not found", name, thingType).With("appID", appID)
}

// PutThingType implements kumo.ThingTypeService.
func (s *ThingTypeService) PutThingType(ctx context.Context, c kumo.Caller, t kumo.ThingType) (created bool, err error) {
	if err := mayConfigure(c); err != nil {
		return false, err
	}
	cfg, err := json.Marshal(t.Config)
	if err != nil {
		return false, err
	}
	now := s.db.now()
	err = s.db.writeTx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(ctx, "UPDATE thing_types SET config = ? WHERE app_id = ? AND name = ?", string(cfg), c.AppID, t.Name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			return nil
		}
		created = true
		_, err = tx.Exec(ctx, "INSERT INTO thing_types (app_id, name, config, created) VALUES (?, ?, ?, ?)", c.AppID, t.Name, string(cfg), now)
		return err
	})
	return created, err
}

// ThingTypes implements kumo.ThingTypeService.
func (s *ThingTypeService) ThingTypes(ctx context.Context, c kumo.Caller) ([]kumo.ThingType, error) {
	if err := mayReadConfig(c); err != nil {
		return nil, err
	}
	rows, err := s.db.query(ctx, "SELECT name, config, created FROM thing_types WHERE app_id = ? ORDER BY name", c.AppID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []kumo.ThingType{}
	for rows.Next() {
		var (
			t   kumo.ThingType
			cfg string
		)
		if err := rows.Scan(&t.Name, &cfg, &t.Created); err != nil {
			return nil, err
		}
		if t.Config, err = decodeState(cfg); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// ThingType implements kumo.ThingTypeService.
func (s *ThingTypeService) ThingType(ctx context.Context, c kumo.Caller, name string) (kumo.ThingType, error) {
	if err := mayReadConfig(c); err != nil {
		return kumo.ThingType{}, err
	}
	t := kumo.ThingType{Name: name}
	var cfg string
	err := s.db.queryRow(ctx, "SELECT config, created FROM thing_types WHERE app_id = ? AND name = ?", c.AppID, name).Scan(&cfg, &t.Created)
	if errors.Is(err, sql.ErrNoRows) {
		return t, thingTypeNotFound(c.AppID, name)
	}
	if err != nil {
		return t, err
	}
	t.Config, err = decodeState(cfg)
	return t, err
}

// DeleteThingType implements kumo.ThingTypeService.
func (s *ThingTypeService) DeleteThingType(ctx context.Context, c kumo.Caller, name string) error {
	if err := mayConfigure(c); err != nil {
		return err
	}
	return s.db.writeTx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(ctx, "DELETE FROM thing_types WHERE app_id = ? AND name = ?", c.AppID, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return thingTypeNotFound(c.AppID, name)
		}
		if _, err := tx.Exec(ctx, "DELETE FROM firmware_versions WHERE app_id = ? AND thing_type = ?", c.AppID, name); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, "DELETE FROM trait_aliases WHERE app_id = ? AND thing_type = ?", c.AppID, name)
		return err
	})
}

// PutFirmwareVersion implements kumo.ThingTypeService.
func (s *ThingTypeService) PutFirmwareVersion(ctx context.Context, c kumo.Caller, thingType, name string) (created bool, err error) {
	if err := mayConfigure(c); err != nil {
		return false, err
	}
	now := s.db.now()
	err = s.db.writeTx(ctx, func(tx *Tx) error {
		if ok, err := rowExists(ctx, tx, "SELECT 1 FROM thing_types WHERE app_id = ? AND name = ?", c.AppID, thingType); err != nil || !ok {
			if err == nil {
				err = thingTypeNotFound(c.AppID, thingType)
			}
			return err
		}
		ok, err := rowExists(ctx, tx, "SELECT 1 FROM firmware_versions WHERE app_id = ? AND thing_type = ? AND name = ?", c.AppID, thingType, name)
		if err != nil || ok {
			return err
		}
		created = true
		_, err = tx.Exec(ctx, "INSERT INTO firmware_versions (app_id, thing_type, name, created) VALUES (?, ?, ?, ?)", c.AppID, thingType, name, now)
		return err
	})
	return created, err
}

// FirmwareVersions implements kumo.ThingTypeService.
func (s *ThingTypeService) FirmwareVersions(ctx context.Context, c kumo.Caller, thingType string) ([]string, error) {
	if _, err := s.ThingType(ctx, c, thingType); err != nil {
		return nil, err
	}
	return s.strings(ctx, "SELECT name FROM firmware_versions WHERE app_id = ? AND thing_type = ? ORDER BY name", c.AppID, thingType)
}

func (s *ThingTypeService) strings(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := s.db.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// DeleteFirmwareVersion implements kumo.ThingTypeService.
func (s *ThingTypeService) DeleteFirmwareVersion(ctx context.Context, c kumo.Caller, thingType, name string) error {
	if err := mayConfigure(c); err != nil {
		return err
	}
	return s.db.writeTx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(ctx, "DELETE FROM firmware_versions WHERE app_id = ? AND thing_type = ? AND name = ?", c.AppID, thingType, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return firmwareVersionNotFound(c.AppID, thingType, name)
		}
		_, err = tx.Exec(ctx, "DELETE FROM trait_aliases WHERE app_id = ? AND thing_type = ? AND firmware_version = ?", c.AppID, thingType, name)
		return err
	})
}

// PutTraitAlias implements kumo.ThingTypeService.
func (s *ThingTypeService) PutTraitAlias(ctx context.Context, c kumo.Caller, a kumo.TraitAlias) error {
	if err := mayConfigure(c); err != nil {
		return err
	}
	now := s.db.now()
	err := s.db.writeTx(ctx, func(tx *Tx) error {
		if ok, err := rowExists(ctx, tx, "SELECT 1 FROM firmware_versions WHERE app_id = ? AND thing_type = ? AND name = ?", c.AppID, a.ThingType, a.FirmwareVersion); err != nil || !ok {
			if err == nil {
				err = firmwareVersionNotFound(c.AppID, a.ThingType, a.FirmwareVersion)
			}
			return err
		}
		if ok, err := rowExists(ctx, tx, "SELECT 1 FROM trait_versions WHERE app_id = ? AND trait = ? AND version = ?", c.AppID, a.Trait, a.TraitVersion); err != nil || !ok {
			if err == nil {
				err = traitVersionNotFound(c.AppID, a.Trait, a.TraitVersion)
			}
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO trait_aliases (app_id, thing_type, firmware_version, alias, trait, trait_version, created)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, c.AppID, a.ThingType, a.FirmwareVersion, a.Alias, a.Trait, a.TraitVersion, now)
		return err
	})
	if s.db.dialect.IsUniqueViolation(err) {
		return kumo.Errorf(kumo.ErrTraitAliasExists, "Alias %s of %s/%s already exists", a.Alias, a.ThingType, a.FirmwareVersion).With("appID", c.AppID)
	}
	return err
}

// TraitAliases implements kumo.ThingTypeService.
func (s *ThingTypeService) TraitAliases(ctx context.Context, c kumo.Caller, thingType, firmwareVersion string) ([]kumo.TraitAlias, error) {
	if err := mayReadConfig(c); err != nil {
		return nil, err
	}
	var one int
	err := s.db.queryRow(ctx, "SELECT 1 FROM firmware_versions WHERE app_id = ? AND thing_type = ? AND name = ?", c.AppID, thingType, firmwareVersion).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, firmwareVersionNotFound(c.AppID, thingType, firmwareVersion)
	}
	if err != nil {
		return nil, err
	}
	return s.aliases(ctx, c.AppID, thingType, firmwareVersion)
}

// aliases lists the aliases of a firmware version, without checks.
func (s *ThingTypeService) aliases(ctx context.Context, appID, thingType, firmwareVersion string) ([]kumo.TraitAlias, error) {
	rows, err := s.db.query(ctx, `SELECT alias, trait, trait_version FROM trait_aliases
		WHERE app_id = ? AND thing_type = ? AND firmware_version = ? ORDER BY alias`, appID, thingType, firmwareVersion)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []kumo.TraitAlias{}
	for rows.Next() {
		a := kumo.TraitAlias{ThingType: thingType, FirmwareVersion: firmwareVersion}
		if err := rows.Scan(&a.Alias, &a.Trait, &a.TraitVersion); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// TraitAlias implements kumo.ThingTypeService.
func (s *ThingTypeService) TraitAlias(ctx context.Context, c kumo.Caller, thingType, firmwareVersion, alias string) (kumo.TraitAlias, error) {
	list, err := s.TraitAliases(ctx, c, thingType, firmwareVersion)
	if err != nil {
		return kumo.TraitAlias{}, err
	}
	for _, a := range list {
		if a.Alias == alias {
			return a, nil
		}
	}
	return kumo.TraitAlias{}, aliasNotFound(c.AppID, thingType, firmwareVersion, alias)
}

func aliasNotFound(appID, thingType, firmwareVersion, alias string) error {
	return kumo.Errorf(kumo.ErrTraitAliasNotFound, "Alias %s is not configured for thing type %s, firmware version %s", alias, thingType, firmwareVersion).
		With("appID", appID).With("alias", alias)
}

// DeleteTraitAlias implements kumo.ThingTypeService.
func (s *ThingTypeService) DeleteTraitAlias(ctx context.Context, c kumo.Caller, thingType, firmwareVersion, alias string) error {
	if err := mayConfigure(c); err != nil {
		return err
	}
	return s.db.writeTx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(ctx, "DELETE FROM trait_aliases WHERE app_id = ? AND thing_type = ? AND firmware_version = ? AND alias = ?",
			c.AppID, thingType, firmwareVersion, alias)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return aliasNotFound(c.AppID, thingType, firmwareVersion, alias)
		}
		return nil
	})
}

// thingConfig returns a thing's thing type and firmware version (its
// _thingType and _firmwareVersion fields).
func thingConfig(t kumo.Thing) (thingType, firmwareVersion string) {
	thingType, _ = t.Fields["_thingType"].(string)
	firmwareVersion, _ = t.Fields["_firmwareVersion"].(string)
	return thingType, firmwareVersion
}

// CheckAliases checks that aliases are configured for thing thingID's
// thing type and firmware version: TRAIT_ALIAS_NOT_FOUND for one that is
// not. A thing whose firmware version has no alias configured (no thing
// type, or never configured) accepts any alias, so that clients that
// never configured traits keep working. For commands (and triggers).
func (s *ThingTypeService) CheckAliases(ctx context.Context, appID, thingID string, aliases []string) error {
	if len(aliases) == 0 {
		return nil
	}
	t, err := s.things.thing(ctx, appID, thingID)
	if err != nil {
		return err
	}
	return s.checkAliases(ctx, appID, t, aliases)
}

func (s *ThingTypeService) checkAliases(ctx context.Context, appID string, t kumo.Thing, aliases []string) error {
	thingType, fw := thingConfig(t)
	if len(aliases) == 0 || thingType == "" {
		return nil
	}
	known, err := s.aliases(ctx, appID, thingType, fw)
	if err != nil || len(known) == 0 {
		return err
	}
	for _, alias := range aliases {
		found := false
		for _, k := range known {
			found = found || k.Alias == alias
		}
		if !found {
			return aliasNotFound(appID, thingType, fw, alias)
		}
	}
	return nil
}

// groupingInterval returns the grouping interval (ms) of an alias's
// history: the dataGroupingInterval of the trait version the alias names
// for the thing's thing type and firmware version (firmwareVersion, when
// set, instead of the thing's), else kumo.DefaultDataGroupingInterval.
func (s *ThingTypeService) groupingInterval(ctx context.Context, appID string, t kumo.Thing, alias, firmwareVersion string) (int64, error) {
	thingType, fw := thingConfig(t)
	if firmwareVersion != "" {
		fw = firmwareVersion
	}
	var def string
	err := s.db.queryRow(ctx, `SELECT v.definition FROM trait_aliases a JOIN trait_versions v
		ON v.app_id = a.app_id AND v.trait = a.trait AND v.version = a.trait_version
		WHERE a.app_id = ? AND a.thing_type = ? AND a.firmware_version = ? AND a.alias = ?`, appID, thingType, fw, alias).Scan(&def)
	interval := kumo.DefaultDataGroupingInterval
	switch {
	case errors.Is(err, sql.ErrNoRows):
		// No trait version configures the alias (a non-trait thing, or an
		// unconfigured one): the dataGroupingInterval given at onboarding.
		if v, ok := t.Fields[kumo.DataGroupingIntervalField].(string); ok && kumo.DataGroupingIntervals[v] > 0 {
			interval = v
		}
	case err != nil:
		return 0, err
	default:
		m, err := decodeState(def)
		if err != nil {
			return 0, err
		}
		if v, ok := m["dataGroupingInterval"].(string); ok && kumo.DataGroupingIntervals[v] > 0 {
			interval = v
		}
	}
	return kumo.DataGroupingIntervals[interval], nil
}
