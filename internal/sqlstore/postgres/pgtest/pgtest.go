// Package pgtest gives tests PostgreSQL databases of their own, on the
// server named by the environment:
//
//	KUMO_TEST_POSTGRES     URL of a superuser connection to the server's
//	                       "postgres" database (./scripts/test starts a
//	                       throwaway server and sets it)
//	KUMO_REQUIRE_POSTGRES  when 1, a test that needs PostgreSQL fails
//	                       instead of skipping when KUMO_TEST_POSTGRES is
//	                       not set
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/kumo-iot/kumo/internal/sqlstore/postgres"
)

// ServerURL returns KUMO_TEST_POSTGRES. Without it, it skips the test, or
// fails it when KUMO_REQUIRE_POSTGRES=1.
func ServerURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv("KUMO_TEST_POSTGRES")
	switch {
	case u != "":
		return u
	case os.Getenv("KUMO_REQUIRE_POSTGRES") == "1":
		tb.Fatal("KUMO_REQUIRE_POSTGRES=1 but KUMO_TEST_POSTGRES is not set: " +
			"set it to the URL of a PostgreSQL superuser (postgres://user@host:port/postgres), or run ./scripts/test, which starts a server")
	default:
		tb.Skip("PostgreSQL tests skipped: KUMO_TEST_POSTGRES is not set; run ./scripts/test, which starts a throwaway PostgreSQL server and runs them")
	}
	return ""
}

// NewDatabase creates an empty database kumo_test_<random> on the test
// server and returns its URL; the database is dropped when the test ends.
// It skips or fails the test like ServerURL.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	server := ServerURL(tb)
	b := make([]byte, 8)
	rand.Read(b)
	name := "kumo_test_" + hex.EncodeToString(b)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	u, err := postgres.CreateDatabase(ctx, server, name)
	if err != nil {
		tb.Fatalf("create test database: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := postgres.DropDatabase(ctx, server, name); err != nil {
			tb.Errorf("drop test database: %v", err)
		}
	})
	return u
}
