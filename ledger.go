package kumo

import "context"

// DeliveryState is where a push to one installation stands (the delivery
// ledger, beyond Kii).
type DeliveryState string

// Delivery states.
const (
	DeliveryQueued  DeliveryState = "queued"  // waiting: a phone push, or an offline device's
	DeliverySent    DeliveryState = "sent"    // written to the device's connection, or accepted by FCM/APNs
	DeliveryFailed  DeliveryState = "failed"  // the provider refused it, or retries ran out
	DeliveryExpired DeliveryState = "expired" // waited longer than allowed
	DeliveryDropped DeliveryState = "dropped" // not deliverable: the device was not connected, a queue was full, a token is gone
)

// DeliveryRecord is one push to one installation, as the ledger keeps it.
type DeliveryRecord struct {
	ID             int64 // the ledger's own, increasing
	AppID          string
	MessageID      string // the pushMessageID of a sent message; "" for a bucket event
	EventType      EventType
	InstallationID string // "" when unknown (an MQTT topic whose installation is gone)
	DeviceType     string
	MQTTTopic      string // MQTT installations
	Owner          Principal
	State          DeliveryState
	Reason         string // why it failed, expired or was dropped
	Created        int64  // epoch ms
	Updated        int64  // epoch ms
}

// DeliveryFilter selects ledger records: every field set must match.
type DeliveryFilter struct {
	InstallationID string
	ThingID        string
	UserID         string
	MessageID      string
	After          int64 // records with an ID above it (a page's key)
	Limit          int   // 1 to 1000
}

// DeliveryLedger records and reads deliveries.
type DeliveryLedger interface {
	// RecordDeliveries adds records (their owners and installations are
	// found from the MQTT topic when not given). No permission check: it
	// is the broker's and the dispatcher's. With a context from
	// Unhurried, the ledger may spread the write out in time.
	RecordDeliveries(ctx context.Context, rs []DeliveryRecord) error
	// Deliveries returns the records f selects, oldest first, and the key
	// of the next page (0 on the last). Admin only (UNAUTHORIZED).
	Deliveries(ctx context.Context, c Caller, f DeliveryFilter) ([]DeliveryRecord, int64, error)
}

// unhurriedKey marks a context of Unhurried.
type unhurriedKey struct{}

// Unhurried returns a context that tells a store nobody waits for the
// write it carries (the broker's background flush of ledger records):
// the store may spread its work out in time, so that other work goes
// first.
func Unhurried(ctx context.Context) context.Context {
	return context.WithValue(ctx, unhurriedKey{}, true)
}

// IsUnhurried reports whether ctx comes from Unhurried.
func IsUnhurried(ctx context.Context) bool {
	v, _ := ctx.Value(unhurriedKey{}).(bool)
	return v
}
