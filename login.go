package kumo

import (
	"context"
	"strings"
)

// Grant types of the token endpoint.
const (
	GrantPassword          = "password"
	GrantClientCredentials = "client_credentials"
	GrantRefreshToken      = "refresh_token"
)

// LoginRequest is the body of POST .../oauth2/token.
type LoginRequest struct {
	GrantType    string
	Username     string
	Password     string
	ClientID     string
	ClientSecret string
	RefreshToken string
	ExpiresAt    int64 // epoch ms; 0 means never
}

// Grant returns the grant type, inferred from the fields present when the
// client sent none (most Kii SDKs omit grant_type).
func (r LoginRequest) Grant() string {
	if r.GrantType != "" {
		return r.GrantType
	}
	switch {
	case r.RefreshToken != "":
		return GrantRefreshToken
	case r.ClientID != "" || r.ClientSecret != "":
		return GrantClientCredentials
	default:
		return GrantPassword
	}
}

// IsThingLogin reports whether the username names a thing: either
// "VENDOR_THING_ID:{id}" or a bare thing ID ("th.…").
func (r LoginRequest) IsThingLogin() bool {
	return strings.HasPrefix(r.Username, "VENDOR_THING_ID:") || strings.HasPrefix(r.Username, "th.")
}

// TokenService issues and checks access tokens.
type TokenService interface {
	// Login checks credentials and issues a token. Bad credentials are
	// invalid_grant (HTTP 400), as Kii answers them.
	Login(ctx context.Context, appID string, r LoginRequest) (Token, error)
	// Authenticate returns the caller a bearer token stands for.
	// WRONG_TOKEN when the token is unknown, expired or of another app.
	Authenticate(ctx context.Context, appID, token string) (Caller, error)
}

// ErrLoginFailed is the invalid_grant error of a failed login.
func ErrLoginFailed() *Error {
	return Errorf(ErrInvalidGrant, "The user was not found or a wrong password was provided").
		With("error", "invalid_grant").
		With("error_description", "The user was not found or a wrong password was provided")
}
