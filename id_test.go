package kumo

import (
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"
)

// hasShape reports whether s has n characters, each in alphabet.
func hasShape(s string, n int, alphabet string) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(alphabet, s[i]) < 0 {
			return false
		}
	}
	return true
}

// hasGroups reports whether s is groups of the given lengths of alphabet,
// joined by "-".
func hasGroups(s string, alphabet string, lengths ...int) bool {
	parts := strings.Split(s, "-")
	if len(parts) != len(lengths) {
		return false
	}
	for i, p := range parts {
		if !hasShape(p, lengths[i], alphabet) {
			return false
		}
	}
	return true
}

func TestIDShapes(t *testing.T) {
	const hexDigits = "0123456789abcdef"
	tests := []struct {
		name  string
		gen   func() string
		valid func(string) bool
		shape string
	}{
		{"NewUserID", NewUserID, func(s string) bool { return hasGroups(s, lowerAlnum, 12, 4, 4, 4, 8) },
			"12-4-4-4-8 lower-case alphanumerics"},
		{"NewThingID", NewThingID, func(s string) bool {
			rest, ok := strings.CutPrefix(s, "th.")
			return ok && hasGroups(rest, lowerAlnum, 12, 4, 4, 4, 8)
		}, "th. + 12-4-4-4-8 lower-case alphanumerics"},
		{"NewInstallationID", NewInstallationID, func(s string) bool { return hasShape(s, 25, lowerAlnum) },
			"25 lower-case alphanumerics"},
		{"NewGroupID", NewGroupID, func(s string) bool { return hasShape(s, 25, lowerAlnum) && validChars(s, 1, 30, groupIDChars) },
			"25 lower-case alphanumerics"},
		{"NewMQTTTopic", NewMQTTTopic, func(s string) bool { return hasShape(s, 23, alnum) },
			"23 alphanumerics"},
		{"NewMQTTUsername", func() string { return NewMQTTUsername("app1") }, func(s string) bool {
			rest, ok := strings.CutPrefix(s, "app1-")
			return ok && hasShape(rest, 23, alnum)
		}, "app1- + 23 alphanumerics"},
		{"NewObjectID", NewObjectID, func(s string) bool {
			return hasGroups(s, hexDigits, 8, 4, 4, 4, 12) && s[14] == '7' && strings.IndexByte("89ab", s[19]) >= 0
		}, "a lower-case UUID version 7, RFC 9562 variant"},
		{"NewToken", NewToken, func(s string) bool {
			return hasShape(s, 43, alnum+"-_")
		}, "43 base64url characters"},
		{"RandomHex(4)", func() string { return RandomHex(4) }, func(s string) bool { return hasShape(s, 8, hexDigits) },
			"8 hex digits"},
		{"RandomString(5, ab)", func() string { return RandomString(5, "ab") }, func(s string) bool { return hasShape(s, 5, "ab") },
			"5 of a and b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen := map[string]bool{}
			for range 1000 {
				id := tt.gen()
				if !tt.valid(id) {
					t.Fatalf("%s() = %q, want %s", tt.name, id, tt.shape)
				}
				seen[id] = true
			}
			if tt.name != "RandomString(5, ab)" && len(seen) != 1000 {
				t.Errorf("1000 calls gave %d distinct values", len(seen))
			}
		})
	}
}

func TestRandomStringUsesWholeAlphabet(t *testing.T) {
	counts := map[byte]int{}
	s := RandomString(36*400, lowerAlnum)
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	for i := 0; i < len(lowerAlnum); i++ {
		// Each character is expected 400 times; 100 is far outside chance.
		if c := counts[lowerAlnum[i]]; c < 100 {
			t.Errorf("%q drawn %d times in %d, want about 400", lowerAlnum[i], c, len(s))
		}
	}
	if RandomString(0, lowerAlnum) != "" {
		t.Error("RandomString(0) is not empty")
	}
}

// TestRandomStringAlphabetSizes draws from alphabets of every size class,
// those that divide 256 included (rejection sampling must not reject
// every byte).
func TestRandomStringAlphabetSizes(t *testing.T) {
	every := make([]byte, 256)
	for i := range every {
		every[i] = byte(i)
	}
	for _, size := range []int{1, 2, 16, 36, 62, 64, 100, 128, 255, 256} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			alphabet := string(every[:size])
			done := make(chan string, 1)
			go func() { done <- RandomString(64, alphabet) }()
			select {
			case s := <-done:
				if !hasShape(s, 64, alphabet) {
					t.Errorf("RandomString(64, %d characters) = %q, want 64 characters of the alphabet", size, s)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("RandomString(64, %d characters) has not returned after 10s", size)
			}
		})
	}
}

// objectIDMillis returns the Unix milliseconds in a UUIDv7.
func objectIDMillis(t *testing.T, id string) int64 {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(id, "-", "")[:12])
	if err != nil {
		t.Fatalf("object ID %q: %v", id, err)
	}
	var ms int64
	for _, x := range b {
		ms = ms<<8 | int64(x)
	}
	return ms
}

func TestNewObjectIDTime(t *testing.T) {
	before := time.Now().UnixMilli()
	a := NewObjectID()
	after := time.Now().UnixMilli()
	if ms := objectIDMillis(t, a); ms < before || ms > after {
		t.Errorf("object ID %s holds time %d, want between %d and %d", a, ms, before, after)
	}

	// An ID made in a later millisecond sorts after it.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().UnixMilli() <= objectIDMillis(t, a) {
		if time.Now().After(deadline) {
			t.Fatal("the clock did not move for 5s")
		}
		time.Sleep(100 * time.Microsecond)
	}
	b := NewObjectID()
	if b <= a {
		t.Errorf("object ID %s, made later, does not sort after %s", b, a)
	}
}
