package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

// MigrationConn is what Migrate needs of a connection: a *sql.DB or a
// *sql.Conn.
type MigrationConn interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error)
}

// Migrate applies the migrations in files (migrations/NNNN_name.sql) that
// schema_migrations does not list yet, in order, each in a transaction
// with its record. d rewrites the placeholders. The caller serialises
// concurrent migrators (PostgreSQL takes an advisory lock; SQLite's
// writer lock does it).
func Migrate(ctx context.Context, conn MigrationConn, files fs.FS, d Dialect) error {
	return MigrateIn(ctx, conn, files, d, "schema_migrations")
}

// MigrateIn is Migrate with the versions applied listed in table: a
// database of another kind (the delivery ledger's) numbers its migrations
// on its own.
func MigrateIn(ctx context.Context, conn MigrationConn, files fs.FS, d Dialect, table string) error {
	if _, err := conn.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+table+" (version INTEGER PRIMARY KEY)"); err != nil {
		return err
	}
	names, err := fs.Glob(files, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: bad name", name)
		}
		var n int
		if err := conn.QueryRowContext(ctx, d.Rebind("SELECT COUNT(*) FROM "+table+" WHERE version = ?"), v).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		body, err := fs.ReadFile(files, name)
		if err != nil {
			return err
		}
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		// Without arguments, the file runs as one statement list.
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, d.Rebind("INSERT INTO "+table+" (version) VALUES (?)"), v); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
	}
	return nil
}
