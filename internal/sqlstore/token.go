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
			return db.issueToken(ctx, kumo.Caller{AppID: app.ID, Kind: kumo.Admin, ID: app.ClientID}, r.ExpiresAt, kumo.AppParams{}, false)
		case app.ID, app.Key:
			// The app-level ("anonymous") token: client_id is the app ID and
			// the secret is not checked (ebisu sends "dummy"). It grants no
			// more than an anonymous request already has.
			return db.issueToken(ctx, kumo.Caller{AppID: app.ID, Kind: kumo.Anonymous}, r.ExpiresAt, kumo.AppParams{}, false)
		}
		return kumo.Token{}, kumo.ErrLoginFailed()
	case kumo.GrantPassword:
		p, err := db.params(ctx, app.ID)
		if err != nil {
			return kumo.Token{}, err
		}
		if r.IsThingLogin() {
			return db.loginThing(ctx, app.ID, p, r)
		}
		return db.loginUser(ctx, app.ID, p, r)
	case kumo.GrantRefreshToken:
		return db.refresh(ctx, app.ID, r)
	}
	return kumo.Token{}, kumo.Errorf(kumo.ErrInvalidGrant, "Unsupported grant_type %q", r.GrantType).
		With("error", "unsupported_grant_type").With("error_description", "Unsupported grant_type")
}

// issueToken issues an access token to c, and a refresh token with it
// when withRefresh is set and the app has refresh tokens on. A login that
// asks for no expiry gets the app's default lifetime.
func (db *DB) issueToken(ctx context.Context, c kumo.Caller, expiresAt int64, p kumo.AppParams, withRefresh bool) (kumo.Token, error) {
	tok := newToken(db.now(), c, &expiresAt, p, withRefresh)
	err := db.writeTx(ctx, func(tx *Tx) error {
		return db.insertTokens(ctx, tx, tok, c, expiresAt)
	})
	return tok, err
}

// newToken makes the tokens of a login at now (nothing is stored yet);
// *expiresAt becomes the app's default when the login asked for none.
func newToken(now int64, c kumo.Caller, expiresAt *int64, p kumo.AppParams, withRefresh bool) kumo.Token {
	tok := kumo.Token{AccessToken: kumo.NewToken(), ExpiresIn: kumo.NeverExpires, PrincipalID: c.ID}
	if *expiresAt <= 0 && p.AccessTokenExpirationSeconds > 0 {
		*expiresAt = now + p.AccessTokenExpirationSeconds*1000
	}
	if *expiresAt > 0 {
		tok.ExpiresIn = max(0, (*expiresAt-now)/1000)
	}
	if c.Kind == kumo.Anonymous {
		tok.PrincipalID = "ANONYMOUS_" + c.AppID
	}
	if withRefresh && p.RefreshTokenEnabled {
		tok.RefreshToken = kumo.NewToken()
	}
	return tok
}

// insertTokens stores tok's access token and, when it has one, its
// refresh token.
func (db *DB) insertTokens(ctx context.Context, tx *Tx, tok kumo.Token, c kumo.Caller, expiresAt int64) error {
	if err := db.insertToken(ctx, tx, tok.AccessToken, c, expiresAt); err != nil || tok.RefreshToken == "" {
		return err
	}
	_, err := tx.Exec(ctx, "INSERT INTO refresh_tokens (key, app_id, kind, principal_id, access_key, created) VALUES (?, ?, ?, ?, ?, ?)",
		kumo.TokenKey(tok.RefreshToken), c.AppID, int(c.Kind), c.ID, kumo.TokenKey(tok.AccessToken), db.now())
	return err
}

