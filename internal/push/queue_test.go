package push

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/kumo-iot/kumo"
)

// fakeQueue is an in-memory kumo.PushQueue that records what is queued.
type fakeQueue struct {
	mu         sync.Mutex // guards the fields below
	persistent map[string]bool
	queued     []kumo.Delivery
	fails      int // how many Enqueue calls fail from now on
}

func (q *fakeQueue) SetPersistent(context.Context, string, bool) error { return nil }

func (q *fakeQueue) PersistentTopics(context.Context) (map[string]bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.persistent, nil
}

func (q *fakeQueue) Enqueue(_ context.Context, ds []kumo.Delivery) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.fails > 0 {
		q.fails--
		return errors.New("store down")
	}
	q.queued = append(q.queued, ds...)
	return nil
}

func (q *fakeQueue) Queued(context.Context, string, map[int64]bool, int) ([]kumo.QueuedPush, error) {
	return nil, nil
}
func (q *fakeQueue) Dequeue(context.Context, string, []int64) error { return nil }
func (q *fakeQueue) ExpireQueued(context.Context, int64) ([]kumo.QueuedPush, error) {
	return nil, nil
}

func (q *fakeQueue) deliveries() []kumo.Delivery {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.queued)
}

// TestDispatcherQueue: deliveries to persistent installations are queued
// (and a nudge per topic goes on the bus), the others go on the bus; a
// failed enqueue is retried, the events completed only after it.
func TestDispatcherQueue(t *testing.T) {
	o := newFakeOutbox()
	o.topics[bucket("a")] = []string{"live", "kept"}
	es := o.commit(false, created(bucket("a"), "o1"), created(bucket("a"), "o2"))
	bus := &recordingBus{}
	q := &fakeQueue{persistent: map[string]bool{"kept": true}, fails: 1}
	openDispatcher(t, o, bus, func(d *Dispatcher) { d.Queue = q })
	waitFor(t, func() error {
		if n := o.pending(); n > 0 {
			return fmt.Errorf("%d events not completed", n)
		}
		return nil
	})
	checkDeliveries(t, q.deliveries(), []kumo.Delivery{
		{Topic: "kept", Payload: EventPayload(es[0])},
		{Topic: "kept", Payload: EventPayload(es[1])},
	})
	for i, d := range q.deliveries() {
		if want := fmt.Sprint(es[i].Seq); d.ID != want {
			t.Errorf("queued delivery %d has ID %q, want the event's seq %s", i, d.ID, want)
		}
	}
	got := bus.deliveries()
	checkDeliveries(t, got, []kumo.Delivery{
		{Topic: "live", Payload: EventPayload(es[0])},
		{Topic: "live", Payload: EventPayload(es[1])},
		{Topic: "kept"},
	})
	if !got[2].Queued || got[0].Queued {
		t.Errorf("the nudge is not marked Queued, or a push is: %+v", got)
	}
}
