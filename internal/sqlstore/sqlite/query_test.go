package sqlite_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/kumo-iot/kumo/internal/sqlstore"
	"github.com/kumo-iot/kumo/internal/sqlstore/storetest"
)

// FuzzQuery checks random queries on random objects against the reference
// evaluator (storetest.FuzzQuery).
func FuzzQuery(f *testing.F) {
	storetest.FuzzQuery(f, func(t *testing.T) *sqlstore.Store {
		// Not t.TempDir: a seed's name ("seed#0") puts "#" in the path,
		// which ends a file: URI.
		dir, err := os.MkdirTemp("", "kumo-fuzz")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		return MustOpen(t, filepath.Join(dir, "kumo.db"))
	})
}

// BenchmarkQuery measures queries on 100,000 objects next to a GET by ID
// (see storetest.BenchmarkQuery).
func BenchmarkQuery(b *testing.B) {
	storetest.BenchmarkQuery(b, func(b *testing.B) *sqlstore.Store {
		return MustOpen(b, filepath.Join(b.TempDir(), "kumo.db"))
	})
}
