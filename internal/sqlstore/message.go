package sqlstore

import (
	"context"
	"encoding/json"

	"github.com/kumo-iot/kumo"
)

// MessageService implements kumo.MessageService: push messages to topics
// and direct pushes, committed as outbox events.
type MessageService struct {
	db     *DB
	acls   *ACLService
	topics *TopicService
}

var _ kumo.MessageService = (*MessageService)(nil)

// SendDirect implements kumo.MessageService.
func (s *MessageService) SendDirect(ctx context.Context, c kumo.Caller, target kumo.Principal, m kumo.PushMessage) (string, error) {
	if !c.IsAdmin() && !(c.Kind == target.Kind && (c.ID == target.ID || target.Kind == kumo.UserCaller && target.ID == "me")) {
		return "", kumo.Unauthorized(c, "Only the app admin (or the addressee itself) may send a direct push")
	}
	target, err := s.acls.resolvePrincipal(ctx, c, target)
	if err != nil {
		return "", err
	}
	now := s.db.now()
	d := m.Delivery(kumo.MessageSource{AppID: c.AppID, Sender: c, When: now, Target: target})
	if err := d.CheckSize(); err != nil {
		return "", err
	}
	return s.sendMessage(ctx, c, kumo.BucketRef{AppID: c.AppID, Scope: principalScope(target)}, d, now)
}

// SendToTopic implements kumo.MessageService.
func (s *MessageService) SendToTopic(ctx context.Context, c kumo.Caller, t kumo.TopicRef, m kumo.PushMessage) (string, error) {
	t, st, err := s.topics.resolveTopic(ctx, c, t)
	if err != nil {
		return "", err
	}
	tp, err := s.topics.topic(ctx, t)
	if err != nil {
		return "", err
	}
	ok, err := s.acls.allowed(ctx, c, st, kumo.TopicACL(t), kumo.SendMessageToTopic, &tp.Creator)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", kumo.Unauthorized(c, "The caller may not send messages to topic %s", t.Name)
	}
	now := s.db.now()
	d := m.Delivery(kumo.MessageSource{AppID: c.AppID, Sender: c, When: now, Topic: &t})
	if err := d.CheckSize(); err != nil {
		return "", err
	}
	return s.sendMessage(ctx, c, kumo.BucketRef{AppID: t.AppID, Scope: t.Scope, Name: t.Name}, d, now)
}

// sendMessage commits a message's outbox event: the dispatcher finds its
// recipients when it dispatches it.
func (s *MessageService) sendMessage(ctx context.Context, c kumo.Caller, to kumo.BucketRef, d kumo.MessageDelivery, now int64) (string, error) {
	body, err := json.Marshal(d)
	if err != nil {
		return "", err
	}
	id := kumo.NewObjectID()
	err = s.db.writeTx(ctx, func(tx *Tx) error {
		return insertEvent(ctx, tx, kumo.Event{Type: kumo.PushMessageSent, Bucket: to, ObjectID: id,
			Sender: c.Principal(), When: now, Message: body})
	})
	return id, err
}

// principalScope is the scope of a user or thing.
func principalScope(p kumo.Principal) kumo.Scope {
	if p.Kind == kumo.ThingCaller {
		return kumo.Scope{Kind: kumo.ScopeThing, ID: p.ID}
	}
	return kumo.Scope{Kind: kumo.ScopeUser, ID: p.ID}
}

// MessageRecipients implements push.Outbox: the recipients of each
// event, events[i]'s at [i]. The events addressed to users and things (a
// direct push, a command) are read together, in one query per app and
// maxRecipientIDs principals; a topic's in one query each.
func (o *Recipients) MessageRecipients(ctx context.Context, events []kumo.Event) ([][]kumo.Recipient, error) {
	out := make([][]kumo.Recipient, len(events))
	direct := map[string][]kumo.Principal{} // by app: the principals addressed
	for i, e := range events {
		if e.Bucket.Name != "" {
			rs, err := o.topicRecipients(ctx, kumo.TopicRef{AppID: e.Bucket.AppID, Scope: e.Bucket.Scope, Name: e.Bucket.Name})
			if err != nil {
				return nil, err
			}
			out[i] = rs
			continue
		}
		direct[e.Bucket.AppID] = append(direct[e.Bucket.AppID], eventPrincipal(e))
	}
	for app, ps := range direct {
		rs, err := o.installationRecipients(ctx, app, ps)
		if err != nil {
			return nil, err
		}
		for i, e := range events {
			if e.Bucket.Name == "" && e.Bucket.AppID == app {
				out[i] = rs[eventPrincipal(e)]
			}
		}
	}
	return out, nil
}

