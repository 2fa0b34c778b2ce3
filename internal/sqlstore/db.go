// Package sqlstore implements Kumo's services (the kumo package's
// interfaces) over database/sql, once for every database. The dialect
// packages below it (sqlite, postgres) bring the driver, the migrations and
// the few differences of SQL.
//
// Every write goes through one group-commit writer: concurrent writes are
// collected into one transaction, each in its own savepoint, and each is
// acknowledged only after that transaction commits. A write and the events
// it causes (the outbox) commit together.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kumo-iot/kumo"
)

// DB is Kumo's store. It implements the kumo service interfaces.
type DB struct {
	// Hasher hashes user and thing passwords. Required.
	Hasher kumo.PasswordHasher
	// Log receives the store's warnings.
	Log *slog.Logger
	// NodeID names this node in outbox claims on a shared database.
	NodeID string
	// Lease is how long this node's outbox claims last on a shared
	// database (DefaultLease when zero).
	Lease time.Duration
	// Now returns the current time; time.Now when nil (tests set it).
	Now func() time.Time
	// MaxBatch bounds how many writes share one transaction.
	MaxBatch int
	// Maintain, when set, runs in its own goroutine while the store is
	// open (the SQLite checkpointer); its context ends at Close.
	Maintain func(ctx context.Context)
	// WriterChore, when set, runs on the writer goroutine with the
	// writer's connection, between two transactions, once after each call
	// of RequestWriterChore (SQLite restarts its log there).
	WriterChore func(ctx context.Context, write *sql.DB)
	// Blobs holds the bytes of object bodies; set by the dialect package.
	// Closed by Close when it is an io.Closer.
	Blobs Blobs
	// MaxBodySize bounds an object body, in bytes
	// (kumo.DefaultMaxBodySize when 0).
	MaxBodySize int64
	// KeepBlobs, when set, keeps Open from deleting the blobs that no row
	// names (the leftovers of a crash): tools that open a store a server
	// may be using set it, since that server's uploads in progress look
	// the same.
	KeepBlobs bool
	// QueueMax bounds the queue of each persistent MQTT installation
	// (kumo.DefaultQueueMax when 0): beyond it the oldest pushes go.
	QueueMax int

	dialect Dialect
	cached  bool         // the driver caches prepared statements (StatementCacher)
	locks   RowLocker    // the dialect's, or noLocks
	objects ObjectWriter // the dialect's, or rowWriter

	rebound sync.Map // query -> the query rebound, when cached
	read    *sql.DB
	write   *sql.DB

	reqs chan *writeReq
	done chan struct{}

	stopMaintain context.CancelFunc
	chore        atomic.Bool // RequestWriterChore was called
	maintained   chan struct{}
	stopSweep    context.CancelFunc
	swept        chan struct{}

	trashPending atomic.Bool // blob_trash may have rows
	trashMu      sync.Mutex  // one emptyTrash at a time
	rstmts       sync.Map    // query -> *sql.Stmt prepared on the read pool

	// caches are the services' caches of each counter, told by
	// bumpCounter of the changes this node commits (set by New).
	caches map[string][]forgetter

	mu     sync.RWMutex // guards closed
	closed bool

	notify chan struct{} // events committed

	// The outbox's hooks (see onOpen and beforeWrites): the DB runs them
	// without knowing which outbox registered them.
	opening []func(ctx context.Context) error
	cleanup func(ctx context.Context, tx *Tx) (committed func(), err error)
	wake    chan struct{} // wakes an idle writer to run cleanup (wakeWriter)
}

// newDB returns the shared part of a store over read and write connection
// pools (which may be the same pool).
func newDB(read, write *sql.DB, d Dialect) *DB {
	db := &DB{read: read, write: write, dialect: d, MaxBatch: 256, caches: map[string][]forgetter{}, notify: make(chan struct{}, 1), wake: make(chan struct{}, 1)}
	if c, ok := d.(StatementCacher); ok {
		db.cached = c.CachesStatements()
	}
	db.locks, db.objects = RowLocker(noLocks{}), ObjectWriter(rowWriter{})
	if l, ok := d.(RowLocker); ok {
		db.locks = l
	}
	if w, ok := d.(ObjectWriter); ok {
		db.objects = w
	}
	return db
}

// onOpen registers fn, which Open runs before it starts the writer (the
// outbox reads where it stands).
func (db *DB) onOpen(fn func(ctx context.Context) error) { db.opening = append(db.opening, fn) }

