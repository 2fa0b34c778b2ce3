package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/auth"
	"github.com/kumo-iot/kumo/internal/sqlstore"
	"github.com/kumo-iot/kumo/internal/sqlstore/postgres"
	"github.com/kumo-iot/kumo/internal/sqlstore/postgres/pgtest"
	"github.com/kumo-iot/kumo/internal/sqlstore/sqlite"
	"github.com/kumo-iot/kumo/internal/sqlstore/storetest"
)

// urls remembers the database of every store the tests opened, for reopen.
var urls sync.Map // *sqlstore.Store -> string

func TestStore(t *testing.T) {
	pgtest.ServerURL(t) // skip (or fail) the whole suite at once without a server
	storetest.Run(t, func(t *testing.T) *sqlstore.Store {
		return MustOpen(t, pgtest.NewDatabase(t))
	}, func(t *testing.T, db *sqlstore.Store) *sqlstore.Store {
		u, ok := urls.Load(db)
		if !ok {
			t.Fatal("reopen of a store the test did not open")
		}
		if err := db.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		return MustOpen(t, u.(string))
	})
}

// MustOpen opens the store on the database at url with a fast password
// hasher, and closes it when the test ends.
func MustOpen(tb testing.TB, url string) *sqlstore.Store {
	tb.Helper()
	db := storetest.MustOpen(tb, func(ctx context.Context) (*sqlstore.Store, error) { return postgres.Open(ctx, url) })
	urls.Store(db, url)
	return db
}

func TestMigrationsIdempotent(t *testing.T) {
	url := pgtest.NewDatabase(t)
	ctx := context.Background()
	db := MustOpen(t, url)
	creds, err := db.Apps.CreateApp(ctx, kumo.AppCreate{ID: "app1"})
	if err != nil {
		t.Fatalf("CreateApp: %v", err)
	}
	if countMigrations(t, db) == 0 {
		t.Fatal("no migration was recorded")
	}
	want := latestFile(t)
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	v, err := postgres.Migrate(ctx, url)
	if err != nil || v != want {
		t.Errorf("Migrate on a migrated database = %d, %v; want version %d", v, err, want)
	}
	for i := 0; i < 2; i++ { // the same database, opened again: nothing is applied twice
		db = MustOpen(t, url)
		if got, want := countMigrations(t, db), countFiles(t); got != want {
			t.Errorf("open %d: %d migrations recorded, want %d", i+2, got, want)
		}
		app, err := db.Apps.FindApp(ctx, "app1")
		if err != nil || app.ClientID != creds.ClientID {
			t.Errorf("open %d: FindApp = %+v, %v; want the app created before", i+2, app, err)
		}
		if err := db.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
}

// TestConcurrentFirstOpen starts several stores on one empty database at
// once, as nodes started together do: the migration lock lets one migrate
// and the others find the schema ready.
func TestConcurrentFirstOpen(t *testing.T) {
	url := pgtest.NewDatabase(t)
	const n = 8
	errs := make([]error, n)
	dbs := make([]*sqlstore.Store, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { dbs[i], errs[i] = postgres.Open(context.Background(), url) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d: %v", i, err)
			continue
		}
		dbs[i].Hasher = auth.Hasher{Iterations: 1000}
		if err := dbs[i].Open(); err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		defer dbs[i].Close()
	}
	if t.Failed() {
		return
	}
	if got, want := countMigrations(t, dbs[0]), countFiles(t); got != want {
		t.Errorf("%d migrations recorded, want %d", got, want)
	}
}

// TestMigrateEmpty runs "kumo migrate"'s entry point on an empty database.
func TestMigrateEmpty(t *testing.T) {
	url := pgtest.NewDatabase(t)
	v, err := postgres.Migrate(context.Background(), url)
	if err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if want := latestFile(t); v != want {
		t.Errorf("Migrate = version %d, want %d", v, want)
	}
	db := MustOpen(t, url)
	if _, err := db.Apps.CreateApp(context.Background(), kumo.AppCreate{ID: "app1"}); err != nil {
		t.Errorf("CreateApp on a migrated database: %v", err)
	}
}

func countMigrations(t *testing.T, db *sqlstore.Store) int {
	t.Helper()
	var n, distinct int
	if err := db.ReadDB().QueryRow("SELECT COUNT(*), COUNT(DISTINCT version) FROM schema_migrations").Scan(&n, &distinct); err != nil {
		t.Fatalf("count migrations: %v", err)
	}
	if n != distinct {
		t.Errorf("schema_migrations has %d rows for %d versions", n, distinct)
	}
	return n
}

func countFiles(t *testing.T) int {
	t.Helper()
	names, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(names) == 0 {
		t.Fatalf("no migration files: %v", err)
	}
	return len(names)
}

// latestFile returns the version of the newest migration file (versions
// may have gaps: branches reserve their numbers).
func latestFile(t *testing.T) int {
	t.Helper()
	names, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(names) == 0 {
		t.Fatalf("no migration files: %v", err)
	}
	latest := 0
	for _, name := range names {
		v, err := strconv.Atoi(strings.SplitN(filepath.Base(name), "_", 2)[0])
		if err != nil {
			t.Fatalf("migration file %s: no version: %v", name, err)
		}
		latest = max(latest, v)
	}
	return latest
}

// TestSchemaMatchesSQLite checks that both dialects' migrations build the
// same tables, columns and indexes, so that one set of SQL serves both.
func TestSchemaMatchesSQLite(t *testing.T) {
	ctx := context.Background()
	lite, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "kumo.db"))
	if err != nil {
		t.Fatal(err)
	}
	lite.Hasher = auth.Hasher{Iterations: 1000}
	if err := lite.Open(); err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	pg := MustOpen(t, pgtest.NewDatabase(t))

	want := schema(t, lite.ReadDB(), `SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p
		WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'`,
		`SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%'`)
	got := schema(t, pg.ReadDB(), `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()`,
		`SELECT i.indexname, i.tablename FROM pg_indexes i
		WHERE i.schemaname = current_schema() AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)`)
	// The bytes of object bodies: in PostgreSQL only (SQLite keeps them
	// in files).
	got = slices.DeleteFunc(got, func(s string) bool {
		return strings.HasPrefix(s, "blobs(") || strings.HasPrefix(s, "blob_chunks(")
	})
	if !reflect.DeepEqual(got, want) {
		t.Errorf("PostgreSQL schema differs from SQLite's:\n got %v\nwant %v", got, want)
	}
}

