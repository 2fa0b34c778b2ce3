package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/kumo-iot/kumo"
)

// ServerCodeService implements kumo.ServerCodeService: an app's deployed
// server code versions, its current version and the versions' hook
// configurations (tables server_code_versions, server_code_current,
// server_code_hooks).
//
// Running server code reads the current version and its hook
// configuration at every execution and every hook event, so both are
// cached: per app, the current version and its hook configuration
// (CurrentHookConfig), and per version its script (LoadVersion). The
// caches hold while the servercode counter keeps its value; every change
// of the current version, of a hook configuration, and every delete of a
// version bumps it. A change made on this node is seen here at once; one
// made on another node within CheckInterval (SetCheckInterval), the time
// between two reads of the counter.
type ServerCodeService struct {
	db *DB
	// current caches, per app, the current version and its hook
	// configuration; scripts, per app and version ID, a version and its
	// script (versions never change, but may be deleted).
	current *versioned[string, currentHooks]
	scripts *versioned[versionKey, loadedVersion]
}

var _ kumo.ServerCodeService = (*ServerCodeService)(nil)

// DefaultServerCodeCheckInterval is how long a change of server code made
// on another node may stay unseen on this one.
const DefaultServerCodeCheckInterval = 2 * time.Second

const (
	counterServerCode      = "servercode"
	maxCachedServerCode    = 10_000
	serverCodeVersionChars = "abcdefghijklmnopqrstuvwxyz0123456789"
)

type currentHooks struct {
	versionID string // "" when the app has no current version
	cfg       kumo.HookConfig
	hasConfig bool // the current version has a hook configuration
}

type versionKey struct{ appID, id string }

type loadedVersion struct {
	v      kumo.ServerCodeVersion
	script string
}

func newServerCodeService(db *DB) *ServerCodeService {
	ms := DefaultServerCodeCheckInterval.Milliseconds()
	return &ServerCodeService{
		db:      db,
		current: newVersioned[string, currentHooks](db, counterServerCode, ms, maxCachedServerCode),
		scripts: newVersioned[versionKey, loadedVersion](db, counterServerCode, ms, maxCachedServerCode),
	}
}

// SetCheckInterval sets how long a change made on another node may stay
// unseen here (DefaultServerCodeCheckInterval; 0: the counter is read at
// every call). Call it before the store is used.
func (s *ServerCodeService) SetCheckInterval(d time.Duration) {
	s.current.interval = d.Milliseconds()
	s.scripts.interval = d.Milliseconds()
}

func adminOnly(c kumo.Caller, what string) error {
	if !c.IsAdmin() {
		return kumo.Unauthorized(c, "Only the app admin may %s", what)
	}
	return nil
}

func versionNotFound(appID, id string) error {
	if id == kumo.CurrentVersion {
		return kumo.Errorf(kumo.ErrServerCodeVersionNotFound, "App %s has no current server code version", appID).With("versionID", id)
	}
	return kumo.Errorf(kumo.ErrServerCodeVersionNotFound, "Server code version %s was not found", id).With("versionID", id)
}

// Deploy implements kumo.ServerCodeService. An environment version ""
// is "0"; others than "0" and "6" are INVALID_INPUT_DATA.
func (s *ServerCodeService) Deploy(ctx context.Context, c kumo.Caller, script, environmentVersion string) (kumo.ServerCodeVersion, error) {
	if err := adminOnly(c, "deploy server code"); err != nil {
		return kumo.ServerCodeVersion{}, err
	}
	switch environmentVersion {
	case "":
		environmentVersion = kumo.EnvironmentV0
	case kumo.EnvironmentV0, kumo.EnvironmentV6:
	default:
		return kumo.ServerCodeVersion{}, kumo.Errorf(kumo.ErrInvalidInputData, "environmentVersion is %q or %q, not %q", kumo.EnvironmentV0, kumo.EnvironmentV6, environmentVersion)
	}
	v := kumo.ServerCodeVersion{ID: kumo.RandomString(25, serverCodeVersionChars), EnvironmentVersion: environmentVersion}
	err := s.db.writeTx(ctx, func(tx *Tx) error {
		v.CreatedAt = s.db.now()
		v.ModifiedAt = v.CreatedAt
		_, err := tx.Exec(ctx, `INSERT INTO server_code_versions (app_id, id, script, environment_version, created_at, modified_at)
			VALUES (?, ?, ?, ?, ?, ?)`, c.AppID, v.ID, script, v.EnvironmentVersion, v.CreatedAt, v.ModifiedAt)
		return err
	})
	if err != nil {
		return kumo.ServerCodeVersion{}, err
	}
	return v, nil
}

