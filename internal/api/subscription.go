package api

import (
	"net/http"

	"github.com/kumo-iot/kumo"
)

// subscriptionHandler is a handler of a bucket push subscription.
type subscriptionHandler func(w http.ResponseWriter, r *http.Request, c kumo.Caller, b kumo.BucketRef, sub kumo.Principal) error

// subscription wraps a handler of {bucket}/filters/{filter}/push/
// subscriptions/{things|users}[/{id}]. Only the filter "all" exists. With
// no ID in the path (the POST form) the subscriber is the caller.
func (s *Server) subscription(kind kumo.CallerKind, h subscriptionHandler) bucketHandler {
	return func(w http.ResponseWriter, r *http.Request, c kumo.Caller, b kumo.BucketRef) error {
		if f := r.PathValue("filter"); f != "all" {
			return kumo.Errorf(kumo.ErrFilterNotFound, "Filter %s was not found", f).
				With("filterID", f).With("bucketID", b.Name)
		}
		sub, err := subscriber(r, c, kind)
		if err != nil {
			return err
		}
		return h(w, r, c, b, sub)
	}
}

// subscriberKinds are the path segments of push subscriptions, bucket or
// topic, and the kind of subscriber each names.
var subscriberKinds = []struct {
	segment string
	kind    kumo.CallerKind
}{{"things", kumo.ThingCaller}, {"users", kumo.UserCaller}}

// subscriber is the subscriber a push subscription path names: the
// {subscriber} of kind, or with none (the POST form) the caller, who must
// then be of that kind.
func subscriber(r *http.Request, c kumo.Caller, kind kumo.CallerKind) (kumo.Principal, error) {
	sub := kumo.Principal{Kind: kind, ID: r.PathValue("subscriber")}
	if sub.ID == "" {
		if c.Kind != kind {
			return sub, kumo.Unauthorized(c, "Subscribing the caller needs a %s token", kind)
		}
		sub.ID = c.ID
	}
	return sub, nil
}

// handleSubscribe serves PUT .../subscriptions/things/{id} and the POST
// form: 204, or 409 when already subscribed.
func (s *Server) handleSubscribe(w http.ResponseWriter, r *http.Request, c kumo.Caller, b kumo.BucketRef, sub kumo.Principal) error {
	if err := s.Subscriptions.SubscribeBucket(r.Context(), c, b, sub); err != nil {
		return err
	}
	return noContent(w)
}

// handleSubscribed serves GET .../subscriptions/things/{id}: 204 when
// subscribed, 404 when not.
func (s *Server) handleSubscribed(w http.ResponseWriter, r *http.Request, c kumo.Caller, b kumo.BucketRef, sub kumo.Principal) error {
	if err := s.Subscriptions.BucketSubscribed(r.Context(), c, b, sub); err != nil {
		return err
	}
	return noContent(w)
}

// handleUnsubscribe serves DELETE .../subscriptions/things/{id}: 204, then
// 404 on a repeat.
func (s *Server) handleUnsubscribe(w http.ResponseWriter, r *http.Request, c kumo.Caller, b kumo.BucketRef, sub kumo.Principal) error {
	if err := s.Subscriptions.UnsubscribeBucket(r.Context(), c, b, sub); err != nil {
		return err
	}
	return noContent(w)
}
