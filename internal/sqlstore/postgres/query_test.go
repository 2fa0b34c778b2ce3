package postgres_test

import (
	"testing"

	"github.com/kumo-iot/kumo/internal/sqlstore"
	"github.com/kumo-iot/kumo/internal/sqlstore/postgres/pgtest"
	"github.com/kumo-iot/kumo/internal/sqlstore/storetest"
)

// BenchmarkQuery measures queries on 100,000 objects next to a GET by ID
// (see storetest.BenchmarkQuery) on a new database of the server of
// KUMO_TEST_POSTGRES.
func BenchmarkQuery(b *testing.B) {
	storetest.BenchmarkQuery(b, func(b *testing.B) *sqlstore.Store {
		return MustOpen(b, pgtest.NewDatabase(b))
	})
}
