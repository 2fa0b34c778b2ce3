package sqlstore

import (
	"context"
	"io"

	"github.com/kumo-iot/kumo"
)

// LedgerPauses returns how many pauses paced ledger writes took so far.
func LedgerPauses() int64 { return ledgerPauses.Load() }

// LedgerCalm is the most records a paced ledger write takes.
const LedgerCalm = ledgerCalm

// LockKey is the order in which a write locks objects.
var LockKey = lockKey

// SubscriptionsCounter reads the counter that tells the bucket subscriber
// cache of every node that bucket subscriptions changed.
func SubscriptionsCounter(db *DB) (int64, error) {
	return db.counter(context.Background(), counterSubscriptions)
}

// SetMaxSkipped lowers the rows a query reads to fill a page of objects
// the caller may read; the returned function restores it.
func SetMaxSkipped(n int) (restore func()) {
	old := maxSkipped
	maxSkipped = n
	return func() { maxSkipped = old }
}

// QueryObjects runs a query with a readable filter (queryObjects).
func QueryObjects(db *Store, ctx context.Context, b kumo.BucketRef, q kumo.Query, readable func(kumo.Object) (bool, error)) (kumo.QueryResult, error) {
	return db.Objects.queryObjects(ctx, b, q, readable)
}

// SetMaxPageBytes lowers the stored JSON a query page may hold; the
// returned function restores it.
func SetMaxPageBytes(n int) (restore func()) {
	old := maxPageBytes
	maxPageBytes = n
	return func() { maxPageBytes = old }
}

// BlobReaderHeld is how many bytes a reader SQLBlobs.Open returned holds
// in memory between reads.
func BlobReaderHeld(r io.ReadCloser) int { return r.(*chunkReader).held() }

// SetBackfillBytes lowers the stored JSON one chunk of a bucket's
// indexing reads; the returned function restores it.
func SetBackfillBytes(n int) (restore func()) {
	old := backfillBytes
	backfillBytes = n
	return func() { backfillBytes = old }
}

// TestCache is the generic versioned cache, with strings for its tests.
type TestCache = versioned[string, string]

// NewTestCache returns a cache valid while counter keeps its value,
// registered with db. Call it before the test's first write.
func NewTestCache(db *DB, counter string, interval int64, max int) *TestCache {
	return newVersioned[string, string](db, counter, interval, max)
}

// Get is the cache's get.
func (c *versioned[K, V]) Get(ctx context.Context, k K) (v V, ok bool, gen int64, err error) {
	return c.get(ctx, k)
}

// Put is the cache's put.
func (c *versioned[K, V]) Put(gen int64, k K, v V) { c.put(gen, k, v) }

// Len is how many entries the cache holds.
func (c *versioned[K, V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// BumpCounter bumps the counter name (creating it at 0 first) in a write
// of db, as a write that changes what the counter's caches hold does.
func BumpCounter(db *DB, name string) error {
	ctx := context.Background()
	return db.writeTx(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(ctx, "INSERT INTO counters (name, value) VALUES (?, 0) ON CONFLICT (name) DO NOTHING", name); err != nil {
			return err
		}
		return bumpCounter(ctx, tx, name)
	})
}

// LedgerExec runs query in a write of the ledger l.
func LedgerExec(l *LedgerStore, query string, args ...any) error {
	ctx := context.Background()
	return l.writeLedger(ctx, func(tx ledgerTx) error {
		_, err := tx.Exec(ctx, query, args...)
		return err
	})
}

// WriteTx runs fn as a write of db's writer.
func WriteTx(db *DB, ctx context.Context, fn func(*Tx) error) error { return db.writeTx(ctx, fn) }
