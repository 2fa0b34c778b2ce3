package push

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kumo-iot/kumo"
)

// fakeOutbox is an in-memory Outbox with the store's semantics: each
// committed event is claimed once per "process" and, until completed,
// again after restart.
type fakeOutbox struct {
	mu     sync.Mutex // guards the fields below
	events []kumo.Event
	seq    int64
	cursor int64 // highest seq claimed since the last restart
	topics map[kumo.BucketRef][]string
	// recipients of push messages, by the event's Bucket (the topic, or
	// the target's scope)
	recipients map[kumo.BucketRef][]kumo.Recipient
	claims     int     // ClaimEvents calls
	maxClaim   int     // largest batch handed out
	completed  []int64 // seqs completed, in order
	claimErrs  int     // how many ClaimEvents calls fail from now on

	notify chan struct{}
}

func newFakeOutbox() *fakeOutbox {
	return &fakeOutbox{topics: map[kumo.BucketRef][]string{}, notify: make(chan struct{}, 1)}
}

// commit adds events to the outbox and, with wake, notifies.
func (o *fakeOutbox) commit(wake bool, es ...kumo.Event) []kumo.Event {
	o.mu.Lock()
	for i := range es {
		o.seq++
		es[i].Seq = o.seq
		o.events = append(o.events, es[i])
	}
	o.mu.Unlock()
	if wake {
		select {
		case o.notify <- struct{}{}:
		default:
		}
	}
	return es
}

// restart makes the outbox look as a new process sees it: claimed events
// that were not completed are handed out again, marked Recovered.
func (o *fakeOutbox) restart() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.cursor = 0
	for i := range o.events {
		o.events[i].Recovered = true
	}
}

func (o *fakeOutbox) ClaimEvents(_ context.Context, limit int) ([]kumo.Event, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.claims++
	if o.claimErrs > 0 {
		o.claimErrs--
		return nil, errors.New("claim failed")
	}
	var out []kumo.Event
	for _, e := range o.events {
		if e.Seq > o.cursor && len(out) < limit {
			out = append(out, e)
		}
	}
	if len(out) > 0 {
		o.cursor = out[len(out)-1].Seq
	}
	o.maxClaim = max(o.maxClaim, len(out))
	return out, nil
}

func (o *fakeOutbox) CompleteEvents(_ context.Context, es []kumo.Event) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, e := range es {
		o.completed = append(o.completed, e.Seq)
		o.events = slices.DeleteFunc(o.events, func(x kumo.Event) bool { return x.Seq == e.Seq })
	}
	return nil
}

func (o *fakeOutbox) SubscriberTopics(_ context.Context, buckets []kumo.BucketRef) (map[kumo.BucketRef][]string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := map[kumo.BucketRef][]string{}
	for _, b := range buckets {
		if ts, ok := o.topics[b]; ok {
			out[b] = slices.Clone(ts)
		}
	}
	return out, nil
}

func (o *fakeOutbox) MessageRecipients(_ context.Context, es []kumo.Event) ([][]kumo.Recipient, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([][]kumo.Recipient, len(es))
	for i, e := range es {
		out[i] = slices.Clone(o.recipients[e.Bucket])
	}
	return out, nil
}

func (o *fakeOutbox) Notify() <-chan struct{} { return o.notify }

// pending returns how many events are not completed.
func (o *fakeOutbox) pending() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.events)
}

func (o *fakeOutbox) claimCount() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.claims
}

func (o *fakeOutbox) completedSeqs() []int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.completed)
}

// recordingBus is a Bus that records what it is handed.
type recordingBus struct {
	mu    sync.Mutex // guards the fields below
	ds    []kumo.Delivery
	calls int
	fails int // how many Publish calls fail from now on
}

func (b *recordingBus) Publish(_ context.Context, ds []kumo.Delivery) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls++
	if b.fails > 0 {
		b.fails--
		return errors.New("bus down")
	}
	b.ds = append(b.ds, ds...)
	return nil
}

func (b *recordingBus) deliveries() []kumo.Delivery {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.ds)
}

func (b *recordingBus) callCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls
}

