package sqlite_test

import (
	"os"
	"path/filepath"
	"testing"
)

// TestPathEscaped checks that a store opens the file named, whatever
// characters a SQLite URI reads specially its path holds ("#" cut the
// name short: the stores of directories "x#1" and "x#2" were one file).
func TestPathEscaped(t *testing.T) {
	for _, name := range []string{"a#1", "a?b=c", "a%20b"} {
		dir := filepath.Join(t.TempDir(), name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "kumo.db")
		MustOpen(t, path)
		if _, err := os.Stat(path); err != nil {
			t.Errorf("store opened in %q: %v", dir, err)
		}
	}
}
