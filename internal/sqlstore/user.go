package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"

	"github.com/kumo-iot/kumo"
)

// UserService implements kumo.UserService and kumo.UserQueryService.
type UserService struct {
	db     *DB
	apps   *AppService
	tokens *TokenService
	ledger *DeliveryLedger
	hooks  *HookService // server code: hooks
}

var _ kumo.UserService = (*UserService)(nil)
var _ kumo.UserQueryService = (*UserService)(nil)

// RegisterUser implements kumo.UserService.
func (s *UserService) RegisterUser(ctx context.Context, c kumo.Caller, r kumo.UserRegistration, withToken bool) (kumo.User, *kumo.Token, error) {
	hash := "" // a pseudo user has no password: no login matches it
	if !r.Pseudo {
		var err error
		if hash, err = s.db.Hasher.HashPassword(r.Password); err != nil {
			return kumo.User{}, nil, err
		}
	}
	p, err := s.apps.params(ctx, c.AppID)
	if err != nil {
		return kumo.User{}, nil, err
	}
	custom, err := json.Marshal(r.Custom)
	if err != nil {
		return kumo.User{}, nil, err
	}
	now := s.db.now()
	u := kumo.User{ID: kumo.NewUserID(), LoginName: r.LoginName, Email: r.Email, Phone: r.Phone,
		DisplayName: r.DisplayName, Country: r.Country, Locale: r.Locale, Custom: r.Custom, Created: now, Modified: now,
		HasPassword: !r.Pseudo}
	uc := kumo.Caller{AppID: c.AppID, Kind: kumo.UserCaller, ID: u.ID}
	var (
		tok       *kumo.Token
		expiresAt int64
	)
	if withToken {
		t := newToken(now, uc, &expiresAt, p, !r.Pseudo) // a pseudo user never gets a refresh token
		tok = &t
	}
	err = s.db.writeTx(ctx, func(tx *Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO users (app_id, id, login_name, email, phone, password_hash, display_name, country, locale, custom, disabled, created, modified)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)`,
			c.AppID, u.ID, nullString(u.LoginName), nullString(u.Email), nullString(u.Phone), hash,
			u.DisplayName, u.Country, u.Locale, string(custom), now, now)
		if s.db.dialect.IsUniqueViolation(err) {
			return kumo.Errorf(kumo.ErrUserAlreadyExists, "A user with the same login name, email address or phone number already exists").
				With("appID", c.AppID)
		}
		if err != nil {
			return err
		}
		// The user who registers is the actor, unless a user or the
		// admin made them.
		actor := c.Principal()
		if c.Kind == kumo.Anonymous {
			actor = uc.Principal()
		}
		if err := s.hooks.user(ctx, tx, "USER_CREATED", c.AppID, u.ID, actor); err != nil {
			return err
		}
		if tok == nil {
			return nil
		}
		return s.tokens.insertTokens(ctx, tx, *tok, uc, expiresAt)
	})
	if err != nil {
		return kumo.User{}, nil, err
	}
	return u, tok, nil
}

// FindUser implements kumo.UserService.
func (s *UserService) FindUser(ctx context.Context, c kumo.Caller, selector string) (kumo.User, error) {
	if c.Kind == kumo.Anonymous { // before any lookup: an anonymous caller learns nothing
		return kumo.User{}, kumo.Unauthorized(c, "Anonymous callers may not read users")
	}
	if selector == "me" {
		if c.Kind != kumo.UserCaller {
			return kumo.User{}, kumo.Unauthorized(c, "users/me needs a user token")
		}
		selector = c.ID
	}
	u, err := s.user(ctx, c.AppID, selector)
	if err != nil {
		return u, err
	}
	if !c.IsAdmin() && !(c.Kind == kumo.UserCaller && c.ID == u.ID) {
		p, err := s.apps.params(ctx, c.AppID)
		if err != nil || p.ExposeFullUserDataToOthers {
			return u, err
		}
		// Another user sees only the public fields.
		return kumo.User{ID: u.ID, LoginName: u.LoginName, DisplayName: u.DisplayName}, nil
	}
	return u, nil
}

// user loads the user named by selector (ID, LOGIN_NAME:, EMAIL:, PHONE:).
func (s *UserService) user(ctx context.Context, appID, selector string) (kumo.User, error) {
	col, val, field := "id", selector, "userID"
	for _, p := range []struct{ prefix, col, field string }{
		{"LOGIN_NAME:", "login_name", "loginName"}, {"EMAIL:", "email", "emailAddress"}, {"PHONE:", "phone", "phoneNumber"},
	} {
		if v, ok := strings.CutPrefix(selector, p.prefix); ok {
			col, val, field = p.col, v, p.field
		}
	}
	if col == "id" && strings.Contains(selector, ":") {
		return kumo.User{}, kumo.Errorf(kumo.ErrAccountTypeUnknown, "Account type of %s is not supported", selector)
	}
	var (
		u                   kumo.User
		login, email, phone sql.NullString
		custom              string
	)
	where, args := userWhere(col, val)
	err := s.db.queryRow(ctx, `SELECT id, login_name, email, phone, display_name, country, locale, custom, disabled, created, modified, password_hash <> ''
		FROM users WHERE app_id = ? AND `+where, append([]any{appID}, args...)...).
		Scan(&u.ID, &login, &email, &phone, &u.DisplayName, &u.Country, &u.Locale, &custom, &u.Disabled, &u.Created, &u.Modified, &u.HasPassword)
	if errors.Is(err, sql.ErrNoRows) {
		return u, kumo.Errorf(kumo.ErrUserNotFound, "User %s was not found", selector).
			With("appID", appID).With("field", field).With("value", val)
	}
	if err != nil {
		return u, err
	}
	u.LoginName, u.Email, u.Phone = login.String, email.String, phone.String
	d := json.NewDecoder(strings.NewReader(custom))
	d.UseNumber()
	err = d.Decode(&u.Custom)
	return u, err
}

// userID resolves a user selector to a user ID. A plain ID is checked to
// exist only when check is set.
func (s *UserService) userID(ctx context.Context, c kumo.Caller, selector string, check bool) (string, error) {
	if selector == "me" {
		if c.Kind != kumo.UserCaller {
			return "", kumo.Unauthorized(c, "users/me needs a user token")
		}
		return c.ID, nil
	}
	if !check && !strings.Contains(selector, ":") {
		return selector, nil
	}
	u, err := s.user(ctx, c.AppID, selector)
	return u.ID, err
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// userForWrite resolves selector to a user the caller may change: the
// user itself or the admin.
func (s *UserService) userForWrite(ctx context.Context, c kumo.Caller, selector string) (kumo.User, error) {
	if c.Kind != kumo.UserCaller && !c.IsAdmin() {
		return kumo.User{}, kumo.Unauthorized(c, "Only the user or the app admin may change a user")
	}
	if selector == "me" {
		if c.Kind != kumo.UserCaller {
			return kumo.User{}, kumo.Unauthorized(c, "users/me needs a user token")
		}
		selector = c.ID
	}
	u, err := s.user(ctx, c.AppID, selector)
	if err != nil {
		return u, err
	}
	if !c.IsAdmin() && c.ID != u.ID {
		return kumo.User{}, kumo.Unauthorized(c, "Only the user or the app admin may change user %s", u.ID)
	}
	return u, nil
}

// UpdateUser implements kumo.UserService.
func (s *UserService) UpdateUser(ctx context.Context, c kumo.Caller, selector string, up kumo.UserUpdate) (kumo.User, error) {
	u, err := s.userForWrite(ctx, c, selector)
	if err != nil {
		return u, err
	}
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&u.LoginName, up.LoginName)
	set(&u.Email, up.Email)
	set(&u.Phone, up.Phone)
	set(&u.DisplayName, up.DisplayName)
	set(&u.Country, up.Country)
	set(&u.Locale, up.Locale)
	u.Custom = up.Custom
	custom, err := json.Marshal(u.Custom)
	if err != nil {
		return u, err
	}
	u.Modified = max(s.db.now(), u.Modified)
	err = s.db.writeTx(ctx, func(tx *Tx) error {
		_, err := tx.Exec(ctx, `UPDATE users SET login_name = ?, email = ?, phone = ?, display_name = ?, country = ?, locale = ?,
			custom = ?, modified = ? WHERE app_id = ? AND id = ?`,
			nullString(u.LoginName), nullString(u.Email), nullString(u.Phone), u.DisplayName, u.Country, u.Locale,
			string(custom), u.Modified, c.AppID, u.ID)
		if s.db.dialect.IsUniqueViolation(err) {
			return kumo.Errorf(kumo.ErrUserAlreadyExists, "Another user has that login name, email address or phone number").
				With("appID", c.AppID)
		}
		if err != nil {
			return err
		}
		return s.hooks.user(ctx, tx, "USER_UPDATED", c.AppID, u.ID, c.Principal())
	})
	return u, err
}

// DeleteUser implements kumo.UserService.
func (s *UserService) DeleteUser(ctx context.Context, c kumo.Caller, selector string) error {
	u, err := s.userForWrite(ctx, c, selector)
	if err != nil {
		return err
	}
	var dropped []kumo.DeliveryRecord
	err = s.db.writeTx(ctx, func(tx *Tx) (err error) {
		dropped, err = deletePrincipal(ctx, tx, c.AppID, kumo.Principal{Kind: kumo.UserCaller, ID: u.ID})
		if err != nil {
			return err
		}
		return s.hooks.user(ctx, tx, "USER_DELETED", c.AppID, u.ID, c.Principal())
	})
	if err == nil {
		s.ledger.record(ctx, dropped)
		s.db.emptyTrash(ctx, s.db.Log)
	}
	return err
}

// ChangePassword implements kumo.UserService.
func (s *UserService) ChangePassword(ctx context.Context, c kumo.Caller, selector, oldPassword, newPassword string) error {
	u, err := s.userForWrite(ctx, c, selector)
	if err != nil {
		return err
	}
	if len(newPassword) < 4 {
		return kumo.Errorf(kumo.ErrPasswordTooShort, "The password must be at least 4 characters").With("minimumLength", 4)
	}
	if !c.IsAdmin() {
		var hash string
		if err := s.db.queryRow(ctx, "SELECT password_hash FROM users WHERE app_id = ? AND id = ?", c.AppID, u.ID).Scan(&hash); err != nil {
			return err
		}
		if !s.db.Hasher.CheckPassword(hash, oldPassword) {
			return kumo.Errorf(kumo.ErrWrongPassword, "The provided password is wrong").With("appID", c.AppID).With("userID", u.ID)
		}
	}
	hash, err := s.db.Hasher.HashPassword(newPassword)
	if err != nil {
		return err
	}
	return s.db.writeTx(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(ctx, "UPDATE users SET password_hash = ?, modified = ? WHERE app_id = ? AND id = ?",
			hash, s.db.now(), c.AppID, u.ID); err != nil {
			return err
		}
		if err := rotateMQTT(ctx, tx, c.AppID, kumo.Principal{Kind: kumo.UserCaller, ID: u.ID}); err != nil {
			return err
		}
		if err := s.hooks.user(ctx, tx, "USER_PASSWORD_CHANGED", c.AppID, u.ID, c.Principal()); err != nil {
			return err
		}
		return revokeTokens(ctx, tx, c.AppID, u.ID)
	})
}