// openDispatcher starts a dispatcher that polls only every hour, so that
// only notifications (and Close) make it look at the outbox after its first
// pass, and closes it when the test ends.
func openDispatcher(t *testing.T, o Outbox, b Bus, configure ...func(*Dispatcher)) *Dispatcher {
	t.Helper()
	d := &Dispatcher{Outbox: o, Bus: b, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Poll: time.Hour}
	for _, fn := range configure {
		fn(d)
	}
	if err := d.Open(); err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { closeDispatcher(t, d) })
	return d
}

func closeDispatcher(t *testing.T, d *Dispatcher) {
	t.Helper()
	if d.stop == nil {
		return
	}
	select {
	case <-d.stop:
		return // closed already
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// waitFor polls cond until it returns nil or 10 seconds pass.
func waitFor(t *testing.T, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still failing after 10s: %v", err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func bucket(name string) kumo.BucketRef {
	return kumo.BucketRef{AppID: appID, Scope: kumo.AppScope, Name: name}
}

func created(b kumo.BucketRef, objectID string) kumo.Event {
	return kumo.Event{Type: kumo.DataObjectCreated, Bucket: b, ObjectID: objectID,
		Sender: thingSender, When: 1466154835100, ModifiedAt: 1466154835092}
}

func TestDispatcherDeliveries(t *testing.T) {
	o := newFakeOutbox()
	o.topics[bucket("a")] = []string{"topicA1", "topicA2"}
	o.topics[bucket("c")] = []string{"topicC"}
	recovered := created(bucket("c"), "o3")
	recovered.Recovered = true
	es := o.commit(false, created(bucket("a"), "o1"), created(bucket("b"), "o2"), recovered, created(bucket("a"), "o4"))
	bus := &recordingBus{}
	openDispatcher(t, o, bus)

	waitFor(t, func() error {
		if n := o.pending(); n > 0 {
			return fmt.Errorf("%d events not completed", n)
		}
		return nil
	})
	want := []kumo.Delivery{
		{Topic: "topicA1", Payload: EventPayload(es[0])},
		{Topic: "topicA2", Payload: EventPayload(es[0])},
		{Topic: "topicC", Payload: EventPayload(es[2]), Recovered: true},
		{Topic: "topicA1", Payload: EventPayload(es[3])},
		{Topic: "topicA2", Payload: EventPayload(es[3])},
	}
	checkDeliveries(t, bus.deliveries(), want)
	if got, want := o.completedSeqs(), []int64{1, 2, 3, 4}; !slices.Equal(got, want) {
		t.Errorf("completed events %v, want %v (those without subscribers too)", got, want)
	}
}

func TestDispatcherNotify(t *testing.T) {
	o := newFakeOutbox()
	o.topics[bucket("a")] = []string{"topicA"}
	bus := &recordingBus{}
	openDispatcher(t, o, bus)
	waitFor(t, func() error { // the first pass finds nothing
		if o.claimCount() == 0 {
			return errors.New("no claim yet")
		}
		return nil
	})
	for i := 1; i <= 3; i++ {
		e := o.commit(true, created(bucket("a"), fmt.Sprintf("o%d", i)))[0]
		waitFor(t, func() error {
			if n := len(bus.deliveries()); n < i {
				return fmt.Errorf("%d deliveries after %d notified events (the poll interval is an hour)", n, i)
			}
			return nil
		})
		if got := bus.deliveries()[i-1]; got.Topic != "topicA" || string(got.Payload) != string(EventPayload(e)) || got.Recovered {
			t.Errorf("delivery %d = %+v, want the payload of %s on topicA", i, got, e.ObjectID)
		}
	}
}

func TestDispatcherNoSubscribers(t *testing.T) {
	o := newFakeOutbox()
	o.commit(false, created(bucket("a"), "o1"), created(bucket("b"), "o2"))
	bus := &recordingBus{}
	openDispatcher(t, o, bus)
	waitFor(t, func() error {
		if n := o.pending(); n > 0 {
			return fmt.Errorf("%d events not completed", n)
		}
		return nil
	})
	if n := bus.callCount(); n != 0 {
		t.Errorf("Publish was called %d times for events without subscribers, want 0", n)
	}
}

func TestDispatcherBatch(t *testing.T) {
	o := newFakeOutbox()
	o.topics[bucket("a")] = []string{"topicA"}
	for i := range 7 {
		o.commit(false, created(bucket("a"), fmt.Sprintf("o%d", i)))
	}
	bus := &recordingBus{}
	openDispatcher(t, o, bus, func(d *Dispatcher) { d.Batch = 3 })
	waitFor(t, func() error {
		if n := o.pending(); n > 0 {
			return fmt.Errorf("%d events not completed", n)
		}
		return nil
	})
	if got := len(bus.deliveries()); got != 7 {
		t.Errorf("%d deliveries, want 7", got)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.maxClaim > 3 {
		t.Errorf("a claim handed out %d events, want at most Batch = 3", o.maxClaim)
	}
}

func TestDispatcherPublishError(t *testing.T) {
	o := newFakeOutbox()
	o.topics[bucket("a")] = []string{"topicA"}
	es := o.commit(false, created(bucket("a"), "o1"), created(bucket("a"), "o2"))
	bus := &recordingBus{fails: 1 << 30} // down for good
	d := openDispatcher(t, o, bus)
	waitFor(t, func() error {
		if bus.callCount() == 0 {
			return errors.New("Publish not called yet")
		}
		return nil
	})
	closeDispatcher(t, d)
	if got := o.completedSeqs(); len(got) != 0 {
		t.Errorf("events %v were completed although Publish failed", got)
	}
	if n := o.pending(); n != 2 {
		t.Errorf("%d events left in the outbox, want 2", n)
	}

	// After a restart the events are claimed again, recovered, and go out.
	o.restart()
	bus.mu.Lock()
	bus.fails = 0
	bus.mu.Unlock()
	openDispatcher(t, o, bus)
	waitFor(t, func() error {
		if n := o.pending(); n > 0 {
			return fmt.Errorf("%d events not completed after the restart", n)
		}
		return nil
	})
	want := []kumo.Delivery{
		{Topic: "topicA", Payload: EventPayload(es[0]), Recovered: true},
		{Topic: "topicA", Payload: EventPayload(es[1]), Recovered: true},
	}
	checkDeliveries(t, bus.deliveries(), want)
}

// TestDispatcherPublishRetried checks that a transient bus failure does not
// strand events until the next restart: the dispatcher says it retries.
func TestDispatcherPublishRetried(t *testing.T) {
	o := newFakeOutbox()
	o.topics[bucket("a")] = []string{"topicA"}
	es := o.commit(false, created(bucket("a"), "o1"))
	bus := &recordingBus{fails: 1}
	openDispatcher(t, o, bus)
	waitFor(t, func() error {
		if n := o.pending(); n > 0 {
			return fmt.Errorf("%d events not completed after one failed Publish", n)
		}
		return nil
	})
	checkDeliveries(t, bus.deliveries(), []kumo.Delivery{{Topic: "topicA", Payload: EventPayload(es[0])}})
}

func TestDispatcherClaimErrorRetried(t *testing.T) {
	o := newFakeOutbox()
	o.topics[bucket("a")] = []string{"topicA"}
	o.claimErrs = 1
	es := o.commit(false, created(bucket("a"), "o1"))
	bus := &recordingBus{}
	openDispatcher(t, o, bus)
	waitFor(t, func() error {
		if n := o.pending(); n > 0 {
			return fmt.Errorf("%d events not completed after one failed claim", n)
		}
		return nil
	})
	checkDeliveries(t, bus.deliveries(), []kumo.Delivery{{Topic: "topicA", Payload: EventPayload(es[0])}})
}

func TestDispatcherCloseDrains(t *testing.T) {
	for _, wake := range []bool{false, true} {
		t.Run(fmt.Sprintf("notified=%v", wake), func(t *testing.T) {
			o := newFakeOutbox()
			o.topics[bucket("a")] = []string{"topicA"}
			bus := &recordingBus{}
			d := openDispatcher(t, o, bus)
			waitFor(t, func() error { // the first pass finds nothing; then it waits an hour
				if o.claimCount() == 0 {
					return errors.New("no claim yet")
				}
				return nil
			})
			o.commit(wake, created(bucket("a"), "o1"), created(bucket("a"), "o2"), created(bucket("b"), "o3"))
			closeDispatcher(t, d)
			if n := o.pending(); n != 0 {
				t.Errorf("after Close, %d committed events are left, want 0", n)
			}
			if got := len(bus.deliveries()); got != 2 {
				t.Errorf("after Close, %d deliveries, want 2", got)
			}
		})
	}
}

func TestDispatcherPaused(t *testing.T) {
	o := newFakeOutbox()
	o.topics[bucket("a")] = []string{"topicA"}
	o.commit(true, created(bucket("a"), "o1"))
	bus := &recordingBus{}
	d := openDispatcher(t, o, bus, func(d *Dispatcher) { d.Paused = true })
	closeDispatcher(t, d)
	if n := o.claimCount(); n != 0 {
		t.Errorf("a paused dispatcher claimed %d times, want 0", n)
	}
	if n := o.pending(); n != 1 {
		t.Errorf("%d events left, want 1", n)
	}
}

func TestDispatcherCloseUnopened(t *testing.T) {
	var d Dispatcher
	if err := d.Close(context.Background()); err != nil {
		t.Errorf("Close of a dispatcher never opened = %v, want nil", err)
	}
}

func checkDeliveries(t *testing.T, got, want []kumo.Delivery) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d deliveries, want %d:\n%s", len(got), len(want), formatDeliveries(got))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Topic != w.Topic || string(g.Payload) != string(w.Payload) || g.Recovered != w.Recovered {
			t.Errorf("delivery %d = {%s %s recovered=%v}\nwant {%s %s recovered=%v}", i,
				g.Topic, g.Payload, g.Recovered, w.Topic, w.Payload, w.Recovered)
		}
	}
}

