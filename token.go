package kumo

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
)

// NeverExpires is Kii's default token lifetime in seconds (2^31-1): the
// value of expires_in when a client asks for no expiry.
const NeverExpires int64 = 2147483647

// NewToken returns a new bearer token: 32 bytes from crypto/rand, base64url
// without padding (43 characters).
func NewToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// TokenKey returns the form under which a token is stored: its SHA-256 in
// hex. Tokens are never stored in the clear.
func TokenKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Token is an issued access token, returned once to the client.
type Token struct {
	AccessToken  string
	RefreshToken string // empty when none was issued
	ExpiresIn    int64  // seconds
	PrincipalID  string // the "id" of the token response
}

// PasswordHasher hashes and checks passwords with a slow, salted hash. It is
// implemented by internal/auth and handed to the store by cmd/kumo.
type PasswordHasher interface {
	HashPassword(password string) (string, error)
	CheckPassword(hash, password string) bool
}
