// Package sqlite opens Kumo's embedded store: one SQLite file in WAL mode,
// written through sqlstore's group-commit writer with synchronous=FULL, so
// that every acknowledged write is on disk. Object bodies are files in the
// bodies directory beside it (sqlstore.FileBlobs).
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/kumo-iot/kumo/internal/sqlstore"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations/*.sql
var migrations embed.FS

// ledgerMigrations are the delivery ledger's (ledger/migrations/*.sql),
// listed in its table ledger_migrations.
//
//go:embed ledger/migrations/*.sql
var ledgerMigrations embed.FS

// Open opens (creating if needed) the database file at path, applies the
// migrations and returns the store. The caller sets the store's settings
// and calls Open on it.
func Open(ctx context.Context, path string) (*sqlstore.Store, error) {
	f, err := open(ctx, path, "FULL", 64<<10, migrate)
	if err != nil {
		return nil, err
	}
	blobs := sqlstore.FileBlobs{Dir: BodiesDir(path)}
	if err := blobs.Prepare(); err != nil {
		f.close()
		return nil, fmt.Errorf("object bodies directory: %w", err)
	}
	db := sqlstore.New(f.read, f.write, Dialect{})
	db.Blobs = blobs
	timing := checkpointing
	log := func() *slog.Logger { return db.Log }
	db.Maintain = func(ctx context.Context) { checkpoint(ctx, f.ckpt, log, db, path+"-wal", timing) }
	db.WriterChore = func(ctx context.Context, write *sql.DB) { restartLog(ctx, log, db, write) }
	return db, nil
}

// OpenLedger opens (creating if needed) the database file of the delivery
// ledger (sqlstore.LedgerStore): the push_deliveries table alone, with
// migrations of its own, committed with synchronous=NORMAL (in WAL mode, a
// power loss may lose the last records written; they are a record of
// pushes, not data). A ledger.db made when the ledger was a second store
// (every table of the store) opens as it is, its records kept. The caller
// sets the ledger's settings and calls Open on it.
func OpenLedger(ctx context.Context, path string) (*sqlstore.LedgerStore, error) {
	f, err := open(ctx, path, "NORMAL", 16<<10, migrateLedger)
	if err != nil {
		return nil, err
	}
	l := sqlstore.NewLedgerStore(f.read, f.write, Dialect{})
	timing := checkpointing
	log := func() *slog.Logger { return l.Log }
	l.Maintain = func(ctx context.Context) { checkpoint(ctx, f.ckpt, log, l, path+"-wal", timing) }
	l.WriterChore = func(ctx context.Context, write *sql.DB) { restartLog(ctx, log, l, write) }
	return l, nil
}

// uriPath escapes what a path may hold that a SQLite URI filename reads
// otherwise: "?" (the parameters), "#" (a fragment, cut off: a data
// directory named "a#1" opened the file "a") and "%" (an escape).
var uriPath = strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23")

// files are the connection pools over one database file: the writer's,
// the readers' and the checkpointer's.
type files struct {
	read, write, ckpt *sql.DB
}

func (f files) close() {
	f.write.Close()
	f.read.Close()
	f.ckpt.Close()
}

