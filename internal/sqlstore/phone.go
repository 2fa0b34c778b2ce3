package sqlstore

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/kumo-iot/kumo"
)

// PhoneQueue implements kumo.PhoneQueue: the pushes waiting for FCM and APNs.
type PhoneQueue struct {
	db          *DB
	topics      *TopicService
	pushConfigs *PushConfigService
	ledger      *DeliveryLedger

	configuredMu sync.Mutex              // guards configured
	configured   map[string]configuredAt // apps with a push configuration
}

var _ kumo.PhoneQueue = (*PhoneQueue)(nil)

// PushConfigOf implements kumo.PhoneQueue.
func (q *PhoneQueue) PushConfigOf(ctx context.Context, appID string) (kumo.PushConfig, error) {
	return q.pushConfigs.PushConfig(ctx, kumo.Caller{AppID: appID, Kind: kumo.Admin})
}

// pushConfigured reports whether an app has a push configuration, cached
// for pushConfigTTL: the dispatcher asks for every event.
func (q *PhoneQueue) pushConfigured(ctx context.Context, appID string) (bool, error) {
	now := time.Now()
	q.configuredMu.Lock()
	e, ok := q.configured[appID]
	q.configuredMu.Unlock()
	if ok && now.Sub(e.at) < pushConfigTTL {
		return e.set, nil
	}
	var n int
	if err := q.db.queryRow(ctx, "SELECT COUNT(*) FROM push_configs WHERE app_id = ?", appID).Scan(&n); err != nil {
		return false, err
	}
	q.configuredMu.Lock()
	if q.configured == nil || len(q.configured) > 10_000 {
		q.configured = map[string]configuredAt{}
	}
	q.configured[appID] = configuredAt{set: n > 0, at: now}
	q.configuredMu.Unlock()
	return n > 0, nil
}

// pushConfigTTL is how long an app's having a push configuration is
// remembered: a configuration set applies to pushes within it.
const pushConfigTTL = 5 * time.Second

type configuredAt struct {
	set bool
	at  time.Time
}

