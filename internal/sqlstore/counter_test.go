package sqlstore_test

import (
	"context"
	"testing"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/sqlstore"
)

// TestTopicChangesLeaveTheBucketCache checks that topic subscriptions,
// which are read at each send and never cached, do not empty the bucket
// subscriber cache of every node; a bucket subscription does.
func TestTopicChangesLeaveTheBucketCache(t *testing.T) {
	db := newSQLiteDB(t).Store
	ctx := context.Background()
	app, err := db.Apps.CreateApp(ctx, kumo.AppCreate{})
	if err != nil {
		t.Fatal(err)
	}
	admin := kumo.Caller{AppID: app.AppID, Kind: kumo.Admin}
	th, _, err := db.Things.RegisterThing(ctx, kumo.Caller{AppID: app.AppID}, kumo.ThingRegistration{VendorThingID: "vt-1", Password: "pw-1", Fields: map[string]any{}}, false)
	if err != nil {
		t.Fatal(err)
	}
	sub := kumo.Principal{Kind: kumo.ThingCaller, ID: th.ID}
	counter := func() int64 {
		t.Helper()
		v, err := sqlstore.SubscriptionsCounter(db.DB)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	before := counter()
	topic := kumo.TopicRef{AppID: app.AppID, Scope: kumo.Scope{Kind: kumo.ScopeApp}, Name: "news"}
	for _, step := range []func() error{
		func() error { return db.Topics.CreateTopic(ctx, admin, topic) },
		func() error { return db.Topics.SubscribeTopic(ctx, admin, topic, sub) },
		func() error { return db.Topics.UnsubscribeTopic(ctx, admin, topic, sub) },
		func() error { return db.Topics.SubscribeTopic(ctx, admin, topic, sub) },
		func() error { return db.Topics.DeleteTopic(ctx, admin, topic) },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	if after := counter(); after != before {
		t.Errorf("topic changes moved the bucket subscriptions counter from %d to %d", before, after)
	}
	bucket := kumo.BucketRef{AppID: app.AppID, Scope: kumo.Scope{Kind: kumo.ScopeApp}, Name: "b"}
	if err := db.Subscriptions.SubscribeBucket(ctx, admin, bucket, sub); err != nil {
		t.Fatal(err)
	}
	if counter() == before {
		t.Error("a bucket subscription left the counter as it was")
	}
}
