package push

import (
	"context"

	"github.com/kumo-iot/kumo"
)

// Outbox is the durable queue of committed events, read by the push
// dispatcher.
type Outbox interface {
	// ClaimEvents returns up to max committed events not yet claimed, oldest
	// first. An event claimed but never completed is claimed again after a
	// restart.
	ClaimEvents(ctx context.Context, max int) ([]kumo.Event, error)
	// CompleteEvents removes events whose pushes were handed to the bus.
	CompleteEvents(ctx context.Context, events []kumo.Event) error
	// SubscriberTopics returns, for each bucket, the MQTT topics of every
	// MQTT installation of every subscriber of that bucket.
	SubscriberTopics(ctx context.Context, buckets []kumo.BucketRef) (map[kumo.BucketRef][]string, error)
	// MessageRecipients returns the MQTT installations each
	// PushMessageSent event goes to (events[i]'s at [i]): the subscribers'
	// of its topic, or its target's. The dispatcher asks once per batch.
	MessageRecipients(ctx context.Context, events []kumo.Event) ([][]kumo.Recipient, error)
	// Notify returns a channel that receives a value after events commit.
	Notify() <-chan struct{}
}

// Bus carries deliveries to the node that holds each device's MQTT
// connection: in memory on one node, over NATS between nodes.
type Bus interface {
	// Publish hands deliveries to the bus. It returns once they are on
	// their way; delivery to a device stays at most once (QoS 0).
	Publish(ctx context.Context, ds []kumo.Delivery) error
}
