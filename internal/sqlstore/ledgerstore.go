package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
)

// LedgerStore is the embedded mode's delivery ledger: a database of its
// own (sqlite.OpenLedger: ledger.db beside the store's file) that holds
// only the push_deliveries table, written by a writer of its own, so that
// recording pushes never waits on, nor slows, the writes that cause them.
// It checks no password, keeps no object body and has no outbox. The
// store's DeliveryLedger writes there when its Store is set; on
// PostgreSQL the ledger is a table of the store itself.
//
// Like the store's writer, the ledger's collects the writes that wait into
// one transaction; a batch in which a write fails runs again one write per
// transaction, so that only the failing one fails.
type LedgerStore struct {
	// Log receives the ledger's warnings (slog.Default when nil).
	Log *slog.Logger
	// MaxBatch bounds how many writes share one transaction.
	MaxBatch int
	// Maintain, when set, runs in its own goroutine while the ledger is
	// open (the SQLite checkpointer); its context ends at Close.
	Maintain func(ctx context.Context)
	// WriterChore, when set, runs on the writer goroutine with the
	// writer's connection, between two transactions, once after each call
	// of RequestWriterChore (SQLite restarts its log there).
	WriterChore func(ctx context.Context, write *sql.DB)

	read, write *sql.DB
	dialect     Dialect

	reqs         chan *ledgerReq
	done         chan struct{}
	chore        atomic.Bool // RequestWriterChore was called
	stopMaintain context.CancelFunc
	maintained   chan struct{}

	mu     sync.RWMutex // guards closed
	closed bool
}

// NewLedgerStore returns a ledger over read and write connection pools
// (which may be the same pool) of a database that holds push_deliveries.
// Call Open before use and Close after.
func NewLedgerStore(read, write *sql.DB, d Dialect) *LedgerStore {
	return &LedgerStore{read: read, write: write, dialect: d, MaxBatch: 256}
}

// Open starts the writer.
func (s *LedgerStore) Open() error {
	if s.Log == nil {
		s.Log = slog.Default()
	}
	if s.MaxBatch < 1 {
		s.MaxBatch = 1
	}
	s.reqs = make(chan *ledgerReq, 4*s.MaxBatch)
	s.done = make(chan struct{})
	go s.run()
	if s.Maintain != nil {
		ctx, cancel := context.WithCancel(context.Background())
		s.stopMaintain, s.maintained = cancel, make(chan struct{})
		go func() {
			defer close(s.maintained)
			s.Maintain(ctx)
		}()
	}
	return nil
}

// Close finishes the writes already queued, stops the writer and closes
// the connection pools.
func (s *LedgerStore) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	if s.reqs != nil {
		close(s.reqs)
	}
	s.mu.Unlock()
	if s.done != nil {
		<-s.done
	}
	if s.stopMaintain != nil {
		s.stopMaintain()
		<-s.maintained
	}
	err := s.write.Close()
	if s.read != s.write {
		err = errors.Join(err, s.read.Close())
	}
	return err
}

// ReadDB returns the pool used for reads (for tests and tools).
func (s *LedgerStore) ReadDB() *sql.DB { return s.read }

// RequestWriterChore has the writer goroutine run WriterChore after its
// current or next transaction.
func (s *LedgerStore) RequestWriterChore() { s.chore.Store(true) }

// ledgerReq is a write waiting for the ledger's writer.
type ledgerReq struct {
	fn   func(ledgerTx) error
	err  error
	done chan struct{}
}

// ledgerTx is the transaction a ledger write runs in: the store's Tx, or
// a LedgerStore's.
type ledgerTx interface {
	Exec(ctx context.Context, query string, args ...any) (sql.Result, error)
	// sharedTx reports whether other writes share the transaction.
	sharedTx() bool
}

// ledgerDB is where the ledger's rows are: the store itself (DB) or a
// LedgerStore.
type ledgerDB interface {
	// writeLedger runs fn in a write transaction and returns once it has
	// committed (or fn failed).
	writeLedger(ctx context.Context, fn func(ledgerTx) error) error
	// writesWaiting reports whether writes wait for the next transaction.
	writesWaiting() bool
	// insertOrIgnore is the INSERT of records that cannot conflict.
	insertOrIgnore() string
	// readPool returns the pool to read the ledger from and its dialect.
	readPool() (*sql.DB, Dialect)
}

var (
	_ ledgerDB = (*DB)(nil)
	_ ledgerDB = (*LedgerStore)(nil)
	_ ledgerTx = (*Tx)(nil)
	_ ledgerTx = (*lTx)(nil)
)

func (t *Tx) sharedTx() bool { return t.shared }

func (db *DB) writeLedger(ctx context.Context, fn func(ledgerTx) error) error {
	return db.writeTx(ctx, func(tx *Tx) error { return fn(tx) })
}

func (db *DB) readPool() (*sql.DB, Dialect) { return db.read, db.dialect }

// lTx is a LedgerStore's transaction.
type lTx struct {
	tx      *sql.Tx
	dialect Dialect
	shared  bool
}

// Exec runs a statement with "?" placeholders. Like Tx.Exec, it is not
// interrupted by the end of ctx.
func (t *lTx) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(context.WithoutCancel(ctx), t.dialect.Rebind(query), args...)
}

func (t *lTx) sharedTx() bool { return t.shared }

func (s *LedgerStore) writeLedger(ctx context.Context, fn func(ledgerTx) error) error {
	req := &ledgerReq{fn: fn, done: make(chan struct{})}
	s.mu.RLock()
	if s.closed || s.reqs == nil {
		s.mu.RUnlock()
		return errClosed
	}
	s.reqs <- req
	s.mu.RUnlock()
	<-req.done
	return req.err
}

func (s *LedgerStore) writesWaiting() bool { return len(s.reqs) > 0 }

func (s *LedgerStore) insertOrIgnore() string {
	if d, ok := s.dialect.(IgnoreInserter); ok {
		return d.InsertOrIgnore()
	}
	return "INSERT"
}

func (s *LedgerStore) readPool() (*sql.DB, Dialect) { return s.read, s.dialect }

// run is the writer goroutine.
func (s *LedgerStore) run() {
	defer close(s.done)
	batch := make([]*ledgerReq, 0, s.MaxBatch)
	for first := range s.reqs {
		batch = append(batch[:0], first)
	fill:
		for len(batch) < s.MaxBatch {
			select {
			case r, ok := <-s.reqs:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		s.commit(batch)
		if s.chore.Swap(false) && s.WriterChore != nil {
			s.WriterChore(context.Background(), s.write)
		}
	}
}

// commit runs a batch of writes in one transaction, or, when one of them
// fails, each in a transaction of its own, and completes them.
func (s *LedgerStore) commit(batch []*ledgerReq) {
	if len(batch) > 1 {
		if err := s.commitTx(batch); err == nil {
			for _, r := range batch {
				close(r.done)
			}
			return
		}
	}
	for _, r := range batch {
		r.err = s.commitTx([]*ledgerReq{r})
		close(r.done)
	}
}

// commitTx runs batch in one transaction: all of it commits, or none.
func (s *LedgerStore) commitTx(batch []*ledgerReq) error {
	ctx := context.Background() // a write, once queued, is not cancelled
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	t := &lTx{tx: tx, dialect: s.dialect, shared: len(batch) > 1}
	for _, r := range batch {
		if err := r.fn(t); err != nil {
			tx.Rollback()
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		s.Log.Error("delivery ledger: commit failed", "writes", len(batch), "error", err)
		return err
	}
	return nil
}