// schema returns "table(col, col…)" for every table and "index on table"
// for every index created by name (not those of constraints), sorted.
func schema(t *testing.T, db *sql.DB, columns, indexes string) []string {
	t.Helper()
	cols := map[string][]string{}
	rows, err := db.Query(columns)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var table, col string
		if err := rows.Scan(&table, &col); err != nil {
			t.Fatal(err)
		}
		cols[table] = append(cols[table], col)
	}
	rows.Close()
	var out []string
	for table, cs := range cols {
		sort.Strings(cs)
		out = append(out, table+"("+strings.Join(cs, ", ")+")")
	}
	rows, err = db.Query(indexes)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var index, table string
		if err := rows.Scan(&index, &table); err != nil {
			t.Fatal(err)
		}
		out = append(out, index+" on "+table)
	}
	rows.Close()
	sort.Strings(out)
	return out
}

func TestReadSideIsReadOnly(t *testing.T) {
	db := MustOpen(t, pgtest.NewDatabase(t))
	_, err := db.ReadDB().Exec("INSERT INTO meta (key, value) VALUES ('x', 'y')")
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "25006" { // read_only_sql_transaction
		t.Errorf("an INSERT through the read pool: %v, want it refused as read-only (25006)", err)
	}
}

func TestTokensStoredHashed(t *testing.T) {
	db := MustOpen(t, pgtest.NewDatabase(t))
	ctx := context.Background()
	creds, err := db.Apps.CreateApp(ctx, kumo.AppCreate{ID: "app1"})
	if err != nil {
		t.Fatalf("CreateApp: %v", err)
	}
	tok, err := db.Tokens.Login(ctx, "app1", kumo.LoginRequest{ClientID: creds.ClientID, ClientSecret: creds.ClientSecret})
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	var clear, hashed, secret int
	err = db.ReadDB().QueryRow(`SELECT
		(SELECT COUNT(*) FROM tokens WHERE key = $1),
		(SELECT COUNT(*) FROM tokens WHERE key = $2),
		(SELECT COUNT(*) FROM apps WHERE client_secret_hash = $3)`,
		tok.AccessToken, kumo.TokenKey(tok.AccessToken), creds.ClientSecret).Scan(&clear, &hashed, &secret)
	if err != nil {
		t.Fatal(err)
	}
	if clear != 0 || hashed != 1 || secret != 0 {
		t.Errorf("tokens stored in the clear: %d, by their hash: %d, client secrets in the clear: %d; want 0, 1, 0", clear, hashed, secret)
	}
}

func TestIsUniqueViolation(t *testing.T) {
	db := MustOpen(t, pgtest.NewDatabase(t))
	conn := db.ReadDB() // read-only: each statement below runs in a read-write transaction of its own
	d := postgres.Dialect{}
	exec := func(q string) error {
		tx, err := conn.Begin()
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if _, err := tx.Exec("SET TRANSACTION READ WRITE"); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec("INSERT INTO things (app_id, id, vendor_thing_id, password_hash, fields, disabled, online, online_modified, created, modified) VALUES ('a', 't1', 'v', '', '{}', 0, 0, 0, 0, 0)"); err != nil {
			t.Fatal(err)
		}
		_, err = tx.Exec(q)
		return err
	}
	tests := []struct {
		name string
		sql  string
		want bool
	}{
		{"unique index", "INSERT INTO things (app_id, id, vendor_thing_id, password_hash, fields, disabled, online, online_modified, created, modified) VALUES ('a', 't2', 'v', '', '{}', 0, 0, 0, 0, 0)", true},
		{"primary key", "INSERT INTO things (app_id, id, vendor_thing_id, password_hash, fields, disabled, online, online_modified, created, modified) VALUES ('a', 't1', 'v2', '', '{}', 0, 0, 0, 0, 0)", true},
		{"not null", "INSERT INTO things (app_id, id) VALUES ('a', 't3')", false},
		{"syntax error", "INSERT INTO", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := exec(tt.sql)
			if err == nil {
				t.Fatal("statement succeeded, want an error")
			}
			if got := d.IsUniqueViolation(err); got != tt.want {
				t.Errorf("IsUniqueViolation(%v) = %v, want %v", err, got, tt.want)
			}
			if got := d.IsUniqueViolation(fmt.Errorf("wrapped: %w", err)); got != tt.want {
				t.Errorf("IsUniqueViolation(wrapped %v) = %v, want %v", err, got, tt.want)
			}
		})
	}
	if d.IsUniqueViolation(nil) || d.IsUniqueViolation(io.EOF) {
		t.Error("IsUniqueViolation is true for an error that is not PostgreSQL's")
	}
}
