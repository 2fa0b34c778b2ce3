package kumo

import (
	"context"
	"strings"
	"unicode/utf8"
)

// User is a registered user of an app.
type User struct {
	ID          string
	LoginName   string
	Email       string
	Phone       string
	DisplayName string
	Country     string
	Locale      string
	Custom      map[string]any
	Created     int64
	Modified    int64
	Disabled    bool
	HasPassword bool // false for a pseudo user
}

// UserRegistration is the body of POST /api/apps/{appID}/users.
type UserRegistration struct {
	LoginName   string
	Email       string
	Phone       string
	Password    string
	DisplayName string
	Country     string
	Locale      string
	Custom      map[string]any
	// Pseudo is a registration without identifier nor password (Kii's
	// pseudo user, RegistrationAndAuthorizationRequest only): the user
	// gets a token and nothing to log in with.
	Pseudo bool
}

// UserService manages users.
type UserService interface {
	// RegisterUser creates a user. USER_ALREADY_EXISTS when the login
	// name, email address or phone number is taken. With withToken it also
	// issues the user's token.
	RegisterUser(ctx context.Context, c Caller, r UserRegistration, withToken bool) (User, *Token, error)
	// FindUser returns the user named by selector: "me", a user ID,
	// LOGIN_NAME:, EMAIL: or PHONE:. USER_NOT_FOUND when absent.
	FindUser(ctx context.Context, c Caller, selector string) (User, error)
	// UpdateUser changes the predefined fields given (others are kept)
	// and replaces the custom fields as a set (those absent are deleted).
	// The user or the admin may. USER_ALREADY_EXISTS when a new login
	// name, email or phone is taken.
	UpdateUser(ctx context.Context, c Caller, selector string, u UserUpdate) (User, error)
	// DeleteUser deletes a user with its tokens, installations, push
	// subscriptions and user-scope buckets. The user or the admin may.
	DeleteUser(ctx context.Context, c Caller, selector string) error
	// ChangePassword sets a user's password (the user must give the old
	// one: WRONG_PASSWORD otherwise; the admin need not) and revokes all
	// of the user's tokens.
	ChangePassword(ctx context.Context, c Caller, selector, oldPassword, newPassword string) error
}

// UserUpdate is the body of POST /api/apps/{appID}/users/{user}: nil
// fields are left as they are.
type UserUpdate struct {
	LoginName, Email, Phone, DisplayName, Country, Locale *string
	Custom                                                map[string]any
}

// ParseUserUpdate validates a user update body.
func ParseUserUpdate(body map[string]any) (UserUpdate, error) {
	var u UserUpdate
	invalid := map[string]string{}
	str := func(k string) *string {
		v, ok := body[k]
		if !ok {
			return nil
		}
		s, ok := v.(string)
		if !ok {
			invalid[k] = "must be a string"
			return nil
		}
		return &s
	}
	u.LoginName, u.Email, u.Phone = str("loginName"), str("emailAddress"), str("phoneNumber")
	u.DisplayName, u.Country, u.Locale = str("displayName"), str("country"), str("locale")
	if u.LoginName != nil && !validChars(*u.LoginName, 3, 64, loginNameChars) {
		invalid["loginName"] = "must be 3 to 64 characters of [a-zA-Z0-9-_.]"
	}
	if u.Email != nil && (!strings.Contains(*u.Email, "@") || len(*u.Email) > 254) {
		invalid["emailAddress"] = "must be an email address"
	}
	if u.DisplayName != nil && utf8.RuneCountInString(*u.DisplayName) > 50 {
		invalid["displayName"] = "must be at most 50 characters"
	}
	if _, ok := body["password"]; ok {
		invalid["password"] = "is changed with PUT …/password"
	}
	u.Custom = map[string]any{}
	for k, v := range body {
		switch k {
		case "loginName", "emailAddress", "phoneNumber", "password", "displayName", "country", "locale", "phoneNumberVerified", "emailAddressVerified":
		default:
			if !strings.HasPrefix(k, "_") {
				u.Custom[k] = v
			}
		}
	}
	if len(invalid) > 0 {
		return u, InvalidInput(invalid)
	}
	return u, nil
}

const loginNameChars = idChars + "."

// ParseUserRegistration validates a user registration body. With
// allowPseudo, a body without loginName, emailAddress, phoneNumber and
// password registers a pseudo user.
func ParseUserRegistration(body map[string]any, allowPseudo bool) (UserRegistration, error) {
	var r UserRegistration
	invalid := map[string]string{}
	str := func(k string) string { s, _ := body[k].(string); return s }
	r.LoginName, r.Email, r.Phone = str("loginName"), str("emailAddress"), str("phoneNumber")
	r.Password, r.DisplayName = str("password"), str("displayName")
	r.Country, r.Locale = str("country"), str("locale")
	r.Pseudo = allowPseudo && r.LoginName == "" && r.Email == "" && r.Phone == "" && r.Password == ""
	if r.LoginName == "" && r.Email == "" && r.Phone == "" && !r.Pseudo {
		invalid["loginName"] = "one of loginName, emailAddress or phoneNumber is required"
	}
	if r.LoginName != "" && !validChars(r.LoginName, 3, 64, loginNameChars) {
		invalid["loginName"] = "must be 3 to 64 characters of [a-zA-Z0-9-_.]"
	}
	if r.Email != "" && (!strings.Contains(r.Email, "@") || len(r.Email) > 254) {
		invalid["emailAddress"] = "must be an email address"
	}
	if r.Phone != "" && !validChars(strings.TrimPrefix(r.Phone, "+"), 2, 15, "0123456789.-") {
		invalid["phoneNumber"] = "must be a phone number"
	}
	if !r.Pseudo && (len(r.Password) < 4 || !printable(r.Password, 4, 50)) {
		if len(r.Password) < 4 {
			return r, Errorf(ErrPasswordTooShort, "The password must be at least 4 characters").With("minimumLength", 4)
		}
		invalid["password"] = "must be 4 to 50 printable ASCII characters"
	}
	if utf8.RuneCountInString(r.DisplayName) > 50 {
		invalid["displayName"] = "must be at most 50 characters"
	}
	r.Custom = map[string]any{}
	for k, v := range body {
		switch k {
		case "loginName", "emailAddress", "phoneNumber", "password", "displayName", "country", "locale", "phoneNumberVerified":
		default:
			if !strings.HasPrefix(k, "_") {
				r.Custom[k] = v
			}
		}
	}
	if len(invalid) > 0 {
		return r, InvalidInput(invalid)
	}
	return r, nil
}

// UserQueryObject is what a user query's clauses see of user u: the
// predefined fields (custom fields are not queryable) and _created.
func UserQueryObject(u User) Object {
	data := map[string]any{}
	for k, v := range map[string]string{"userID": u.ID, "loginName": u.LoginName, "displayName": u.DisplayName,
		"emailAddress": u.Email, "phoneNumber": u.Phone, "country": u.Country, "locale": u.Locale} {
		if v != "" {
			data[k] = v
		}
	}
	return Object{ID: u.ID, Data: data, Created: u.Created, Modified: u.Modified}
}

// UserQueryService queries users.
type UserQueryService interface {
	// QueryUsers returns a page of the users q selects (ParseUserQuery),
	// in q's order, with the next page's key ("" on the last). The app
	// admin only (UNAUTHORIZED): a user query would tell anyone which
	// addresses have accounts. A count is not supported.
	QueryUsers(ctx context.Context, c Caller, q Query) ([]User, string, error)
}
