package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/kumo-iot/kumo/internal/sqlstore"
	"github.com/kumo-iot/kumo/internal/sqlstore/storetest"
)

// BenchmarkCreateObject measures the store's write path alone (see
// storetest.BenchmarkCreateObject), with synchronous=FULL.
func BenchmarkCreateObject(b *testing.B) {
	storetest.BenchmarkCreateObject(b, func(b *testing.B) *sqlstore.Store {
		return MustOpen(b, filepath.Join(b.TempDir(), "kumo.db"))
	})
}
