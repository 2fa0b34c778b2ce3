package sqlite_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/sqlstore"
	"github.com/kumo-iot/kumo/internal/sqlstore/sqlite"
	"github.com/kumo-iot/kumo/internal/sqlstore/storetest"
	msqlite "modernc.org/sqlite"
)

// paths remembers the file of every store the tests opened, for reopen.
var paths sync.Map // *sqlstore.Store -> string

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) *sqlstore.Store {
		return MustOpen(t, filepath.Join(t.TempDir(), "kumo.db"))
	}, func(t *testing.T, db *sqlstore.Store) *sqlstore.Store {
		path, ok := paths.Load(db)
		if !ok {
			t.Fatal("reopen of a store the test did not open")
		}
		if err := db.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		return MustOpen(t, path.(string))
	})
}

// MustOpen opens the store in the SQLite file at path with a fast password
// hasher, and closes it when the test ends.
func MustOpen(tb testing.TB, path string) *sqlstore.Store {
	tb.Helper()
	db := storetest.MustOpen(tb, func(ctx context.Context) (*sqlstore.Store, error) { return sqlite.Open(ctx, path) })
	paths.Store(db, path)
	return db
}

func TestMigrationsIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kumo.db")
	ctx := context.Background()
	db := MustOpen(t, path)
	creds, err := db.Apps.CreateApp(ctx, kumo.AppCreate{ID: "app1"})
	if err != nil {
		t.Fatalf("CreateApp: %v", err)
	}
	want := countMigrations(t, db)
	if want == 0 {
		t.Fatal("no migration was recorded")
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	for i := 0; i < 2; i++ { // the same file, opened again: nothing is applied twice
		db = MustOpen(t, path)
		if got := countMigrations(t, db); got != want {
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

// pragmas records the settings of every new connection to a test file, by
// file and side ("write", "read" or "checkpoint"), through the driver's
// connection hook.
var pragmas struct {
	sync.Mutex
	m map[string]map[string]string // "path write" -> pragma -> value
}

func init() {
	pragmas.m = map[string]map[string]string{}
	msqlite.RegisterConnectionHook(func(conn msqlite.ExecQuerierContext, dsn string) error {
		path, query, _ := strings.Cut(strings.TrimPrefix(dsn, "file:"), "?")
		side := "checkpoint"
		switch {
		case strings.Contains(query, "_txlock=immediate"):
			side = "write"
		case strings.Contains(query, "query_only"):
			side = "read"
		}
		got := map[string]string{}
		for _, p := range []string{"journal_mode", "synchronous", "foreign_keys", "query_only", "busy_timeout"} {
			v, err := pragma(conn, p)
			if err != nil {
				return err
			}
			got[p] = v
		}
		pragmas.Lock()
		pragmas.m[path+" "+side] = got
		pragmas.Unlock()
		return nil
	})
}

func pragma(conn msqlite.ExecQuerierContext, name string) (string, error) {
	rows, err := conn.QueryContext(context.Background(), "PRAGMA "+name, nil)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	v := make([]driver.Value, len(rows.Columns()))
	if err := rows.Next(v); err != nil && err != io.EOF {
		return "", err
	}
	return fmt.Sprint(v[0]), nil
}

func TestPragmas(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kumo.db")
	db := MustOpen(t, path)
	ctx := context.Background()
	// A write and a read make sure both pools hold a connection.
	if _, err := db.Apps.CreateApp(ctx, kumo.AppCreate{ID: "app1"}); err != nil {
		t.Fatalf("CreateApp: %v", err)
	}
	if _, err := db.Apps.FindApp(ctx, "app1"); err != nil {
		t.Fatalf("FindApp: %v", err)
	}

	var mode string
	if err := db.ReadDB().QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatalf("PRAGMA journal_mode: %v", err)
	}
	if mode != "wal" {
		t.Errorf("journal_mode = %q, want wal", mode)
	}

	tests := []struct {
		side, pragma, want string
	}{
		{"write", "journal_mode", "wal"},
		{"write", "synchronous", "2"}, // FULL: every acknowledged write is on disk
		{"write", "foreign_keys", "1"},
		{"write", "query_only", "0"},
		{"write", "busy_timeout", "10000"},
		{"read", "journal_mode", "wal"},
		{"read", "query_only", "1"},
		{"read", "busy_timeout", "10000"},
	}
	pragmas.Lock()
	defer pragmas.Unlock()
	for _, tt := range tests {
		t.Run(tt.side+" "+tt.pragma, func(t *testing.T) {
			got, ok := pragmas.m[path+" "+tt.side]
			if !ok {
				t.Fatalf("no %s connection to %s was opened", tt.side, path)
			}
			if got[tt.pragma] != tt.want {
				t.Errorf("%s side: PRAGMA %s = %q, want %q", tt.side, tt.pragma, got[tt.pragma], tt.want)
			}
		})
	}
}

func TestReadSideIsReadOnly(t *testing.T) {
	db := MustOpen(t, filepath.Join(t.TempDir(), "kumo.db"))
	_, err := db.ReadDB().Exec("INSERT INTO meta (key, value) VALUES ('x', 'y')")
	if err == nil {
		t.Error("an INSERT through the read pool succeeded, want it refused (query_only)")
	}
}

func TestTokensStoredHashed(t *testing.T) {
	db := MustOpen(t, filepath.Join(t.TempDir(), "kumo.db"))
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
		(SELECT COUNT(*) FROM tokens WHERE key = ?),
		(SELECT COUNT(*) FROM tokens WHERE key = ?),
		(SELECT COUNT(*) FROM apps WHERE client_secret_hash = ?)`,
		tok.AccessToken, kumo.TokenKey(tok.AccessToken), creds.ClientSecret).Scan(&clear, &hashed, &secret)
	if err != nil {
		t.Fatal(err)
	}
	if clear != 0 || hashed != 1 || secret != 0 {
		t.Errorf("tokens stored in the clear: %d, by their hash: %d, client secrets in the clear: %d; want 0, 1, 0", clear, hashed, secret)
	}
}

func TestIsUniqueViolation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kumo.db")
	if err := MustOpen(t, path).Close(); err != nil { // creates the schema
		t.Fatal(err)
	}
	conn, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	d := sqlite.Dialect{}
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
	if _, err := conn.Exec("INSERT INTO things (app_id, id, vendor_thing_id, password_hash, fields, disabled, online, online_modified, created, modified) VALUES ('a', 't1', 'v', '', '{}', 0, 0, 0, 0, 0)"); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := conn.Exec(tt.sql)
			if err == nil {
				t.Fatal("statement succeeded, want an error")
			}
			if got := d.IsUniqueViolation(err); got != tt.want {
				t.Errorf("IsUniqueViolation(%v) = %v, want %v", err, got, tt.want)
			}
		})
	}
	if d.IsUniqueViolation(nil) || d.IsUniqueViolation(io.EOF) {
		t.Error("IsUniqueViolation is true for an error that is not SQLite's")
	}
}

func TestRebind(t *testing.T) {
	const q = "SELECT * FROM t WHERE a = ? AND b = ?"
	if got := (sqlite.Dialect{}).Rebind(q); got != q {
		t.Errorf("Rebind(%q) = %q, want it unchanged", q, got)
	}
}

// TestCursorOutbox: a SQLite store, which one process uses, has the
// cursor outbox (one node), not the lease outbox of a cluster.
func TestCursorOutbox(t *testing.T) {
	db := MustOpen(t, filepath.Join(t.TempDir(), "kumo.db"))
	if _, ok := db.Outbox.(*sqlstore.CursorOutbox); !ok {
		t.Fatalf("a SQLite store's outbox is a %T, want a *sqlstore.CursorOutbox", db.Outbox)
	}
}
