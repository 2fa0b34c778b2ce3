package push

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/kumo-iot/kumo"
)

// Dispatcher turns committed events into deliveries. Each event is handed
// to the bus at least once: an event is completed (removed from the outbox)
// only after its deliveries are published, so a crash in between repeats
// them after the restart rather than losing them.
type Dispatcher struct {
	Outbox Outbox
	Bus    Bus
	// Queue, when set, takes the deliveries to persistent installations
	// (offline delivery, see queue.go); the others go on the bus.
	Queue kumo.PushQueue
	Log   *slog.Logger
	// Batch is how many events are claimed at a time.
	Batch int
	// Poll is how often the outbox is checked without a notification (it
	// catches events committed by other processes).
	Poll time.Duration
	// Phones, when set, receives the pushes to phone installations
	// (queuePhones), which phone workers send.
	Phones kumo.PhoneQueue
	// Paused keeps the dispatcher from dispatching at all (a failpoint for
	// crash tests: KUMO_FAULT_PAUSE_DISPATCH).
	Paused bool

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once

	// pending is a claimed batch whose dispatch failed; it is retried
	// before anything new is claimed. Only the run goroutine uses it.
	pending []kumo.Event
}

// Open starts dispatching.
func (d *Dispatcher) Open() error {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Batch <= 0 {
		d.Batch = 512
	}
	if d.Poll <= 0 {
		d.Poll = time.Second
	}
	d.stop, d.done = make(chan struct{}), make(chan struct{})
	go d.run()
	return nil
}