// eventPrincipal is the user or thing a message event is addressed to.
func eventPrincipal(e kumo.Event) kumo.Principal {
	if e.Bucket.Scope.Kind == kumo.ScopeThing {
		return kumo.Principal{Kind: kumo.ThingCaller, ID: e.Bucket.Scope.ID}
	}
	return kumo.Principal{Kind: kumo.UserCaller, ID: e.Bucket.Scope.ID}
}

// topicRecipients returns the MQTT installations of the subscribers of
// topic t, in one query: a topic may have thousands of subscribers.
func (o *Recipients) topicRecipients(ctx context.Context, t kumo.TopicRef) ([]kumo.Recipient, error) {
	rows, err := o.db.query(ctx, `SELECT i.mqtt_topic, i.development FROM topic_subscriptions s
		JOIN installations i ON i.app_id = s.app_id AND i.owner_kind = s.subscriber_kind AND i.owner_id = s.subscriber_id
		WHERE s.app_id = ? AND s.scope = ? AND s.topic = ? AND i.device_type = 'MQTT'
		ORDER BY s.subscriber_kind, s.subscriber_id`, t.AppID, t.Scope.Key(), t.Name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []kumo.Recipient
	for rows.Next() {
		var r kumo.Recipient
		if err := rows.Scan(&r.MQTTTopic, &r.Development); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// maxRecipientIDs is the most owner IDs one query of
// installationRecipients names.
const maxRecipientIDs = 256

// installationRecipients returns the MQTT installations of principals of
// app appID, by principal: one query per maxRecipientIDs of them. The
// list of IDs is padded to a power of two (its last ID repeated), so that
// few distinct statements are prepared.
func (o *Recipients) installationRecipients(ctx context.Context, appID string, ps []kumo.Principal) (map[kumo.Principal][]kumo.Recipient, error) {
	out := make(map[kumo.Principal][]kumo.Recipient, len(ps))
	var ids []string
	seenID := map[string]bool{}
	kinds := map[kumo.CallerKind]bool{}
	for _, p := range ps {
		kinds[p.Kind] = true
		if !seenID[p.ID] {
			seenID[p.ID] = true
			ids = append(ids, p.ID)
		}
	}
	kindArgs := make([]any, 0, 2)
	for _, k := range []kumo.CallerKind{kumo.UserCaller, kumo.ThingCaller} {
		if kinds[k] {
			kindArgs = append(kindArgs, int(k))
		}
	}
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), maxRecipientIDs)]
		ids = ids[len(chunk):]
		n := 1
		for n < len(chunk) {
			n *= 2
		}
		args := make([]any, 0, 1+len(kindArgs)+n)
		args = append(append(args, appID), kindArgs...)
		for i := 0; i < n; i++ {
			args = append(args, chunk[min(i, len(chunk)-1)])
		}
		rows, err := o.db.query(ctx, `SELECT owner_kind, owner_id, mqtt_topic, development FROM installations
			WHERE app_id = ? AND owner_kind IN (`+placeholders(len(kindArgs))+`) AND owner_id IN (`+placeholders(n)+`)
			AND device_type = 'MQTT'`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var (
				kind int
				p    kumo.Principal
				r    kumo.Recipient
			)
			if err := rows.Scan(&kind, &p.ID, &r.MQTTTopic, &r.Development); err != nil {
				rows.Close()
				return nil, err
			}
			p.Kind = kumo.CallerKind(kind)
			out[p] = append(out[p], r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