// PhoneRecipients implements kumo.PhoneQueue.
func (q *PhoneQueue) PhoneRecipients(ctx context.Context, e kumo.Event) ([]kumo.PhoneRecipient, error) {
	ok, err := q.pushConfigured(ctx, e.Bucket.AppID)
	if err != nil || !ok {
		return nil, err
	}
	b := e.Bucket
	var subs []kumo.Principal
	switch {
	case e.Type != kumo.PushMessageSent: // a bucket's subscribers
		rows, err := q.db.query(ctx, `SELECT subscriber_kind, subscriber_id FROM bucket_subscriptions
			WHERE app_id = ? AND scope = ? AND bucket = ?`, b.AppID, b.Scope.Key(), b.Name)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var p kumo.Principal
			var kind int
			if err := rows.Scan(&kind, &p.ID); err != nil {
				rows.Close()
				return nil, err
			}
			p.Kind = kumo.CallerKind(kind)
			subs = append(subs, p)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	case b.Name != "": // a topic's subscribers
		if subs, err = q.topics.TopicSubscribers(ctx, b.AppID, kumo.TopicRef{AppID: b.AppID, Scope: b.Scope, Name: b.Name}); err != nil {
			return nil, err
		}
	default: // a direct push's addressee
		kind := kumo.UserCaller
		if b.Scope.Kind == kumo.ScopeThing {
			kind = kumo.ThingCaller
		}
		subs = []kumo.Principal{{Kind: kind, ID: b.Scope.ID}}
	}
	var out []kumo.PhoneRecipient
	for _, p := range subs {
		rows, err := q.db.query(ctx, `SELECT id, device_type, registration_id, development FROM installations
			WHERE app_id = ? AND owner_kind = ? AND owner_id = ? AND device_type IN ('ANDROID', 'IOS')`, b.AppID, int(p.Kind), p.ID)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var r kumo.PhoneRecipient
			if err := rows.Scan(&r.InstallationID, &r.DeviceType, &r.RegistrationID, &r.Development); err != nil {
				rows.Close()
				return nil, err
			}
			out = append(out, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// QueuePhonePushes implements kumo.PhoneQueue. The pushes of an event
// are queued by the write that marks its outbox row (phones_queued), in
// the same transaction: a call for an event already marked, or gone from
// the outbox (completed, hence queued), queues none of its pushes, and
// writes no ledger record for them. The mark lives as long as the event,
// which is as long as it can be dispatched again.
func (q *PhoneQueue) QueuePhonePushes(ctx context.Context, ps []kumo.PhonePush) error {
	if len(ps) == 0 {
		return nil
	}
	now := q.db.now()
	var queued []kumo.PhonePush
	err := q.db.writeTx(ctx, func(tx *Tx) error {
		queued = queued[:0]
		first := map[int64]bool{} // event seq -> this write marked it
		for _, p := range ps {
			if p.Seq == 0 {
				queued = append(queued, p)
				continue
			}
			mine, asked := first[p.Seq]
			if !asked {
				res, err := tx.Exec(ctx, "UPDATE outbox SET phones_queued = 1 WHERE seq = ? AND phones_queued = 0", p.Seq)
				if err != nil {
					return err
				}
				n, err := res.RowsAffected()
				if err != nil {
					return err
				}
				mine = n > 0
				first[p.Seq] = mine
			}
			if mine {
				queued = append(queued, p)
			}
		}
		for start := 0; start < len(queued); start += 100 {
			chunk := queued[start:min(start+100, len(queued))]
			var sb strings.Builder
			sb.WriteString(`INSERT INTO phone_pushes (app_id, message_id, event_type, installation_id, device_type, registration_id,
				development, payload, attempts, due, claimed_by, claimed_until) VALUES `)
			var args []any
			for i, p := range chunk {
				if i > 0 {
					sb.WriteString(", ")
				}
				sb.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, 0, ?, '', 0)")
				args = append(args, p.AppID, p.MessageID, string(p.EventType), p.InstallationID, p.DeviceType, p.RegistrationID,
					boolInt(p.Development), string(p.Payload), now)
			}
			if _, err := tx.Exec(ctx, sb.String(), args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	rs := make([]kumo.DeliveryRecord, len(queued))
	for i, p := range queued {
		rs[i] = kumo.DeliveryRecord{AppID: p.AppID, MessageID: p.MessageID, EventType: p.EventType, InstallationID: p.InstallationID,
			DeviceType: p.DeviceType, State: kumo.DeliveryQueued, Reason: "waiting for the phone worker", Created: now}
	}
	q.ledger.record(ctx, rs)
	return nil
}

// ClaimPhonePushes implements kumo.PhoneQueue.
func (q *PhoneQueue) ClaimPhonePushes(ctx context.Context, node string, max int, lease time.Duration) ([]kumo.PhonePush, error) {
	now := q.db.now()
	var out []kumo.PhonePush
	err := q.db.writeTx(ctx, func(tx *Tx) error {
		out = out[:0]
		rows, err := tx.Query(ctx, tx.db.locks.LockSkipLocked(`SELECT id, app_id, message_id, event_type, installation_id, device_type, registration_id,
			development, payload, attempts FROM phone_pushes WHERE due <= ? AND claimed_until < ? ORDER BY id LIMIT ?`),
			now, now, max)
		if err != nil {
			return err
		}
		for rows.Next() {
			var p kumo.PhonePush
			var typ, payload string
			if err := rows.Scan(&p.ID, &p.AppID, &p.MessageID, &typ, &p.InstallationID, &p.DeviceType, &p.RegistrationID,
				&p.Development, &payload, &p.Attempts); err != nil {
				rows.Close()
				return err
			}
			p.EventType, p.Payload = kumo.EventType(typ), []byte(payload)
			out = append(out, p)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for i, p := range out {
			if _, err := tx.Exec(ctx, "UPDATE phone_pushes SET claimed_by = ?, claimed_until = ?, attempts = attempts + 1 WHERE id = ?",
				node, now+lease.Milliseconds(), p.ID); err != nil {
				return err
			}
			out[i].Attempts++ // this claim's send counts
		}
		return nil
	})
	return out, err
}

// FinishPhonePush implements kumo.PhoneQueue.
func (q *PhoneQueue) FinishPhonePush(ctx context.Context, id int64, retryAt int64) error {
	return q.db.writeTx(ctx, func(tx *Tx) error {
		if retryAt > 0 {
			_, err := tx.Exec(ctx, "UPDATE phone_pushes SET due = ?, claimed_by = '', claimed_until = 0 WHERE id = ?", retryAt, id)
			return err
		}
		_, err := tx.Exec(ctx, "DELETE FROM phone_pushes WHERE id = ?", id)
		return err
	})
}

// DropPhoneInstallation implements kumo.PhoneQueue. The installation's
// waiting pushes go with it, each recorded dropped in the ledger; those
// claimed now are left to their workers' records (the caller's own push
// among them).
func (q *PhoneQueue) DropPhoneInstallation(ctx context.Context, appID, installationID string) error {
	var rs []kumo.DeliveryRecord
	err := q.db.writeTx(ctx, func(tx *Tx) error {
		// The phone installation and its waiting pushes (cascade.go).
		done, err := cascade(ctx, tx, doomed{kind: doomInstallation, appID: appID, id: installationID, phones: true,
			reason: "the provider reports the token gone: the installation is deleted"})
		rs = done.dropped
		return err
	})
	if err == nil {
		q.ledger.record(ctx, rs)
	}
	return err
}

// dropPhonePushes deletes, within tx, an app's queued phone pushes that
// match where (a condition on phone_pushes, with args), and returns the
// ledger records of those no worker holds now (a worker records the
// pushes it claimed), dropped for reason. Deleted with RETURNING: of two
// nodes deleting the same rows, only one records them.
func dropPhonePushes(ctx context.Context, tx *Tx, appID, where string, args []any, reason string) ([]kumo.DeliveryRecord, error) {
	now := tx.db.now()
	rows, err := tx.Query(ctx, `DELETE FROM phone_pushes WHERE app_id = ? AND `+where+`
		RETURNING installation_id, message_id, event_type, device_type, claimed_until`, append([]any{appID}, args...)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var rs []kumo.DeliveryRecord
	for rows.Next() {
		r := kumo.DeliveryRecord{AppID: appID, State: kumo.DeliveryDropped, Reason: reason, Created: now}
		var typ string
		var claimedUntil int64
		if err := rows.Scan(&r.InstallationID, &r.MessageID, &typ, &r.DeviceType, &claimedUntil); err != nil {
			return nil, err
		}
		r.EventType = kumo.EventType(typ)
		if claimedUntil < now {
			rs = append(rs, r)
		}
	}
	return rs, rows.Err()
}
