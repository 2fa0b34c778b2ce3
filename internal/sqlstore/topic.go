package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/kumo-iot/kumo"
)

// TopicService implements kumo.TopicService: topics and their subscriptions.
type TopicService struct {
	db   *DB
	acls *ACLService
}

var _ kumo.TopicService = (*TopicService)(nil)

// topic loads topic t (canonical scope), or TOPIC_NOT_FOUND.
func (ts *TopicService) topic(ctx context.Context, t kumo.TopicRef) (kumo.Topic, error) {
	var creator string
	tp := kumo.Topic{Ref: t}
	err := ts.db.queryRow(ctx, "SELECT created, creator FROM topics WHERE app_id = ? AND scope = ? AND name = ?",
		t.AppID, t.Scope.Key(), t.Name).Scan(&tp.Created, &creator)
	if errors.Is(err, sql.ErrNoRows) {
		return tp, kumo.TopicNotFound(t)
	}
	tp.Creator = principalOf(creator)
	return tp, err
}

// resolveTopic refuses anonymous callers (topics need a token: a topic's
// ACL cannot name ANONYMOUS_USER), resolves t's scope and loads the
// caller's standing in it.
func (ts *TopicService) resolveTopic(ctx context.Context, c kumo.Caller, t kumo.TopicRef) (kumo.TopicRef, kumo.Standing, error) {
	if c.Kind == kumo.Anonymous {
		return t, kumo.Standing{}, kumo.Unauthorized(c, "Topics need a user or thing token")
	}
	b, st, err := ts.acls.resolveBucket(ctx, c, kumo.BucketRef{AppID: t.AppID, Scope: t.Scope})
	t.Scope = b.Scope
	return t, st, err
}

// CreateTopic implements kumo.TopicService.
func (ts *TopicService) CreateTopic(ctx context.Context, c kumo.Caller, t kumo.TopicRef) error {
	t, st, err := ts.resolveTopic(ctx, c, t)
	if err != nil {
		return err
	}
	scope := kumo.ACLTarget{Bucket: kumo.BucketRef{AppID: t.AppID, Scope: t.Scope}}
	ok, err := ts.acls.allowed(ctx, c, st, scope, kumo.CreateNewTopic, nil)
	if err != nil {
		return err
	}
	if !ok {
		return kumo.Unauthorized(c, "The caller may not create topic %s", t.Name)
	}
	now := ts.db.now()
	return ts.db.writeTx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(ctx, "INSERT INTO topics (app_id, scope, name, created, creator) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
			t.AppID, t.Scope.Key(), t.Name, now, owner(c))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return kumo.TopicAlreadyExists(t)
		}
		return nil
	})
}

// TopicExists implements kumo.TopicService.
func (ts *TopicService) TopicExists(ctx context.Context, c kumo.Caller, t kumo.TopicRef) error {
	t, _, err := ts.resolveTopic(ctx, c, t)
	if err != nil {
		return err
	}
	_, err = ts.topic(ctx, t)
	return err
}

// DeleteTopic implements kumo.TopicService.
func (ts *TopicService) DeleteTopic(ctx context.Context, c kumo.Caller, t kumo.TopicRef) error {
	t, st, err := ts.resolveTopic(ctx, c, t)
	if err != nil {
		return err
	}
	tp, err := ts.topic(ctx, t)
	if err != nil {
		return err
	}
	// Who may edit its ACL may delete it: the admin, the scope's owners,
	// its creator.
	if !kumo.MayEditACL(c, kumo.TopicACL(t), st, kumo.ACLOwners{Creator: tp.Creator}) {
		return kumo.Unauthorized(c, "The caller may not delete topic %s", t.Name)
	}
	return ts.db.writeTx(ctx, func(tx *Tx) error {
		// The topic, its subscriptions and ACL changes (cascade.go).
		done, err := cascade(ctx, tx, doomed{kind: doomTopic, appID: t.AppID, scope: t.Scope.Key(), name: t.Name})
		if err != nil {
			return err
		}
		if done.deleted["topics"] == 0 {
			return kumo.TopicNotFound(t)
		}
		return nil
	})
}

