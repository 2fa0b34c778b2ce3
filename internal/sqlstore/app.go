package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"sync"

	"github.com/kumo-iot/kumo"
)

// AppService implements kumo.AppService and kumo.AppParamsService: apps, their
// credentials and their parameters. Apps are cached by ID and by key.
type AppService struct {
	db *DB

	// cache holds apps by ID and by key. Apps are never deleted or
	// renamed, so an entry stays true; a miss always asks the database.
	cache sync.Map
}

var _ kumo.AppService = (*AppService)(nil)
var _ kumo.AppParamsService = (*AppService)(nil)

// CreateApp implements kumo.AppService.
func (s *AppService) CreateApp(ctx context.Context, a kumo.AppCreate) (kumo.AppCredentials, error) {
	if a.ID == "" {
		a.ID = kumo.RandomHex(4)
	}
	if a.Key == "" {
		a.Key = kumo.RandomHex(16)
	}
	if a.Name == "" {
		a.Name = a.ID
	}
	if !kumo.ValidAppID(a.ID) {
		return kumo.AppCredentials{}, kumo.Errorf(kumo.ErrInvalidInputData, "app ID %q is not valid: 1 to 64 characters of [A-Za-z0-9_-]", a.ID)
	}
	if !kumo.ValidAppID(a.Key) {
		return kumo.AppCredentials{}, kumo.Errorf(kumo.ErrInvalidInputData, "app key %q is not valid: 1 to 64 characters of [A-Za-z0-9_-]", a.Key)
	}
	creds := kumo.AppCredentials{AppID: a.ID, AppKey: a.Key, ClientID: kumo.RandomHex(16), ClientSecret: kumo.RandomHex(32)}
	err := s.db.writeTx(ctx, func(tx *Tx) error {
		var n int
		// An app's key may stand for its ID in paths, so IDs and keys share
		// one namespace.
		err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM apps WHERE id IN (?, ?) OR app_key IN (?, ?)", a.ID, a.Key, a.ID, a.Key).Scan(&n)
		if err != nil {
			return err
		}
		if n > 0 {
			return kumo.Errorf(kumo.ErrInvalidInputData, "app ID or key already in use")
		}
		_, err = tx.Exec(ctx, `INSERT INTO apps (id, app_key, name, client_id, client_secret_hash, created)
			VALUES (?, ?, ?, ?, ?, ?)`, a.ID, a.Key, a.Name, creds.ClientID, kumo.TokenKey(creds.ClientSecret), s.db.now())
		return err
	})
	if err != nil {
		return kumo.AppCredentials{}, err
	}
	return creds, nil
}

// FindApp implements kumo.AppService.
func (s *AppService) FindApp(ctx context.Context, idOrKey string) (kumo.App, error) {
	if v, ok := s.cache.Load(idOrKey); ok {
		return v.(kumo.App), nil
	}
	var a kumo.App
	err := s.db.queryRow(ctx, "SELECT id, app_key, name, client_id, created FROM apps WHERE id = ?", idOrKey).
		Scan(&a.ID, &a.Key, &a.Name, &a.ClientID, &a.Created)
	if errors.Is(err, sql.ErrNoRows) {
		err = s.db.queryRow(ctx, "SELECT id, app_key, name, client_id, created FROM apps WHERE app_key = ?", idOrKey).
			Scan(&a.ID, &a.Key, &a.Name, &a.ClientID, &a.Created)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return a, kumo.Errorf(kumo.ErrAppNotFound, "The application %s was not found", idOrKey).With("appID", idOrKey)
	}
	if err != nil {
		return a, err
	}
	s.cache.Store(idOrKey, a)
	return a, nil
}

// ListApps implements kumo.AppService.
func (s *AppService) ListApps(ctx context.Context) ([]kumo.App, error) {
	rows, err := s.db.query(ctx, "SELECT id, app_key, name, client_id, created FROM apps ORDER BY created, id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var apps []kumo.App
	for rows.Next() {
		var a kumo.App
		if err := rows.Scan(&a.ID, &a.Key, &a.Name, &a.ClientID, &a.Created); err != nil {
			return nil, err
		}
		apps = append(apps, a)
	}
	return apps, rows.Err()
}

// RotateClientSecret implements kumo.AppService. The admin's tokens (its
// principal is the client ID) go with the old secret, on every node within
// the token cache's check interval.
func (s *AppService) RotateClientSecret(ctx context.Context, idOrKey string) (kumo.AppCredentials, error) {
	app, err := s.FindApp(ctx, idOrKey)
	if err != nil {
		return kumo.AppCredentials{}, err
	}
	creds := kumo.AppCredentials{AppID: app.ID, AppKey: app.Key, ClientID: app.ClientID, ClientSecret: kumo.RandomHex(32)}
	err = s.db.writeTx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(ctx, "UPDATE apps SET client_secret_hash = ? WHERE id = ?", kumo.TokenKey(creds.ClientSecret), app.ID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return kumo.Errorf(kumo.ErrAppNotFound, "The application %s was not found", idOrKey).With("appID", idOrKey)
		}
		return revokeTokens(ctx, tx, app.ID, app.ClientID)
	})
	if err != nil {
		return kumo.AppCredentials{}, err
	}
	return creds, nil
}

// checkClientSecret reports whether secret is the admin secret of app.
func (s *AppService) checkClientSecret(ctx context.Context, appID, secret string) (bool, error) {
	var hash string
	err := s.db.queryRow(ctx, "SELECT client_secret_hash FROM apps WHERE id = ?", appID).Scan(&hash)
	if err != nil {
		return false, err
	}
	return hash == kumo.TokenKey(secret), nil
}

// params returns the parameters of an app (read each time: they are read
// only at logins and registrations, and the admin may change them on any
// node).
func (s *AppService) params(ctx context.Context, appID string) (kumo.AppParams, error) {
	var stored string
	if err := s.db.queryRow(ctx, "SELECT params FROM apps WHERE id = ?", appID).Scan(&stored); err != nil {
		return kumo.AppParams{}, err
	}
	return kumo.ParseAppParams([]byte(stored))
}

// AppParams implements kumo.AppParamsService.
func (s *AppService) AppParams(ctx context.Context, c kumo.Caller) (map[string]any, error) {
	if !c.IsAdmin() {
		return nil, kumo.Unauthorized(c, "Only the app admin may read the app's parameters")
	}
	var stored string
	if err := s.db.queryRow(ctx, "SELECT params FROM apps WHERE id = ?", c.AppID).Scan(&stored); err != nil {
		return nil, err
	}
	return decodeParams(stored)
}

// UpdateAppParams implements kumo.AppParamsService.
func (s *AppService) UpdateAppParams(ctx context.Context, c kumo.Caller, patch map[string]any) (map[string]any, error) {
	if !c.IsAdmin() {
		return nil, kumo.Unauthorized(c, "Only the app admin may change the app's parameters")
	}
	var out []byte
	err := s.db.writeTx(ctx, func(tx *Tx) error {
		var stored string
		if err := tx.QueryRow(ctx, "SELECT params FROM apps WHERE id = ?", c.AppID).Scan(&stored); err != nil {
			return err
		}
		var err error
		if out, err = kumo.MergeAppParams([]byte(stored), patch); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, "UPDATE apps SET params = ? WHERE id = ?", string(out), c.AppID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return decodeParams(string(out))
}

func decodeParams(stored string) (map[string]any, error) {
	m := map[string]any{}
	d := json.NewDecoder(strings.NewReader(stored))
	d.UseNumber()
	err := d.Decode(&m)
	return m, err
}
