package storetest

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kumo-iot/kumo"
)

// testQueue checks kumo.PushQueue: persistence of installations, the
// durable queue of their pushes, its order, its bounds, and what survives
// a restart.
func testQueue(t *testing.T, s suite) {
	// newDevice returns the MQTT topic of a new thing's installation.
	newDevice := func(f *fixture, vid string) string {
		_, c := f.mustThing(vid)
		return f.mustInstall(c, kumo.InstallationCreate{DeviceType: kumo.DeviceMQTT}).MQTTTopic
	}
	deliveries := func(topic string, seqs ...int64) []kumo.Delivery {
		var ds []kumo.Delivery
		for _, s := range seqs {
			ds = append(ds, kumo.Delivery{Topic: topic, ID: strconv.FormatInt(s, 10), Payload: []byte(fmt.Sprintf(`{"n":%d}`, s))})
		}
		return ds
	}
	queuedSeqs := func(f *fixture, topic string, skip map[int64]bool) []int64 {
		f.t.Helper()
		ps, err := f.db.Queue.Queued(f.ctx, topic, skip, 100)
		if err != nil {
			f.t.Fatalf("Queued: %v", err)
		}
		seqs := []int64{}
		for _, p := range ps {
			if want := fmt.Sprintf(`{"n":%d}`, p.Seq); string(p.Payload) != want || p.Topic != topic {
				f.t.Errorf("queued push %d = %s on %s, want %s on %s", p.Seq, p.Payload, p.Topic, want, topic)
			}
			seqs = append(seqs, p.Seq)
		}
		return seqs
	}
	persistent := func(f *fixture) map[string]bool {
		f.t.Helper()
		m, err := f.db.Queue.PersistentTopics(f.ctx)
		if err != nil {
			f.t.Fatalf("PersistentTopics: %v", err)
		}
		return m
	}

	t.Run("Persistent", func(t *testing.T) {
		f := newFixture(t, s)
		_, c := f.mustThing("vt-a")
		inA := f.mustInstall(c, kumo.InstallationCreate{DeviceType: kumo.DeviceMQTT})
		a, b := inA.MQTTTopic, newDevice(f, "vt-b")
		if got := persistent(f); len(got) != 0 {
			t.Fatalf("PersistentTopics of new installations = %v, want none", got)
		}
		if err := f.db.Queue.SetPersistent(f.ctx, a, true); err != nil {
			t.Fatalf("SetPersistent: %v", err)
		}
		if got := persistent(f); !reflect.DeepEqual(got, map[string]bool{a: true}) {
			t.Errorf("PersistentTopics = %v, want only %s", got, a)
		}
		in, err := f.db.Installations.MQTTInstallation(f.ctx, inA.MQTTUsername)
		if err != nil || !in.Persistent {
			t.Errorf("MQTTInstallation = %+v, %v; want Persistent", in, err)
		}
		f.db.Queue.SetPersistent(f.ctx, b, true)
		f.db.Queue.SetPersistent(f.ctx, a, false)
		if got := persistent(f); !reflect.DeepEqual(got, map[string]bool{b: true}) {
			t.Errorf("PersistentTopics = %v, want only %s", got, b)
		}
		f.reopen()
		if got := persistent(f); !reflect.DeepEqual(got, map[string]bool{b: true}) {
			t.Errorf("after a restart, PersistentTopics = %v, want only %s", got, b)
		}
	})

	t.Run("Order", func(t *testing.T) {
		f := withEvents(newFixture(t, s), 10)
		a, b := newDevice(f, "vt-a"), newDevice(f, "vt-b")
		f.db.Queue.SetPersistent(f.ctx, a, true)
		f.db.Queue.SetPersistent(f.ctx, b, true)
		if err := f.db.Queue.Enqueue(f.ctx, append(deliveries(a, 3, 1, 2), deliveries(b, 2)...)); err != nil {
			t.Fatalf("Enqueue: %v", err)
		}
		// Queueing an event again (a dispatch repeated after a crash)
		// queues it once.
		if err := f.db.Queue.Enqueue(f.ctx, deliveries(a, 2, 4)); err != nil {
			t.Fatalf("Enqueue again: %v", err)
		}
		if got, want := queuedSeqs(f, a, nil), []int64{1, 2, 3, 4}; !reflect.DeepEqual(got, want) {
			t.Errorf("Queued(a) = %v, want %v", got, want)
		}
		if got, want := queuedSeqs(f, a, map[int64]bool{1: true, 3: true}), []int64{2, 4}; !reflect.DeepEqual(got, want) {
			t.Errorf("Queued(a, skipping 1 and 3) = %v, want %v", got, want)
		}
		if err := f.db.Queue.Dequeue(f.ctx, a, []int64{1, 3}); err != nil {
			t.Fatalf("Dequeue: %v", err)
		}
		f.reopen()
		if got, want := queuedSeqs(f, a, nil), []int64{2, 4}; !reflect.DeepEqual(got, want) {
			t.Errorf("after a restart, Queued(a) = %v, want %v", got, want)
		}
		if got, want := queuedSeqs(f, b, nil), []int64{2}; !reflect.DeepEqual(got, want) {
			t.Errorf("Queued(b) = %v, want %v", got, want)
		}
		// No longer persistent: the queue goes.
		f.db.Queue.SetPersistent(f.ctx, a, false)
		if got := queuedSeqs(f, a, nil); len(got) != 0 {
			t.Errorf("Queued(a) after clean session 1 = %v, want none", got)
		}
		if got := queuedSeqs(f, b, nil); len(got) != 1 {
			t.Errorf("Queued(b) = %v, want [2]", got)
		}
	})

	t.Run("MaxCount", func(t *testing.T) {
		f := withEvents(newFixture(t, s), 10)
		f.db.QueueMax = 3
		a := newDevice(f, "vt-a")
		f.db.Queue.SetPersistent(f.ctx, a, true)
		f.db.Queue.Enqueue(f.ctx, deliveries(a, 1, 2))
		f.db.Queue.Enqueue(f.ctx, deliveries(a, 3, 4, 5))
		if got, want := queuedSeqs(f, a, nil), []int64{3, 4, 5}; !reflect.DeepEqual(got, want) {
			t.Errorf("Queued = %v, want the newest 3: %v", got, want)
		}
		if !logged(f, "queue is full", a) {
			t.Errorf("the drop is not logged: %v", f.log.Records())
		}
	})

	t.Run("MaxAge", func(t *testing.T) {
		f := withEvents(newFixture(t, s), 10)
		a, b := newDevice(f, "vt-a"), newDevice(f, "vt-b")
		f.db.Queue.SetPersistent(f.ctx, a, true)
		f.db.Queue.SetPersistent(f.ctx, b, true)
		f.db.Queue.Enqueue(f.ctx, append(deliveries(a, 1, 2), deliveries(b, 3)...))
		f.clock.Advance(time.Hour)
		f.db.Queue.Enqueue(f.ctx, deliveries(a, 4))
		got, err := f.db.Queue.ExpireQueued(f.ctx, f.clock.Millis()-time.Minute.Milliseconds())
		if err != nil {
			t.Fatalf("ExpireQueued: %v", err)
		}
		perTopic := map[string]int{}
		for _, p := range got {
			perTopic[p.Topic]++
		}
		if want := map[string]int{a: 2, b: 1}; !reflect.DeepEqual(perTopic, want) {
			t.Errorf("ExpireQueued = %+v, want per topic %v", got, want)
		}
		if got, want := queuedSeqs(f, a, nil), []int64{4}; !reflect.DeepEqual(got, want) {
			t.Errorf("Queued = %v, want %v", got, want)
		}
	})

	// An event's offline pushes are queued once, however often it is
	// dispatched: while they wait, after they were replayed and
	// dequeued, after a restart.
	t.Run("Once", func(t *testing.T) {
		f := newFixture(t, s)
		a, b := newDevice(f, "vt-a"), newDevice(f, "vt-b")
		f.db.Queue.SetPersistent(f.ctx, a, true)
		f.db.Queue.SetPersistent(f.ctx, b, true)
		f.mustObject(f.admin, f.bucket(kumo.AppScope, "once"), map[string]any{})
		events, err := f.db.Outbox.ClaimEvents(f.ctx, 10)
		if err != nil || len(events) != 1 {
			t.Fatalf("ClaimEvents = %+v, %v; want one event", events, err)
		}
		seq := events[0].Seq
		enqueue := func(what string) {
			t.Helper()
			if err := f.db.Queue.Enqueue(f.ctx, append(deliveries(a, seq), deliveries(b, seq)...)); err != nil {
				t.Fatalf("Enqueue (%s): %v", what, err)
			}
		}
		enqueue("first dispatch")
		if err := f.db.Queue.Dequeue(f.ctx, a, []int64{seq}); err != nil { // replayed to a
			t.Fatal(err)
		}
		enqueue("dispatched again after a's push was replayed")
		if got := queuedSeqs(f, a, nil); len(got) != 0 {
			t.Errorf("Queued(a) = %v after its push was replayed and the event dispatched again; want none", got)
		}
		if got, want := queuedSeqs(f, b, nil), []int64{seq}; !reflect.DeepEqual(got, want) {
			t.Errorf("Queued(b) = %v, want %v", got, want)
		}
		f.reopen()
		enqueue("after a restart")
		if got := queuedSeqs(f, a, nil); len(got) != 0 {
			t.Errorf("after a restart, Queued(a) = %v; want none", got)
		}
	})

	t.Run("DeletedInstallation", func(t *testing.T) {
		f := withEvents(newFixture(t, s), 10)
		_, c := f.mustThing("vt-a")
		in := f.mustInstall(c, kumo.InstallationCreate{DeviceType: kumo.DeviceMQTT})
		f.db.Queue.SetPersistent(f.ctx, in.MQTTTopic, true)
		f.db.Queue.Enqueue(f.ctx, deliveries(in.MQTTTopic, 1))
		if err := f.db.Installations.DeleteInstallation(f.ctx, c, in.ID); err != nil {
			t.Fatalf("DeleteInstallation: %v", err)
		}
		if got := queuedSeqs(f, in.MQTTTopic, nil); len(got) != 0 {
			t.Errorf("Queued after the installation's deletion = %v, want none", got)
		}
		// A push for a topic no installation has is not queued.
		f.db.Queue.Enqueue(f.ctx, deliveries("no-such-topic", 2))
		if got := queuedSeqs(f, "no-such-topic", nil); len(got) != 0 {
			t.Errorf("Queued(no-such-topic) = %v, want none", got)
		}
	})
}