// beforeWrites registers fn, which the writer runs at the start of each of
// its transactions, within it, and alone after wakeWriter when no write
// comes along: the outbox deletes there the events the dispatcher has
// completed. fn returns what to run once the transaction has committed,
// or nil when it did nothing; when it fails, its work is rolled back and
// the transaction's writes run without it.
func (db *DB) beforeWrites(fn func(ctx context.Context, tx *Tx) (committed func(), err error)) {
	db.cleanup = fn
}

// wakeWriter has an idle writer run its cleanup (beforeWrites) soon,
// alone if no write comes along.
func (db *DB) wakeWriter() {
	select {
	case db.wake <- struct{}{}:
	default:
	}
}

// Open starts the writer.
func (db *DB) Open() error {
	if db.Hasher == nil {
		return errors.New("sqlstore: no password hasher")
	}
	if db.Log == nil {
		db.Log = slog.Default()
	}
	if db.Now == nil {
		db.Now = time.Now
	}
	if db.NodeID == "" {
		db.NodeID = "node"
	}
	if db.Lease <= 0 {
		db.Lease = DefaultLease
	}
	for _, fn := range db.opening {
		if err := fn(context.Background()); err != nil {
			return err
		}
	}
	if db.Blobs == nil {
		return errors.New("sqlstore: no blob storage")
	}
	started := time.Now() // blobs carry real times, whatever the clock
	db.reqs = make(chan *writeReq, 4*db.MaxBatch)
	db.done = make(chan struct{})
	go db.runWriter()
	if !db.KeepBlobs {
		sweepCtx, stopSweep := context.WithCancel(context.Background())
		db.stopSweep, db.swept = stopSweep, make(chan struct{})
		log := db.Log // the goroutine's own: tests replace db.Log after Open
		go func() {
			defer close(db.swept)
			db.sweepBlobs(sweepCtx, log, started)
		}()
	}
	if db.Maintain != nil {
		ctx, cancel := context.WithCancel(context.Background())
		db.stopMaintain, db.maintained = cancel, make(chan struct{})
		go func() {
			defer close(db.maintained)
			db.Maintain(ctx)
		}()
	}
	return nil
}

// Close finishes the writes already queued, stops the writer and closes
// the connection pools.
func (db *DB) Close() error {
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return nil
	}
	db.mu.Unlock()
	if db.stopSweep != nil {
		db.stopSweep()
		<-db.swept // it writes through the writer: before the writer stops
	}
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return nil
	}
	db.closed = true
	close(db.reqs)
	db.mu.Unlock()
	<-db.done
	if db.stopMaintain != nil {
		db.stopMaintain()
		<-db.maintained
	}
	db.rstmts.Range(func(_, v any) bool { v.(*sql.Stmt).Close(); return true })
	err := db.write.Close()
	if db.read != db.write {
		err = errors.Join(err, db.read.Close())
	}
	if c, ok := db.Blobs.(io.Closer); ok {
		err = errors.Join(err, c.Close())
	}
	return err
}

// ReadDB returns the pool used for reads (for tests and tools).
func (db *DB) ReadDB() *sql.DB { return db.read }

func (db *DB) now() int64 { return db.Now().UnixMilli() }

// Tx is a write transaction handed to a write function.
type Tx struct {
	tx     *sql.Tx
	db     *DB
	shared bool // other writes share the transaction
	events int  // events added, to wake the dispatcher
	// afterCommit runs once the transaction has committed (before the
	// writes return): caches forget what it changed only then, so that no
	// read between the change and its commit can put the old back.
	afterCommit []func()
	stmts       map[string]*sql.Stmt // prepared in this transaction
}

// Exec runs a statement with "?" placeholders. A statement is prepared
// once per transaction, however many writes of the batch run it (or, when
// the driver caches statements, once per connection by the driver).
//
// The end of ctx (the request's) does not interrupt the statement: a
// write, once queued, runs to its end, because an interrupted statement
// would take the whole shared transaction with it (SQLite rolls the
// transaction back; pgx closes the connection).
func (t *Tx) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx = context.WithoutCancel(ctx)
	if t.db.cached {
		return t.tx.ExecContext(ctx, t.db.rebind(query), args...)
	}
	st, err := t.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// QueryRow runs a query with "?" placeholders. Like Exec, it is not
// interrupted by the end of ctx.
func (t *Tx) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	ctx = context.WithoutCancel(ctx)
	if t.db.cached {
		return t.tx.QueryRowContext(ctx, t.db.rebind(query), args...)
	}
	st, err := t.stmt(ctx, query)
	if err != nil {
		return t.tx.QueryRowContext(ctx, t.db.dialect.Rebind(query), args...) // reports the same error
	}
	return st.QueryRowContext(ctx, args...)
}