func formatDeliveries(ds []kumo.Delivery) string {
	s := ""
	for _, d := range ds {
		s += fmt.Sprintf("  %s recovered=%v %s\n", d.Topic, d.Recovered, d.Payload)
	}
	return s
}

// TestDispatchMessages checks push messages: the stored MQTT payload goes
// to each recipient the development flags select; a message without MQTT
// goes nowhere; bucket events in the same batch still go out.
func TestDispatchMessages(t *testing.T) {
	o := newFakeOutbox()
	bus := &recordingBus{}
	target := kumo.BucketRef{AppID: "app1", Scope: kumo.Scope{Kind: kumo.ScopeUser, ID: "u1"}}
	o.recipients = map[kumo.BucketRef][]kumo.Recipient{target: {{MQTTTopic: "dev", Development: true}, {MQTTTopic: "prod"}}}
	bucket := kumo.BucketRef{AppID: "app1", Scope: kumo.AppScope, Name: "b"}
	o.topics[bucket] = []string{"sub"}
	msg := func(d kumo.MessageDelivery) []byte { b, _ := json.Marshal(d); return b }
	o.commit(false,
		kumo.Event{Type: kumo.PushMessageSent, Bucket: target, ObjectID: "m1",
			Message: msg(kumo.MessageDelivery{MQTT: json.RawMessage(`{"a":1}`), ToDevelopment: false, ToProduction: true})},
		kumo.Event{Type: kumo.PushMessageSent, Bucket: target, ObjectID: "m2",
			Message: msg(kumo.MessageDelivery{ToDevelopment: true, ToProduction: true})}, // no mqtt
		kumo.Event{Type: kumo.DataObjectCreated, Bucket: bucket, ObjectID: "o1"},
		kumo.Event{Type: kumo.PushMessageSent, Bucket: target, ObjectID: "m3",
			Message: msg(kumo.MessageDelivery{MQTT: json.RawMessage(`{"b":2}`), ToDevelopment: true, ToProduction: true})},
	)
	openDispatcher(t, o, bus)
	waitFor(t, func() error {
		if n := o.pending(); n > 0 {
			return fmt.Errorf("%d events pending", n)
		}
		return nil
	})
	var got []string
	for _, dl := range bus.deliveries() {
		got = append(got, dl.Topic+" "+string(dl.Payload))
	}
	slices.Sort(got)
	want := []string{"dev {\"b\":2}", "prod {\"a\":1}", "prod {\"b\":2}"}
	if len(got) != 4 || !slices.Equal(slices.DeleteFunc(slices.Clone(got), func(s string) bool { return strings.HasPrefix(s, "sub ") }), want) {
		t.Errorf("deliveries = %q, want %q and the bucket event's to sub", got, want)
	}
}
