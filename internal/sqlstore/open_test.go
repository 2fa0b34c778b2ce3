package sqlstore_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/kumo-iot/kumo/internal/sqlstore"
	"github.com/kumo-iot/kumo/internal/sqlstore/sqlite"
	"github.com/kumo-iot/kumo/internal/sqlstore/storetest"
)

// openOpened opens a store with open, starts it and closes it when the
// test ends.
func openOpened(t *testing.T, open func(context.Context) (*sqlstore.Store, error)) *sqlstore.Store {
	t.Helper()
	return storetest.MustOpen(t, open)
}

// testDB is a store opened for a test.
type testDB struct {
	*sqlstore.Store
}

// newSQLiteDB opens a store on a new SQLite file.
func newSQLiteDB(t *testing.T) testDB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kumo.db")
	return testDB{openOpened(t, func(ctx context.Context) (*sqlstore.Store, error) { return sqlite.Open(ctx, path) })}
}
