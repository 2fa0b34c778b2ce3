package storetest

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	"github.com/kumo-iot/kumo"
)

// testGroupCommit checks the store under concurrent writes: every write is
// acknowledged with its own outcome, and a failing write in a shared
// transaction fails alone.
func testGroupCommit(t *testing.T, s suite) {
	t.Run("ConcurrentCreates", func(t *testing.T) {
		f := newFixture(t, s)
		_, aCaller := f.mustThing("vt-a")
		const n = 200
		b := f.bucket(kumo.AppScope, "load")
		objs := make([]kumo.Object, n)
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				objs[i], errs[i] = f.db.Objects.CreateObject(f.ctx, aCaller, kumo.ObjectCreate{Bucket: b, Data: map[string]any{"i": i}})
			})
		}
		close(start)
		wg.Wait()
		ids := map[string]int{}
		for i, err := range errs {
			if err != nil {
				t.Fatalf("CreateObject %d: %v", i, err)
			}
			ids[objs[i].ID] = i
		}
		if len(ids) != n {
			t.Fatalf("%d distinct object IDs, want %d", len(ids), n)
		}
		for i, o := range objs {
			got, err := f.db.Objects.GetObject(f.ctx, aCaller, b, o.ID)
			if err != nil {
				t.Errorf("GetObject(%d): %v", i, err)
				continue
			}
			if fmt.Sprint(got.Data["i"]) != fmt.Sprint(i) {
				t.Errorf("object %d has data %v", i, got.Data)
			}
		}
		events := f.claimAll()
		if len(events) != n {
			t.Fatalf("claimed %d events, want %d", len(events), n)
		}
		for i, e := range events {
			if _, ok := ids[e.ObjectID]; !ok {
				t.Errorf("event %+v is for an unknown object", e)
			}
			delete(ids, e.ObjectID) // each object once
			if i > 0 && e.Seq <= events[i-1].Seq {
				t.Errorf("event %d has Seq %d after %d, want increasing", i, e.Seq, events[i-1].Seq)
			}
		}
		if len(ids) != 0 {
			t.Errorf("%d objects have no event", len(ids))
		}
	})

	t.Run("FailingWriteFailsAlone", func(t *testing.T) {
		f := newFixture(t, s)
		_, aCaller := f.mustThing("vt-a")
		const dups, things, objects = 20, 50, 100
		type result struct {
			thing kumo.Thing
			err   error
		}
		dupResults := make([]result, dups)
		thingResults := make([]result, things)
		objResults := make([]error, objects)
		b := f.bucket(kumo.AppScope, "mixed")
		start := make(chan struct{})
		var wg sync.WaitGroup
		register := func(vid string) result {
			th, _, err := f.db.Things.RegisterThing(f.ctx, f.anon, kumo.ThingRegistration{VendorThingID: vid, Password: "pw", Fields: map[string]any{}}, true)
			return result{th, err}
		}
		for i := range dups {
			wg.Go(func() { <-start; dupResults[i] = register("dup") })
		}
		for i := range things {
			wg.Go(func() { <-start; thingResults[i] = register(fmt.Sprintf("vt-%03d", i)) })
		}
		for i := range objects {
			wg.Go(func() {
				<-start
				_, objResults[i] = f.db.Objects.CreateObject(f.ctx, aCaller, kumo.ObjectCreate{Bucket: b, Data: map[string]any{"i": i}})
			})
		}
		close(start)
		wg.Wait()

		winner := ""
		for i, r := range dupResults {
			switch kumo.ErrorCode(r.err) {
			case "":
				if winner != "" {
					t.Errorf("two registrations of vendor thing ID dup succeeded: %s and %s", winner, r.thing.ID)
				}
				winner = r.thing.ID
			case kumo.ErrThingAlreadyExists:
			default:
				t.Errorf("duplicate registration %d: error %v, want nil or %s", i, r.err, kumo.ErrThingAlreadyExists)
			}
		}
		if winner == "" {
			t.Error("no registration of vendor thing ID dup succeeded")
		} else if got, err := f.db.Things.FindThing(f.ctx, f.admin, "VENDOR_THING_ID:dup"); err != nil || got.ID != winner {
			t.Errorf("FindThing(VENDOR_THING_ID:dup) = %q, %v; want the winner %q", got.ID, err, winner)
		}
		for i, r := range thingResults {
			if r.err != nil {
				t.Errorf("unrelated RegisterThing %d failed: %v", i, r.err)
				continue
			}
			if got, err := f.db.Things.FindThing(f.ctx, f.admin, r.thing.ID); err != nil || got.VendorThingID != fmt.Sprintf("vt-%03d", i) {
				t.Errorf("FindThing(thing %d) = %+v, %v", i, got, err)
			}
		}
		for i, err := range objResults {
			if err != nil {
				t.Errorf("unrelated CreateObject %d failed: %v", i, err)
			}
		}
		if got := len(f.claimAll()); got != objects {
			t.Errorf("claimed %d events, want %d: one per created object, none from the failed writes", got, objects)
		}
	})
}

