package sqlstore_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/kumo-iot/kumo/internal/auth"
	"github.com/kumo-iot/kumo/internal/sqlstore"
	"github.com/kumo-iot/kumo/internal/sqlstore/sqlite"
)

// openOpened opens a store with open, starts it and closes it when the
// test ends.
func openOpened(t *testing.T, open func(context.Context) (*sqlstore.Store, error)) *sqlstore.Store {
	t.Helper()
	db, err := open(context.Background())
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	db.Hasher = auth.Hasher{Iterations: 1000}
	if err := db.Open(); err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
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