// Close dispatches what is already committed, until ctx is done, then
// stops.
func (d *Dispatcher) Close(ctx context.Context) error {
	if d.stop == nil {
		return nil
	}
	d.closeOnce.Do(func() { close(d.stop) })
	select {
	case <-d.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (d *Dispatcher) run() {
	defer close(d.done)
	ctx := context.Background()
	ticker := time.NewTicker(d.Poll)
	defer ticker.Stop()
	stopping := false
	for {
		n := 0
		if !d.Paused {
			var err error
			n, err = d.dispatchOnce(ctx)
			if err != nil {
				d.Log.Error("dispatch failed; retrying", "error", err)
				select {
				case <-time.After(time.Second):
				case <-d.stop:
					return
				}
				continue
			}
		}
		if n > 0 {
			continue // more may be waiting
		}
		if stopping {
			return
		}
		select {
		case <-d.Outbox.Notify():
		case <-ticker.C:
		case <-d.stop:
			stopping = true // one more pass for what just committed
			if d.Paused {
				return
			}
		}
	}
}

// dispatchOnce claims one batch of events, publishes their deliveries and
// completes them. It returns how many events it handled.
func (d *Dispatcher) dispatchOnce(ctx context.Context) (int, error) {
	events := d.pending
	if len(events) == 0 {
		var err error
		if events, err = d.Outbox.ClaimEvents(ctx, d.Batch); err != nil || len(events) == 0 {
			return 0, err
		}
	}
	n, err := d.dispatch(ctx, events)
	if err != nil {
		d.pending = events // never skip a claimed event: retry it first
		return 0, err
	}
	d.pending = nil
	return n, nil
}

// dispatch publishes the deliveries of events and completes them.
func (d *Dispatcher) dispatch(ctx context.Context, all []kumo.Event) (int, error) {
	revs, events := d.revocations(all) // see revoke.go
	if len(revs) > 0 {
		if err := d.Bus.Publish(ctx, revs); err != nil {
			return 0, err
		}
	}
	buckets := make([]kumo.BucketRef, 0, len(events))
	seen := make(map[kumo.BucketRef]bool, len(events))
	for _, e := range events {
		if e.Type == kumo.PushMessageSent {
			continue
		}
		if !seen[e.Bucket] {
			seen[e.Bucket] = true
			buckets = append(buckets, e.Bucket)
		}
	}
	topics, err := d.Outbox.SubscriberTopics(ctx, buckets)
	if err != nil {
		return 0, err
	}
	messages, err := d.messageDeliveries(ctx, events)
	if err != nil {
		return 0, err
	}
	var ds []kumo.Delivery
	for i, e := range events {
		if e.Type == kumo.PushMessageSent {
			if messages != nil { // nil when no message has MQTT recipients to ask for
				ds = append(ds, messages[i]...)
			}
			continue
		}
		ts := topics[e.Bucket]
		if len(ts) == 0 {
			continue
		}
		payload, id := EventPayload(e), strconv.FormatInt(e.Seq, 10)
		for _, t := range ts {
			ds = append(ds, kumo.Delivery{Topic: t, Payload: payload, Recovered: e.Recovered, ID: id,
				AppID: e.Bucket.AppID, EventType: e.Type})
		}
	}
	if err := d.deliver(ctx, ds); err != nil {
		return 0, err
	}
	if err := d.queuePhones(ctx, events); err != nil {
		return 0, err
	}
	if err := d.Outbox.CompleteEvents(ctx, all); err != nil {
		return 0, err
	}
	return len(all), nil
}

// messageDeliveries returns the deliveries of the push messages among
// events (events[i]'s at [i]): each message's MQTT payload to every MQTT
// installation of its recipients that its development flags select. The
// recipients of all the messages are read at once.
func (d *Dispatcher) messageDeliveries(ctx context.Context, events []kumo.Event) ([][]kumo.Delivery, error) {
	var (
		msgs []kumo.Event
		mds  []kumo.MessageDelivery
		at   []int // msgs[j] is events[at[j]]
	)
	for i, e := range events {
		if e.Type != kumo.PushMessageSent {
			continue
		}
		var md kumo.MessageDelivery
		if err := json.Unmarshal(e.Message, &md); err != nil {
			d.Log.Error("push message dropped: its stored form does not parse", "message", e.ObjectID, "error", err)
			continue
		}
		if md.MQTT == nil {
			continue
		}
		msgs, mds, at = append(msgs, e), append(mds, md), append(at, i)
	}
	if len(msgs) == 0 {
		return nil, nil
	}
	rss, err := d.Outbox.MessageRecipients(ctx, msgs)
	if err != nil {
		return nil, err
	}
	out := make([][]kumo.Delivery, len(events))
	for j, e := range msgs {
		id := strconv.FormatInt(e.Seq, 10)
		for _, r := range rss[j] {
			if mds[j].Wants(r.Development) {
				out[at[j]] = append(out[at[j]], kumo.Delivery{Topic: r.MQTTTopic, Payload: mds[j].MQTT, Recovered: e.Recovered, ID: id,
					AppID: e.Bucket.AppID, EventType: e.Type, MessageID: e.ObjectID})
			}
		}
	}
	return out, nil
}

// deliver hands deliveries on: those to persistent installations into
// their durable queues (then a nudge per queue on the bus, for the node
// holding the device), the others onto the bus.
func (d *Dispatcher) deliver(ctx context.Context, ds []kumo.Delivery) error {
	live, queued, err := d.split(ctx, ds)
	if err != nil {
		return err
	}
	if len(queued) > 0 {
		if err := d.Queue.Enqueue(ctx, queued); err != nil {
			return err
		}
		live = append(live, nudges(queued)...)
	}
	if len(live) == 0 {
		return nil
	}
	return d.Bus.Publish(ctx, live)
}

// split separates the deliveries to persistent installations (queued)
// from the others (live), keeping their order.
func (d *Dispatcher) split(ctx context.Context, ds []kumo.Delivery) (live, queued []kumo.Delivery, err error) {
	if d.Queue == nil || len(ds) == 0 {
		return ds, nil, nil
	}
	persistent, err := d.Queue.PersistentTopics(ctx)
	if err != nil || len(persistent) == 0 {
		return ds, nil, err
	}
	for _, dl := range ds {
		if persistent[dl.Topic] {
			queued = append(queued, dl)
		} else {
			live = append(live, dl)
		}
	}
	return live, queued, nil
}

// nudges returns one nudge per topic of ds.
func nudges(ds []kumo.Delivery) []kumo.Delivery {
	seen := map[string]bool{}
	var out []kumo.Delivery
	for _, dl := range ds {
		if !seen[dl.Topic] {
			seen[dl.Topic] = true
			out = append(out, kumo.Delivery{Topic: dl.Topic, Queued: true})
		}
	}
	return out
}