// open opens the file at path with the writer's page cache of cacheKiB
// (memory outside Go's heap, held while the store is open), and applies
// its migrations with migrate.
func open(ctx context.Context, path, synchronous string, cacheKiB int, migrate func(context.Context, *sql.DB) error) (files, error) {
	pragmas := []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(" + synchronous + ")", "foreign_keys(ON)"}
	dsn := func(extra ...string) string {
		q := url.Values{}
		for _, p := range append(pragmas, extra...) {
			q.Add("_pragma", p)
		}
		return "file:" + uriPath.Replace(path) + "?" + q.Encode()
	}
	// The writer never checkpoints (that would stall commits); the
	// checkpointer below does, in the background.
	// Its page cache holds the indexes that a batch of writes touches all
	// over (SQLite's default of 2 MB spills pages to the log in the middle
	// of a transaction), and statement journals stay in memory (so do its
	// sorts: a migration that indexes a big table sorts in RAM).
	write, err := sql.Open("sqlite", dsn("wal_autocheckpoint(0)", "journal_size_limit(67108864)", fmt.Sprintf("cache_size(-%d)", cacheKiB), "temp_store(MEMORY)")+"&_txlock=immediate")
	if err != nil {
		return files{}, err
	}
	write.SetMaxOpenConns(1) // one writer; sqlstore batches writes into it
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	if err := migrate(ctx, write); err != nil {
		write.Close()
		return files{}, fmt.Errorf("migrate %s: %w", path, err)
	}
	read, err := sql.Open("sqlite", dsn("query_only(ON)"))
	if err != nil {
		write.Close()
		return files{}, err
	}
	n := max(4, 2*runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	read.SetConnMaxLifetime(0)
	ckpt, err := sql.Open("sqlite", dsn())
	if err != nil {
		write.Close()
		read.Close()
		return files{}, err
	}
	ckpt.SetMaxOpenConns(1)
	return files{read: read, write: write, ckpt: ckpt}, nil
}

// BodiesDir returns the directory that holds the object bodies of the
// database at path: "bodies" beside it.
func BodiesDir(path string) string { return filepath.Join(filepath.Dir(path), "bodies") }

// checkpointTiming is when the checkpointer works.
type checkpointTiming struct {
	tick time.Duration // how often the log's size is looked at
	at   int64         // the log size that calls for a checkpoint
	idle time.Duration // and a checkpoint at least this often
}

// checkpointing is the timing of the stores opened from now on (tests
// shorten it).
var checkpointing = checkpointTiming{tick: time.Second, at: 32 << 20, idle: 30 * time.Second}

// checkpoint copies the write-ahead log into the database file in the
// background, so that no commit waits for it. A checkpoint's disk flush
// competes with the commits' own, so it runs rarely: when the log passes
// timing.at, or every timing.idle. A passive checkpoint never blocks the
// writer or readers.
//
// The writer starts the log over (and trims the file to
// journal_size_limit) when it begins a transaction after a checkpoint
// copied all of it. Under a steady stream of writes that never happens:
// new frames are always committed while a checkpoint runs, and the log
// grows without bound (hundreds of MB a minute at a few thousand writes/s).
// So once a checkpoint leaves a log that long behind, the writer is asked
// to checkpoint too, between two of its transactions: it copies only what
// was committed meanwhile, and its next transaction starts the log over.
func checkpoint(ctx context.Context, ckpt *sql.DB, log func() *slog.Logger, db choreRequester, walPath string, timing checkpointTiming) {
	defer ckpt.Close()
	pageSize := int64(4096)
	if err := ckpt.QueryRowContext(ctx, "PRAGMA page_size").Scan(&pageSize); err != nil && ctx.Err() == nil {
		log().Warn("reading the page size failed", "error", err)
	}
	t := time.NewTicker(timing.tick)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			ckpt.ExecContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)")
			return
		case <-t.C:
		}
		fi, err := os.Stat(walPath)
		if err != nil || fi.Size() < timing.at && time.Since(last) < timing.idle {
			continue
		}
		last = time.Now()
		var busy, frames, copied int64
		err = ckpt.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied)
		if err != nil {
			if ctx.Err() == nil {
				log().Warn("wal checkpoint failed", "error", err)
			}
			continue
		}
		if copied < frames && frames*pageSize >= timing.at {
			db.RequestWriterChore()
		}
	}
}

// choreRequester is a store (or the ledger) whose writer goroutine runs
// a chore between two transactions when asked.
type choreRequester interface {
	RequestWriterChore()
}

// restartLog is the writer's part of checkpoint: see there.
func restartLog(ctx context.Context, log func() *slog.Logger, db choreRequester, write *sql.DB) {
	start := time.Now()
	var busy, frames, copied int64
	if err := write.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied); err != nil {
		log().Warn("wal checkpoint by the writer failed", "error", err)
		return
	}
	if busy != 0 { // the background checkpoint runs: again after the next transaction
		db.RequestWriterChore()
		return
	}
	log().Debug("wal checkpoint by the writer, so that the log starts over", "took", time.Since(start), "frames", frames, "copied", copied)
}

// Dialect is SQLite's sqlstore.Dialect.
type Dialect struct{}

// Rebind implements sqlstore.Dialect: SQLite takes "?" as it is.
func (Dialect) Rebind(q string) string { return q }

// InsertOrIgnore implements sqlstore.IgnoreInserter.
func (Dialect) InsertOrIgnore() string { return "INSERT OR IGNORE" }

// Param implements kql.Dialect: SQLite numbers "?" placeholders itself.
func (Dialect) Param(int) string { return "?" }

// OrderedJoin implements kql.Dialect: SQLite's CROSS JOIN keeps the left
// table as the outer loop (a query ordered by a field walks that field's
// index in order and stops at its LIMIT).
func (Dialect) OrderedJoin() string { return "CROSS JOIN" }

// IsUniqueViolation implements sqlstore.Dialect.
func (Dialect) IsUniqueViolation(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// migrate applies the migrations not yet applied, each in a transaction.
func migrate(ctx context.Context, db *sql.DB) error {
	return sqlstore.Migrate(ctx, db, migrations, Dialect{})
}

// migrateLedger applies the delivery ledger's migrations not yet applied.
func migrateLedger(ctx context.Context, db *sql.DB) error {
	files, err := fs.Sub(ledgerMigrations, "ledger")
	if err != nil {
		return err
	}
	return sqlstore.MigrateIn(ctx, db, files, Dialect{}, "ledger_migrations")
}
