package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/kumo-iot/kumo"
)

// TokenService implements kumo.TokenService: logins, refresh tokens and the
// resolution of access tokens to callers, through a cache of recent tokens.
type TokenService struct {
	db   *DB
	apps *AppService

	cache     *versioned[string, cachedCaller] // callers of recent tokens, by token key
	dummyOnce sync.Once                        // makes dummy
	dummy     string                           // a password hash no login matches (dummyHash)
}

// cachedCaller is the caller of a token, and its expiry.
type cachedCaller struct {
	caller  kumo.Caller
	expires int64 // epoch ms; 0 never
}

// The token cache is valid while the tokens counter keeps its value. The
// counter is read at most once per tokenCheckInterval, so a token revoked
// on another node stops working there within that interval (at once on
// the node that revoked it).
const (
	tokenCheckInterval = 1000 // ms
	maxCachedTokens    = 100_000
)

func newTokenService(db *DB) *TokenService {
	return &TokenService{db: db, cache: newVersioned[string, cachedCaller](db, counterTokens, tokenCheckInterval, maxCachedTokens)}
}

var _ kumo.TokenService = (*TokenService)(nil)

// Login implements kumo.TokenService.
func (s *TokenService) Login(ctx context.Context, appID string, r kumo.LoginRequest) (kumo.Token, error) {
	app, err := s.apps.FindApp(ctx, appID)
	if err != nil {
		return kumo.Token{}, err
	}
	switch r.Grant() {
	case kumo.GrantClientCredentials:
		switch r.ClientID {
		case app.ClientID:
			ok, err := s.apps.checkClientSecret(ctx, app.ID, r.ClientSecret)
			if err != nil {
				return kumo.Token{}, err
			}
			if !ok {
				return kumo.Token{}, kumo.ErrLoginFailed()
			}
			return s.issueToken(ctx, kumo.Caller{AppID: app.ID, Kind: kumo.Admin, ID: app.ClientID}, r.ExpiresAt, kumo.AppParams{}, false)
		case app.ID, app.Key:
			// The app-level ("anonymous") token: client_id is the app ID and
			// the secret is not checked (ebisu sends "dummy"). It grants no
			// more than an anonymous request already has.
			return s.issueToken(ctx, kumo.Caller{AppID: app.ID, Kind: kumo.Anonymous}, r.ExpiresAt, kumo.AppParams{}, false)
		}
		return kumo.Token{}, kumo.ErrLoginFailed()
	case kumo.GrantPassword:
		p, err := s.apps.params(ctx, app.ID)
		if err != nil {
			return kumo.Token{}, err
		}
		if r.IsThingLogin() {
			return s.loginThing(ctx, app.ID, p, r)
		}
		return s.loginUser(ctx, app.ID, p, r)
	case kumo.GrantRefreshToken:
		return s.refresh(ctx, app.ID, r)
	}
	return kumo.Token{}, kumo.Errorf(kumo.ErrInvalidGrant, "Unsupported grant_type %q", r.GrantType).
		With("error", "unsupported_grant_type").With("error_description", "Unsupported grant_type")
}

