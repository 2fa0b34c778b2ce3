package sqlstore

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kumo-iot/kumo"
)

// DeliveryLedger implements kumo.DeliveryLedger: the record of every push
// to an installation.
type DeliveryLedger struct {
	db *DB

	// Store, when set, keeps the ledger's rows (the embedded mode keeps
	// them in a database of their own, so that recording pushes never
	// slows the writes that cause them); else the store itself does. The
	// caller opens and closes it.
	Store *LedgerStore
	// On makes the store record the pushes it queues (offline and phone
	// queues) in the ledger.
	On bool

	counts   deliveryCounts // ledger records written, by state (metrics)
	installs topicInstalls  // MQTT installations by topic
}

var _ kumo.DeliveryLedger = (*DeliveryLedger)(nil)

// ledger returns the database that keeps the ledger's rows: Store when
// set, else the store itself.
func (l *DeliveryLedger) ledger() ledgerDB {
	if l.Store != nil {
		return l.Store
	}
	return l.db
}

// record writes ledger records of the store's own (pushes queued), when
// the ledger is on; a failure is logged, never the write's.
func (l *DeliveryLedger) record(ctx context.Context, rs []kumo.DeliveryRecord) {
	if !l.On || len(rs) == 0 {
		return
	}
	if err := l.RecordDeliveries(ctx, rs); err != nil {
		l.db.Log.Warn("delivery ledger: records not written", "records", len(rs), "error", err)
	}
}

// ledgerChunk is how many records one INSERT of the ledger writes.
const ledgerChunk = 200

// An unhurried write (kumo.Unhurried: the broker's background flush) of
// few records to a ledger kept in a store of its own (a second's records
// of a server far from saturation) is paced: small INSERTs with a pause between them, in one transaction. The
// ledger's file is not the store's, but both run in one SQLite library
// whose page cache is shared by every connection of the process, behind
// one mutex (modernc builds SQLite with SQLITE_ENABLE_MEMORY_MANAGEMENT):
// writing a second's records in one go, 4–9 ms of page fetches at 1,000
// pushes/s, slowed the store's commits meanwhile (4–6 ms for one object;
// the mutex profile shows the contention, and the ledger on tmpfs changed
// nothing) and was the largest source of slow requests in a paced run
// (docs/performance.md). A transaction of its own for every slice, tried
// first, cost more than it saved: one commit a second is what keeps it
// cheap. The pauses stop as soon as another write waits for the ledger's
// writer or shares the transaction (a phone push's record, the
// dispatcher's), so that none waits longer than behind an unpaced write.
// Those writers' own writes are never paced: they wait for them. Nor is a
// ledger in the store itself (PostgreSQL), whose writer is every write's.
const (
	ledgerCalm  = 4096             // at most this many records are paced
	ledgerSlice = 32               // records per paced INSERT
	ledgerPause = time.Millisecond // between two paced INSERTs
)

// ledgerPauses counts the pauses taken, for tests.
var ledgerPauses atomic.Int64

// ledgerPacing is how many records each INSERT of a write of n records
// with ctx takes, and whether the write pauses between them.
func (l *DeliveryLedger) ledgerPacing(ctx context.Context, n int) (chunk int, paced bool) {
	if kumo.IsUnhurried(ctx) && l.Store != nil && n <= ledgerCalm {
		return ledgerSlice, true
	}
	return ledgerChunk, false
}

