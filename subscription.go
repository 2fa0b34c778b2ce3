package kumo

import "context"

// SubscriptionService manages bucket push subscriptions ("push to app").
// The subscriber is a user or a thing; its ID may be a selector
// ("VENDOR_THING_ID:x", "me") that the store resolves.
type SubscriptionService interface {
	// SubscribeBucket subscribes sub to every change in bucket b, creating
	// the bucket when it does not exist. PUSH_SUBSCRIPTION_ALREADY_EXISTS
	// on a repeat. The caller must be the admin or the subscriber itself,
	// and may read the bucket.
	SubscribeBucket(ctx context.Context, c Caller, b BucketRef, sub Principal) error
	// BucketSubscribed returns nil when sub is subscribed to b, else
	// PUSH_SUBSCRIPTION_NOT_FOUND.
	BucketSubscribed(ctx context.Context, c Caller, b BucketRef, sub Principal) error
	// UnsubscribeBucket removes a subscription; PUSH_SUBSCRIPTION_NOT_FOUND
	// when there is none.
	UnsubscribeBucket(ctx context.Context, c Caller, b BucketRef, sub Principal) error
}
