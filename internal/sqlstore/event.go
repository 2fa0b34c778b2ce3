package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/kumo-iot/kumo"
)

// Outbox is what the push dispatcher reads: the events committed with the
// writes that caused them, and their recipients.
type Outbox struct {
	db     *DB
	topics *versioned[kumo.BucketRef, []string] // the MQTT topics of each bucket's subscribers
}

// insertEvent adds an event to the outbox inside the write's transaction.
func insertEvent(ctx context.Context, tx *Tx, e kumo.Event) error {
	_, err := tx.Exec(ctx, `INSERT INTO outbox (app_id, type, scope, bucket, object_id, sender_kind, sender_id, at, modified_at, message)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.Bucket.AppID, string(e.Type), e.Bucket.Scope.Key(), e.Bucket.Name,
		e.ObjectID, int(e.Sender.Kind), e.Sender.ID, e.When, e.ModifiedAt, string(e.Message))
	if err == nil {
		tx.events++
	}
	return err
}

// Notify implements push.Outbox.
func (o *Outbox) Notify() <-chan struct{} { return o.db.notify }

// ClaimEvents implements push.Outbox. On SQLite (one process) events are
// handed out in order through a cursor, each once per process; events left
// in the outbox by an earlier process are handed out again, marked
// Recovered. On a database shared by several nodes (OutboxLeaser) each
// claim is a lease held in the database, see claimLeased.
func (o *Outbox) ClaimEvents(ctx context.Context, max int) ([]kumo.Event, error) {
	if o.db.lease {
		return o.claimLeased(ctx, max)
	}
	o.db.claimMu.Lock()
	defer o.db.claimMu.Unlock()
	rows, err := o.db.query(ctx, `SELECT seq, app_id, type, scope, bucket, object_id, sender_kind, sender_id, at, modified_at, message
		FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?`, o.db.cursor, max)
	if err != nil {
		return nil, err
	}
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
		e.Recovered = e.Seq <= o.db.bootSeq
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(events) > 0 {
		o.db.cursor = events[len(events)-1].Seq
	}
	return events, nil
}

// CompleteEvents implements push.Outbox. The rows are deleted by the
// writer's next transaction (see deleteCompleted): completing costs no
// commit of its own. A crash before that repeats these pushes, which
// at-least-once into the broker allows (brokers drop the repeats they
// have already delivered).
func (o *Outbox) CompleteEvents(ctx context.Context, events []kumo.Event) error {
	if len(events) == 0 {
		return nil
	}
	o.db.completeMu.Lock()
	if o.db.lease {
		for _, e := range events {
			o.db.completedSeqs = append(o.db.completedSeqs, e.Seq)
		}
	} else {
		// Claimed in order and completed in order: all up to the last is done.
		o.db.completed = max(o.db.completed, events[len(events)-1].Seq)
	}
	o.db.completeMu.Unlock()
	select {
	case o.db.wake <- struct{}{}:
	default:
	}
	return nil
}

// deleteCompleted deletes, within tx, the outbox rows the dispatcher has
// completed. It returns what to do once tx has committed, or nil when
// there was nothing to delete.
func (db *DB) deleteCompleted(ctx context.Context, tx *Tx) (func(), error) {
	db.completeMu.Lock()
	upTo, seqs := db.completed, slices.Clone(db.completedSeqs)
	db.completeMu.Unlock()
	if db.lease {
		if len(seqs) == 0 {
			return nil, nil
		}
		if _, err := tx.Exec(ctx, "DELETE FROM outbox WHERE seq = ANY(?) AND claimed_by = ?", seqs, db.NodeID); err != nil {
			return nil, fmt.Errorf("delete %d completed events: %w", len(seqs), err)
		}
		return func() {
			db.completeMu.Lock()
			db.completedSeqs = db.completedSeqs[len(seqs):]
			db.completeMu.Unlock()
		}, nil
	}
	if upTo <= db.deleted {
		return nil, nil
	}
	if _, err := tx.Exec(ctx, "DELETE FROM outbox WHERE seq <= ?", upTo); err != nil {
		return nil, fmt.Errorf("delete completed events up to %d: %w", upTo, err)
	}
	return func() { db.deleted = upTo }, nil
}

// DefaultLease is how long, by default, a node's claim on an event lasts:
// if the node dies before completing the event, another node claims it
// after this.
const DefaultLease = 30 * time.Second

// recoveredAge is the age from which an event counts as Recovered: its
// pushes are late (a node died, or the bus was down), so brokers hold them
// for devices that are still reconnecting.
const recoveredAge = 3 * time.Second

// claimLeased claims up to max events that no live node holds, oldest
// first: rows locked FOR UPDATE SKIP LOCKED, so that nodes claiming at once
// get different events, and stamped with this node and a lease. An event
// whose claimer died (its lease expired) is claimed again, Recovered (a
// node's own claims of before a restart are released when it opens the
// store: see releaseClaims). The claim is one UPDATE that commits by
// itself; the claimed rows are then read by the claim's stamp.
func (o *Outbox) claimLeased(ctx context.Context, max int) ([]kumo.Event, error) {
	o.db.claimMu.Lock()
	defer o.db.claimMu.Unlock()
	now := o.db.now()
	// The lease's end also names this claim: strictly increasing per node.
	until := now + o.db.Lease.Milliseconds()
	if until <= o.db.lastClaim {
		until = o.db.lastClaim + 1
	}
	o.db.lastClaim = until
	_, err := o.db.write.ExecContext(ctx, o.db.rebind(`UPDATE outbox SET claimed_by = ?, claimed_until = ?
		WHERE seq IN (SELECT seq FROM outbox WHERE claimed_until < ? ORDER BY seq LIMIT ? FOR UPDATE SKIP LOCKED)`),
		o.db.NodeID, until, now, max)
	if err != nil {
		return nil, fmt.Errorf("claim events: %w", err)
	}
	rows, err := o.db.query(ctx, `SELECT seq, app_id, type, scope, bucket, object_id, sender_kind, sender_id, at, modified_at, message
		FROM outbox WHERE claimed_by = ? AND claimed_until = ? ORDER BY seq`, o.db.NodeID, until)
	if err != nil {
		return nil, err
	}
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
		// Late pushes: events of before this node started, or old enough
		// that their first claimer must have died.
		e.Recovered = e.Seq <= o.db.bootSeq || e.When < now-recoveredAge.Milliseconds()
		events = append(events, e)
	}
	return events, rows.Err()
}

// releaseClaims releases the claims this node held before it (re)started:
// they died with its process, and must not wait for their leases. Node IDs
// are unique in a cluster.
func (db *DB) releaseClaims(ctx context.Context) error {
	_, err := db.write.ExecContext(ctx, db.rebind("UPDATE outbox SET claimed_until = 0 WHERE claimed_by = ?"), db.NodeID)
	return err
}
