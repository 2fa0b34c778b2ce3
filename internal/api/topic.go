package api

import (
	"net/http"

	"github.com/kumo-iot/kumo"
)

// topicHandler is a handler of a topic path.
type topicHandler func(w http.ResponseWriter, r *http.Request, c kumo.Caller, t kumo.TopicRef) error

// topicRoutes registers the topic endpoints of the scope at prefix
// (/api/apps/{appID}, …/users/{scopeID}, …).
func (s *Server) topicRoutes(prefix string, kind kumo.ScopeKind) {
	m := s.mux
	topic := prefix + "/topics/{topic}"
	m.HandleFunc("GET "+prefix+"/topics", s.app(s.handleTopicList(kind)))
	m.HandleFunc("PUT "+topic, s.topic(kind, s.handleTopicCreate))
	m.HandleFunc("HEAD "+topic, s.topic(kind, s.handleTopicHead))
	m.HandleFunc("DELETE "+topic, s.topic(kind, s.handleTopicDelete))
	m.HandleFunc("POST "+topic+"/push/messages", s.topic(kind, s.handleTopicSend))
	s.aclRoutes(topic, s.topicACL(kind))
	subs := topic + "/push/subscriptions/"
	for _, p := range subscriberKinds {
		m.HandleFunc("PUT "+subs+p.segment+"/{subscriber}", s.topic(kind, s.topicSubscription(p.kind, s.handleTopicSubscribe)))
		m.HandleFunc("POST "+subs+p.segment, s.topic(kind, s.topicSubscription(p.kind, s.handleTopicSubscribe)))
		m.HandleFunc("GET "+subs+p.segment+"/{subscriber}", s.topic(kind, s.topicSubscription(p.kind, s.handleTopicSubscribed)))
		m.HandleFunc("DELETE "+subs+p.segment+"/{subscriber}", s.topic(kind, s.topicSubscription(p.kind, s.handleTopicUnsubscribe)))
	}
}

// topic wraps a handler of {scope}/topics/{topic}/...: it validates the
// topic ID and builds the topic reference (the scope ID may still be a
// selector; the services resolve it).
func (s *Server) topic(kind kumo.ScopeKind, h topicHandler) http.HandlerFunc {
	return s.app(func(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
		name, err := kumo.ParseTopicID(r.PathValue("topic"))
		if err != nil {
			return err
		}
		t := kumo.TopicRef{AppID: c.AppID, Scope: kumo.Scope{Kind: kind, ID: r.PathValue("scopeID")}, Name: name}
		return h(w, r, c, t)
	})
}

// topicACL wraps a handler of a topic's ACL.
func (s *Server) topicACL(kind kumo.ScopeKind) func(h aclHandler) http.HandlerFunc {
	return func(h aclHandler) http.HandlerFunc {
		return s.topic(kind, func(w http.ResponseWriter, r *http.Request, c kumo.Caller, t kumo.TopicRef) error {
			return h(w, r, c, kumo.TopicACL(t))
		})
	}
}

// maxTopicPage is the largest page of a topic listing.
const maxTopicPage = 1000

// handleTopicList serves GET {scope}/topics[?paginationKey=…&limit=…]:
// 200 {"topics":[{"topicID"}…]} with "paginationKey" when more follow
// (the key is paginationKey, not nextPaginationKey: push-mqtt §10.19).
func (s *Server) handleTopicList(kind kumo.ScopeKind) handler {
	return func(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
		limit, err := queryLimit(r)
		if err != nil {
			return err
		}
		if limit == 0 || limit > maxTopicPage {
			limit = maxTopicPage
		}
		scope := kumo.Scope{Kind: kind, ID: r.PathValue("scopeID")}
		ts, err := s.Topics.ListTopics(r.Context(), c, scope, r.URL.Query().Get("paginationKey"), limit+1)
		if err != nil {
			return err
		}
		out := map[string]any{}
		if len(ts) > limit {
			ts = ts[:limit]
			out["paginationKey"] = ts[limit-1].Name
		}
		list := make([]any, len(ts))
		for i, t := range ts {
			list[i] = map[string]any{"topicID": t.Name}
		}
		out["topics"] = list
		writeJSON(w, http.StatusOK, "application/vnd.kii.TopicsRetrievalResponse+json", out)
		return nil
	}
}

// handleTopicCreate serves PUT {scope}/topics/{topic}: 204, or 409
// TOPIC_ALREADY_EXISTS. The body, if any, is ignored.
func (s *Server) handleTopicCreate(w http.ResponseWriter, r *http.Request, c kumo.Caller, t kumo.TopicRef) error {
	if err := s.Topics.CreateTopic(r.Context(), c, t); err != nil {
		return err
	}
	return noContent(w)
}

// handleTopicHead serves HEAD {scope}/topics/{topic}: 204, or 404.
func (s *Server) handleTopicHead(w http.ResponseWriter, r *http.Request, c kumo.Caller, t kumo.TopicRef) error {
	if err := s.Topics.TopicExists(r.Context(), c, t); err != nil {
		return err
	}
	return noContent(w)
}

// handleTopicDelete serves DELETE {scope}/topics/{topic}: 204, then 404
// TOPIC_NOT_FOUND on a repeat.
func (s *Server) handleTopicDelete(w http.ResponseWriter, r *http.Request, c kumo.Caller, t kumo.TopicRef) error {
	if err := s.Topics.DeleteTopic(r.Context(), c, t); err != nil {
		return err
	}
	return noContent(w)
}

// topicSubscriptionHandler is a handler of a topic push subscription.
type topicSubscriptionHandler func(w http.ResponseWriter, r *http.Request, c kumo.Caller, t kumo.TopicRef, sub kumo.Principal) error

// topicSubscription wraps a handler of {topic}/push/subscriptions/
// {things|users}[/{id}]. With no ID in the path (the POST form) the
// subscriber is the caller, who must then be of that kind.
func (s *Server) topicSubscription(kind kumo.CallerKind, h topicSubscriptionHandler) topicHandler {
	return func(w http.ResponseWriter, r *http.Request, c kumo.Caller, t kumo.TopicRef) error {
		sub, err := subscriber(r, c, kind)
		if err != nil {
			return err
		}
		return h(w, r, c, t, sub)
	}
}

// handleTopicSubscribe serves PUT …/subscriptions/{things|users}/{id} and
// the POST form: 204, or 409 when already subscribed.
func (s *Server) handleTopicSubscribe(w http.ResponseWriter, r *http.Request, c kumo.Caller, t kumo.TopicRef, sub kumo.Principal) error {
	if err := s.Topics.SubscribeTopic(r.Context(), c, t, sub); err != nil {
		return err
	}
	return noContent(w)
}

// handleTopicSubscribed serves GET (and HEAD) …/subscriptions/…/{id}: 204
// when subscribed, 404 when not.
func (s *Server) handleTopicSubscribed(w http.ResponseWriter, r *http.Request, c kumo.Caller, t kumo.TopicRef, sub kumo.Principal) error {
	if err := s.Topics.TopicSubscribed(r.Context(), c, t, sub); err != nil {
		return err
	}
	return noContent(w)
}

// handleTopicUnsubscribe serves DELETE …/subscriptions/…/{id}: 204, then
// 404 on a repeat.
func (s *Server) handleTopicUnsubscribe(w http.ResponseWriter, r *http.Request, c kumo.Caller, t kumo.TopicRef, sub kumo.Principal) error {
	if err := s.Topics.UnsubscribeTopic(r.Context(), c, t, sub); err != nil {
		return err
	}
	return noContent(w)
}
