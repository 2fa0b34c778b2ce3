package sqlstore

// LedgerPauses returns how many pauses paced ledger writes took so far.
func LedgerPauses() int64 { return ledgerPauses.Load() }

// LedgerCalm is the most records a paced ledger write takes.
const LedgerCalm = ledgerCalm

// LockKey is the order in which a write locks objects.
var LockKey = lockKey
