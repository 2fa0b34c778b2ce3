package kumo

import (
	"context"
	"time"
)

// Offline delivery is Kumo's own, beyond Kii: the MQTT installation of a
// device that connects with clean session 0 is persistent, and its pushes
// are kept in a durable queue, replayed in order when it (re)connects. A
// device that connects with clean session 1 (what Kii's SDKs do) gets
// live pushes only, as in Kii.

// Defaults of the bounds of an installation's queue.
const (
	DefaultQueueMax    = 1000           // pushes kept per installation; the oldest are dropped
	DefaultQueueMaxAge = 24 * time.Hour // older pushes are dropped
)

// QueuedPush is a push waiting in a persistent installation's queue.
type QueuedPush struct {
	Topic   string // the installation's mqttTopic
	Seq     int64  // the outbox seq of its event: the queue's order
	Payload []byte
	Created int64 // epoch ms it was queued
	// For the delivery ledger: the app, the event's type, and the
	// pushMessageID of a sent message.
	AppID     string
	EventType EventType
	MessageID string
}

// PushQueue is the durable queue of the pushes of persistent MQTT
// installations.
type PushQueue interface {
	// SetPersistent records whether an MQTT installation is persistent
	// (its device connected with clean session 0). An installation that
	// stops being persistent loses its queue.
	SetPersistent(ctx context.Context, topic string, persistent bool) error
	// PersistentTopics returns the mqttTopics of the persistent
	// installations. The caller must not modify the set.
	PersistentTopics(ctx context.Context) (map[string]bool, error)
	// Enqueue adds deliveries to their installations' queues, then drops
	// the oldest pushes of a queue beyond its bound. A delivery's ID is
	// its event's outbox seq; an event's deliveries are all in one call,
	// and queued by the first call only, while the event is in the
	// outbox: a batch dispatched again queues nothing, even after its
	// pushes were replayed and dequeued.
	Enqueue(ctx context.Context, ds []Delivery) error
	// Queued returns up to max pushes of topic, oldest first, skipping
	// those in skip (pushes already sent, not yet dequeued).
	Queued(ctx context.Context, topic string, skip map[int64]bool, max int) ([]QueuedPush, error)
	// Dequeue removes pushes of topic, delivered or expired.
	Dequeue(ctx context.Context, topic string, seqs []int64) error
	// ExpireQueued removes every push queued before the epoch ms before,
	// and returns them (without their payloads).
	ExpireQueued(ctx context.Context, before int64) ([]QueuedPush, error)
}
