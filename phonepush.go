package kumo

import (
	"context"
	"time"
)

// PhonePayload is what a push to a phone carries, rendered when its event
// is dispatched or its message sent: the data with Kii's long keys (FCM
// data; APNs gets the short keys), and the message's fcm/gcm and apns
// sections (notification, alert, sound, badge, …), absent for the
// channel a message did not enable.
type PhonePayload struct {
	FCMData  map[string]any `json:"fcmData,omitempty"`
	FCM      map[string]any `json:"fcm,omitempty"`
	APNsData map[string]any `json:"apnsData,omitempty"`
	APNs     map[string]any `json:"apns,omitempty"`
	// FCMEnabled and APNsEnabled say which phones the push is for.
	FCMEnabled  bool `json:"fcmEnabled"`
	APNsEnabled bool `json:"apnsEnabled"`
}

// PhoneRecipient is a phone installation a push goes to.
type PhoneRecipient struct {
	InstallationID string
	DeviceType     string // "ANDROID" or "IOS"
	RegistrationID string // the provider's token
	Development    bool
}

// PhonePush is a push waiting to be sent to one phone.
type PhonePush struct {
	ID    int64
	AppID string
	// Seq is the outbox seq of the push's event: the pushes of one event
	// are queued once, however often it is dispatched (0: no such
	// guard).
	Seq       int64
	MessageID string // the pushMessageID of a sent message; "" for a bucket event
	EventType EventType
	PhoneRecipient
	Payload  []byte // PhonePayload JSON
	Attempts int    // sends tried, this one included (1 on the first claim)
}

// PhoneQueue is the durable queue of pushes to phones: the dispatcher
// fills it in the same pass that publishes an event's MQTT pushes, the
// phone workers of every node drain it.
type PhoneQueue interface {
	// PhoneRecipients returns the ANDROID and IOS installations an event
	// goes to (its bucket's or topic's subscribers', or a direct push's
	// addressee's): none when the app has no push configuration.
	PhoneRecipients(ctx context.Context, e Event) ([]PhoneRecipient, error)
	// QueuePhonePushes stores pushes to send. The pushes of an event
	// (PhonePush.Seq) are queued by the first call only, in one write
	// with the event's mark, as long as the event is in the outbox: a
	// batch dispatched again after a failure, a restart or a takeover
	// queues nothing new, even when the first pushes were sent already.
	QueuePhonePushes(ctx context.Context, ps []PhonePush) error
	// ClaimPhonePushes claims up to max pushes due now for node, for
	// lease (a node that dies leaves them to others after it).
	ClaimPhonePushes(ctx context.Context, node string, max int, lease time.Duration) ([]PhonePush, error)
	// FinishPhonePush removes a push that is done, or with retryAt (epoch
	// ms) puts it back to be claimed again then.
	FinishPhonePush(ctx context.Context, id int64, retryAt int64) error
	// DropPhoneInstallation deletes an installation whose token the
	// provider reported gone.
	DropPhoneInstallation(ctx context.Context, appID, installationID string) error
	// PushConfigOf returns an app's push configuration (for the workers:
	// no permission check).
	PushConfigOf(ctx context.Context, appID string) (PushConfig, error)
}
