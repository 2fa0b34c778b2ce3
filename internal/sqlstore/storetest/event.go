package storetest

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/kumo-iot/kumo"
)

// testEvents checks push.Outbox: every CreateObject commits one event,
// which is claimed once per process and, until completed, again after a
// restart.
func testEvents(t *testing.T, s suite) {
	t.Run("Created", func(t *testing.T) {
		f := newFixture(t, s)
		a, aCaller := f.mustThing("vt-a")
		u, uCaller := f.mustUser("alice")
		type write struct {
			caller kumo.Caller
			b      kumo.BucketRef
			want   kumo.BucketRef
			sender kumo.Principal
		}
		writes := []write{
			{aCaller, f.bucket(kumo.AppScope, "status"), f.bucket(kumo.AppScope, "status"), kumo.Principal{Kind: kumo.ThingCaller, ID: a.ID}},
			{uCaller, f.bucket(userScope("me"), "notes"), f.bucket(userScope(u.ID), "notes"), kumo.Principal{Kind: kumo.UserCaller, ID: u.ID}},
			{f.admin, f.bucket(thingScope("VENDOR_THING_ID:vt-a"), "CRYPTO:state"), f.bucket(thingScope(a.ID), "CRYPTO:state"), kumo.Principal{Kind: kumo.Admin, ID: f.app.ClientID}},
		}
		// A first, empty claim: the store takes its boot position there
		// (see the BUG in NewEventsAreNotRecovered, which checks Recovered
		// without it).
		if got := f.claimAll(); len(got) != 0 {
			t.Fatalf("a new store holds events: %+v", got)
		}
		var want []kumo.Event
		for _, w := range writes {
			f.clock.Advance(time.Second)
			o := f.mustObject(w.caller, w.b, map[string]any{"v": 1})
			want = append(want, kumo.Event{Type: kumo.DataObjectCreated, Bucket: w.want, ObjectID: o.ID,
				Sender: w.sender, When: f.clock.Millis(), ModifiedAt: o.Modified})
		}
		got := f.claimAll()
		checkEvents(t, "ClaimEvents", got, want)
		if more := f.claimAll(); len(more) != 0 {
			t.Errorf("a second ClaimEvents returned %d events, want none: each event is claimed once per process", len(more))
		}
	})

	t.Run("OnlyCreatedObjects", func(t *testing.T) {
		f := newFixture(t, s)
		a, aCaller := f.mustThing("vt-a")
		_, bCaller := f.mustThing("vt-b")
		// Writes that fail or that are not object changes commit no event.
		f.db.Objects.CreateObject(f.ctx, f.anon, kumo.ObjectCreate{Bucket: f.bucket(kumo.AppScope, "b"), Data: map[string]any{}})
		f.db.Objects.CreateObject(f.ctx, bCaller, kumo.ObjectCreate{Bucket: f.bucket(thingScope(a.ID), "b"), Data: map[string]any{}})
		f.db.Objects.CreateObject(f.ctx, f.admin, kumo.ObjectCreate{Bucket: f.bucket(thingScope("VENDOR_THING_ID:none"), "b"), Data: map[string]any{}})
		f.mustUser("alice")
		f.mustInstall(aCaller, kumo.InstallationCreate{DeviceType: kumo.DeviceMQTT})
		if err := f.db.Subscriptions.SubscribeBucket(f.ctx, aCaller, f.bucket(kumo.AppScope, "b"), aCaller.Principal()); err != nil {
			t.Fatalf("SubscribeBucket: %v", err)
		}
		if _, err := f.db.Tokens.Login(f.ctx, f.app.AppID, kumo.LoginRequest{Username: "VENDOR_THING_ID:vt-a", Password: "pw-vt-a"}); err != nil {
			t.Fatalf("Login: %v", err)
		}
		if _, err := f.db.Secret(f.ctx, "s"); err != nil {
			t.Fatalf("Secret: %v", err)
		}
		if got := f.claimAll(); len(got) != 0 {
			t.Errorf("ClaimEvents = %+v, want no events", got)
		}
	})

	t.Run("Max", func(t *testing.T) {
		f := newFixture(t, s)
		_, aCaller := f.mustThing("vt-a")
		var ids []string
		for i := 0; i < 5; i++ {
			ids = append(ids, f.mustObject(aCaller, f.bucket(kumo.AppScope, "b"), map[string]any{"i": i}).ID)
		}
		var got []string
		for _, want := range []int{2, 2, 1, 0} {
			es, err := f.db.Outbox.ClaimEvents(f.ctx, 2)
			if err != nil {
				t.Fatalf("ClaimEvents: %v", err)
			}
			if len(es) != want {
				t.Fatalf("ClaimEvents(2) returned %d events, want %d", len(es), want)
			}
			for _, e := range es {
				got = append(got, e.ObjectID)
			}
		}
		if !slices.Equal(got, ids) {
			t.Errorf("claimed object IDs %v, want %v (oldest first)", got, ids)
		}
	})

	t.Run("CompleteEmpty", func(t *testing.T) {
		f := newFixture(t, s)
		if err := f.db.Outbox.CompleteEvents(f.ctx, nil); err != nil {
			t.Errorf("CompleteEvents(nil) = %v, want nil", err)
		}
	})

	t.Run("CompletedAreGone", func(t *testing.T) {
		f := newFixture(t, s)
		_, aCaller := f.mustThing("vt-a")
		var objs []kumo.Object
		for i := 0; i < 3; i++ {
			objs = append(objs, f.mustObject(aCaller, f.bucket(kumo.AppScope, "b"), map[string]any{"i": i}))
		}
		es := f.claimAll()
		if len(es) != 3 {
			t.Fatalf("claimed %d events, want 3", len(es))
		}
		if err := f.db.Outbox.CompleteEvents(f.ctx, es); err != nil {
			t.Fatalf("CompleteEvents: %v", err)
		}
		f.reopen()
		if got := f.claimAll(); len(got) != 0 {
			t.Errorf("after CompleteEvents and a restart, ClaimEvents = %+v, want no events", got)
		}
		for _, o := range objs {
			if _, err := f.db.Objects.GetObject(f.ctx, aCaller, o.Bucket, o.ID); err != nil {
				t.Errorf("after the restart, GetObject(%s): %v", o.ID, err)
			}
		}
	})

	t.Run("FailingWriteAfterCompletion", func(t *testing.T) {
		// Completed events are deleted within the next write's
		// transaction. A write that then fails alone gets its own error,
		// and the store neither logs a failure nor loses the deletion.
		f := newFixture(t, s)
		_, aCaller := f.mustThing("vt-a")
		f.mustObject(aCaller, f.bucket(kumo.AppScope, "b"), map[string]any{})
		if err := f.db.Outbox.CompleteEvents(f.ctx, f.claimAll()); err != nil {
			t.Fatalf("CompleteEvents: %v", err)
		}
		_, _, err := f.db.Things.RegisterThing(f.ctx, f.anon, kumo.ThingRegistration{VendorThingID: "vt-a", Password: "pw", Fields: map[string]any{}}, false)
		wantCode(t, "RegisterThing(the same vendor thing ID)", err, kumo.ErrThingAlreadyExists)
		f.mustThing("vt-b") // the next write succeeds
		if logged := f.log.Records(); len(logged) > 0 {
			t.Errorf("the store logged %q, want nothing", logged)
		}
		f.reopen()
		if got := f.claimAll(); len(got) != 0 {
			t.Errorf("after a restart, ClaimEvents = %+v, want no events: they were completed", got)
		}
	})

	t.Run("IncompleteAreReclaimed", func(t *testing.T) {
		f := newFixture(t, s)
		_, aCaller := f.mustThing("vt-a")
		for i := 0; i < 4; i++ {
			f.mustObject(aCaller, f.bucket(kumo.AppScope, "b"), map[string]any{"i": i})
		}
		first, err := f.db.Outbox.ClaimEvents(f.ctx, 2)
		if err != nil || len(first) != 2 {
			t.Fatalf("ClaimEvents(2) = %d events, %v; want 2", len(first), err)
		}
		if err := f.db.Outbox.CompleteEvents(f.ctx, first); err != nil {
			t.Fatalf("CompleteEvents: %v", err)
		}
		second := f.claimAll() // claimed, never completed: the process "crashes"
		if len(second) != 2 {
			t.Fatalf("claimed %d more events, want 2", len(second))
		}

		f.reopen()
		got := f.claimAll()
		want := make([]kumo.Event, len(second))
		for i, e := range second {
			e.Recovered = true
			want[i] = e
		}
		checkEvents(t, "after a restart, ClaimEvents", got, want)
		for i := range got {
			if i < len(second) && got[i].Seq != second[i].Seq {
				t.Errorf("recovered event %d has Seq %d, want %d", i, got[i].Seq, second[i].Seq)
			}
		}

		// An event committed after the restart (and after the first claim)
		// is not recovered.
		o := f.mustObject(aCaller, f.bucket(kumo.AppScope, "b"), map[string]any{"new": true})
		fresh := f.claimAll()
		if len(fresh) != 1 || fresh[0].ObjectID != o.ID || fresh[0].Recovered {
			t.Errorf("after the restart, a new object's events = %+v, want one event for %s, not Recovered", fresh, o.ID)
		}

		if err := f.db.Outbox.CompleteEvents(f.ctx, got); err != nil {
			t.Fatalf("CompleteEvents(recovered): %v", err)
		}
		if err := f.db.Outbox.CompleteEvents(f.ctx, fresh); err != nil {
			t.Fatalf("CompleteEvents(fresh): %v", err)
		}
		f.reopen()
		if left := f.claimAll(); len(left) != 0 {
			t.Errorf("after completing everything and a restart, ClaimEvents = %+v, want none", left)
		}
	})

	t.Run("UnclaimedAreRecovered", func(t *testing.T) {
		f := newFixture(t, s)
		_, aCaller := f.mustThing("vt-a")
		o := f.mustObject(aCaller, f.bucket(kumo.AppScope, "b"), map[string]any{})
		f.reopen() // the event was never claimed
		got := f.claimAll()
		if len(got) != 1 || got[0].ObjectID != o.ID || !got[0].Recovered {
			t.Errorf("after a restart, ClaimEvents = %+v, want the event of %s marked Recovered", got, o.ID)
		}
	})

	t.Run("NewEventsAreNotRecovered", func(t *testing.T) {
		f := newFixture(t, s)
		_, aCaller := f.mustThing("vt-a")
		// A new store: nothing was committed before this process started.
		first := f.mustObject(aCaller, f.bucket(kumo.AppScope, "b"), map[string]any{"first": true})
		got := f.claimAll()
		if len(got) != 1 || got[0].ObjectID != first.ID || got[0].Recovered {
			t.Errorf("in a new store, ClaimEvents = %+v, want the event of %s, not Recovered", got, first.ID)
		}

		f.reopen() // the event is claimed but not completed
		// This event is committed by the new process, before it claims.
		fresh := f.mustObject(aCaller, f.bucket(kumo.AppScope, "b"), map[string]any{"new": true})
		got = f.claimAll()
		if len(got) != 2 {
			t.Fatalf("after a restart, claimed %d events, want 2", len(got))
		}
		if got[0].ObjectID != first.ID || !got[0].Recovered {
			t.Errorf("event of the object from before the restart = %+v, want it Recovered", got[0])
		}
		if got[1].ObjectID != fresh.ID || got[1].Recovered {
			t.Errorf("event of the object from after the restart = %+v, want it not Recovered", got[1])
		}
	})

	t.Run("Notify", func(t *testing.T) {
		f := newFixture(t, s)
		_, aCaller := f.mustThing("vt-a")
		for i := 0; i < 2; i++ { // a consumed notification does not stop the next one
			o := f.mustObject(aCaller, f.bucket(kumo.AppScope, "b"), map[string]any{"i": i})
			select {
			case <-f.db.Outbox.Notify():
			case <-time.After(10 * time.Second):
				t.Fatalf("write %d: no notification 10s after a commit with an event", i)
			}
			got := f.claimAll()
			if len(got) != 1 || got[0].ObjectID != o.ID {
				t.Errorf("after the notification, ClaimEvents = %+v, want the event of %s", got, o.ID)
			}
		}
	})
}

// checkEvents compares claimed events with want, ignoring Seq, which must
// increase.
func checkEvents(t *testing.T, what string, got, want []kumo.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s returned %d events, want %d:\n%+v", what, len(got), len(want), got)
	}
	for i := range got {
		if i > 0 && got[i].Seq <= got[i-1].Seq {
			t.Errorf("%s: event %d has Seq %d after %d, want increasing", what, i, got[i].Seq, got[i-1].Seq)
		}
		g := got[i]
		g.Seq = 0
		w := want[i]
		w.Seq = 0
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s: event %d = %+v\nwant %+v", what, i, g, w)
		}
	}
}
