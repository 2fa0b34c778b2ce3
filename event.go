package kumo

// EventType is the kind of change an event reports; the values are the
// "type" of Kii's push-to-app messages.
type EventType string

// Event types.
const (
	DataObjectCreated     EventType = "DATA_OBJECT_CREATED"
	DataObjectUpdated     EventType = "DATA_OBJECT_UPDATED"
	DataObjectDeleted     EventType = "DATA_OBJECT_DELETED"
	DataObjectBodyUpdated EventType = "DATA_OBJECT_BODY_UPDATED"
	DataObjectBodyDeleted EventType = "DATA_OBJECT_BODY_DELETED"
	DataObjectACLModified EventType = "DATA_OBJECT_ACL_MODIFIED"
	BucketDeleted         EventType = "BUCKET_DELETED"
	// PushMessageSent is a push message sent to a topic or directly to a
	// user or thing (Kumo's own name: it is never a push's "type").
	PushMessageSent EventType = "PUSH_MESSAGE"
	// MQTTRevoked reports MQTT credentials revoked by a write (a thing
	// disabled or deleted, an installation or user deleted, a password
	// changed): Kumo's own name, never a push. Its Message is the JSON
	// array of the MQTTRevocation values; its Bucket names the app only.
	// The dispatcher hands it to every node's broker, which ends the
	// sessions that logged in with those credentials.
	MQTTRevoked EventType = "MQTT_REVOKED"
)

// Event is a committed change in a bucket, waiting in the outbox to be
// turned into pushes. It was written in the same transaction as the change.
type Event struct {
	Seq        int64 // position in the outbox
	Type       EventType
	Bucket     BucketRef // canonical scope ID
	ObjectID   string
	Sender     Principal
	When       int64 // epoch ms of the change
	ModifiedAt int64 // epoch ms; the object's _modified
	// Message is, for PushMessageSent, the MessageDelivery JSON. Its
	// Bucket is the topic's scope and name (Name "" for a direct push to
	// the scope's user or thing) and its ObjectID the message ID.
	Message []byte
	// Recovered is set on events committed before this process started:
	// their pushes may be late, so the broker holds them for devices that
	// are still reconnecting.
	Recovered bool
}
