package kumo

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

func TestTokenKey(t *testing.T) {
	tok := NewToken()
	sum := sha256.Sum256([]byte(tok))
	if got, want := TokenKey(tok), hex.EncodeToString(sum[:]); got != want {
		t.Errorf("TokenKey = %q, want the SHA-256 in hex %q", got, want)
	}
	if TokenKey(tok) == tok {
		t.Error("TokenKey returned the token itself")
	}
	if TokenKey(tok) == TokenKey(NewToken()) {
		t.Error("two tokens share a key")
	}
	if got, want := TokenKey(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"; got != want {
		t.Errorf("TokenKey(\"\") = %q, want %q", got, want)
	}
}
