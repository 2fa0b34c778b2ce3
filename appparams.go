package kumo

import (
	"context"
	"encoding/json"
)

// AppParams are the settings of an app that change how Kii behaves, set by
// the app admin with PATCH /api/apps/{appID}/configuration/parameters (the
// call ebisu's initapp.sh makes). Parameters Kumo does not know are kept
// and returned as they were set.
type AppParams struct {
	// MaxLoginAttempts failed logins of one user or thing within
	// LoginAttemptsTimeoutSeconds lock it for LoginLockPeriodSeconds.
	// 0 turns lockout off.
	MaxLoginAttempts            int64 `json:"maxLoginAttempts"`
	LoginLockPeriodSeconds      int64 `json:"loginLockPeriodSeconds"`
	LoginAttemptsTimeoutSeconds int64 `json:"loginAttemptsTimeoutSeconds"`
	// RefreshTokenEnabled makes logins return a refresh token.
	RefreshTokenEnabled bool `json:"refreshTokenEnabled"`
	// AccessTokenExpirationSeconds is the lifetime of a token whose
	// login did not ask for one; 0 is Kii's default, never (2^31-1 s).
	AccessTokenExpirationSeconds int64 `json:"accessTokenExpirationSeconds"`
	// ExposeFullUserDataToOthers lets a user read all of another user's
	// fields, not only userID, loginName and displayName.
	ExposeFullUserDataToOthers bool `json:"exposeFullUserDataToOthers"`
}

// MaxDurationSeconds bounds the durations of app parameters (100 years,
// more than Kii's 2^31-1 seconds meaning "never"), so that adding one to
// the time cannot overflow.
const MaxDurationSeconds int64 = 100 * 366 * 24 * 3600

// DefaultAppParams are the parameters of a new app: lockout after 10
// failed logins within 5 minutes, for 5 minutes; no refresh tokens;
// tokens that never expire.
func DefaultAppParams() AppParams {
	return AppParams{MaxLoginAttempts: 10, LoginLockPeriodSeconds: 300, LoginAttemptsTimeoutSeconds: 300}
}

// ParseAppParams reads stored parameters (a JSON object) over the
// defaults.
func ParseAppParams(stored []byte) (AppParams, error) {
	p := DefaultAppParams()
	if len(stored) == 0 {
		return p, nil
	}
	err := json.Unmarshal(stored, &p)
	return p, err
}

// MergeAppParams applies a PATCH of parameters to the stored ones (both
// JSON objects) and returns the new stored form. A known parameter of the
// wrong type or out of range is INVALID_INPUT_DATA; a null value removes a
// parameter (back to its default).
func MergeAppParams(stored []byte, patch map[string]any) ([]byte, error) {
	m := map[string]any{}
	if len(stored) > 0 {
		if err := json.Unmarshal(stored, &m); err != nil {
			return nil, err
		}
	}
	for k, v := range patch {
		if v == nil {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	out, err := json.Marshal(m)
	if err != nil {
		return nil, Errorf(ErrInvalidInputData, "The parameters are not valid JSON")
	}
	p, err := ParseAppParams(out)
	if err != nil {
		return nil, Errorf(ErrInvalidInputData, "A parameter has the wrong type: %v", err)
	}
	if p.MaxLoginAttempts < 0 || p.LoginLockPeriodSeconds < 0 || p.LoginAttemptsTimeoutSeconds < 0 || p.AccessTokenExpirationSeconds < 0 {
		return nil, Errorf(ErrInvalidInputData, "Numeric parameters may not be negative")
	}
	if max(p.LoginLockPeriodSeconds, p.LoginAttemptsTimeoutSeconds, p.AccessTokenExpirationSeconds) > MaxDurationSeconds {
		return nil, Errorf(ErrInvalidInputData, "Durations in seconds may not exceed %d (100 years)", MaxDurationSeconds)
	}
	return out, nil
}

// AppParamsService reads and changes app parameters.
type AppParamsService interface {
	// AppParams returns the parameters of the caller's app as stored
	// (a JSON object of what was set). Admin only (UNAUTHORIZED).
	AppParams(ctx context.Context, c Caller) (map[string]any, error)
	// UpdateAppParams merges patch into the parameters (MergeAppParams)
	// and returns them. Admin only.
	UpdateAppParams(ctx context.Context, c Caller, patch map[string]any) (map[string]any, error)
}

// ErrLoginLocked is the invalid_grant error of a login to a locked user
// or thing; ebisu asserts the exact description.
func ErrLoginLocked() *Error {
	e := ErrLoginFailed().With("error_description", "The login name is locked")
	e.Message = "The login name is locked"
	return e
}

// ErrWrongRefreshToken is the invalid_grant error of an unknown, used or
// revoked refresh token.
func ErrWrongRefreshToken() *Error {
	e := ErrLoginFailed().With("error_description", "The refresh token is not valid")
	e.Message = "The refresh token is not valid"
	return e
}
