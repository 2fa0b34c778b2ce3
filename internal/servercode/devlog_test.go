package servercode

import (
	"regexp"
	"testing"
)

// TestDevLogID checks that developer log record IDs are 24 hex digits,
// share this process's prefix, and do not repeat.
func TestDevLogID(t *testing.T) {
	form := regexp.MustCompile(`^[0-9a-f]{24}$`)
	seen := map[string]bool{}
	for range 10_000 {
		id := devLogID()
		if !form.MatchString(id) || id[:12] != devLogPrefix {
			t.Fatalf("devLogID() = %q; want 24 hex digits starting with %q", id, devLogPrefix)
		}
		if seen[id] {
			t.Fatalf("devLogID() repeated %q", id)
		}
		seen[id] = true
	}
}
