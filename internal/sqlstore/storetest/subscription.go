package storetest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/kumo-iot/kumo"
)

// testSubscriptions checks kumo.SubscriptionService and
// push.Outbox.SubscriberTopics.
func testSubscriptions(t *testing.T, s suite) {
	t.Run("Lifecycle", func(t *testing.T) {
		f := newFixture(t, s)
		a, aCaller := f.mustThing("vt-a")
		b := f.bucket(kumo.AppScope, "status")
		sub := aCaller.Principal()

		err := f.db.Subscriptions.BucketSubscribed(f.ctx, aCaller, b, sub)
		wantCode(t, "BucketSubscribed before subscribing", err, kumo.ErrPushSubscriptionMissing)
		if err := f.db.Subscriptions.SubscribeBucket(f.ctx, aCaller, b, sub); err != nil {
			t.Fatalf("SubscribeBucket: %v", err)
		}
		if err := f.db.Subscriptions.BucketSubscribed(f.ctx, aCaller, b, sub); err != nil {
			t.Errorf("BucketSubscribed after subscribing = %v, want nil", err)
		}
		err = f.db.Subscriptions.SubscribeBucket(f.ctx, aCaller, b, sub)
		wantCode(t, "SubscribeBucket again", err, kumo.ErrPushSubscriptionExists)
		wantFields(t, "SubscribeBucket again", err, map[string]any{
			"bucketID":    "status",
			"objectScope": map[string]any{"appID": f.app.AppID, "type": "APP"},
			"subject":     map[string]any{"type": "thing", "thingID": a.ID},
		})
		// The same subscriber named by its vendor thing ID is the same
		// subscription.
		err = f.db.Subscriptions.SubscribeBucket(f.ctx, aCaller, b, kumo.Principal{Kind: kumo.ThingCaller, ID: "VENDOR_THING_ID:vt-a"})
		wantCode(t, "SubscribeBucket by vendor thing ID", err, kumo.ErrPushSubscriptionExists)
		if err := f.db.Subscriptions.BucketSubscribed(f.ctx, f.admin, b, kumo.Principal{Kind: kumo.ThingCaller, ID: "VENDOR_THING_ID:vt-a"}); err != nil {
			t.Errorf("BucketSubscribed by vendor thing ID, admin = %v, want nil", err)
		}

		if err := f.db.Subscriptions.UnsubscribeBucket(f.ctx, aCaller, b, sub); err != nil {
			t.Fatalf("UnsubscribeBucket: %v", err)
		}
		err = f.db.Subscriptions.BucketSubscribed(f.ctx, aCaller, b, sub)
		wantCode(t, "BucketSubscribed after unsubscribing", err, kumo.ErrPushSubscriptionMissing)
		err = f.db.Subscriptions.UnsubscribeBucket(f.ctx, aCaller, b, sub)
		wantCode(t, "UnsubscribeBucket again", err, kumo.ErrPushSubscriptionMissing)
		wantFields(t, "UnsubscribeBucket again", err, map[string]any{"bucketID": "status"})
		if err := f.db.Subscriptions.SubscribeBucket(f.ctx, aCaller, b, sub); err != nil {
			t.Errorf("SubscribeBucket after unsubscribing: %v", err)
		}
	})

	t.Run("Who", func(t *testing.T) {
		f := newFixture(t, s)
		a, aCaller := f.mustThing("vt-a")
		b2, bCaller := f.mustThing("vt-b")
		u, uCaller := f.mustUser("alice")
		thingA := kumo.Principal{Kind: kumo.ThingCaller, ID: a.ID}
		thingB := kumo.Principal{Kind: kumo.ThingCaller, ID: b2.ID}
		user := kumo.Principal{Kind: kumo.UserCaller, ID: u.ID}
		appBucket := f.bucket(kumo.AppScope, "status")
		tests := []struct {
			name   string
			caller kumo.Caller
			b      kumo.BucketRef
			sub    kumo.Principal
			code   kumo.Code
		}{
			{name: "thing itself, app bucket", caller: aCaller, b: appBucket, sub: thingA},
			{name: "thing itself, its own bucket", caller: aCaller, b: f.bucket(thingScope(a.ID), "state"), sub: thingA},
			{name: "thing itself, its own bucket by vendor thing ID", caller: aCaller, b: f.bucket(thingScope("VENDOR_THING_ID:vt-a"), "state2"), sub: thingA},
			{name: "user itself", caller: uCaller, b: appBucket, sub: user},
			{name: "user as me", caller: uCaller, b: f.bucket(userScope("me"), "inbox"), sub: kumo.Principal{Kind: kumo.UserCaller, ID: "me"}},
			{name: "admin for a thing", caller: f.admin, b: appBucket, sub: thingB},
			{name: "admin for a thing's own bucket", caller: f.admin, b: f.bucket(thingScope(b2.ID), "state"), sub: thingB},
			{name: "another thing", caller: bCaller, b: appBucket, sub: thingA, code: kumo.ErrUnauthorized},
			{name: "a user for a thing", caller: uCaller, b: appBucket, sub: thingA, code: kumo.ErrUnauthorized},
			{name: "a thing for a user", caller: aCaller, b: appBucket, sub: user, code: kumo.ErrUnauthorized},
			{name: "anonymous for a thing", caller: f.anon, b: appBucket, sub: thingA, code: kumo.ErrUnauthorized},
			{name: "thing, another thing's bucket", caller: aCaller, b: f.bucket(thingScope(b2.ID), "state"), sub: thingA, code: kumo.ErrUnauthorized},
			{name: "admin, unknown thing", caller: f.admin, b: appBucket, sub: kumo.Principal{Kind: kumo.ThingCaller, ID: "VENDOR_THING_ID:vt-z"}, code: kumo.ErrThingNotFound},
			{name: "admin, bucket of an unknown thing", caller: f.admin, b: f.bucket(thingScope("VENDOR_THING_ID:vt-z"), "s"), sub: thingA, code: kumo.ErrThingNotFound},
			{name: "admin as subscriber", caller: f.admin, b: appBucket, sub: f.admin.Principal(), code: kumo.ErrInvalidInputData},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := f.db.Subscriptions.SubscribeBucket(f.ctx, tt.caller, tt.b, tt.sub)
				if !wantCode(t, "SubscribeBucket", err, tt.code) {
					return
				}
				err = f.db.Subscriptions.BucketSubscribed(f.ctx, tt.caller, tt.b, tt.sub)
				wantCode(t, "BucketSubscribed", err, tt.code)
				err = f.db.Subscriptions.UnsubscribeBucket(f.ctx, tt.caller, tt.b, tt.sub)
				wantCode(t, "UnsubscribeBucket", err, tt.code)
			})
		}
	})

	t.Run("OthersCannotUnsubscribe", func(t *testing.T) {
		f := newFixture(t, s)
		_, aCaller := f.mustThing("vt-a")
		_, bCaller := f.mustThing("vt-b")
		b := f.bucket(kumo.AppScope, "status")
		if err := f.db.Subscriptions.SubscribeBucket(f.ctx, aCaller, b, aCaller.Principal()); err != nil {
			t.Fatalf("SubscribeBucket: %v", err)
		}
		err := f.db.Subscriptions.UnsubscribeBucket(f.ctx, bCaller, b, aCaller.Principal())
		wantCode(t, "UnsubscribeBucket by another thing", err, kumo.ErrUnauthorized)
		err = f.db.Subscriptions.BucketSubscribed(f.ctx, bCaller, b, aCaller.Principal())
		wantCode(t, "BucketSubscribed by another thing", err, kumo.ErrUnauthorized)
		if err := f.db.Subscriptions.BucketSubscribed(f.ctx, aCaller, b, aCaller.Principal()); err != nil {
			t.Errorf("after the refused unsubscribe, BucketSubscribed = %v, want nil", err)
		}
		if err := f.db.Subscriptions.UnsubscribeBucket(f.ctx, f.admin, b, aCaller.Principal()); err != nil {
			t.Errorf("UnsubscribeBucket by the admin: %v", err)
		}
	})

	t.Run("SubscriberTopics", func(t *testing.T) {
		f := newFixture(t, s)
		a, aCaller := f.mustThing("vt-a")
		_, bCaller := f.mustThing("vt-b")
		_, cCaller := f.mustThing("vt-c")
		_, dCaller := f.mustThing("vt-d")
		_, uCaller := f.mustUser("alice")
		_, phoneOnly := f.mustUser("bob")
		status := f.bucket(kumo.AppScope, "status")

		mqtt := func(c kumo.Caller) kumo.Installation {
			return f.mustInstall(c, kumo.InstallationCreate{DeviceType: kumo.DeviceMQTT})
		}
		uInstall := mqtt(uCaller)
		topicA, topicB, topicU := mqtt(aCaller).MQTTTopic, mqtt(bCaller).MQTTTopic, uInstall.MQTTTopic
		mqtt(dCaller) // subscribed, then unsubscribed
		f.mustInstall(uCaller, kumo.InstallationCreate{DeviceType: kumo.DeviceIOS, RegistrationID: "alice-phone"})
		f.mustInstall(phoneOnly, kumo.InstallationCreate{DeviceType: kumo.DeviceAndroid, RegistrationID: "bob-phone"})
		// c has no installation at all.

		subscribe := func(c kumo.Caller, b kumo.BucketRef) {
			t.Helper()
			if err := f.db.Subscriptions.SubscribeBucket(f.ctx, c, b, c.Principal()); err != nil {
				t.Fatalf("SubscribeBucket(%s, %s): %v", c.ID, b.Name, err)
			}
		}
		for _, c := range []kumo.Caller{aCaller, cCaller, dCaller, uCaller, phoneOnly} {
			subscribe(c, status)
		}
		if err := f.db.Subscriptions.UnsubscribeBucket(f.ctx, dCaller, status, dCaller.Principal()); err != nil {
			t.Fatalf("UnsubscribeBucket: %v", err)
		}
		subscribe(bCaller, f.bucket(kumo.AppScope, "other"))
		subscribe(aCaller, f.bucket(thingScope(a.ID), "status")) // same name, another scope

		tests := []struct {
			name string
			b    kumo.BucketRef
			want []string
		}{
			{"app bucket: MQTT installations of the subscribers", status, []string{topicA, topicU}},
			{"another bucket", f.bucket(kumo.AppScope, "other"), []string{topicB}},
			{"same name in a thing scope", f.bucket(thingScope(a.ID), "status"), []string{topicA}},
			{"bucket without subscribers", f.bucket(kumo.AppScope, "nobody"), nil},
			{"same bucket in another app", kumo.BucketRef{AppID: "app2", Scope: kumo.AppScope, Name: "status"}, nil},
		}
		var all []kumo.BucketRef
		for _, tt := range tests {
			all = append(all, tt.b)
			t.Run(tt.name, func(t *testing.T) {
				checkTopics(t, f, tt.b, tt.want)
			})
		}
		// All buckets in one call give the same answers.
		got, err := f.db.Outbox.SubscriberTopics(f.ctx, all)
		if err != nil {
			t.Fatalf("SubscriberTopics(all): %v", err)
		}
		for _, tt := range tests {
			if !sameTopics(got[tt.b], tt.want) {
				t.Errorf("SubscriberTopics(all)[%s] = %v, want %v", tt.name, got[tt.b], tt.want)
			}
		}
		for b := range got {
			if !slices.Contains(all, b) {
				t.Errorf("SubscriberTopics(all) answers for bucket %+v, which was not asked for", b)
			}
		}
		// Many uncached buckets at once (a cold cache is read per app):
		// the same answers, with the asked buckets repeated among others.
		f.reopen()
		var many []kumo.BucketRef
		for i := 0; i < 40; i++ {
			many = append(many, f.bucket(kumo.AppScope, fmt.Sprintf("cold%02d", i)))
		}
		many = append(many, all...)
		got, err = f.db.Outbox.SubscriberTopics(f.ctx, many)
		if err != nil {
			t.Fatalf("SubscriberTopics(many): %v", err)
		}
		for _, tt := range tests {
			if !sameTopics(got[tt.b], tt.want) {
				t.Errorf("SubscriberTopics(many)[%s] = %v, want %v", tt.name, got[tt.b], tt.want)
			}
		}
		if len(got) != len(many) {
			t.Errorf("SubscriberTopics(many) answered %d buckets, want %d", len(got), len(many))
		}
		if got, err := f.db.Outbox.SubscriberTopics(f.ctx, nil); err != nil || len(got) != 0 {
			t.Errorf("SubscriberTopics(nil) = %v, %v; want no topics", got, err)
		}

		// Deleting an installation removes its topic.
		if err := f.db.Installations.DeleteInstallation(f.ctx, uCaller, uInstall.ID); err != nil {
			t.Fatalf("DeleteInstallation: %v", err)
		}
		checkTopics(t, f, status, []string{topicA})
	})

	// Every change of subscriptions or MQTT installations shows at once,
	// however the store caches topics.
	t.Run("SubscriberTopicsChange", func(t *testing.T) {
		f := newFixture(t, s)
		_, aCaller := f.mustThing("vt-a")
		_, bCaller := f.mustThing("vt-b")
		_, eCaller := f.mustThing("vt-e")
		live := f.bucket(kumo.AppScope, "live")
		other := f.bucket(kumo.AppScope, "other")
		mqtt := func(c kumo.Caller) kumo.Installation {
			return f.mustInstall(c, kumo.InstallationCreate{DeviceType: kumo.DeviceMQTT})
		}
		topicA, topicB := mqtt(aCaller).MQTTTopic, mqtt(bCaller).MQTTTopic
		subscribe := func(c kumo.Caller, b kumo.BucketRef) {
			t.Helper()
			if err := f.db.Subscriptions.SubscribeBucket(f.ctx, c, b, c.Principal()); err != nil {
				t.Fatalf("SubscribeBucket: %v", err)
			}
		}
		checkTopics(t, f, live, nil)
		subscribe(aCaller, live)
		checkTopics(t, f, live, []string{topicA})
		subscribe(bCaller, live)
		checkTopics(t, f, live, []string{topicA, topicB})
		subscribe(eCaller, live) // no installation yet
		subscribe(eCaller, other)
		checkTopics(t, f, live, []string{topicA, topicB})
		checkTopics(t, f, other, nil)
		eInstall := mqtt(eCaller)
		checkTopics(t, f, live, []string{topicA, topicB, eInstall.MQTTTopic})
		checkTopics(t, f, other, []string{eInstall.MQTTTopic})
		if err := f.db.Subscriptions.UnsubscribeBucket(f.ctx, aCaller, live, aCaller.Principal()); err != nil {
			t.Fatalf("UnsubscribeBucket: %v", err)
		}
		checkTopics(t, f, live, []string{topicB, eInstall.MQTTTopic})
		if err := f.db.Installations.DeleteInstallation(f.ctx, eCaller, eInstall.ID); err != nil {
			t.Fatalf("DeleteInstallation: %v", err)
		}
		checkTopics(t, f, live, []string{topicB})
		checkTopics(t, f, other, nil)
		f.reopen()
		checkTopics(t, f, live, []string{topicB})
		eAgain := mqtt(eCaller)
		checkTopics(t, f, other, []string{eAgain.MQTTTopic})
	})
}

