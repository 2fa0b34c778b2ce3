package kumo

import (
	"strings"
	"testing"
)

func TestValidAppID(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"Kii's form", "a1b2c3d4", true},
		{"every allowed class", "Ab-9_z", true},
		{"one character", "a", true},
		{"64 characters", strings.Repeat("a", 64), true},
		{"empty", "", false},
		{"65 characters", strings.Repeat("a", 65), false},
		{"dot", "my.app", false},
		{"slash", "a/b", false},
		{"space", "a b", false},
		{"colon", "a:b", false},
		{"non-ASCII", "äpp", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ValidAppID(tt.in); got != tt.want {
				t.Errorf("ValidAppID(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestCheckAppIDAndKey(t *testing.T) {
	tests := []struct {
		name    string
		id, key string
		ok      bool
	}{
		{"both generated", "", "", true},
		{"Kii's shapes", "a1b2c3d4", "0123456789abcdef0123456789ABCDEF", true},
		{"short names", "app1", "key-0001", true},
		{"64 characters", strings.Repeat("a", 64), strings.Repeat("b", 64), true},
		{"ID of 3", "abc", "", false},
		{"ID of 65", strings.Repeat("a", 65), "", false},
		{"ID with a dot", "my.app", "", false},
		{"ID with a space", "my app", "", false},
		{"ID with a slash", "a/b12", "", false},
		{"key of 1", "", "x", false},
		{"key of 7", "", "abcdefg", false},
		{"key of 65", "", strings.Repeat("k", 65), false},
		{"key non-ASCII", "", "käykäykäy", false},
		{"key equal to the ID", "abcd1234", "abcd1234", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckAppIDAndKey(tt.id, tt.key)
			if tt.ok && err != nil {
				t.Errorf("CheckAppIDAndKey(%q, %q) = %v, want nil", tt.id, tt.key, err)
			}
			if !tt.ok && ErrorCode(err) != ErrInvalidInputData {
				t.Errorf("CheckAppIDAndKey(%q, %q) = %v, want INVALID_INPUT_DATA", tt.id, tt.key, err)
			}
		})
	}
}