// testQueueLedger checks what the ledger says of a persistent
// installation's pushes: one "queued" record per push however often its
// event is queued, and a "dropped" one, with the push's event type and
// message ID, for each push its queue lost (trimmed, clean session 1, the
// installation deleted) or never took (its installation gone). Queued and ExpireQueued return the pushes with
// their event types and message IDs, for the broker's records.
func testQueueLedger(t *testing.T, s suite) {
	f := withEvents(newFixture(t, s), 10)
	f.db.Ledger.On = true
	f.db.QueueMax = 2
	_, c := f.mustThing("vt-ledger")
	in := f.mustInstall(c, kumo.InstallationCreate{DeviceType: kumo.DeviceMQTT})
	topic := in.MQTTTopic
	push := func(seq int64) kumo.Delivery {
		return kumo.Delivery{Topic: topic, ID: strconv.FormatInt(seq, 10), Payload: []byte(`{}`), AppID: f.app.AppID,
			EventType: kumo.PushMessageSent, MessageID: fmt.Sprintf("m%d", seq)}
	}
	if err := f.db.Queue.SetPersistent(f.ctx, topic, true); err != nil {
		t.Fatal(err)
	}
	if err := f.db.Queue.Enqueue(f.ctx, []kumo.Delivery{push(1), push(2)}); err != nil {
		t.Fatal(err)
	}
	if err := f.db.Queue.Enqueue(f.ctx, []kumo.Delivery{push(1), push(2)}); err != nil { // the batch dispatched again
		t.Fatal(err)
	}
	ps, err := f.db.Queue.Queued(f.ctx, topic, nil, 10)
	if err != nil || len(ps) != 2 {
		t.Fatalf("Queued = %+v, %v; want 2 pushes", ps, err)
	}
	for _, p := range ps {
		if p.AppID != f.app.AppID || p.EventType != kumo.PushMessageSent || p.MessageID != fmt.Sprintf("m%d", p.Seq) {
			t.Errorf("queued push %+v: want its app, event type and message ID", p)
		}
	}
	if err := f.db.Queue.Enqueue(f.ctx, []kumo.Delivery{push(3)}); err != nil { // trims push 1
		t.Fatal(err)
	}
	f.clock.Advance(time.Hour)
	if err := f.db.Queue.Enqueue(f.ctx, []kumo.Delivery{push(4)}); err != nil { // trims push 2
		t.Fatal(err)
	}
	expired, err := f.db.Queue.ExpireQueued(f.ctx, f.clock.Millis()-time.Minute.Milliseconds()) // push 3
	if err != nil || len(expired) != 1 || expired[0].MessageID != "m3" || expired[0].EventType != kumo.PushMessageSent || expired[0].AppID != f.app.AppID {
		t.Errorf("ExpireQueued = %+v, %v; want push 3 with its app, event type and message ID", expired, err)
	}
	if err := f.db.Queue.Enqueue(f.ctx, []kumo.Delivery{push(5)}); err != nil {
		t.Fatal(err)
	}
	if err := f.db.Queue.SetPersistent(f.ctx, topic, false); err != nil { // drops 4 and 5
		t.Fatal(err)
	}
	if err := f.db.Queue.SetPersistent(f.ctx, topic, true); err != nil {
		t.Fatal(err)
	}
	if err := f.db.Queue.Enqueue(f.ctx, []kumo.Delivery{push(6)}); err != nil {
		t.Fatal(err)
	}
	if err := f.db.Installations.DeleteInstallation(f.ctx, c, in.ID); err != nil { // drops 6
		t.Fatal(err)
	}
	if err := f.db.Queue.Enqueue(f.ctx, []kumo.Delivery{push(7)}); err != nil { // for an installation gone: dropped
		t.Fatal(err)
	}

	rs, _, err := f.db.Ledger.Deliveries(f.ctx, f.admin, kumo.DeliveryFilter{Limit: 1000})
	if err != nil {
		t.Fatalf("Deliveries: %v", err)
	}
	got := map[string][]string{} // message ID -> states, in order
	for _, r := range rs {
		if r.MessageID != "m7" && r.InstallationID != in.ID || r.EventType != kumo.PushMessageSent || r.AppID != f.app.AppID {
			t.Errorf("record %+v: want installation %s and event type %s", r, in.ID, kumo.PushMessageSent)
		}
		got[r.MessageID] = append(got[r.MessageID], string(r.State))
	}
	want := map[string][]string{
		"m1": {"queued", "dropped"}, // trimmed
		"m2": {"queued", "dropped"}, // trimmed
		"m4": {"queued", "dropped"}, // clean session 1
		"m5": {"queued", "dropped"},
		"m6": {"queued", "dropped"}, // the installation deleted
		"m7": {"dropped"},           // queued after the installation was deleted
		"m3": {"queued"},            // its expiry is the broker's record
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ledger states by message = %v, want %v", got, want)
	}
}

// withEvents commits n outbox events (objects created) in f's new store,
// whose seqs are then 1 to n at least: the queue takes the pushes of
// events in the outbox only (those it was not given before).
func withEvents(f *fixture, n int) *fixture {
	f.t.Helper()
	for i := range n {
		f.mustObject(f.admin, f.bucket(kumo.AppScope, "events"), map[string]any{"n": i})
	}
	return f
}

// logged reports whether the store logged a record with every word.
func logged(f *fixture, words ...string) bool {
	for _, r := range f.log.Records() {
		ok := true
		for _, w := range words {
			ok = ok && strings.Contains(r, w)
		}
		if ok {
			return true
		}
	}
	return false
}
