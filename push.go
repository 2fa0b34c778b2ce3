package kumo

// MaxPushPayload is the largest MQTT push payload Kii delivers, in bytes.
const MaxPushPayload = 4096

// Delivery is one push to one MQTT device: the payload is published at
// QoS 0 on Topic, which is the device's mqttTopic (and client ID).
type Delivery struct {
	Topic   string
	Payload []byte
	// Recovered marks a delivery of an event that was committed before the
	// last restart. The broker holds such a delivery for a while when its
	// device is not connected yet, so that a device reconnecting after a
	// crash still receives it.
	Recovered bool
	// ID identifies the delivery (its event), so that a broker drops a
	// repeat of one it already delivered (a dispatcher that died after
	// publishing, before completing). It is the decimal outbox seq of
	// the event.
	ID string
	// For the delivery ledger: the app, the event's type, and the
	// pushMessageID of a sent message.
	AppID     string
	EventType EventType
	MessageID string
	// Relayed marks a recovered delivery that another node of a cluster
	// published (recovered deliveries go to every node): held here for
	// a device that never subscribes, it expires without a ledger record,
	// which the publishing node's copy writes.
	Relayed bool
	// Queued marks a nudge, not a push: the device's durable queue (see
	// PushQueue) has new pushes, and the node holding its session should
	// drain it. Payload and ID are empty.
	Queued bool
	// Revoked marks a revocation, not a push: the MQTT credentials
	// Username of the device whose topic (client ID) is Topic were
	// revoked, and every node ends that device's sessions that logged in
	// with them. Payload and ID are empty.
	Revoked  bool
	Username string
}
