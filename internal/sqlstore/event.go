package sqlstore

import (
	"context"
	"fmt"

	"github.com/kumo-iot/kumo"
)

// insertEvent adds an event to the outbox inside the write's transaction.
func insertEvent(ctx context.Context, tx *Tx, e kumo.Event) error {
	_, err := tx.Exec(ctx, `INSERT INTO outbox (app_id, type, scope, bucket, object_id, sender_kind, sender_id, at, modified_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.Bucket.AppID, string(e.Type), e.Bucket.Scope.Key(), e.Bucket.Name,
		e.ObjectID, int(e.Sender.Kind), e.Sender.ID, e.When, e.ModifiedAt)
	if err == nil {
		tx.events++
	}
	return err
}

// Notify implements kumo.Outbox.
func (db *DB) Notify() <-chan struct{} { return db.notify }

// ClaimEvents implements kumo.Outbox for a single node: events are handed
// out in order, each once per process. Events left in the outbox by an
// earlier process (one that crashed before completing them) are handed out
// again, marked Recovered.
//
// The cursor over seq is correct while one writer assigns seqs in commit
// order: SQLite, or PostgreSQL with one node. Several nodes on one
// PostgreSQL database need a claim that holds across writers (rows locked
// FOR UPDATE SKIP LOCKED, with a claim owner and lease, and completion by
// seq list rather than "seq <= X" in deleteCompleted); it goes here,
// chosen by the dialect.
func (db *DB) ClaimEvents(ctx context.Context, max int) ([]kumo.Event, error) {
	db.claimMu.Lock()
	defer db.claimMu.Unlock()
	rows, err := db.query(ctx, `SELECT seq, app_id, type, scope, bucket, object_id, sender_kind, sender_id, at, modified_at
		FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?`, db.cursor, max)
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
		err := rows.Scan(&e.Seq, &e.Bucket.AppID, &typ, &scope, &e.Bucket.Name, &e.ObjectID, &senderKind, &e.Sender.ID, &e.When, &e.ModifiedAt)
		if err != nil {
			return nil, err
		}
		e.Type, e.Bucket.Scope, e.Sender.Kind = kumo.EventType(typ), scopeFromKey(scope), kumo.CallerKind(senderKind)
		e.Recovered = e.Seq <= db.bootSeq
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(events) > 0 {
		db.cursor = events[len(events)-1].Seq
	}
	return events, nil
}

// CompleteEvents implements kumo.Outbox.
func (db *DB) CompleteEvents(ctx context.Context, events []kumo.Event) error {
	if len(events) == 0 {
		return nil
	}
	// Events are claimed in order and completed in order, so everything up
	// to the last one is done. The rows are deleted by the writer's next
	// transaction (see deleteCompleted): completing costs no commit of its
	// own. A crash before that repeats these pushes, which at-least-once
	// into the broker allows.
	last := events[len(events)-1].Seq
	db.completeMu.Lock()
	db.completed = max(db.completed, last)
	db.completeMu.Unlock()
	select {
	case db.wake <- struct{}{}:
	default:
	}
	return nil
}

// deleteCompleted deletes the completed outbox rows within tx, and returns
// the seq it deleted up to (0 when there was nothing to delete).
func (db *DB) deleteCompleted(ctx context.Context, tx *Tx) (int64, error) {
	db.completeMu.Lock()
	upTo := db.completed
	db.completeMu.Unlock()
	if upTo <= db.deleted {
		return 0, nil
	}
	if _, err := tx.Exec(ctx, "DELETE FROM outbox WHERE seq <= ?", upTo); err != nil {
		return 0, fmt.Errorf("delete completed events up to %d: %w", upTo, err)
	}
	return upTo, nil
}
