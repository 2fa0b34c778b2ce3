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
		sub := kumo.Principal{Kind: kind, ID: r.PathValue("subscriber")}
		if sub.ID == "" {
			if c.Kind != kind {
				return kumo.Unauthorized(c, "Subscribing the caller needs a %s token", kind)
			}
			sub.ID = c.ID
		}
		return h(w, r, c, b, sub)
	}
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
