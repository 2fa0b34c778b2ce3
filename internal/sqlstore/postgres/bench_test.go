package postgres_test

import (
	"testing"

	"github.com/kumo-iot/kumo/internal/sqlstore"
	"github.com/kumo-iot/kumo/internal/sqlstore/postgres/pgtest"
	"github.com/kumo-iot/kumo/internal/sqlstore/storetest"
)

// BenchmarkCreateObject measures the store's write path alone (see
// storetest.BenchmarkCreateObject) on a new database of the server of
// KUMO_TEST_POSTGRES, with the server's own durability settings.
func BenchmarkCreateObject(b *testing.B) {
	storetest.BenchmarkCreateObject(b, func(b *testing.B) *sqlstore.Store {
		return MustOpen(b, pgtest.NewDatabase(b))
	})
}
