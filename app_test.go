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
