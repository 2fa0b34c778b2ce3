package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/kumo-iot/kumo"
)

// Outbox is the store's outbox as the push dispatcher reads it (the
// interface push.Outbox, which this package does not import): the events
// committed with the writes that caused them, and their recipients. It is
// a CursorOutbox on a database one process uses (SQLite), a LeaseOutbox on
// one the nodes of a cluster share (a dialect that is an OutboxLeaser:
// PostgreSQL); New picks the one the dialect calls for.
type Outbox interface {
	// The methods of push.Outbox, documented there.
	ClaimEvents(ctx context.Context, max int) ([]kumo.Event, error)
	CompleteEvents(ctx context.Context, events []kumo.Event) error
	SubscriberTopics(ctx context.Context, buckets []kumo.BucketRef) (map[kumo.BucketRef][]string, error)
	MessageRecipients(ctx context.Context, events []kumo.Event) ([][]kumo.Recipient, error)
	Notify() <-chan struct{}
}

var (
	_ Outbox = (*CursorOutbox)(nil)
	_ Outbox = (*LeaseOutbox)(nil)
)

// Recipients is the part both outboxes share: who an event goes to
// (SubscriberTopics in cache.go, MessageRecipients in message.go) and the
// signal of events committed (Notify).
type Recipients struct {
	db     *DB
	topics *versioned[kumo.BucketRef, []string] // the MQTT topics of each bucket's subscribers
}

// Notify implements push.Outbox.
func (o *Recipients) Notify() <-chan struct{} { return o.db.notify }

// insertEvent adds an event to the outbox inside the write's transaction.
func insertEvent(ctx context.Context, tx *Tx, e kumo.Event) error {
	err := execInsertEvent(ctx, tx, e)
	if err == nil {
		tx.events++
	}
	return err
}

