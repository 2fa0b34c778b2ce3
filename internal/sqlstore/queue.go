package sqlstore

import (
	"context"
	"fmt"
	"strconv"

	"github.com/kumo-iot/kumo"
)

// PushQueue implements kumo.PushQueue: the offline queue of persistent MQTT
// installations.
type PushQueue struct {
	db     *DB
	ledger *DeliveryLedger

	persistent *versioned[struct{}, map[string]bool] // the topics of the persistent installations (one entry)
}

func newPushQueue(db *DB) *PushQueue {
	return &PushQueue{db: db, persistent: newVersioned[struct{}, map[string]bool](db, counterPersistent, 0, 1)}
}

var _ kumo.PushQueue = (*PushQueue)(nil)

// counterPersistent is bumped when an installation becomes persistent or
// stops being so.
const counterPersistent = "persistent"

// SetPersistent implements kumo.PushQueue. It writes only a change; an
// installation that stops being persistent loses its queue in the same
// transaction, each push recorded dropped in the ledger.
func (q *PushQueue) SetPersistent(ctx context.Context, topic string, persistent bool) error {
	var dropped []kumo.QueuedPush
	err := q.db.writeTx(ctx, func(tx *Tx) error {
		dropped = nil
		res, err := tx.Exec(ctx, "UPDATE installations SET persistent = ? WHERE mqtt_topic = ? AND persistent <> ?",
			boolInt(persistent), topic, boolInt(persistent))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		if !persistent {
			if dropped, err = dropQueue(ctx, tx, topic); err != nil {
				return err
			}
		}
		return bumpCounter(ctx, tx, counterPersistent)
	})
	if err == nil && len(dropped) > 0 {
		q.db.Log.Info("offline pushes dropped: the device connected with clean session 1", "topic", topic, "dropped", len(dropped))
		q.ledger.record(ctx, queueRecords(dropped, kumo.DeliveryDropped, "the device connected with clean session 1: its offline queue went", q.db.now()))
	}
	return err
}

// dropQueue deletes the queue of topic within tx, and returns the pushes
// it held (without their payloads), for the ledger.
func dropQueue(ctx context.Context, tx *Tx, topic string) ([]kumo.QueuedPush, error) {
	return queuedOf(ctx, tx, "DELETE FROM mqtt_queue WHERE mqtt_topic = ? RETURNING "+queuedColumns, topic)
}

// queuedColumns are the columns queuedOf reads. The deletes of queued
// pushes return them (DELETE … RETURNING, SQLite ≥ 3.35 and PostgreSQL):
// of two nodes deleting the same rows at once, only the one that deleted
// a push gets it, and records it.
const queuedColumns = "mqtt_topic, seq, created, app_id, event_type, message_id"

// queuedOf reads queued pushes, without their payloads, from a query of
// queuedColumns.
func queuedOf(ctx context.Context, tx *Tx, query string, args ...any) ([]kumo.QueuedPush, error) {
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []kumo.QueuedPush
	for rows.Next() {
		var p kumo.QueuedPush
		var typ string
		if err := rows.Scan(&p.Topic, &p.Seq, &p.Created, &p.AppID, &typ, &p.MessageID); err != nil {
			return nil, err
		}
		p.EventType = kumo.EventType(typ)
		out = append(out, p)
	}
	return out, rows.Err()
}

// queueRecords returns the ledger records of queued pushes that end in
// state.
func queueRecords(ps []kumo.QueuedPush, state kumo.DeliveryState, reason string, now int64) []kumo.DeliveryRecord {
	rs := make([]kumo.DeliveryRecord, len(ps))
	for i, p := range ps {
		rs[i] = kumo.DeliveryRecord{AppID: p.AppID, MessageID: p.MessageID, EventType: p.EventType, MQTTTopic: p.Topic,
			DeviceType: "MQTT", State: state, Reason: reason, Created: now}
	}
	return rs
}

// PersistentTopics implements kumo.PushQueue. It asks the database for
// the persistent counter, and for the topics only when it changed.
func (q *PushQueue) PersistentTopics(ctx context.Context) (map[string]bool, error) {
	cached, ok, gen, err := q.persistent.get(ctx, struct{}{})
	if err != nil || ok {
		return cached, err
	}
	rows, err := q.db.query(ctx, "SELECT mqtt_topic FROM installations WHERE persistent = 1")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	topics := map[string]bool{}
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		topics[t] = true
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	q.persistent.put(gen, struct{}{}, topics)
	return topics, nil
}