// testClose checks that Close finishes the writes already queued: a write
// racing with Close either commits (and survives a restart) or fails with
// TEMPORARY_UNAVAILABLE_ERROR.
func testClose(t *testing.T, s suite) {
	f := newFixture(t, s)
	_, aCaller := f.mustThing("vt-a")
	b := f.bucket(kumo.AppScope, "b")
	const n = 100
	objs := make([]kumo.Object, n)
	errs := make([]error, n)
	started := make(chan struct{}, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			started <- struct{}{}
			objs[i], errs[i] = f.db.Objects.CreateObject(f.ctx, aCaller, kumo.ObjectCreate{Bucket: b, Data: map[string]any{"i": i}})
		})
	}
	for range n / 2 {
		<-started
	}
	if err := f.db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wg.Wait()
	if err := f.db.Close(); err != nil {
		t.Errorf("a second Close = %v, want nil", err)
	}
	_, err := f.db.Objects.CreateObject(f.ctx, aCaller, kumo.ObjectCreate{Bucket: b, Data: map[string]any{}})
	wantCode(t, "CreateObject after Close", err, kumo.ErrUnavailable)

	f.reopen()
	committed := 0
	for i, err := range errs {
		switch kumo.ErrorCode(err) {
		case "":
			committed++
			if _, err := f.db.Objects.GetObject(f.ctx, aCaller, b, objs[i].ID); err != nil {
				t.Errorf("write %d was acknowledged before Close, but after a restart GetObject: %v", i, err)
			}
		case kumo.ErrUnavailable:
		default:
			t.Errorf("write %d racing with Close: error %v, want nil or %s", i, err, kumo.ErrUnavailable)
		}
	}
	if got := len(f.claimAll()); got != committed {
		t.Errorf("after a restart, %d events, want %d: one per acknowledged write", got, committed)
	}
}

// testSecret checks DB.Secret.
func testSecret(t *testing.T, s suite) {
	f := newFixture(t, s)
	a, err := f.db.Secret(f.ctx, "a")
	if err != nil {
		t.Fatalf("Secret(a): %v", err)
	}
	if len(a) < 32 {
		t.Errorf("Secret(a) = %q, want at least 32 bytes", a)
	}
	again, err := f.db.Secret(f.ctx, "a")
	if err != nil || !bytes.Equal(again, a) {
		t.Errorf("second Secret(a) = %q, %v; want %q", again, err, a)
	}
	b, err := f.db.Secret(f.ctx, "b")
	if err != nil || bytes.Equal(b, a) {
		t.Errorf("Secret(b) = %q, %v; want a value of its own", b, err)
	}

	// Concurrent first uses agree on one value.
	const n = 20
	vals := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { vals[i], errs[i] = f.db.Secret(f.ctx, "c") })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || !bytes.Equal(vals[i], vals[0]) {
			t.Errorf("concurrent Secret(c) %d = %q, %v; want %q", i, vals[i], errs[i], vals[0])
		}
	}

	f.reopen()
	for name, want := range map[string][]byte{"a": a, "b": b, "c": vals[0]} {
		got, err := f.db.Secret(f.ctx, name)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("after a restart, Secret(%s) = %q, %v; want %q", name, got, err, want)
		}
	}
}
