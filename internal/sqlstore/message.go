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

// MessageRecipients implements push.Outbox.
func (o *Recipients) MessageRecipients(ctx context.Context, e kumo.Event) ([]kumo.Recipient, error) {
	s := e.Bucket.Scope
	if e.Bucket.Name != "" {
		return o.topicRecipients(ctx, kumo.TopicRef{AppID: e.Bucket.AppID, Scope: s, Name: e.Bucket.Name})
	}
	kind := kumo.UserCaller
	if s.Kind == kumo.ScopeThing {
		kind = kumo.ThingCaller
	}
	return o.installationRecipients(ctx, e.Bucket.AppID, []kumo.Principal{{Kind: kind, ID: s.ID}})
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

// installationRecipients returns the MQTT installations of principals.
func (o *Recipients) installationRecipients(ctx context.Context, appID string, ps []kumo.Principal) ([]kumo.Recipient, error) {
	var out []kumo.Recipient
	for _, p := range ps {
		rows, err := o.db.query(ctx, `SELECT mqtt_topic, development FROM installations
			WHERE app_id = ? AND owner_kind = ? AND owner_id = ? AND device_type = 'MQTT'`, appID, int(p.Kind), p.ID)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var r kumo.Recipient
			if err := rows.Scan(&r.MQTTTopic, &r.Development); err != nil {
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