// checkTopics checks the subscriber topics of bucket b, in any order.
func checkTopics(t *testing.T, f *fixture, b kumo.BucketRef, want []string) {
	t.Helper()
	got, err := f.db.Outbox.SubscriberTopics(f.ctx, []kumo.BucketRef{b})
	if err != nil {
		t.Fatalf("SubscriberTopics(%s): %v", b.Name, err)
	}
	if !sameTopics(got[b], want) {
		t.Errorf("SubscriberTopics(%s) = %v, want %v", b.Name, got[b], want)
	}
}

// sameTopics reports whether two topic lists hold the same topics.
func sameTopics(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// testSubscriptionsToDeletedScopes checks that deleting a thing or a user
// deletes the subscriptions others made to the buckets of its scope, not
// only those it made: a thing grants a user QUERY_OBJECTS_IN_BUCKET on
// its bucket, the user subscribes to it, the admin deletes the thing; a
// subscription naming the thing's bucket used to stay for ever.
func testSubscriptionsToDeletedScopes(t *testing.T, s suite) {
	f := newFixture(t, s)
	th, thC := f.mustThing("vt-scope")
	owner, ownerC := f.mustUser("scope-owner")
	_, readerC := f.mustUser("scope-reader")
	buckets := []kumo.BucketRef{
		f.bucket(kumo.Scope{Kind: kumo.ScopeThing, ID: th.ID}, "shared"),
		f.bucket(kumo.Scope{Kind: kumo.ScopeUser, ID: owner.ID}, "shared"),
	}
	for i, c := range []kumo.Caller{thC, ownerC} {
		b := buckets[i]
		f.mustObject(c, b, map[string]any{"n": i})
		if err := f.db.ACLs.GrantACL(f.ctx, c, kumo.ACLTarget{Bucket: b}, kumo.QueryObjectsInBucket, kumo.PrincipalSubject(readerC.Principal())); err != nil {
			t.Fatal(err)
		}
		if err := f.db.Subscriptions.SubscribeBucket(f.ctx, readerC, b, readerC.Principal()); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.db.Things.DeleteThing(f.ctx, f.admin, th.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.db.Users.DeleteUser(f.ctx, f.admin, owner.ID); err != nil {
		t.Fatal(err)
	}
	for _, b := range buckets {
		var n int
		// Literal values: ReadDB speaks the driver's own placeholders.
		if err := f.db.ReadDB().QueryRow(fmt.Sprintf("SELECT COUNT(*) FROM bucket_subscriptions WHERE app_id = '%s' AND scope = '%s'",
			f.app.AppID, b.Scope.Key())).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%d subscriptions to the buckets of deleted %s remain; want none", n, b.Scope.Kind)
		}
	}
}
