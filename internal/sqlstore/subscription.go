package sqlstore

import (
	"context"

	"github.com/kumo-iot/kumo"
)

// SubscriptionService implements kumo.SubscriptionService: bucket
// subscriptions.
type SubscriptionService struct {
	db   *DB
	acls *ACLService
}

var _ kumo.SubscriptionService = (*SubscriptionService)(nil)

// subscription resolves and checks a bucket subscription request: the
// caller must be the admin or the subscriber, and able to query the bucket.
func (s *SubscriptionService) subscription(ctx context.Context, c kumo.Caller, b kumo.BucketRef, sub kumo.Principal) (kumo.BucketRef, kumo.Principal, error) {
	if c.Kind == kumo.Anonymous { // before any lookup: an anonymous caller learns nothing
		return b, sub, kumo.Unauthorized(c, "Push subscriptions need a user or thing token")
	}
	b, st, err := s.acls.resolveBucket(ctx, c, b)
	if err != nil {
		return b, sub, err
	}
	sub, err = s.acls.resolvePrincipal(ctx, c, sub)
	if err != nil {
		return b, sub, err
	}
	if !c.IsAdmin() && !c.Is(sub) {
		return b, sub, kumo.Unauthorized(c, "Only the subscriber itself or the app admin may manage this subscription")
	}
	if err := s.acls.mayBucket(ctx, c, st, b, kumo.QueryObjectsInBucket); err != nil {
		return b, sub, err
	}
	return b, sub, nil
}

func subscriptionError(code kumo.Code, msg string, b kumo.BucketRef, sub kumo.Principal) error {
	subject := map[string]any{"type": sub.Kind.String()}
	if sub.Kind == kumo.ThingCaller {
		subject["thingID"] = sub.ID
	} else {
		subject["userID"] = sub.ID
	}
	return kumo.Errorf(code, "%s", msg).With("objectScope", b.Scope.ObjectScope(b.AppID)).
		With("bucketID", b.Name).With("subject", subject)
}

// SubscribeBucket implements kumo.SubscriptionService.
func (s *SubscriptionService) SubscribeBucket(ctx context.Context, c kumo.Caller, b kumo.BucketRef, sub kumo.Principal) error {
	b, sub, err := s.subscription(ctx, c, b, sub)
	if err != nil {
		return err
	}
	now := s.db.now()
	return s.db.writeTx(ctx, func(tx *Tx) error {
		if err := ensureBucket(ctx, tx, b, c, now); err != nil {
			return err
		}
		res, err := tx.Exec(ctx, `INSERT INTO bucket_subscriptions (app_id, scope, bucket, subscriber_kind, subscriber_id, created)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, b.AppID, b.Scope.Key(), b.Name, int(sub.Kind), sub.ID, now)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return subscriptionError(kumo.ErrPushSubscriptionExists, "The subscription already exists", b, sub)
		}
		return bumpCounter(ctx, tx, counterSubscriptions)
	})
}

// BucketSubscribed implements kumo.SubscriptionService.
func (s *SubscriptionService) BucketSubscribed(ctx context.Context, c kumo.Caller, b kumo.BucketRef, sub kumo.Principal) error {
	b, sub, err := s.subscription(ctx, c, b, sub)
	if err != nil {
		return err
	}
	var n int
	err = s.db.queryRow(ctx, `SELECT COUNT(*) FROM bucket_subscriptions
		WHERE app_id = ? AND scope = ? AND bucket = ? AND subscriber_kind = ? AND subscriber_id = ?`,
		b.AppID, b.Scope.Key(), b.Name, int(sub.Kind), sub.ID).Scan(&n)
	if err != nil {
		return err
	}
	if n == 0 {
		return subscriptionError(kumo.ErrPushSubscriptionMissing, "The subscription was not found", b, sub)
	}
	return nil
}

// UnsubscribeBucket implements kumo.SubscriptionService.
func (s *SubscriptionService) UnsubscribeBucket(ctx context.Context, c kumo.Caller, b kumo.BucketRef, sub kumo.Principal) error {
	b, sub, err := s.subscription(ctx, c, b, sub)
	if err != nil {
		return err
	}
	return s.db.writeTx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(ctx, `DELETE FROM bucket_subscriptions
			WHERE app_id = ? AND scope = ? AND bucket = ? AND subscriber_kind = ? AND subscriber_id = ?`,
			b.AppID, b.Scope.Key(), b.Name, int(sub.Kind), sub.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return subscriptionError(kumo.ErrPushSubscriptionMissing, "The subscription was not found", b, sub)
		}
		return bumpCounter(ctx, tx, counterSubscriptions)
	})
}
