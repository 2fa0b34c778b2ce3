package api

import (
	"net/http"

	"github.com/kumo-iot/kumo"
)

// handleDirectPush serves POST /api/apps/{appID}/users/{user}/push/messages
// and …/things/{thing}/push/messages: a SendPushMessageRequest sent
// straight to the user's or thing's installations. 201
// {"pushMessageID"} (the response body is not in the sources).
func (s *Server) handleDirectPush(kind kumo.CallerKind, param string) handler {
	return func(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
		return sendPush(w, r, func(m kumo.PushMessage) (string, error) {
			return s.Messages.SendDirect(r.Context(), c, kumo.Principal{Kind: kind, ID: r.PathValue(param)}, m)
		})
	}
}

// handleTopicSend serves POST {scope}/topics/{topic}/push/messages: a
// SendPushMessageRequest to the topic's subscribers. 201
// {"pushMessageID"}.
func (s *Server) handleTopicSend(w http.ResponseWriter, r *http.Request, c kumo.Caller, t kumo.TopicRef) error {
	return sendPush(w, r, func(m kumo.PushMessage) (string, error) {
		return s.Messages.SendToTopic(r.Context(), c, t, m)
	})
}

// sendPush reads a SendPushMessageRequest, sends it with send and answers
// 201 {"pushMessageID"}.
func sendPush(w http.ResponseWriter, r *http.Request, send func(kumo.PushMessage) (string, error)) error {
	raw, err := readJSON(w, r, maxJSONBody)
	if err != nil {
		return err
	}
	m, err := kumo.ParsePushMessage(raw)
	if err != nil {
		return err
	}
	id, err := send(m)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, "application/vnd.kii.SendPushMessageResponse+json", map[string]any{"pushMessageID": id})
	return nil
}