// Query runs a query with "?" placeholders. Like Exec, it is not
// interrupted by the end of ctx.
func (t *Tx) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx = context.WithoutCancel(ctx)
	if t.db.cached {
		return t.tx.QueryContext(ctx, t.db.rebind(query), args...)
	}
	st, err := t.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (t *Tx) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := t.stmts[query]; ok {
		return st, nil
	}
	st, err := t.tx.PrepareContext(ctx, t.db.dialect.Rebind(query))
	if err != nil {
		return nil, err
	}
	if t.stmts == nil {
		t.stmts = map[string]*sql.Stmt{}
	}
	t.stmts[query] = st
	return st, nil
}

// rebind returns query rebound for the database, remembering the result.
func (db *DB) rebind(query string) string {
	if q, ok := db.rebound.Load(query); ok {
		return q.(string)
	}
	q := db.dialect.Rebind(query)
	db.rebound.Store(query, q)
	return q
}

// readStmt returns query prepared on the read pool (database/sql prepares
// it on each connection as needed).
func (db *DB) readStmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := db.rstmts.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := db.read.PrepareContext(ctx, db.dialect.Rebind(query))
	if err != nil {
		return nil, err
	}
	if old, loaded := db.rstmts.LoadOrStore(query, st); loaded {
		st.Close()
		return old.(*sql.Stmt), nil
	}
	return st, nil
}

type writeReq struct {
	ctx  context.Context
	fn   func(*Tx) error
	err  error
	done chan struct{}
}

var errClosed = kumo.Errorf(kumo.ErrUnavailable, "The server is shutting down")

// readErr returns err, or TEMPORARY_UNAVAILABLE_ERROR when the store was
// closed under the read that failed.
func (db *DB) readErr(err error) error {
	if err == nil {
		return nil
	}
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.closed {
		return errClosed
	}
	return err
}

// writeTx runs fn in the shared write transaction and returns once that
// transaction has committed (or fn failed). fn's own error rolls back only
// fn's work.
func (db *DB) writeTx(ctx context.Context, fn func(*Tx) error) error {
	req := &writeReq{ctx: ctx, fn: fn, done: make(chan struct{})}
	db.mu.RLock()
	if db.closed {
		db.mu.RUnlock()
		return errClosed
	}
	db.reqs <- req
	db.mu.RUnlock()
	<-req.done // never abandon a queued write: its outcome must be known
	return req.err
}