// ListTopics implements kumo.TopicService.
func (ts *TopicService) ListTopics(ctx context.Context, c kumo.Caller, s kumo.Scope, after string, limit int) ([]kumo.TopicRef, error) {
	t, st, err := ts.resolveTopic(ctx, c, kumo.TopicRef{AppID: c.AppID, Scope: s})
	if err != nil {
		return nil, err
	}
	s = t.Scope
	// The app's topics are everyone's to subscribe to (by default), so
	// everyone's to list; a user's, group's or thing's, its owners'.
	if s.Kind != kumo.ScopeApp && !kumo.ImplicitlyAllowed(c, s, st, kumo.SubscribeToTopic) {
		return nil, kumo.Unauthorized(c, "The caller may not list the topics of this scope")
	}
	rows, err := ts.db.query(ctx, "SELECT name FROM topics WHERE app_id = ? AND scope = ? AND name > ? ORDER BY name LIMIT ?",
		c.AppID, s.Key(), after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []kumo.TopicRef
	for rows.Next() {
		r := kumo.TopicRef{AppID: c.AppID, Scope: s}
		if err := rows.Scan(&r.Name); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// topicSubscription resolves and checks a topic subscription request:
// the caller must be the admin or the subscriber, and the topic must
// exist. It returns the topic as stored.
func (ts *TopicService) topicSubscription(ctx context.Context, c kumo.Caller, t kumo.TopicRef, sub kumo.Principal) (kumo.Topic, kumo.Standing, kumo.Principal, error) {
	t, st, err := ts.resolveTopic(ctx, c, t)
	if err != nil {
		return kumo.Topic{Ref: t}, st, sub, err
	}
	sub, err = ts.acls.resolvePrincipal(ctx, c, sub)
	if err != nil {
		return kumo.Topic{Ref: t}, st, sub, err
	}
	if !c.IsAdmin() && !c.Is(sub) {
		return kumo.Topic{Ref: t}, st, sub, kumo.Unauthorized(c, "Only the subscriber itself or the app admin may manage this subscription")
	}
	tp, err := ts.topic(ctx, t)
	return tp, st, sub, err
}

func topicSubscriptionError(code kumo.Code, msg string, t kumo.TopicRef, sub kumo.Principal) error {
	subject := map[string]any{"type": sub.Kind.String()}
	if sub.Kind == kumo.ThingCaller {
		subject["thingID"] = sub.ID
	} else {
		subject["userID"] = sub.ID
	}
	return kumo.Errorf(code, "%s", msg).With("objectScope", t.Scope.ObjectScope(t.AppID)).
		With("topicID", t.Name).With("subject", subject)
}

// SubscribeTopic implements kumo.TopicService.
func (ts *TopicService) SubscribeTopic(ctx context.Context, c kumo.Caller, t kumo.TopicRef, sub kumo.Principal) error {
	tp, st, sub, err := ts.topicSubscription(ctx, c, t, sub)
	if err != nil {
		return err
	}
	t = tp.Ref
	ok, err := ts.acls.allowed(ctx, c, st, kumo.TopicACL(t), kumo.SubscribeToTopic, &tp.Creator)
	if err != nil {
		return err
	}
	if !ok {
		return kumo.Unauthorized(c, "The caller may not subscribe to topic %s", t.Name)
	}
	now := ts.db.now()
	return ts.db.writeTx(ctx, func(tx *Tx) error {
		var n int
		if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM topics WHERE app_id = ? AND scope = ? AND name = ?",
			t.AppID, t.Scope.Key(), t.Name).Scan(&n); err != nil {
			return err
		}
		if n == 0 { // deleted since it was read
			return kumo.TopicNotFound(t)
		}
		res, err := tx.Exec(ctx, `INSERT INTO topic_subscriptions (app_id, scope, topic, subscriber_kind, subscriber_id, created)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, t.AppID, t.Scope.Key(), t.Name, int(sub.Kind), sub.ID, now)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return topicSubscriptionError(kumo.ErrPushSubscriptionExists, "The subscription already exists", t, sub)
		}
		return nil // topic recipients are read at each send: no cache to tell
	})
}

// TopicSubscribed implements kumo.TopicService.
func (ts *TopicService) TopicSubscribed(ctx context.Context, c kumo.Caller, t kumo.TopicRef, sub kumo.Principal) error {
	tp, _, sub, err := ts.topicSubscription(ctx, c, t, sub)
	if err != nil {
		return err
	}
	t = tp.Ref
	var n int
	err = ts.db.queryRow(ctx, `SELECT COUNT(*) FROM topic_subscriptions
		WHERE app_id = ? AND scope = ? AND topic = ? AND subscriber_kind = ? AND subscriber_id = ?`,
		t.AppID, t.Scope.Key(), t.Name, int(sub.Kind), sub.ID).Scan(&n)
	if err != nil {
		return err
	}
	if n == 0 {
		return topicSubscriptionError(kumo.ErrPushSubscriptionMissing, "The subscription was not found", t, sub)
	}
	return nil
}

// UnsubscribeTopic implements kumo.TopicService.
func (ts *TopicService) UnsubscribeTopic(ctx context.Context, c kumo.Caller, t kumo.TopicRef, sub kumo.Principal) error {
	tp, _, sub, err := ts.topicSubscription(ctx, c, t, sub)
	if err != nil {
		return err
	}
	t = tp.Ref
	return ts.db.writeTx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(ctx, `DELETE FROM topic_subscriptions
			WHERE app_id = ? AND scope = ? AND topic = ? AND subscriber_kind = ? AND subscriber_id = ?`,
			t.AppID, t.Scope.Key(), t.Name, int(sub.Kind), sub.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return topicSubscriptionError(kumo.ErrPushSubscriptionMissing, "The subscription was not found", t, sub)
		}
		return nil
	})
}

// TopicSubscribers returns the users and things subscribed to t in app
// appID; t's scope ID must be canonical. It checks no permission: it is
// for the push path (a message already authorized), never for a client,
// which is why it is not part of kumo.TopicService.
func (ts *TopicService) TopicSubscribers(ctx context.Context, appID string, t kumo.TopicRef) ([]kumo.Principal, error) {
	rows, err := ts.db.query(ctx, `SELECT subscriber_kind, subscriber_id FROM topic_subscriptions
		WHERE app_id = ? AND scope = ? AND topic = ? ORDER BY subscriber_kind, subscriber_id`,
		appID, t.Scope.Key(), t.Name)
	if err != nil {
		return nil, ts.db.readErr(err)
	}
	defer rows.Close()
	var out []kumo.Principal
	for rows.Next() {
		var (
			kind int
			p    kumo.Principal
		)
		if err := rows.Scan(&kind, &p.ID); err != nil {
			return nil, err
		}
		p.Kind = kumo.CallerKind(kind)
		out = append(out, p)
	}
	return out, rows.Err()
}
