// Package postgres opens Kumo's store on a PostgreSQL database, through
// pgx's database/sql driver.
//
// Writes go through sqlstore's group-commit writer on ONE connection;
// reads use a pool of read-only connections. Migrations are embedded and
// applied by Open (and by Migrate, for "kumo migrate") under an advisory
// lock, so that nodes starting together apply each migration once.
//
// Several nodes share a database as the nodes of a cluster (kumo serve
// --nats): they claim outbox events with leases. A node started alone
// holds the server lock (serverlock.go), which keeps other nodes out.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/kumo-iot/kumo/internal/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the key of the advisory lock held while migrating
// ("kumo" in ASCII). Every Kumo process uses the same key.
const migrationLock int64 = 0x6b756d6f

// IsURL reports whether s is a PostgreSQL connection URL (postgres:// or
// postgresql://), which is how Kumo's --database flag selects PostgreSQL.
func IsURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// Redact returns the URL with its password (in the user information or
// as a password parameter) replaced by "xxxxx", for logs and errors.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "postgres://(unparsable URL)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// parseConfig parses a connection URL. Its errors never carry the URL
// (nor its password); the errors of this package name no URL, callers do
// (with Redact).
func parseConfig(rawURL string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(rawURL)
	if err != nil {
		return nil, errors.New("cannot parse the database URL")
	}
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = "kumo"
	}
	// A statement that waits on a lock, or a transaction left idle, ends
	// with an error instead of stalling the single writer forever.
	for k, v := range map[string]string{"lock_timeout": "30s", "idle_in_transaction_session_timeout": "5min"} {
		if cfg.RuntimeParams[k] == "" {
			cfg.RuntimeParams[k] = v
		}
	}
	return cfg, nil
}

// Open connects to the database at rawURL (a postgres:// URL), applies the
// migrations and returns the store. The caller sets the store's settings
// and calls Open on it.
func Open(ctx context.Context, rawURL string) (*sqlstore.Store, error) {
	cfg, err := parseConfig(rawURL)
	if err != nil {
		return nil, err
	}
	write := stdlib.OpenDB(*cfg)
	// Two connections: one for sqlstore's group-commit writer, one for the
	// outbox claims, which must not wait behind a busy writer.
	write.SetMaxOpenConns(2)
	write.SetMaxIdleConns(2)
	write.SetConnMaxLifetime(0)
	if err := migrate(ctx, write); err != nil {
		write.Close()
		return nil, err
	}
	rcfg := cfg.Copy()
	rcfg.RuntimeParams["default_transaction_read_only"] = "on"
	read := stdlib.OpenDB(*rcfg)
	n := max(4, 2*runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	read.SetConnMaxLifetime(0)
	// Object bodies are written and read on a pool of their own, chunk
	// by chunk, outside the writer's transactions.
	blobs := stdlib.OpenDB(*cfg)
	blobs.SetMaxOpenConns(n)
	blobs.SetMaxIdleConns(2)
	db := sqlstore.New(read, write, Dialect{})
	db.Blobs = sqlstore.SQLBlobs{DB: blobs, Dialect: Dialect{}}
	return db, nil
}

// Migrate applies the migrations not yet applied to the database at
// rawURL, and returns the schema version it is at.
func Migrate(ctx context.Context, rawURL string) (int, error) {
	cfg, err := parseConfig(rawURL)
	if err != nil {
		return 0, err
	}
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	if err := migrate(ctx, db); err != nil {
		return 0, err
	}
	var v int
	err = db.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&v)
	return v, err
}

// migrate applies the migrations not yet applied, each in a transaction,
// on one connection that holds the migration lock meanwhile: a process
// that starts while another migrates waits, then finds nothing to do.
func migrate(ctx context.Context, db *sql.DB) (err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrationLock); err != nil {
		return fmt.Errorf("take the migration lock: %w", err)
	}
	defer func() {
		// The lock is the session's: if the connection broke, it is gone.
		if _, uerr := conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrationLock); uerr != nil && err == nil {
			err = fmt.Errorf("release the migration lock: %w", uerr)
		}
	}()
	if err := sqlstore.Migrate(ctx, conn, migrations, Dialect{}); err != nil {
		return err
	}
	return nil
}

// Dialect is PostgreSQL's sqlstore.Dialect.
type Dialect struct{}

// Rebind implements sqlstore.Dialect: it numbers the "?" placeholders $1,
// $2, … A "?" inside a string literal ('…'), a quoted identifier ("…") or
// a comment is left alone. Escape-string (E'…') and dollar-quoted literals
// are not recognized: Kumo's SQL has none. (PostgreSQL's jsonb operators
// ?, ?| and ?& cannot be written as operators in Kumo's SQL either: use
// jsonb_exists and its siblings.)
func (Dialect) Rebind(q string) string {
	if !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		case c == '\'' || c == '"':
			// Copy up to the closing quote; a doubled quote is an escaped
			// one, which the loop treats as a close and a reopen.
			j := strings.IndexByte(q[i+1:], c)
			if j < 0 {
				b.WriteString(q[i:])
				return b.String()
			}
			b.WriteString(q[i : i+j+2])
			i += j + 1
			continue
		case c == '-' && i+1 < len(q) && q[i+1] == '-':
			j := strings.IndexByte(q[i:], '\n')
			if j < 0 {
				b.WriteString(q[i:])
				return b.String()
			}
			b.WriteString(q[i : i+j+1])
			i += j
			continue
		case c == '/' && i+1 < len(q) && q[i+1] == '*':
			j := strings.Index(q[i+2:], "*/")
			if j < 0 {
				b.WriteString(q[i:])
				return b.String()
			}
			b.WriteString(q[i : i+j+4])
			i += j + 3
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// Param implements kql.Dialect: $1, $2, …
func (Dialect) Param(n int) string { return "$" + strconv.Itoa(n) }

// OrderedJoin implements kql.Dialect: PostgreSQL's planner picks the join
// order from its statistics.
func (Dialect) OrderedJoin() string { return "JOIN" }

// CachesStatements implements sqlstore.StatementCacher: pgx prepares each
// statement once per connection and keeps it (its statement cache).
func (Dialect) CachesStatements() bool { return true }

// IsUniqueViolation implements sqlstore.Dialect: SQLSTATE 23505.
func (Dialect) IsUniqueViolation(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == "23505"
}

// CreateDatabase creates the database name on the server at serverURL (a
// URL of a role allowed to create databases) and returns the URL of the
// new database: serverURL with its path replaced. Tests use it to give
// each test a database of its own.
func CreateDatabase(ctx context.Context, serverURL, name string) (string, error) {
	u, err := url.Parse(serverURL)
	if err != nil || !IsURL(serverURL) {
		return "", fmt.Errorf("%s is not a postgres:// URL", Redact(serverURL))
	}
	if err := admin(ctx, serverURL, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", err
	}
	u.Path = "/" + name
	u.RawPath = ""
	return u.String(), nil
}

// DropDatabase drops the database name on the server at serverURL, even
// while connections to it remain (PostgreSQL 13 or later).
func DropDatabase(ctx context.Context, serverURL, name string) error {
	return admin(ctx, serverURL, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
}

// admin runs one statement on a connection of its own to serverURL.
func admin(ctx context.Context, serverURL, stmt string) error {
	cfg, err := parseConfig(serverURL)
	if err != nil {
		return err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("%s: %w", Redact(serverURL), err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("%s: %w", stmt, err)
	}
	return nil
}
