package sqlstore

import "context"

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
