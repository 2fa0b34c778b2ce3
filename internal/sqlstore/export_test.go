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
