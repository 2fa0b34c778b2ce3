package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/kumo-iot/kumo"
)

// TraitService implements kumo.TraitService: the versions of traits
// (trait_versions), each a definition that finalize makes immutable.
type TraitService struct {
	db *DB
}

var _ kumo.TraitService = (*TraitService)(nil)

func traitVersionNotFound(appID, trait string, version int) error {
	return kumo.Errorf(kumo.ErrTraitVersionNotFound, "Version %d of trait %s was not found", version, trait).With("appID", appID)
}

// CreateTraitVersion implements kumo.TraitService.
func (s *TraitService) CreateTraitVersion(ctx context.Context, c kumo.Caller, v kumo.TraitVersion) (int, error) {
	if err := mayConfigure(c); err != nil {
		return 0, err
	}
	def, err := json.Marshal(v.Definition)
	if err != nil {
		return 0, err
	}
	now := s.db.now()
	var version int
	err = s.db.writeTx(ctx, func(tx *Tx) error {
		var (
			latest    int
			finalized bool
		)
		err := tx.QueryRow(ctx, tx.db.locks.LockUpdate("SELECT version, finalized FROM trait_versions WHERE app_id = ? AND trait = ? ORDER BY version DESC LIMIT 1"),
			c.AppID, v.Trait).Scan(&latest, &finalized)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		case !finalized:
			return kumo.Errorf(kumo.ErrTraitVersionOpen, "Version %d of trait %s is not finalized: change it, or finalize it first", latest, v.Trait).
				With("appID", c.AppID).With("traitVersion", latest)
		}
		version = latest + 1
		_, err = tx.Exec(ctx, "INSERT INTO trait_versions (app_id, trait, version, definition, finalized, created) VALUES (?, ?, ?, ?, 0, ?)",
			c.AppID, v.Trait, version, string(def), now)
		return err
	})
	if s.db.dialect.IsUniqueViolation(err) {
		return 0, kumo.Errorf(kumo.ErrTraitVersionOpen, "Another version of trait %s was created at the same moment", v.Trait).With("appID", c.AppID)
	}
	return version, err
}

// UpdateTraitVersion implements kumo.TraitService.
func (s *TraitService) UpdateTraitVersion(ctx context.Context, c kumo.Caller, v kumo.TraitVersion) error {
	if err := mayConfigure(c); err != nil {
		return err
	}
	def, err := json.Marshal(v.Definition)
	if err != nil {
		return err
	}
	return s.db.writeTx(ctx, func(tx *Tx) error {
		if err := s.open(ctx, tx, c.AppID, v.Trait, v.Version); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "UPDATE trait_versions SET definition = ? WHERE app_id = ? AND trait = ? AND version = ?",
			string(def), c.AppID, v.Trait, v.Version)
		return err
	})
}

// open checks that a version exists and is not finalized.
func (s *TraitService) open(ctx context.Context, tx *Tx, appID, trait string, version int) error {
	var finalized bool
	err := tx.QueryRow(ctx, tx.db.locks.LockUpdate("SELECT finalized FROM trait_versions WHERE app_id = ? AND trait = ? AND version = ?"),
		appID, trait, version).Scan(&finalized)
	if errors.Is(err, sql.ErrNoRows) {
		return traitVersionNotFound(appID, trait, version)
	}
	if err == nil && finalized {
		return kumo.Errorf(kumo.ErrTraitVersionFinalized, "Version %d of trait %s is finalized: it cannot change", version, trait).With("appID", appID)
	}
	return err
}

// FinalizeTraitVersion implements kumo.TraitService.
func (s *TraitService) FinalizeTraitVersion(ctx context.Context, c kumo.Caller, trait string, version int) error {
	if err := mayConfigure(c); err != nil {
		return err
	}
	return s.db.writeTx(ctx, func(tx *Tx) error {
		if err := s.open(ctx, tx, c.AppID, trait, version); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "UPDATE trait_versions SET finalized = 1 WHERE app_id = ? AND trait = ? AND version = ?", c.AppID, trait, version)
		return err
	})
}

// TraitVersion implements kumo.TraitService.
func (s *TraitService) TraitVersion(ctx context.Context, c kumo.Caller, trait string, version int) (kumo.TraitVersion, error) {
	list, err := s.versions(ctx, c, trait, version)
	if err != nil {
		return kumo.TraitVersion{}, err
	}
	if len(list) == 0 {
		return kumo.TraitVersion{}, traitVersionNotFound(c.AppID, trait, version)
	}
	return list[0], nil
}

// TraitVersions implements kumo.TraitService: TRAIT_NOT_FOUND for a trait
// without versions.
func (s *TraitService) TraitVersions(ctx context.Context, c kumo.Caller, trait string) ([]kumo.TraitVersion, error) {
	list, err := s.versions(ctx, c, trait, 0)
	if err == nil && len(list) == 0 {
		return nil, kumo.Errorf(kumo.ErrTraitNotFound, "Trait %s was not found", trait).With("appID", c.AppID)
	}
	return list, err
}

// versions lists a trait's versions (only version, when not 0).
func (s *TraitService) versions(ctx context.Context, c kumo.Caller, trait string, version int) ([]kumo.TraitVersion, error) {
	if err := mayReadConfig(c); err != nil {
		return nil, err
	}
	query := "SELECT version, definition, finalized, created FROM trait_versions WHERE app_id = ? AND trait = ?"
	args := []any{c.AppID, trait}
	if version != 0 {
		query += " AND version = ?"
		args = append(args, version)
	}
	rows, err := s.db.query(ctx, query+" ORDER BY version", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []kumo.TraitVersion
	for rows.Next() {
		v := kumo.TraitVersion{Trait: trait}
		var def string
		if err := rows.Scan(&v.Version, &def, &v.Finalized, &v.Created); err != nil {
			return nil, err
		}
		if v.Definition, err = decodeState(def); err != nil {
			return nil, err
		}
		v.DataGroupingInterval, _ = v.Definition["dataGroupingInterval"].(string)
		out = append(out, v)
	}
	return out, rows.Err()
}
