package postgres_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/kumo-iot/kumo/internal/sqlstore/postgres"
	"github.com/kumo-iot/kumo/internal/sqlstore/postgres/pgtest"
)

// TestAdvanceSerial checks that AdvanceSerial moves a serial column's
// sequence past the values inserted explicitly, and never back.
func TestAdvanceSerial(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("pgx", pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// next inserts a row with a generated ID and returns the ID.
	next := func() int64 {
		t.Helper()
		var id int64
		if err := db.QueryRowContext(ctx, "INSERT INTO t DEFAULT VALUES RETURNING id").Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	advance := func() {
		t.Helper()
		if err := (postgres.Dialect{}).AdvanceSerial(ctx, db, "t", "id"); err != nil {
			t.Fatalf("AdvanceSerial: %v", err)
		}
	}
	exec("CREATE TABLE t (id BIGSERIAL PRIMARY KEY, name TEXT)")

	advance() // an empty table
	if id := next(); id != 1 {
		t.Errorf("first ID after advancing over an empty table: %d, want 1", id)
	}
	exec("INSERT INTO t (id) VALUES (2), (7), (5)")
	advance()
	if id := next(); id != 8 {
		t.Errorf("ID after inserting 7 and advancing: %d, want 8", id)
	}
	exec("DELETE FROM t WHERE id > 5")
	advance() // the sequence (at 8) is past the greatest ID (5): it stays
	if id := next(); id != 9 {
		t.Errorf("ID after advancing a sequence ahead of the table: %d, want 9 (never back)", id)
	}

	exec("CREATE TABLE plain (id BIGINT PRIMARY KEY)")
	if err := (postgres.Dialect{}).AdvanceSerial(ctx, db, "plain", "id"); err == nil {
		t.Error("AdvanceSerial of a column without a sequence: no error")
	}
}
