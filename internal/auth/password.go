// Package auth holds Kumo's credential mechanics: password hashing, MQTT
// password derivation and parsing of the Authorization header. Tokens
// themselves are random strings stored by their SHA-256 (kumo.TokenKey).
package auth

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// DefaultIterations is the PBKDF2-HMAC-SHA256 work factor for new password
// hashes (OWASP's 2023 recommendation is 600,000).
const DefaultIterations = 600_000

// Hasher hashes passwords with PBKDF2-HMAC-SHA256 and a 16-byte random salt.
// Hashes are self-describing ("pbkdf2-sha256$iter$salt$hash"), so the work
// factor can be raised without invalidating stored hashes. It implements
// kumo.PasswordHasher.
type Hasher struct {
	// Iterations for new hashes; DefaultIterations when zero.
	Iterations int
}

const hashPrefix = "pbkdf2-sha256"

// HashPassword returns a salted hash of password.
func (h Hasher) HashPassword(password string) (string, error) {
	iter := h.Iterations
	if iter <= 0 {
		iter = DefaultIterations
	}
	salt := make([]byte, 16)
	rand.Read(salt)
	key, err := pbkdf2.Key(sha256.New, password, salt, iter, 32)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	enc := base64.RawStdEncoding
	return hashPrefix + "$" + strconv.Itoa(iter) + "$" + enc.EncodeToString(salt) + "$" + enc.EncodeToString(key), nil
}

// CheckPassword reports whether password matches hash, in constant time.
func (h Hasher) CheckPassword(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 4 || parts[0] != hashPrefix {
		return false
	}
	iter, err := strconv.Atoi(parts[1])
	if err != nil || iter <= 0 || iter > 10_000_000 {
		return false
	}
	enc := base64.RawStdEncoding
	salt, err1 := enc.DecodeString(parts[2])
	want, err2 := enc.DecodeString(parts[3])
	if err1 != nil || err2 != nil {
		return false
	}
	got, err := pbkdf2.Key(sha256.New, password, salt, iter, len(want))
	return err == nil && subtle.ConstantTimeCompare(got, want) == 1
}

// MQTTPasswords derives the MQTT password of each installation from a
// server secret, so that no MQTT password is ever stored: the endpoint API
// and the broker both compute it.
type MQTTPasswords struct {
	Secret []byte
}

const passwordLetters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// Password returns the 64-letter MQTT password of an MQTT username (Kii's
// passwords are 64 ASCII letters).
func (m MQTTPasswords) Password(username string) string {
	out := make([]byte, 0, 64)
	for block := byte(0); len(out) < 64; block++ {
		mac := hmac.New(sha256.New, m.Secret)
		mac.Write([]byte{block})
		mac.Write([]byte(username))
		for _, b := range mac.Sum(nil) {
			if b < 208 { // 208 = 4*52: uniform over the 52 letters
				out = append(out, passwordLetters[b%52])
				if len(out) == 64 {
					break
				}
			}
		}
	}
	return string(out)
}

// Check reports whether password is the MQTT password of username, in
// constant time.
func (m MQTTPasswords) Check(username, password string) bool {
	return hmac.Equal([]byte(m.Password(username)), []byte(password))
}