// refresh trades a refresh token for a new access token and refresh
// token; both old ones stop working (a refresh token is used once).
func (db *DB) refresh(ctx context.Context, appID string, r kumo.LoginRequest) (kumo.Token, error) {
	p, err := db.params(ctx, appID)
	if err != nil {
		return kumo.Token{}, err
	}
	if !p.RefreshTokenEnabled {
		return kumo.Token{}, kumo.ErrWrongRefreshToken().With("error_description", "Refresh tokens are not enabled for this app")
	}
	key := kumo.TokenKey(r.RefreshToken)
	var tok kumo.Token
	err = db.writeTx(ctx, func(tx *Tx) error {
		var (
			kind      int
			accessKey string
		)
		c := kumo.Caller{AppID: appID}
		err := tx.QueryRow(ctx, "SELECT kind, principal_id, access_key FROM refresh_tokens WHERE key = ? AND app_id = ?", key, appID).
			Scan(&kind, &c.ID, &accessKey)
		if errors.Is(err, sql.ErrNoRows) {
			return kumo.ErrWrongRefreshToken()
		}
		if err != nil {
			return err
		}
		c.Kind = kumo.CallerKind(kind)
		if _, err := tx.Exec(ctx, "DELETE FROM refresh_tokens WHERE key = ?", key); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "DELETE FROM tokens WHERE key = ?", accessKey); err != nil {
			return err
		}
		if err := forgetTokens(ctx, tx); err != nil {
			return err
		}
		expiresAt := r.ExpiresAt
		tok = newToken(db.now(), c, &expiresAt, p, true)
		return db.insertTokens(ctx, tx, tok, c, expiresAt)
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

func (db *DB) loginThing(ctx context.Context, appID string, p kumo.AppParams, r kumo.LoginRequest) (kumo.Token, error) {
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
	return db.passwordLogin(ctx, kumo.Caller{AppID: appID, Kind: kumo.ThingCaller, ID: id}, hash, disabled, p, r)
}

func (db *DB) loginUser(ctx context.Context, appID string, p kumo.AppParams, r kumo.LoginRequest) (kumo.Token, error) {
	where, args := userWhere(userLoginColumn(r.Username))
	var id, hash string
	var disabled bool
	err := db.queryRow(ctx, "SELECT id, password_hash, disabled FROM users WHERE app_id = ? AND "+where, append([]any{appID}, args...)...).
		Scan(&id, &hash, &disabled)
	if errors.Is(err, sql.ErrNoRows) {
		db.Hasher.CheckPassword("", r.Password)
		return kumo.Token{}, kumo.ErrLoginFailed()
	}
	if err != nil {
		return kumo.Token{}, err
	}
	return db.passwordLogin(ctx, kumo.Caller{AppID: appID, Kind: kumo.UserCaller, ID: id}, hash, disabled, p, r)
}

// passwordLogin checks the password of a user or thing c, with the app's
// lockout: MaxLoginAttempts failures within LoginAttemptsTimeoutSeconds
// lock it for LoginLockPeriodSeconds, during which even the right
// password is refused. A successful login clears the count.
func (db *DB) passwordLogin(ctx context.Context, c kumo.Caller, hash string, disabled bool, p kumo.AppParams, r kumo.LoginRequest) (kumo.Token, error) {
	now := db.now()
	if p.MaxLoginAttempts > 0 {
		var until int64
		err := db.queryRow(ctx, "SELECT locked_until FROM login_failures WHERE app_id = ? AND principal_id = ?", c.AppID, c.ID).Scan(&until)
		switch {
		case err == nil && until > now:
			db.Hasher.CheckPassword(hash, r.Password) // the same work as an unlocked login
			return kumo.Token{}, kumo.ErrLoginLocked()
		case err != nil && !errors.Is(err, sql.ErrNoRows):
			return kumo.Token{}, err
		}
	}
	if !db.Hasher.CheckPassword(hash, r.Password) {
		if p.MaxLoginAttempts > 0 {
			if err := db.loginFailed(ctx, c, p, now); err != nil {
				return kumo.Token{}, err
			}
		}
		return kumo.Token{}, kumo.ErrLoginFailed()
	}
	if disabled {
		what := "user"
		if c.Kind == kumo.ThingCaller {
			what = "thing"
		}
		return kumo.Token{}, kumo.ErrLoginFailed().With("error_description", "The "+what+" is disabled")
	}
	expiresAt := r.ExpiresAt
	tok := newToken(now, c, &expiresAt, p, true)
	err := db.writeTx(ctx, func(tx *Tx) error {
		if p.MaxLoginAttempts > 0 {
			if _, err := tx.Exec(ctx, "DELETE FROM login_failures WHERE app_id = ? AND principal_id = ?", c.AppID, c.ID); err != nil {
				return err
			}
		}
		return db.insertTokens(ctx, tx, tok, c, expiresAt)
	})
	return tok, err
}

// loginFailed counts a failed login of c and locks it when the count
// reaches the app's maximum within its window.
func (db *DB) loginFailed(ctx context.Context, c kumo.Caller, p kumo.AppParams, now int64) error {
	return db.writeTx(ctx, func(tx *Tx) error {
		var failures, since int64
		err := tx.QueryRow(ctx, "SELECT failures, since FROM login_failures WHERE app_id = ? AND principal_id = ?", c.AppID, c.ID).
			Scan(&failures, &since)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if errors.Is(err, sql.ErrNoRows) || failures == 0 || p.LoginAttemptsTimeoutSeconds > 0 && now-since > p.LoginAttemptsTimeoutSeconds*1000 {
			failures, since = 0, now
		}
		failures++
		var lockedUntil int64
		if failures >= p.MaxLoginAttempts {
			failures, lockedUntil = 0, now+p.LoginLockPeriodSeconds*1000
		}
		_, err = tx.Exec(ctx, `INSERT INTO login_failures (app_id, principal_id, failures, since, locked_until) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (app_id, principal_id) DO UPDATE SET failures = excluded.failures, since = excluded.since, locked_until = excluded.locked_until`,
			c.AppID, c.ID, failures, since, lockedUntil)
		return err
	})
}

// userWhere returns the condition selecting the user whose column col
// holds val. A phone number in Kii's local form "{CC}-{number}"
// (PHONE:JP-09012341234) selects the user registered with that number
// and that country.
func userWhere(col, val string) (string, []any) {
	if col == "phone" && len(val) > 3 && val[2] == '-' && isUpperASCII(val[:2]) {
		return "phone = ? AND country = ?", []any{val[3:], val[:2]}
	}
	return col + " = ?", []any{val}
}

func isUpperASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
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
