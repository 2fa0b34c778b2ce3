package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/kumo-iot/kumo"
)

// Login implements kumo.TokenService.
func (db *DB) Login(ctx context.Context, appID string, r kumo.LoginRequest) (kumo.Token, error) {
	app, err := db.FindApp(ctx, appID)
	if err != nil {
		return kumo.Token{}, err
	}
	switch r.Grant() {
	case kumo.GrantClientCredentials:
		switch r.ClientID {
		case app.ClientID:
			ok, err := db.checkClientSecret(ctx, app.ID, r.ClientSecret)
			if err != nil {
				return kumo.Token{}, err
			}
			if !ok {
				return kumo.Token{}, kumo.ErrLoginFailed()
			}
			return db.issueToken(ctx, kumo.Caller{AppID: app.ID, Kind: kumo.Admin, ID: app.ClientID}, r.ExpiresAt)
		case app.ID, app.Key:
			// The app-level ("anonymous") token: client_id is the app ID and
			// the secret is not checked (ebisu sends "dummy"). It grants no
			// more than an anonymous request already has.
			return db.issueToken(ctx, kumo.Caller{AppID: app.ID, Kind: kumo.Anonymous}, r.ExpiresAt)
		}
		return kumo.Token{}, kumo.ErrLoginFailed()
	case kumo.GrantPassword:
		if r.IsThingLogin() {
			return db.loginThing(ctx, app.ID, r)
		}
		return db.loginUser(ctx, app.ID, r)
	case kumo.GrantRefreshToken:
		return kumo.Token{}, kumo.ErrLoginFailed().With("error_description", "Refresh tokens are not enabled for this app")
	}
	return kumo.Token{}, kumo.Errorf(kumo.ErrInvalidGrant, "Unsupported grant_type %q", r.GrantType).
		With("error", "unsupported_grant_type").With("error_description", "Unsupported grant_type")
}

func (db *DB) issueToken(ctx context.Context, c kumo.Caller, expiresAt int64) (kumo.Token, error) {
	tok := kumo.Token{AccessToken: kumo.NewToken(), ExpiresIn: kumo.NeverExpires, PrincipalID: c.ID}
	now := db.now()
	if expiresAt > 0 {
		tok.ExpiresIn = max(0, (expiresAt-now)/1000)
	}
	if c.Kind == kumo.Anonymous {
		tok.PrincipalID = "ANONYMOUS_" + c.AppID
	}
	err := db.writeTx(ctx, func(tx *Tx) error {
		return db.insertToken(ctx, tx, tok.AccessToken, c, expiresAt)
	})
	return tok, err
}

func (db *DB) insertToken(ctx context.Context, tx *Tx, token string, c kumo.Caller, expiresAt int64) error {
	_, err := tx.Exec(ctx, "INSERT INTO tokens (key, app_id, kind, principal_id, expires, created) VALUES (?, ?, ?, ?, ?, ?)",
		kumo.TokenKey(token), c.AppID, int(c.Kind), c.ID, expiresAt, db.now())
	return err
}

// Authenticate implements kumo.TokenService.
func (db *DB) Authenticate(ctx context.Context, appID, token string) (kumo.Caller, error) {
	key := kumo.TokenKey(token)
	cc, cached := db.cachedToken(ctx, key)
	c, expires := cc.caller, cc.expires
	var err error
	if !cached {
		var kind int
		err = db.queryRow(ctx, "SELECT app_id, kind, principal_id, expires FROM tokens WHERE key = ?", key).
			Scan(&c.AppID, &kind, &c.ID, &expires)
		c.Kind = kumo.CallerKind(kind)
		if err == nil {
			db.cacheToken(key, cachedCaller{caller: c, expires: expires})
		}
	}
	switch {
	case errors.Is(err, sql.ErrNoRows) || err == nil && (c.AppID != appID || expires > 0 && expires < db.now()):
		return kumo.Caller{}, kumo.Errorf(kumo.ErrWrongToken, "The provided token is not valid").
			With("appID", appID).With("accessToken", token)
	case err != nil:
		return kumo.Caller{}, err
	}
	return c, nil
}

func (db *DB) loginThing(ctx context.Context, appID string, r kumo.LoginRequest) (kumo.Token, error) {
	col, val := "id", r.Username
	if v, ok := strings.CutPrefix(r.Username, "VENDOR_THING_ID:"); ok {
		col, val = "vendor_thing_id", v
	}
	var id, hash string
	var disabled bool
	err := db.queryRow(ctx, "SELECT id, password_hash, disabled FROM things WHERE app_id = ? AND "+col+" = ?", appID, val).
		Scan(&id, &hash, &disabled)
	if errors.Is(err, sql.ErrNoRows) {
		db.Hasher.CheckPassword("", r.Password) // same work as a wrong password
		return kumo.Token{}, kumo.ErrLoginFailed()
	}
	if err != nil {
		return kumo.Token{}, err
	}
	if !db.Hasher.CheckPassword(hash, r.Password) {
		return kumo.Token{}, kumo.ErrLoginFailed()
	}
	if disabled {
		return kumo.Token{}, kumo.ErrLoginFailed().With("error_description", "The thing is disabled")
	}
	return db.issueToken(ctx, kumo.Caller{AppID: appID, Kind: kumo.ThingCaller, ID: id}, r.ExpiresAt)
}

func (db *DB) loginUser(ctx context.Context, appID string, r kumo.LoginRequest) (kumo.Token, error) {
	col, val := userLoginColumn(r.Username)
	var id, hash string
	var disabled bool
	err := db.queryRow(ctx, "SELECT id, password_hash, disabled FROM users WHERE app_id = ? AND "+col+" = ?", appID, val).
		Scan(&id, &hash, &disabled)
	if errors.Is(err, sql.ErrNoRows) {
		db.Hasher.CheckPassword("", r.Password)
		return kumo.Token{}, kumo.ErrLoginFailed()
	}
	if err != nil {
		return kumo.Token{}, err
	}
	if !db.Hasher.CheckPassword(hash, r.Password) {
		return kumo.Token{}, kumo.ErrLoginFailed()
	}
	if disabled {
		return kumo.Token{}, kumo.ErrLoginFailed().With("error_description", "The user is disabled")
	}
	return db.issueToken(ctx, kumo.Caller{AppID: appID, Kind: kumo.UserCaller, ID: id}, r.ExpiresAt)
}

// userLoginColumn maps a login username to the column it names: a plain
// login name, an email address, an international phone number, or one of
// the LOGIN_NAME:/EMAIL:/PHONE: forms.
func userLoginColumn(u string) (string, string) {
	switch {
	case strings.HasPrefix(u, "LOGIN_NAME:"):
		return "login_name", u[len("LOGIN_NAME:"):]
	case strings.HasPrefix(u, "EMAIL:"):
		return "email", u[len("EMAIL:"):]
	case strings.HasPrefix(u, "PHONE:"):
		return "phone", u[len("PHONE:"):]
	case strings.Contains(u, "@"):
		return "email", u
	case strings.HasPrefix(u, "+"):
		return "phone", u
	}
	return "login_name", u
}
