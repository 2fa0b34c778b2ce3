package kumo

import "context"

// TopicRef names a Kii topic ("push to user"): its app, scope and ID.
// In requests the scope ID may be a selector; the store resolves it.
type TopicRef struct {
	AppID string
	Scope Scope
	Name  string
}

// Topic is a topic as stored: who created it (zero: the admin).
type Topic struct {
	Ref     TopicRef
	Creator Principal
	Created int64 // epoch ms
}

// ParseTopicID validates a topic ID from a path: 1 to 64 characters of
// [a-zA-Z0-9-_] (Kii's guides: "up to 64 characters, alphanumeric, - and
// _"). INVALID_INPUT_DATA otherwise.
func ParseTopicID(s string) (string, error) {
	if !validChars(s, 1, 64, idChars) {
		return "", InvalidInput(map[string]string{"topicID": "must be 1 to 64 characters of [a-zA-Z0-9-_]"})
	}
	return s, nil
}

// TopicNotFound returns Kii's TOPIC_NOT_FOUND error for t.
func TopicNotFound(t TopicRef) *Error {
	return Errorf(ErrTopicNotFound, "Topic %s was not found", t.Name).
		With("topicID", t.Name).With("objectScope", t.Scope.ObjectScope(t.AppID))
}

// TopicAlreadyExists returns Kii's TOPIC_ALREADY_EXISTS error for t.
func TopicAlreadyExists(t TopicRef) *Error {
	return Errorf(ErrTopicAlreadyExists, "Topic %s already exists", t.Name).
		With("topicID", t.Name).With("objectScope", t.Scope.ObjectScope(t.AppID))
}

// TopicService manages topics and the subscriptions of users and things
// to them. Every method resolves the scope first (USER_NOT_FOUND,
// GROUP_NOT_FOUND, THING_NOT_FOUND), then checks the caller; an anonymous
// caller is UNAUTHORIZED before anything is looked up.
type TopicService interface {
	// CreateTopic creates topic t, made by c, who needs CREATE_NEW_TOPIC
	// on the scope (the app scope's: the admin, unless granted).
	// TOPIC_ALREADY_EXISTS on a repeat.
	CreateTopic(ctx context.Context, c Caller, t TopicRef) error
	// TopicExists returns nil when t exists, else TOPIC_NOT_FOUND. Any
	// caller with a token may ask.
	TopicExists(ctx context.Context, c Caller, t TopicRef) error
	// DeleteTopic deletes t with its subscriptions and ACL changes; the
	// admin, the scope's owners and the topic's creator may.
	// TOPIC_NOT_FOUND when absent.
	DeleteTopic(ctx context.Context, c Caller, t TopicRef) error
	// ListTopics returns the topics of scope s (its ID may be a
	// selector), sorted by ID, at most limit after the ID after (a
	// page's last, "" for the first page). The admin and the scope's
	// owners may list; the app scope's topics, any caller with a token.
	ListTopics(ctx context.Context, c Caller, s Scope, after string, limit int) ([]TopicRef, error)

	// SubscribeTopic subscribes sub (a user or thing; its ID may be a
	// selector) to t. The caller must be the admin, or sub itself holding
	// SUBSCRIBE_TO_TOPIC. TOPIC_NOT_FOUND; PUSH_SUBSCRIPTION_ALREADY_EXISTS
	// on a repeat.
	SubscribeTopic(ctx context.Context, c Caller, t TopicRef, sub Principal) error
	// TopicSubscribed returns nil when sub is subscribed to t, else
	// PUSH_SUBSCRIPTION_NOT_FOUND (TOPIC_NOT_FOUND when t is absent). The
	// admin or sub itself may ask.
	TopicSubscribed(ctx context.Context, c Caller, t TopicRef, sub Principal) error
	// UnsubscribeTopic removes a subscription (the admin or sub itself,
	// even without SUBSCRIBE_TO_TOPIC any more); PUSH_SUBSCRIPTION_NOT_FOUND
	// when there is none.
	UnsubscribeTopic(ctx context.Context, c Caller, t TopicRef, sub Principal) error
}