// issueToken issues an access token to c, and a refresh token with it
// when withRefresh is set and the app has refresh tokens on. A login that
// asks for no expiry gets the app's default lifetime.
func (s *TokenService) issueToken(ctx context.Context, c kumo.Caller, expiresAt int64, p kumo.AppParams, withRefresh bool) (kumo.Token, error) {
	tok := newToken(s.db.now(), c, &expiresAt, p, withRefresh)
	err := s.db.writeTx(ctx, func(tx *Tx) error {
		return s.insertTokens(ctx, tx, tok, c, expiresAt)
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
func (s *TokenService) insertTokens(ctx context.Context, tx *Tx, tok kumo.Token, c kumo.Caller, expiresAt int64) error {
	if err := s.insertToken(ctx, tx, tok.AccessToken, c, expiresAt); err != nil || tok.RefreshToken == "" {
		return err
	}
	_, err := tx.Exec(ctx, "INSERT INTO refresh_tokens (key, app_id, kind, principal_id, access_key, created) VALUES (?, ?, ?, ?, ?, ?)",
		kumo.TokenKey(tok.RefreshToken), c.AppID, int(c.Kind), c.ID, kumo.TokenKey(tok.AccessToken), s.db.now())
	return err
}

// refresh trades a refresh token for a new access token and refresh
// token; both old ones stop working (a refresh token is used once).
func (s *TokenService) refresh(ctx context.Context, appID string, r kumo.LoginRequest) (kumo.Token, error) {
	p, err := s.apps.params(ctx, appID)
	if err != nil {
		return kumo.Token{}, err
	}
	if !p.RefreshTokenEnabled {
		return kumo.Token{}, kumo.ErrWrongRefreshToken().With("error_description", "Refresh tokens are not enabled for this app")
	}
	key := kumo.TokenKey(r.RefreshToken)
	var tok kumo.Token
	err = s.db.writeTx(ctx, func(tx *Tx) error {
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
		res, err := tx.Exec(ctx, "DELETE FROM refresh_tokens WHERE key = ?", key)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 { // used meanwhile, on another node
			return kumo.ErrWrongRefreshToken()
		}
		if _, err := tx.Exec(ctx, "DELETE FROM tokens WHERE key = ?", accessKey); err != nil {
			return err
		}
		if err := forgetTokens(ctx, tx); err != nil {
			return err
		}
		expiresAt := r.ExpiresAt
		tok = newToken(s.db.now(), c, &expiresAt, p, true)
		return s.insertTokens(ctx, tx, tok, c, expiresAt)
	})
	return tok, err
}

func (s *TokenService) insertToken(ctx context.Context, tx *Tx, token string, c kumo.Caller, expiresAt int64) error {
	_, err := tx.Exec(ctx, "INSERT INTO tokens (key, app_id, kind, principal_id, expires, created) VALUES (?, ?, ?, ?, ?, ?)",
		kumo.TokenKey(token), c.AppID, int(c.Kind), c.ID, expiresAt, s.db.now())
	return err
}

// Authenticate implements kumo.TokenService.
func (s *TokenService) Authenticate(ctx context.Context, appID, token string) (kumo.Caller, error) {
	key := kumo.TokenKey(token)
	cc, cached, gen, err := s.cache.get(ctx, key)
	if err != nil {
		gen = -1 // the counter could not be read: ask the database, cache nothing
	}
	c, expires := cc.caller, cc.expires
	if !cached {
		var kind int
		err = s.db.queryRow(ctx, "SELECT app_id, kind, principal_id, expires FROM tokens WHERE key = ?", key).
			Scan(&c.AppID, &kind, &c.ID, &expires)
		c.Kind = kumo.CallerKind(kind)
		if err == nil {
			s.cache.put(gen, key, cachedCaller{caller: c, expires: expires})
		}
	}
	switch {
	case errors.Is(err, sql.ErrNoRows) || err == nil && (c.AppID != appID || expires > 0 && expires < s.db.now()):
		return kumo.Caller{}, kumo.Errorf(kumo.ErrWrongToken, "The provided token is not valid").
			With("appID", appID).With("accessToken", token)
	case err != nil:
		return kumo.Caller{}, err
	}
	return c, nil
}

func (s *TokenService) loginThing(ctx context.Context, appID string, p kumo.AppParams, r kumo.LoginRequest) (kumo.Token, error) {
	col, val := "id", r.Username
	if v, ok := strings.CutPrefix(r.Username, "VENDOR_THING_ID:"); ok {
		col, val = "vendor_thing_id", v
	}
	var id, hash string
	var disabled bool
	err := s.db.queryRow(ctx, "SELECT id, password_hash, disabled FROM things WHERE app_id = ? AND "+col+" = ?", appID, val).
		Scan(&id, &hash, &disabled)
	if errors.Is(err, sql.ErrNoRows) {
		s.db.Hasher.CheckPassword(s.dummyHash(), r.Password) // the same work as a wrong password
		return kumo.Token{}, kumo.ErrLoginFailed()
	}
	if err != nil {
		return kumo.Token{}, err
	}
	return s.passwordLogin(ctx, kumo.Caller{AppID: appID, Kind: kumo.ThingCaller, ID: id}, hash, disabled, p, r)
}

func (s *TokenService) loginUser(ctx context.Context, appID string, p kumo.AppParams, r kumo.LoginRequest) (kumo.Token, error) {
	where, args := userWhere(userLoginColumn(r.Username))
	var id, hash string
	var disabled bool
	err := s.db.queryRow(ctx, "SELECT id, password_hash, disabled FROM users WHERE app_id = ? AND "+where, append([]any{appID}, args...)...).
		Scan(&id, &hash, &disabled)
	if errors.Is(err, sql.ErrNoRows) {
		s.db.Hasher.CheckPassword(s.dummyHash(), r.Password) // the same work as a wrong password
		return kumo.Token{}, kumo.ErrLoginFailed()
	}
	if err != nil {
		return kumo.Token{}, err
	}
	return s.passwordLogin(ctx, kumo.Caller{AppID: appID, Kind: kumo.UserCaller, ID: id}, hash, disabled, p, r)
}

// passwordLogin checks the password of a user or thing c, with the app's
// lockout: MaxLoginAttempts failures within LoginAttemptsTimeoutSeconds
// lock it for LoginLockPeriodSeconds, during which even the right
// password is refused. Every attempt is counted as a failure *before* the
// password is checked (reserveAttempt), in a write, so that concurrent
// attempts cannot check more passwords than the limit; a success then
// takes its count back and clears the count (loginSucceeded).
func (s *TokenService) passwordLogin(ctx context.Context, c kumo.Caller, hash string, disabled bool, p kumo.AppParams, r kumo.LoginRequest) (kumo.Token, error) {
	lockout := p.MaxLoginAttempts > 0
	if lockout {
		if err := s.reserveAttempt(ctx, c, p); err != nil {
			if kumo.ErrorCode(err) == kumo.ErrInvalidGrant {
				s.db.Hasher.CheckPassword(hash, r.Password) // the same work as an unlocked login
			}
			return kumo.Token{}, err
		}
	}
	if hash == "" { // a pseudo user: no password matches, after the same work
		s.db.Hasher.CheckPassword(s.dummyHash(), r.Password)
		return kumo.Token{}, kumo.ErrLoginFailed()
	}
	if !s.db.Hasher.CheckPassword(hash, r.Password) {
		return kumo.Token{}, kumo.ErrLoginFailed() // the reservation stands as the failure
	}
	if disabled {
		what := "user"
		if c.Kind == kumo.ThingCaller {
			what = "thing"
		}
		return kumo.Token{}, kumo.ErrLoginFailed().With("error_description", "The "+what+" is disabled")
	}
	expiresAt := r.ExpiresAt
	tok := newToken(s.db.now(), c, &expiresAt, p, true)
	err := s.db.writeTx(ctx, func(tx *Tx) error {
		if lockout {
			if err := loginSucceeded(ctx, tx, c, p, s.db.now()); err != nil {
				return err
			}
		}
		return s.insertTokens(ctx, tx, tok, c, expiresAt)
	})
	return tok, err
}

// reserveAttempt counts a login attempt of c as a failure, within a write,
// and locks c when the count reaches the app's maximum. It returns Kii's
// "The login name is locked" while c is locked.
func (s *TokenService) reserveAttempt(ctx context.Context, c kumo.Caller, p kumo.AppParams) error {
	return s.db.writeTx(ctx, func(tx *Tx) error {
		now := s.db.now()
		var failures, since, lockedUntil int64
		err := tx.QueryRow(ctx, tx.db.locks.LockUpdate("SELECT failures, since, locked_until FROM login_failures WHERE app_id = ? AND principal_id = ?"),
			c.AppID, c.ID).Scan(&failures, &since, &lockedUntil)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if lockedUntil > now {
			return kumo.ErrLoginLocked()
		}
		if errors.Is(err, sql.ErrNoRows) || lockedUntil != 0 || // a lock that has ended starts a new count
			p.LoginAttemptsTimeoutSeconds > 0 && now-since > p.LoginAttemptsTimeoutSeconds*1000 {
			failures, since, lockedUntil = 0, now, 0
		}
		failures++
		if failures >= p.MaxLoginAttempts {
			lockedUntil = now + p.LoginLockPeriodSeconds*1000
		}
		_, err = tx.Exec(ctx, `INSERT INTO login_failures (app_id, principal_id, failures, since, locked_until) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (app_id, principal_id) DO UPDATE SET failures = excluded.failures, since = excluded.since, locked_until = excluded.locked_until`,
			c.AppID, c.ID, failures, since, lockedUntil)
		return err
	})
}

// loginSucceeded takes back the attempt a right password reserved, within
// the write that issues the token. Without it the count stays under the
// maximum: the count is cleared (a success resets it). With it at the
// maximum, failures that ran concurrently locked c: the login is refused.
func loginSucceeded(ctx context.Context, tx *Tx, c kumo.Caller, p kumo.AppParams, now int64) error {
	var failures, lockedUntil int64
	err := tx.QueryRow(ctx, tx.db.locks.LockUpdate("SELECT failures, locked_until FROM login_failures WHERE app_id = ? AND principal_id = ?"),
		c.AppID, c.ID).Scan(&failures, &lockedUntil)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	if failures-1 >= p.MaxLoginAttempts && lockedUntil > now {
		return kumo.ErrLoginLocked()
	}
	_, err = tx.Exec(ctx, "DELETE FROM login_failures WHERE app_id = ? AND principal_id = ?", c.AppID, c.ID)
	return err
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

// dummyHash returns a hash of a random password made with the store's
// hasher, to check passwords against when there is no principal: a
// login name that does not exist costs the same time as a wrong password.
func (s *TokenService) dummyHash() string {
	s.dummyOnce.Do(func() {
		s.dummy, _ = s.db.Hasher.HashPassword(kumo.NewToken())
	})
	return s.dummy
}

// IssueServerCodeToken issues a short-lived access token to c for server
// code (issue 13): the app admin's token that context.getAppAdminContext()
// holds, or the token of the user a hook runs for. It is stored hashed
// like every token and expires after ttl (at least one second). An admin
// caller without an ID gets the app's client ID.
func (s *TokenService) IssueServerCodeToken(ctx context.Context, c kumo.Caller, ttl time.Duration) (string, error) {
	switch c.Kind {
	case kumo.Admin:
		if c.ID == "" {
			app, err := s.apps.FindApp(ctx, c.AppID)
			if err != nil {
				return "", err
			}
			c.AppID, c.ID = app.ID, app.ClientID
		}
	case kumo.UserCaller, kumo.ThingCaller:
		if c.ID == "" {
			return "", kumo.Errorf(kumo.ErrInvalidInputData, "A %s token needs the %s's ID", c.Kind, c.Kind)
		}
	default:
		return "", kumo.Errorf(kumo.ErrInvalidInputData, "Server code gets no token for an anonymous caller")
	}
	expiresAt := s.db.now() + max(ttl.Milliseconds(), 1000)
	tok, err := s.issueToken(ctx, c, expiresAt, kumo.AppParams{}, false)
	return tok.AccessToken, err
}