// execInsertEvent is insertEvent without counting the event (the caller
// counts it: see CreateObject).
func execInsertEvent(ctx context.Context, tx *Tx, e kumo.Event) error {
	_, err := tx.Exec(ctx, `INSERT INTO outbox (app_id, type, scope, bucket, object_id, sender_kind, sender_id, at, modified_at, message)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.Bucket.AppID, string(e.Type), e.Bucket.Scope.Key(), e.Bucket.Name,
		e.ObjectID, int(e.Sender.Kind), e.Sender.ID, e.When, e.ModifiedAt, string(e.Message))
	return err
}

// lastSeq reads the highest seq of the outbox: the events up to it, when
// the store opens, were committed by an earlier process.
func lastSeq(ctx context.Context, db *DB) (int64, error) {
	var seq int64
	if err := db.read.QueryRowContext(ctx, "SELECT COALESCE(MAX(seq), 0) FROM outbox").Scan(&seq); err != nil {
		return 0, fmt.Errorf("sqlstore: read the outbox: %w", err)
	}
	return seq, nil
}

// scanEvents reads the rows of a SELECT of eventColumns; recovered tells
// whether an event is late (Recovered).
func scanEvents(rows *sql.Rows, recovered func(kumo.Event) bool) ([]kumo.Event, error) {
	defer rows.Close()
	var events []kumo.Event
	for rows.Next() {
		var (
			e          kumo.Event
			typ, scope string
			senderKind int
		)
		var message string
		err := rows.Scan(&e.Seq, &e.Bucket.AppID, &typ, &scope, &e.Bucket.Name, &e.ObjectID, &senderKind, &e.Sender.ID, &e.When, &e.ModifiedAt, &message)
		if message != "" {
			e.Message = []byte(message)
		}
		if err != nil {
			return nil, err
		}
		e.Type, e.Bucket.Scope, e.Sender.Kind = kumo.EventType(typ), scopeFromKey(scope), kumo.CallerKind(senderKind)
		e.Recovered = recovered(e)
		events = append(events, e)
	}
	return events, rows.Err()
}

// eventColumns are the columns scanEvents reads.
const eventColumns = "seq, app_id, type, scope, bucket, object_id, sender_kind, sender_id, at, modified_at, message"

// newOutbox returns the outbox of db the dialect d calls for: a
// LeaseOutbox when d is an OutboxLeaser, else a CursorOutbox.
func newOutbox(db *DB, d Dialect) Outbox {
	if l, ok := d.(OutboxLeaser); ok {
		return newLeaseOutbox(db, l)
	}
	return newCursorOutbox(db)
}

// CursorOutbox is the outbox of a database one process uses (SQLite):
// events are handed out in order through a cursor, each once per process;
// events left in the outbox by an earlier process are handed out again,
// marked Recovered. Completed events are deleted by the writer's next
// transaction, up to the last completed.
type CursorOutbox struct {
	Recipients

	claimMu sync.Mutex // guards cursor
	cursor  int64      // highest seq handed to the dispatcher
	bootSeq int64      // highest seq when the store was opened

	completeMu sync.Mutex // guards completed
	completed  int64      // highest seq completed by the dispatcher
	deleted    int64      // highest seq deleted; writer goroutine only
}

// newCursorOutbox returns db's outbox as a CursorOutbox, its hooks
// registered with db.
func newCursorOutbox(db *DB) *CursorOutbox {
	o := &CursorOutbox{Recipients: newRecipients(db)}
	db.onOpen(func(ctx context.Context) (err error) {
		o.bootSeq, err = lastSeq(ctx, db)
		return err
	})
	db.beforeWrites(o.deleteCompleted)
	return o
}

// ClaimEvents implements push.Outbox.
func (o *CursorOutbox) ClaimEvents(ctx context.Context, max int) ([]kumo.Event, error) {
	o.claimMu.Lock()
	defer o.claimMu.Unlock()
	rows, err := o.db.query(ctx, `SELECT `+eventColumns+`
		FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?`, o.cursor, max)
	if err != nil {
		return nil, err
	}
	events, err := scanEvents(rows, func(e kumo.Event) bool { return e.Seq <= o.bootSeq })
	if err != nil {
		return nil, err
	}
	if len(events) > 0 {
		o.cursor = events[len(events)-1].Seq
	}
	return events, nil
}

// CompleteEvents implements push.Outbox. The rows are deleted by the
// writer's next transaction (see deleteCompleted): completing costs no
// commit of its own. A crash before that repeats these pushes, which
// at-least-once into the broker allows (brokers drop the repeats they
// have already delivered).
func (o *CursorOutbox) CompleteEvents(ctx context.Context, events []kumo.Event) error {
	if len(events) == 0 {
		return nil
	}
	o.completeMu.Lock()
	// Claimed in order and completed in order: all up to the last is done.
	o.completed = max(o.completed, events[len(events)-1].Seq)
	o.completeMu.Unlock()
	o.db.wakeWriter()
	return nil
}

// deleteCompleted deletes, within tx, the outbox rows the dispatcher has
// completed (the writer's hook). It returns what to do once tx has
// committed, or nil when there was nothing to delete.
func (o *CursorOutbox) deleteCompleted(ctx context.Context, tx *Tx) (func(), error) {
	o.completeMu.Lock()
	upTo := o.completed
	o.completeMu.Unlock()
	if upTo <= o.deleted {
		return nil, nil
	}
	if _, err := tx.Exec(ctx, "DELETE FROM outbox WHERE seq <= ?", upTo); err != nil {
		return nil, fmt.Errorf("delete completed events up to %d: %w", upTo, err)
	}
	return func() { o.deleted = upTo }, nil
}

// DefaultLease is how long, by default, a node's claim on an event lasts:
// if the node dies before completing the event, another node claims it
// after this.
const DefaultLease = 30 * time.Second

// recoveredAge is the age from which an event counts as Recovered: its
// pushes are late (a node died, or the bus was down), so brokers hold them
// for devices that are still reconnecting.
const recoveredAge = 3 * time.Second

// LeaseOutbox is the outbox of a database the nodes of a cluster share:
// each claim is a lease held in the database (claimed_by, claimed_until),
// so that nodes claiming at once get different events, and the events of
// a node that died are claimed by another once their lease is over,
// Recovered. A node's own claims of before a restart are released when it
// opens the store. Completed events are deleted by the writer's next
// transaction, those this node claims.
type LeaseOutbox struct {
	Recipients
	sql OutboxLeaser

	claimMu   sync.Mutex // guards lastClaim
	lastClaim int64      // the end of this node's last lease
	bootSeq   int64      // highest seq when the store was opened

	completeMu    sync.Mutex // guards completedSeqs
	completedSeqs []int64    // completed seqs not yet deleted, in completion order
}

// newLeaseOutbox returns db's outbox as a LeaseOutbox claiming with l's
// SQL, its hooks registered with db.
func newLeaseOutbox(db *DB, l OutboxLeaser) *LeaseOutbox {
	o := &LeaseOutbox{Recipients: newRecipients(db), sql: l}
	db.onOpen(func(ctx context.Context) (err error) {
		if o.bootSeq, err = lastSeq(ctx, db); err != nil {
			return err
		}
		if err := o.releaseClaims(ctx); err != nil {
			return fmt.Errorf("sqlstore: release this node's old outbox claims: %w", err)
		}
		return nil
	})
	db.beforeWrites(o.deleteCompleted)
	return o
}

// ClaimEvents implements push.Outbox: it claims up to max events that no
// live node holds, oldest first, stamped with this node and a lease. An
// event whose claimer died (its lease expired) is claimed again,
// Recovered. The claim is one UPDATE that commits by itself; the claimed
// rows are then read by the claim's stamp.
func (o *LeaseOutbox) ClaimEvents(ctx context.Context, max int) ([]kumo.Event, error) {
	o.claimMu.Lock()
	defer o.claimMu.Unlock()
	now := o.db.now()
	// The lease's end also names this claim: strictly increasing per node.
	until := now + o.db.Lease.Milliseconds()
	if until <= o.lastClaim {
		until = o.lastClaim + 1
	}
	o.lastClaim = until
	_, err := o.db.write.ExecContext(ctx, o.db.rebind(o.sql.ClaimEventsSQL()), o.db.NodeID, until, now, max)
	if err != nil {
		return nil, fmt.Errorf("claim events: %w", err)
	}
	rows, err := o.db.query(ctx, `SELECT `+eventColumns+`
		FROM outbox WHERE claimed_by = ? AND claimed_until = ? ORDER BY seq`, o.db.NodeID, until)
	if err != nil {
		return nil, err
	}
	// Late pushes: events of before this node started, or old enough
	// that their first claimer must have died.
	return scanEvents(rows, func(e kumo.Event) bool {
		return e.Seq <= o.bootSeq || e.When < now-recoveredAge.Milliseconds()
	})
}

// CompleteEvents implements push.Outbox. The rows are deleted by the
// writer's next transaction (see deleteCompleted), as CursorOutbox's.
func (o *LeaseOutbox) CompleteEvents(ctx context.Context, events []kumo.Event) error {
	if len(events) == 0 {
		return nil
	}
	o.completeMu.Lock()
	for _, e := range events {
		o.completedSeqs = append(o.completedSeqs, e.Seq)
	}
	o.completeMu.Unlock()
	o.db.wakeWriter()
	return nil
}

// deleteCompleted deletes, within tx, the completed events this node
// claims (the writer's hook). It returns what to do once tx has
// committed, or nil when there was nothing to delete.
func (o *LeaseOutbox) deleteCompleted(ctx context.Context, tx *Tx) (func(), error) {
	o.completeMu.Lock()
	seqs := slices.Clone(o.completedSeqs)
	o.completeMu.Unlock()
	if len(seqs) == 0 {
		return nil, nil
	}
	if _, err := tx.Exec(ctx, o.sql.DeleteEventsSQL(), seqs, o.db.NodeID); err != nil {
		return nil, fmt.Errorf("delete %d completed events: %w", len(seqs), err)
	}
	return func() {
		o.completeMu.Lock()
		o.completedSeqs = o.completedSeqs[len(seqs):]
		o.completeMu.Unlock()
	}, nil
}

// releaseClaims releases the claims this node held before it (re)started:
// they died with its process, and must not wait for their leases. Node IDs
// are unique in a cluster.
func (o *LeaseOutbox) releaseClaims(ctx context.Context) error {
	_, err := o.db.write.ExecContext(ctx, o.db.rebind("UPDATE outbox SET claimed_until = 0 WHERE claimed_by = ?"), o.db.NodeID)
	return err
}