// Versions implements kumo.ServerCodeService: oldest first.
func (s *ServerCodeService) Versions(ctx context.Context, c kumo.Caller) ([]kumo.ServerCodeVersion, error) {
	if err := adminOnly(c, "list server code versions"); err != nil {
		return nil, err
	}
	rows, err := s.db.query(ctx, `SELECT v.id, v.environment_version, v.created_at, v.modified_at, COALESCE(c.version_id, '')
		FROM server_code_versions v LEFT JOIN server_code_current c ON c.app_id = v.app_id
		WHERE v.app_id = ? ORDER BY v.created_at, v.id`, c.AppID)
	if err != nil {
		return nil, s.db.readErr(err)
	}
	defer rows.Close()
	out := []kumo.ServerCodeVersion{}
	for rows.Next() {
		var v kumo.ServerCodeVersion
		var current string
		if err := rows.Scan(&v.ID, &v.EnvironmentVersion, &v.CreatedAt, &v.ModifiedAt, &current); err != nil {
			return nil, err
		}
		v.Current = v.ID == current
		out = append(out, v)
	}
	return out, s.db.readErr(rows.Err())
}

// Script implements kumo.ServerCodeService ("current" names the current
// version).
func (s *ServerCodeService) Script(ctx context.Context, c kumo.Caller, versionID string) (string, error) {
	if err := adminOnly(c, "read server code"); err != nil {
		return "", err
	}
	_, script, err := s.LoadVersion(ctx, c.AppID, versionID)
	return script, err
}

// DeleteVersion implements kumo.ServerCodeService. Deleting the current
// version leaves the app without a current version.
func (s *ServerCodeService) DeleteVersion(ctx context.Context, c kumo.Caller, versionID string) error {
	if err := adminOnly(c, "delete server code"); err != nil {
		return err
	}
	return s.db.writeTx(ctx, func(tx *Tx) error {
		id, err := resolveVersion(ctx, tx, c.AppID, versionID)
		if err != nil {
			return err
		}
		for _, q := range []string{
			"DELETE FROM server_code_versions WHERE app_id = ? AND id = ?",
			"DELETE FROM server_code_hooks WHERE app_id = ? AND version_id = ?",
			"DELETE FROM server_code_current WHERE app_id = ? AND version_id = ?",
		} {
			if _, err := tx.Exec(ctx, q, c.AppID, id); err != nil {
				return err
			}
		}
		return bumpCounter(ctx, tx, counterServerCode)
	})
}

// resolveVersion returns the ID of version ("current" or an ID) if the
// app has it, SERVER_CODE_VERSION_NOT_FOUND if not.
func resolveVersion(ctx context.Context, tx *Tx, appID, version string) (string, error) {
	var id string
	var err error
	if version == kumo.CurrentVersion {
		err = tx.QueryRow(ctx, "SELECT version_id FROM server_code_current WHERE app_id = ?", appID).Scan(&id)
	} else {
		err = tx.QueryRow(ctx, "SELECT id FROM server_code_versions WHERE app_id = ? AND id = ?", appID, version).Scan(&id)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return "", versionNotFound(appID, version)
	}
	return id, err
}

// SetCurrent implements kumo.ServerCodeService.
func (s *ServerCodeService) SetCurrent(ctx context.Context, c kumo.Caller, versionID string) error {
	if err := adminOnly(c, "set the current server code version"); err != nil {
		return err
	}
	return s.db.writeTx(ctx, func(tx *Tx) error {
		id, err := resolveVersion(ctx, tx, c.AppID, versionID)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "DELETE FROM server_code_current WHERE app_id = ?", c.AppID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "INSERT INTO server_code_current (app_id, version_id) VALUES (?, ?)", c.AppID, id); err != nil {
			return err
		}
		return bumpCounter(ctx, tx, counterServerCode)
	})
}