// RecordDeliveries implements kumo.DeliveryLedger: the records of a batch
// in one write, their installations and owners looked up by MQTT topic
// when the recorder (the broker) knows only that.
func (l *DeliveryLedger) RecordDeliveries(ctx context.Context, rs []kumo.DeliveryRecord) error {
	if len(rs) == 0 {
		return nil
	}
	var topics []string
	for _, r := range rs {
		if (r.InstallationID == "" || r.AppID == "") && r.MQTTTopic != "" {
			topics = append(topics, r.MQTTTopic)
		}
	}
	if len(topics) > 0 {
		installs, err := l.installationsByTopic(ctx, topics)
		if err != nil {
			return err
		}
		kept := rs[:0]
		for _, r := range rs {
			if in, ok := installs[r.MQTTTopic]; ok && r.InstallationID == "" {
				r.InstallationID, r.DeviceType, r.Owner = in.ID, in.DeviceType, in.Owner
				if r.AppID == "" {
					r.AppID = in.AppID
				}
			}
			if r.AppID != "" { // else an installation gone meanwhile: nothing to name it by
				kept = append(kept, r)
			}
		}
		rs = kept
	}
	now := l.db.now()
	size, paced := l.ledgerPacing(ctx, len(rs))
	ledger := l.ledger()
	err := ledger.writeLedger(ctx, func(tx ledgerTx) error {
		for start := 0; start < len(rs); start += size {
			if paced && start > 0 && !tx.sharedTx() && !ledger.writesWaiting() {
				ledgerPauses.Add(1)
				time.Sleep(ledgerPause)
			}
			chunk := rs[start:min(start+size, len(rs))]
			var sb strings.Builder
			sb.WriteString(ledger.insertOrIgnore() + ` INTO push_deliveries (app_id, message_id, event_type, installation_id, device_type, mqtt_topic,
				owner_kind, owner_id, state, reason, created, updated) VALUES `)
			args := make([]any, 0, 12*len(chunk))
			for i, r := range chunk {
				if i > 0 {
					sb.WriteString(", ")
				}
				sb.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
				created := r.Created
				if created == 0 {
					created = now
				}
				args = append(args, r.AppID, r.MessageID, string(r.EventType), r.InstallationID, r.DeviceType, r.MQTTTopic,
					int(r.Owner.Kind), r.Owner.ID, string(r.State), r.Reason, created, now)
			}
			if _, err := tx.Exec(ctx, sb.String(), args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		l.counts.mu.Lock()
		if l.counts.n == nil {
			l.counts.n = map[kumo.DeliveryState]int64{}
		}
		for _, r := range rs {
			l.counts.n[r.State]++
		}
		l.counts.mu.Unlock()
	}
	return err
}

// topicInstalls caches MQTT installations by topic, for the ledger.
type topicInstalls struct {
	mu sync.Mutex
	m  map[string]kumo.Installation
}

// deliveryCounts counts the ledger records this node wrote, by state.
type deliveryCounts struct {
	mu sync.Mutex
	n  map[kumo.DeliveryState]int64
}

// DeliveryCounts returns how many deliveries this node recorded in the
// ledger since it started, by state (for metrics).
func (l *DeliveryLedger) DeliveryCounts() map[kumo.DeliveryState]int64 {
	l.counts.mu.Lock()
	defer l.counts.mu.Unlock()
	out := make(map[kumo.DeliveryState]int64, len(l.counts.n))
	for k, v := range l.counts.n {
		out[k] = v
	}
	return out
}

// installationsByTopic returns the MQTT installations of topics, from a
// cache of the installations already seen (an installation's topic,
// owner and app never change; one deleted may still be named by a record
// written just after).
func (l *DeliveryLedger) installationsByTopic(ctx context.Context, topics []string) (map[string]kumo.Installation, error) {
	out := map[string]kumo.Installation{}
	var missing []string
	l.installs.mu.Lock()
	for _, t := range topics {
		if in, ok := l.installs.m[t]; ok {
			out[t] = in
		} else {
			missing = append(missing, t)
		}
	}
	l.installs.mu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}
	found := map[string]kumo.Installation{}
	defer func() {
		l.installs.mu.Lock()
		if l.installs.m == nil || len(l.installs.m) > 200_000 {
			l.installs.m = map[string]kumo.Installation{}
		}
		for t, in := range found {
			l.installs.m[t] = in
		}
		l.installs.mu.Unlock()
	}()
	topics = slices.Compact(slices.Sorted(slices.Values(missing)))
	for start := 0; start < len(topics); start += 500 {
		chunk := topics[start:min(start+500, len(topics))]
		args := make([]any, len(chunk))
		for i, t := range chunk {
			args[i] = t
		}
		rows, err := l.db.read.QueryContext(ctx, l.db.dialect.Rebind(`SELECT mqtt_topic, id, app_id, device_type, owner_kind, owner_id
			FROM installations WHERE mqtt_topic IN (?`+strings.Repeat(", ?", len(chunk)-1)+`)`), args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var (
				topic string
				in    kumo.Installation
				kind  int
			)
			if err := rows.Scan(&topic, &in.ID, &in.AppID, &in.DeviceType, &kind, &in.Owner.ID); err != nil {
				rows.Close()
				return nil, err
			}
			in.Owner.Kind = kumo.CallerKind(kind)
			out[topic], found[topic] = in, in
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Deliveries implements kumo.DeliveryLedger.
func (l *DeliveryLedger) Deliveries(ctx context.Context, c kumo.Caller, f kumo.DeliveryFilter) ([]kumo.DeliveryRecord, int64, error) {
	if !c.IsAdmin() {
		return nil, 0, kumo.Unauthorized(c, "Only the app admin may read the delivery ledger")
	}
	where, args := []string{"app_id = ?", "id > ?"}, []any{c.AppID, f.After}
	for _, cond := range []struct {
		col, val string
		kind     kumo.CallerKind
	}{
		{"installation_id", f.InstallationID, 0}, {"owner_id", f.ThingID, kumo.ThingCaller},
		{"owner_id", f.UserID, kumo.UserCaller}, {"message_id", f.MessageID, 0},
	} {
		if cond.val == "" {
			continue
		}
		where, args = append(where, cond.col+" = ?"), append(args, cond.val)
		if cond.col == "message_id" {
			where = append(where, "message_id <> ''") // the partial index's condition
		}
		if cond.kind != 0 {
			where, args = append(where, "owner_kind = ?"), append(args, int(cond.kind))
		}
	}
	limit := f.Limit
	if limit < 1 || limit > 1000 {
		limit = 1000
	}
	read, dialect := l.ledger().readPool()
	rows, err := read.QueryContext(ctx, dialect.Rebind(`SELECT id, message_id, event_type, installation_id, device_type, mqtt_topic,
		owner_kind, owner_id, state, reason, created, updated FROM push_deliveries WHERE `+strings.Join(where, " AND ")+
		` ORDER BY id LIMIT ?`), append(args, limit+1)...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []kumo.DeliveryRecord
	for rows.Next() {
		r := kumo.DeliveryRecord{AppID: c.AppID}
		var (
			typ, state string
			kind       int
		)
		if err := rows.Scan(&r.ID, &r.MessageID, &typ, &r.InstallationID, &r.DeviceType, &r.MQTTTopic,
			&kind, &r.Owner.ID, &state, &r.Reason, &r.Created, &r.Updated); err != nil {
			return nil, 0, err
		}
		r.EventType, r.State, r.Owner.Kind = kumo.EventType(typ), kumo.DeliveryState(state), kumo.CallerKind(kind)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	var next int64
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].ID
	}
	return out, next, nil
}

// PruneDeliveries deletes ledger records created before the epoch ms
// before, a bounded number per write, and returns how many.
func (l *DeliveryLedger) PruneDeliveries(ctx context.Context, before int64) (int64, error) {
	var total int64
	for {
		var n int64
		err := l.ledger().writeLedger(ctx, func(tx ledgerTx) error {
			// Records are written in time order: the old ones are the
			// lowest IDs, found by walking the primary key (no index of
			// created to maintain on every record).
			res, err := tx.Exec(ctx, `DELETE FROM push_deliveries WHERE id IN
				(SELECT id FROM push_deliveries ORDER BY id LIMIT 10000) AND created < ?`, before)
			if err == nil {
				n, _ = res.RowsAffected()
			}
			return err
		})
		total += n
		if err != nil || n < 10000 {
			return total, err
		}
	}
}