func (db *DB) runWriter() {
	defer close(db.done)
	batch := make([]*writeReq, 0, db.MaxBatch)
	var idle <-chan time.Time // set while completed events wait for a write
	for {
		var first *writeReq
		select {
		case r, ok := <-db.reqs:
			if !ok {
				db.commit(nil) // delete what was completed before closing
				return
			}
			first = r
		case <-db.wake:
			if idle == nil {
				idle = time.After(100 * time.Millisecond)
			}
			continue
		case <-idle:
			idle = nil
			db.commit(nil) // no write came along: delete completed events alone
			continue
		}
		batch = append(batch[:0], first)
	fill:
		for len(batch) < db.MaxBatch {
			select {
			case r, ok := <-db.reqs:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		db.commit(batch)
		if db.chore.Swap(false) && db.WriterChore != nil {
			db.WriterChore(context.Background(), db.write)
		}
	}
}

// writesWaiting reports whether writes wait for the writer's next
// transaction.
func (db *DB) writesWaiting() bool { return len(db.reqs) > 0 }

// RequestWriterChore has the writer goroutine run WriterChore after its
// current or next transaction. A writer without writes to do runs it when
// the next write comes.
func (db *DB) RequestWriterChore() { db.chore.Store(true) }

// commit runs a batch of writes in one transaction. Writes rarely fail, so
// the batch first runs without savepoints; if a write fails, the whole
// transaction is rolled back and the batch runs again with one savepoint
// per write, so that the failing write is undone alone.
func (db *DB) commit(batch []*writeReq) {
	if len(batch) == 0 {
		db.commitTx(nil, false)
		return
	}
	if len(batch) > 1 {
		if db.commitTx(batch, false) {
			return
		}
		for _, r := range batch {
			r.err = nil
		}
	}
	db.commitTx(batch, true)
}

// commitTx runs batch in one transaction and completes every request. With
// savepoints off it returns false, completing nothing, as soon as a write
// fails.
func (db *DB) commitTx(batch []*writeReq, savepoints bool) bool {
	ctx := context.Background() // a write, once queued, is not cancelled
	finish := func(err error) bool {
		for _, r := range batch {
			if r.err == nil {
				r.err = err
			}
			close(r.done)
		}
		return true
	}
	sqlTx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return finish(fmt.Errorf("begin: %w", err))
	}
	tx := &Tx{tx: sqlTx, db: db, shared: len(batch) > 1}
	var deleted func()
	if db.cleanup != nil {
		deleted, err = db.cleanup(ctx, tx)
	}
	if err != nil {
		db.Log.Error("outbox cleanup failed", "error", err)
		sqlTx.Rollback()
		if len(batch) == 0 {
			return true
		}
		if sqlTx, err = db.write.BeginTx(ctx, nil); err != nil {
			return finish(fmt.Errorf("begin: %w", err))
		}
		tx, deleted = &Tx{tx: sqlTx, db: db, shared: len(batch) > 1}, nil
	}
	ok := 0
	for _, r := range batch {
		if savepoints && len(batch) > 1 {
			r.err = db.inSavepoint(ctx, tx, r.fn)
		} else {
			r.err = db.runGuarded(tx, r.fn)
		}
		if r.err == nil {
			ok++
		} else if !savepoints {
			sqlTx.Rollback()
			return false
		}
	}
	// A write that failed outside a savepoint (alone in its batch) may
	// have left part of its work in the transaction, and PostgreSQL
	// commits no transaction in which a statement failed: commit nothing
	// then. The completed events are deleted by the next transaction.
	if ok == 0 && deleted == nil || len(batch) == 1 && batch[0].err != nil {
		sqlTx.Rollback()
		if deleted != nil {
			db.wakeWriter()
		}
		return finish(nil)
	}
	if err := sqlTx.Commit(); err != nil {
		db.Log.Error("commit failed", "writes", len(batch), "error", err)
		return finish(fmt.Errorf("commit: %w", err))
	}
	if deleted != nil {
		deleted()
	}
	for _, fn := range tx.afterCommit {
		fn()
	}
	finish(nil)
	if tx.events > 0 {
		select {
		case db.notify <- struct{}{}:
		default:
		}
	}
	return true
}

// runGuarded runs a write's function, turning a panic into that write's
// error (logged with its stack): a bug in one write fails it alone, never
// the writer goroutine, the process and every write after it.
func (db *DB) runGuarded(tx *Tx, fn func(*Tx) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			db.Log.Error("sqlstore: a write panicked", "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("sqlstore: a write panicked: %v", p)
		}
	}()
	return fn(tx)
}

func (db *DB) inSavepoint(ctx context.Context, tx *Tx, fn func(*Tx) error) error {
	if _, err := tx.Exec(ctx, "SAVEPOINT w"); err != nil {
		return err
	}
	events, after := tx.events, len(tx.afterCommit)
	if err := db.runGuarded(tx, fn); err != nil {
		tx.events = events
		tx.afterCommit = tx.afterCommit[:after] // nothing of the undone write happens (hooks: jobs handed on)
		if _, rbErr := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT w"); rbErr != nil {
			return errors.Join(err, rbErr)
		}
		tx.Exec(ctx, "RELEASE SAVEPOINT w")
		return err
	}
	_, err := tx.Exec(ctx, "RELEASE SAVEPOINT w")
	return err
}

// queryRow runs a read query with "?" placeholders.
func (db *DB) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := db.readStmt(ctx, query)
	if err != nil {
		return db.read.QueryRowContext(ctx, db.dialect.Rebind(query), args...) // reports the same error
	}
	return st.QueryRowContext(ctx, args...)
}

func (db *DB) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := db.readStmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// Secret returns the server secret named name, creating it with a random
// value on first use. Every node of a cluster reads the same value.
func (db *DB) Secret(ctx context.Context, name string) ([]byte, error) {
	var v string
	err := db.queryRow(ctx, "SELECT value FROM meta WHERE key = ?", name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		err = db.writeTx(ctx, func(tx *Tx) error {
			_, err := tx.Exec(ctx, "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING", name, kumo.RandomHex(32))
			return err
		})
		if err != nil {
			return nil, err
		}
		err = db.queryRow(ctx, "SELECT value FROM meta WHERE key = ?", name).Scan(&v)
	}
	if err != nil {
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	return []byte(v), nil
}

// scopeFromKey is the inverse of kumo.Scope.Key.
func scopeFromKey(k string) kumo.Scope {
	kind, id, _ := strings.Cut(k, ":")
	switch kind {
	case "user":
		return kumo.Scope{Kind: kumo.ScopeUser, ID: id}
	case "group":
		return kumo.Scope{Kind: kumo.ScopeGroup, ID: id}
	case "thing":
		return kumo.Scope{Kind: kumo.ScopeThing, ID: id}
	}
	return kumo.AppScope
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
