package kumo

import "context"

// App is a Kii application: the tenant every other entity belongs to.
type App struct {
	ID       string
	Key      string // accepted in place of the ID in paths; never validated in headers
	Name     string
	ClientID string // the admin's client ID (client_credentials grant)
	Created  int64  // epoch ms
}

// AppCreate asks for a new app. Empty fields are generated.
type AppCreate struct {
	ID   string
	Key  string
	Name string
}

// AppCredentials are returned once, when an app is created: the client
// secret is stored hashed and cannot be read back.
type AppCredentials struct {
	AppID        string `json:"appID"`
	AppKey       string `json:"appKey"`
	ClientID     string `json:"clientID"`
	ClientSecret string `json:"clientSecret"`
}

// AppService manages apps. It is an operator's interface (kumo app ...),
// not exposed over the Kii API.
type AppService interface {
	// CreateApp creates an app. An ID or key already in use is
	// INVALID_INPUT_DATA.
	CreateApp(ctx context.Context, a AppCreate) (AppCredentials, error)
	// FindApp returns the app whose ID, or else whose key, is idOrKey.
	// APP_NOT_FOUND when there is none.
	FindApp(ctx context.Context, idOrKey string) (App, error)
	// ListApps returns every app, oldest first.
	ListApps(ctx context.Context) ([]App, error)
	// RotateClientSecret gives the app whose ID, or else whose key, is
	// idOrKey a new client secret, returned in the credentials (it cannot
	// be read back). From then on the old secret is refused, and the
	// admin tokens issued before are revoked. APP_NOT_FOUND when there is
	// no such app.
	RotateClientSecret(ctx context.Context, idOrKey string) (AppCredentials, error)
}

// The rules of the app IDs and keys an operator chooses (kumo app create
// --id, --key): Kii's own IDs are 8 lower-case hex digits and its keys 32,
// so these accept every real app's and refuse what is too short to be
// one (a key stands for its app in paths, as the ID does).
const (
	minAppIDLen  = 4
	minAppKeyLen = 8
	// AppIDRule says what CheckAppIDAndKey accepts as an app ID.
	AppIDRule = "4 to 64 letters, digits, - or _"
	// AppKeyRule says what CheckAppIDAndKey accepts as an app key.
	AppKeyRule = "8 to 64 letters, digits, - or _"
)

// CheckAppIDAndKey checks an app ID and key chosen by an operator (empty:
// generated) against AppIDRule and AppKeyRule, and that they differ.
func CheckAppIDAndKey(id, key string) error {
	if id != "" && !validChars(id, minAppIDLen, 64, idChars) {
		return Errorf(ErrInvalidInputData, "app ID %q is not valid: %s (Kii's are 8 hex digits, such as 1a2b3c4d)", id, AppIDRule)
	}
	if key != "" && !validChars(key, minAppKeyLen, 64, idChars) {
		return Errorf(ErrInvalidInputData, "app key %q is not valid: %s (Kii's are 32 hex digits)", key, AppKeyRule)
	}
	if id != "" && id == key {
		return Errorf(ErrInvalidInputData, "the app key must differ from the app ID")
	}
	return nil
}

// ValidAppID reports whether s may be used as an app ID: 1 to 64
// characters of [A-Za-z0-9_-]. Kii's own IDs are 8 lower-case hex digits.
func ValidAppID(s string) bool { return validChars(s, 1, 64, idChars) }

const idChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

func validChars(s string, min, max int, allowed string) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		ok := false
		for j := 0; j < len(allowed); j++ {
			if s[i] == allowed[j] {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}