// Enqueue implements kumo.PushQueue. A delivery's ID is the outbox seq of
// its event, which orders the queue. An event's pushes are queued once
// (markQueued). Only the pushes it adds are recorded queued in the ledger
// (a repeat of the event adds none), those it trims
// dropped, and those whose installation is gone (deleted since the
// dispatcher read the persistent topics) dropped.
func (q *PushQueue) Enqueue(ctx context.Context, ds []kumo.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	now := q.db.now()
	var added, gone []kumo.Delivery
	var dropped []kumo.QueuedPush
	err := q.db.writeTx(ctx, func(tx *Tx) error {
		added, gone, dropped = added[:0], gone[:0], nil
		topics := map[string]bool{}
		first := map[int64]bool{} // event seq -> this write may queue its pushes
		for _, d := range ds {
			seq, err := strconv.ParseInt(d.ID, 10, 64)
			if err != nil {
				return fmt.Errorf("queue a push for %s: its ID %q is not an outbox seq", d.Topic, d.ID)
			}
			mine, asked := first[seq]
			if !asked {
				if mine, err = markQueued(ctx, tx, seq); err != nil {
					return err
				}
				first[seq] = mine
			}
			if !mine {
				continue // queued by an earlier dispatch of its event
			}
			res, err := tx.Exec(ctx, `INSERT INTO mqtt_queue (mqtt_topic, seq, app_id, payload, created, event_type, message_id)
				SELECT ?, CAST(? AS BIGINT), app_id, ?, CAST(? AS BIGINT), ?, ? FROM installations WHERE mqtt_topic = ?
				ON CONFLICT DO NOTHING`, d.Topic, seq, string(d.Payload), now, string(d.EventType), d.MessageID, d.Topic)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			if n > 0 {
				added = append(added, d)
			} else if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM installations WHERE mqtt_topic = ?", d.Topic).Scan(&n); err != nil {
				return err
			} else if n == 0 {
				gone = append(gone, d) // else queued already: the event dispatched again
			}
			topics[d.Topic] = true
		}
		for t := range topics {
			ps, err := q.trimQueue(ctx, tx, t)
			if err != nil {
				return err
			}
			dropped = append(dropped, ps...)
		}
		return nil
	})
	if err != nil {
		return err
	}
	var rs []kumo.DeliveryRecord
	for _, d := range added {
		rs = append(rs, kumo.DeliveryRecord{AppID: d.AppID, MessageID: d.MessageID, EventType: d.EventType, MQTTTopic: d.Topic,
			DeviceType: "MQTT", State: kumo.DeliveryQueued, Reason: "kept for a device with a persistent session", Created: now})
	}
	for _, d := range gone {
		rs = append(rs, kumo.DeliveryRecord{AppID: d.AppID, MessageID: d.MessageID, EventType: d.EventType, MQTTTopic: d.Topic,
			DeviceType: "MQTT", State: kumo.DeliveryDropped, Reason: "the installation is gone", Created: now})
	}
	perTopic := map[string]int{}
	for _, p := range dropped {
		perTopic[p.Topic]++
	}
	for t, n := range perTopic {
		q.db.Log.Warn("offline pushes dropped: the installation's queue is full (the oldest go)", "topic", t, "dropped", n, "max", q.queueMax())
	}
	rs = append(rs, queueRecords(dropped, kumo.DeliveryDropped, "the offline queue is full: the oldest push went", now)...)
	q.ledger.record(ctx, rs)
	return nil
}

// markQueued marks the outbox event seq as having its offline pushes
// queued, and reports whether this write may queue them: it marked the
// event (an event marked already, or gone from the outbox, completed, had
// its pushes queued). The dispatcher queues all of an event's offline
// pushes in one Enqueue, so that an event dispatched again (its
// completion failed, a restart, a takeover) finds its mark and queues
// nothing, even after its pushes were replayed and dequeued.
func markQueued(ctx context.Context, tx *Tx, seq int64) (bool, error) {
	res, err := tx.Exec(ctx, "UPDATE outbox SET mqtt_queued = 1 WHERE seq = ? AND mqtt_queued = 0", seq)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

func (q *PushQueue) queueMax() int {
	if q.db.QueueMax <= 0 {
		return kumo.DefaultQueueMax
	}
	return q.db.QueueMax
}

// trimQueue drops the oldest pushes of a topic's queue beyond QueueMax,
// and returns them (without their payloads).
func (q *PushQueue) trimQueue(ctx context.Context, tx *Tx, topic string) ([]kumo.QueuedPush, error) {
	var n int64
	if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM mqtt_queue WHERE mqtt_topic = ?", topic).Scan(&n); err != nil {
		return nil, err
	}
	over := n - int64(q.queueMax())
	if over <= 0 {
		return nil, nil
	}
	return queuedOf(ctx, tx, `DELETE FROM mqtt_queue WHERE mqtt_topic = ? AND seq IN
		(SELECT seq FROM mqtt_queue WHERE mqtt_topic = ? ORDER BY seq LIMIT ?) RETURNING `+queuedColumns, topic, topic, over)
}

// Queued implements kumo.PushQueue.
func (q *PushQueue) Queued(ctx context.Context, topic string, skip map[int64]bool, max int) ([]kumo.QueuedPush, error) {
	rows, err := q.db.query(ctx, `SELECT seq, payload, created, app_id, event_type, message_id FROM mqtt_queue
		WHERE mqtt_topic = ? ORDER BY seq LIMIT ?`, topic, max+len(skip))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []kumo.QueuedPush
	for rows.Next() {
		p := kumo.QueuedPush{Topic: topic}
		var payload, typ string
		if err := rows.Scan(&p.Seq, &payload, &p.Created, &p.AppID, &typ, &p.MessageID); err != nil {
			return nil, err
		}
		p.EventType = kumo.EventType(typ)
		if skip[p.Seq] || len(out) == max {
			continue
		}
		p.Payload = []byte(payload)
		out = append(out, p)
	}
	return out, rows.Err()
}

// Dequeue implements kumo.PushQueue.
func (q *PushQueue) Dequeue(ctx context.Context, topic string, seqs []int64) error {
	if len(seqs) == 0 {
		return nil
	}
	args := []any{topic}
	for _, s := range seqs {
		args = append(args, s)
	}
	return q.db.writeTx(ctx, func(tx *Tx) error {
		_, err := tx.Exec(ctx, "DELETE FROM mqtt_queue WHERE mqtt_topic = ? AND seq IN ("+placeholders(len(seqs))+")", args...)
		return err
	})
}

// ExpireQueued implements kumo.PushQueue.
func (q *PushQueue) ExpireQueued(ctx context.Context, before int64) ([]kumo.QueuedPush, error) {
	var out []kumo.QueuedPush
	err := q.db.writeTx(ctx, func(tx *Tx) error {
		var err error
		out, err = queuedOf(ctx, tx, "DELETE FROM mqtt_queue WHERE created < ? RETURNING "+queuedColumns, before)
		return err
	})
	return out, err
}
