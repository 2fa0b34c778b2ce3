package sqlstore

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/kumo-iot/kumo"
)

// counterPersistent is bumped when an installation becomes persistent or
// stops being so.
const counterPersistent = "persistent"

// persistentCache holds the topics of the persistent installations, valid
// while the persistent counter keeps the value it had when they were read.
type persistentCache struct {
	mu      sync.Mutex // guards the fields below
	version int64
	topics  map[string]bool // nil until read
}

// SetPersistent implements kumo.PushQueue. It writes only a change; an
// installation that stops being persistent loses its queue in the same
// transaction.
func (db *DB) SetPersistent(ctx context.Context, topic string, persistent bool) error {
	return db.writeTx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(ctx, "UPDATE installations SET persistent = ? WHERE mqtt_topic = ? AND persistent <> ?",
			boolInt(persistent), topic, boolInt(persistent))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		if !persistent {
			res, err := tx.Exec(ctx, "DELETE FROM mqtt_queue WHERE mqtt_topic = ?", topic)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n > 0 {
				db.Log.Info("offline pushes dropped: the device connected with clean session 1", "topic", topic, "dropped", n)
			}
		}
		return bumpCounter(ctx, tx, counterPersistent)
	})
}

// PersistentTopics implements kumo.PushQueue. It asks the database for
// the persistent counter, and for the topics only when it changed.
func (db *DB) PersistentTopics(ctx context.Context) (map[string]bool, error) {
	v, err := db.counter(ctx, counterPersistent)
	if err != nil {
		return nil, err
	}
	c := &db.persistent
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.topics != nil && c.version == v {
		return c.topics, nil
	}
	rows, err := db.query(ctx, "SELECT mqtt_topic FROM installations WHERE persistent = 1")
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
	c.topics, c.version = topics, v
	return topics, nil
}

// Enqueue implements kumo.PushQueue. A delivery's ID is the outbox seq of
// its event, which orders the queue.
func (db *DB) Enqueue(ctx context.Context, ds []kumo.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	now := db.now()
	var dropped map[string]int64
	err := db.writeTx(ctx, func(tx *Tx) error {
		dropped = map[string]int64{}
		topics := map[string]bool{}
		for _, d := range ds {
			seq, err := strconv.ParseInt(d.ID, 10, 64)
			if err != nil {
				return fmt.Errorf("queue a push for %s: its ID %q is not an outbox seq", d.Topic, d.ID)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO mqtt_queue (mqtt_topic, seq, app_id, payload, created)
				SELECT ?, CAST(? AS BIGINT), app_id, ?, CAST(? AS BIGINT) FROM installations WHERE mqtt_topic = ?
				ON CONFLICT DO NOTHING`, d.Topic, seq, string(d.Payload), now, d.Topic); err != nil {
				return err
			}
			topics[d.Topic] = true
		}
		for t := range topics {
			n, err := db.trimQueue(ctx, tx, t)
			if err != nil {
				return err
			}
			if n > 0 {
				dropped[t] = n
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	var rs []kumo.DeliveryRecord
	for _, d := range ds {
		rs = append(rs, kumo.DeliveryRecord{AppID: d.AppID, MessageID: d.MessageID, EventType: d.EventType, MQTTTopic: d.Topic,
			DeviceType: "MQTT", State: kumo.DeliveryQueued, Reason: "kept for a device with a persistent session", Created: now})
	}
	for t, n := range dropped {
		db.Log.Warn("offline pushes dropped: the installation's queue is full (the oldest go)", "topic", t, "dropped", n, "max", db.queueMax())
		for range n {
			rs = append(rs, kumo.DeliveryRecord{MQTTTopic: t, DeviceType: "MQTT", State: kumo.DeliveryDropped,
				Reason: "the offline queue is full: the oldest push went", Created: now})
		}
	}
	db.record(ctx, rs)
	return nil
}

func (db *DB) queueMax() int {
	if db.QueueMax <= 0 {
		return kumo.DefaultQueueMax
	}
	return db.QueueMax
}

// trimQueue drops the oldest pushes of a topic's queue beyond QueueMax,
// and returns how many it dropped.
func (db *DB) trimQueue(ctx context.Context, tx *Tx, topic string) (int64, error) {
	var n int64
	if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM mqtt_queue WHERE mqtt_topic = ?", topic).Scan(&n); err != nil {
		return 0, err
	}
	over := n - int64(db.queueMax())
	if over <= 0 {
		return 0, nil
	}
	_, err := tx.Exec(ctx, `DELETE FROM mqtt_queue WHERE mqtt_topic = ? AND seq IN
		(SELECT seq FROM mqtt_queue WHERE mqtt_topic = ? ORDER BY seq LIMIT ?)`, topic, topic, over)
	return over, err
}

// Queued implements kumo.PushQueue.
func (db *DB) Queued(ctx context.Context, topic string, skip map[int64]bool, max int) ([]kumo.QueuedPush, error) {
	rows, err := db.query(ctx, "SELECT seq, payload, created FROM mqtt_queue WHERE mqtt_topic = ? ORDER BY seq LIMIT ?",
		topic, max+len(skip))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []kumo.QueuedPush
	for rows.Next() {
		p := kumo.QueuedPush{Topic: topic}
		var payload string
		if err := rows.Scan(&p.Seq, &payload, &p.Created); err != nil {
			return nil, err
		}
		if skip[p.Seq] || len(out) == max {
			continue
		}
		p.Payload = []byte(payload)
		out = append(out, p)
	}
	return out, rows.Err()
}

// Dequeue implements kumo.PushQueue.
func (db *DB) Dequeue(ctx context.Context, topic string, seqs []int64) error {
	if len(seqs) == 0 {
		return nil
	}
	args := []any{topic}
	for _, s := range seqs {
		args = append(args, s)
	}
	return db.writeTx(ctx, func(tx *Tx) error {
		_, err := tx.Exec(ctx, "DELETE FROM mqtt_queue WHERE mqtt_topic = ? AND seq IN ("+placeholders(len(seqs))+")", args...)
		return err
	})
}

// ExpireQueued implements kumo.PushQueue.
func (db *DB) ExpireQueued(ctx context.Context, before int64) (map[string]int, error) {
	out := map[string]int{}
	err := db.writeTx(ctx, func(tx *Tx) error {
		clear(out)
		rows, err := tx.Query(ctx, "SELECT mqtt_topic, COUNT(*) FROM mqtt_queue WHERE created < ? GROUP BY mqtt_topic", before)
		if err != nil {
			return err
		}
		for rows.Next() {
			var t string
			var n int
			if err := rows.Scan(&t, &n); err != nil {
				rows.Close()
				return err
			}
			out[t] = n
		}
		rows.Close()
		if err := rows.Err(); err != nil || len(out) == 0 {
			return err
		}
		_, err = tx.Exec(ctx, "DELETE FROM mqtt_queue WHERE created < ?", before)
		return err
	})
	return out, err
}
