package auth

import (
	"encoding/base64"
	"strings"
)

// Credentials is what an Authorization header carries.
type Credentials struct {
	Bearer     string // a bearer token, when the scheme is Bearer
	BasicAppID string // the app ID of Basic base64(appID:anything)
}

// ParseAuthorization parses an Authorization header value. The scheme is
// matched case-insensitively ("bearer" is common). An unknown scheme or a
// malformed value yields empty credentials (an anonymous caller).
func ParseAuthorization(h string) Credentials {
	scheme, rest, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok {
		return Credentials{}
	}
	rest = strings.TrimSpace(rest)
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		return Credentials{Bearer: rest}
	case strings.EqualFold(scheme, "Basic"):
		b, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return Credentials{}
		}
		id, _, _ := strings.Cut(string(b), ":")
		return Credentials{BasicAppID: id}
	}
	return Credentials{}
}