// Current implements kumo.ServerCodeService.
func (s *ServerCodeService) Current(ctx context.Context, c kumo.Caller) (string, error) {
	if err := adminOnly(c, "read the current server code version"); err != nil {
		return "", err
	}
	var id string
	err := s.db.queryRow(ctx, "SELECT version_id FROM server_code_current WHERE app_id = ?", c.AppID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", versionNotFound(c.AppID, kumo.CurrentVersion)
	}
	return id, s.db.readErr(err)
}

// ClearCurrent implements kumo.ServerCodeService (an app without a
// current version is left as it is).
func (s *ServerCodeService) ClearCurrent(ctx context.Context, c kumo.Caller) error {
	if err := adminOnly(c, "clear the current server code version"); err != nil {
		return err
	}
	return s.db.writeTx(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(ctx, "DELETE FROM server_code_current WHERE app_id = ?", c.AppID); err != nil {
			return err
		}
		return bumpCounter(ctx, tx, counterServerCode)
	})
}

// PutHookConfig implements kumo.ServerCodeService ("current" names the
// current version). cfg.Raw is what is stored.
func (s *ServerCodeService) PutHookConfig(ctx context.Context, c kumo.Caller, versionID string, cfg kumo.HookConfig) error {
	if err := adminOnly(c, "deploy a hook configuration"); err != nil {
		return err
	}
	schedules := 0
	if len(cfg.Schedules) > 0 {
		schedules = 1
	}
	return s.db.writeTx(ctx, func(tx *Tx) error {
		id, err := resolveVersion(ctx, tx, c.AppID, versionID)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "DELETE FROM server_code_hooks WHERE app_id = ? AND version_id = ?", c.AppID, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO server_code_hooks (app_id, version_id, config, schedules, modified_at)
			VALUES (?, ?, ?, ?, ?)`, c.AppID, id, string(cfg.Raw), schedules, s.db.now()); err != nil {
			return err
		}
		return bumpCounter(ctx, tx, counterServerCode)
	})
}

// HookConfig implements kumo.ServerCodeService ("current" names the
// current version): HOOK_CONFIGURATION_NOT_FOUND when the version has
// none or does not exist, SERVER_CODE_VERSION_NOT_FOUND for "current"
// when the app has no current version.
func (s *ServerCodeService) HookConfig(ctx context.Context, c kumo.Caller, versionID string) (kumo.HookConfig, error) {
	if err := adminOnly(c, "read a hook configuration"); err != nil {
		return kumo.HookConfig{}, err
	}
	id := versionID
	if versionID == kumo.CurrentVersion {
		cur, err := s.Current(ctx, c)
		if err != nil {
			return kumo.HookConfig{}, err
		}
		id = cur
	}
	var raw string
	err := s.db.queryRow(ctx, "SELECT config FROM server_code_hooks WHERE app_id = ? AND version_id = ?", c.AppID, id).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return kumo.HookConfig{}, kumo.Errorf(kumo.ErrHookConfigNotFound, "Server code version %s has no hook configuration", versionID).With("versionID", versionID)
	}
	if err != nil {
		return kumo.HookConfig{}, s.db.readErr(err)
	}
	return kumo.ParseHookConfig([]byte(raw))
}

// DeleteHookConfig implements kumo.ServerCodeService ("current" names
// the current version): HOOK_CONFIGURATION_NOT_FOUND when there is none.
func (s *ServerCodeService) DeleteHookConfig(ctx context.Context, c kumo.Caller, versionID string) error {
	if err := adminOnly(c, "delete a hook configuration"); err != nil {
		return err
	}
	return s.db.writeTx(ctx, func(tx *Tx) error {
		id, err := resolveVersion(ctx, tx, c.AppID, versionID)
		if kumo.ErrorCode(err) == kumo.ErrServerCodeVersionNotFound {
			id = versionID // a deleted version: its configuration went with it
		} else if err != nil {
			return err
		}
		res, err := tx.Exec(ctx, "DELETE FROM server_code_hooks WHERE app_id = ? AND version_id = ?", c.AppID, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return kumo.Errorf(kumo.ErrHookConfigNotFound, "Server code version %s has no hook configuration", versionID).With("versionID", versionID)
		}
		return bumpCounter(ctx, tx, counterServerCode)
	})
}

// CurrentHookConfig returns the app's current version and its hook
// configuration; ok is false when the app has no current version or it
// has no hook configuration (versionID is then the current version's, or
// ""). It is cached: see ServerCodeService.
func (s *ServerCodeService) CurrentHookConfig(ctx context.Context, appID string) (cfg kumo.HookConfig, versionID string, ok bool, err error) {
	cur, err := s.currentHooks(ctx, appID)
	if err != nil {
		return kumo.HookConfig{}, "", false, err
	}
	return cur.cfg, cur.versionID, cur.hasConfig, nil
}

func (s *ServerCodeService) currentHooks(ctx context.Context, appID string) (currentHooks, error) {
	cur, ok, gen, err := s.current.get(ctx, appID)
	if err != nil || ok {
		return cur, err
	}
	cur = currentHooks{}
	var raw sql.NullString
	err = s.db.queryRow(ctx, `SELECT c.version_id, h.config FROM server_code_current c
		LEFT JOIN server_code_hooks h ON h.app_id = c.app_id AND h.version_id = c.version_id
		WHERE c.app_id = ?`, appID).Scan(&cur.versionID, &raw)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return currentHooks{}, s.db.readErr(err)
	case raw.Valid:
		cfg, err := kumo.ParseHookConfig([]byte(raw.String))
		if err != nil {
			return currentHooks{}, err
		}
		cur.cfg, cur.hasConfig = cfg, true
	}
	s.current.put(gen, appID, cur)
	return cur, nil
}

// AppsWithSchedules returns the apps whose current version's hook
// configuration has scheduled jobs, in ID order (for the scheduler; not
// cached).
func (s *ServerCodeService) AppsWithSchedules(ctx context.Context) ([]string, error) {
	rows, err := s.db.query(ctx, `SELECT c.app_id FROM server_code_current c
		JOIN server_code_hooks h ON h.app_id = c.app_id AND h.version_id = c.version_id
		WHERE h.schedules = 1 ORDER BY c.app_id`)
	if err != nil {
		return nil, s.db.readErr(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var app string
		if err := rows.Scan(&app); err != nil {
			return nil, err
		}
		out = append(out, app)
	}
	return out, s.db.readErr(rows.Err())
}

// LoadVersion implements kumo.ServerCodeService. Both the current
// pointer and the scripts are cached (see ServerCodeService), so that an
// execution reads the database only after a change.
func (s *ServerCodeService) LoadVersion(ctx context.Context, appID, version string) (kumo.ServerCodeVersion, string, error) {
	cur, err := s.currentHooks(ctx, appID)
	if err != nil {
		return kumo.ServerCodeVersion{}, "", err
	}
	id := version
	if version == kumo.CurrentVersion {
		if cur.versionID == "" {
			return kumo.ServerCodeVersion{}, "", versionNotFound(appID, version)
		}
		id = cur.versionID
	}
	k := versionKey{appID, id}
	lv, ok, gen, err := s.scripts.get(ctx, k)
	if err != nil {
		return kumo.ServerCodeVersion{}, "", err
	}
	if !ok {
		lv.v.ID = id
		err := s.db.queryRow(ctx, `SELECT script, environment_version, created_at, modified_at FROM server_code_versions
			WHERE app_id = ? AND id = ?`, appID, id).Scan(&lv.script, &lv.v.EnvironmentVersion, &lv.v.CreatedAt, &lv.v.ModifiedAt)
		if errors.Is(err, sql.ErrNoRows) {
			return kumo.ServerCodeVersion{}, "", versionNotFound(appID, version)
		}
		if err != nil {
			return kumo.ServerCodeVersion{}, "", s.db.readErr(err)
		}
		s.scripts.put(gen, k, lv)
	}
	v := lv.v
	v.Current = v.ID == cur.versionID
	return v, lv.script, nil
}
