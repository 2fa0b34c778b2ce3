package api

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/kumo-iot/kumo"
)

// pushConfigType is the media type of the push configuration (a Kumo
// extension: Kii configures push in its developer portal).
const pushConfigType = "application/json"

// pushConfigRequest is the body of PUT .../configuration/push.
type pushConfigRequest struct {
	FCM *struct {
		ProjectID string `json:"projectID"`
		// ServiceAccount is the key file: its JSON object, or a string
		// holding it.
		ServiceAccount json.RawMessage `json:"serviceAccount"`
	} `json:"fcm"`
	APNs *struct {
		KeyID    string `json:"keyID"`
		TeamID   string `json:"teamID"`
		BundleID string `json:"bundleID"`
		Key      string `json:"key"` // the .p8 file's text (PEM)
	} `json:"apns"`
}

// config returns the request as a kumo.PushConfig.
func (q pushConfigRequest) config() (kumo.PushConfig, error) {
	var p kumo.PushConfig
	if q.FCM != nil {
		sa := bytes.TrimSpace(q.FCM.ServiceAccount)
		if len(sa) > 0 && sa[0] == '"' {
			var s string
			if err := json.Unmarshal(sa, &s); err != nil {
				return p, kumo.Errorf(kumo.ErrInvalidJSON, "fcm.serviceAccount is not a JSON string")
			}
			sa = []byte(s)
		}
		p.FCM = &kumo.FCMConfig{ProjectID: q.FCM.ProjectID, ServiceAccount: sa}
	}
	if a := q.APNs; a != nil {
		p.APNs = &kumo.APNsConfig{KeyID: a.KeyID, TeamID: a.TeamID, BundleID: a.BundleID, Key: []byte(a.Key)}
	}
	return p, nil
}

// handlePushConfig serves GET /api/apps/{appID}/configuration/push: the
// app's push configuration without its private keys.
func (s *Server) handlePushConfig(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	p, err := s.PushConfigs.PushConfig(r.Context(), c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pushConfigType, p.Public())
	return nil
}

// handlePushConfigPut serves PUT /api/apps/{appID}/configuration/push:
// the configuration is replaced by the body's; 200 with what GET shows.
func (s *Server) handlePushConfigPut(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	b, err := readJSON(w, r, maxJSONBody)
	if err != nil {
		return err
	}
	var q pushConfigRequest
	if t := bytes.TrimSpace(b); len(t) == 0 || t[0] != '{' { // null would clear both sections
		return kumo.Errorf(kumo.ErrInvalidJSON, "The request body must be a JSON object with fcm and apns sections")
	}
	if err := json.Unmarshal(b, &q); err != nil {
		return kumo.Errorf(kumo.ErrInvalidJSON, "The request body must be a JSON object with fcm and apns sections")
	}
	p, err := q.config()
	if err != nil {
		return err
	}
	if p, err = s.PushConfigs.SetPushConfig(r.Context(), c, p); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pushConfigType, p.Public())
	return nil
}

// handlePushConfigDelete serves DELETE /api/apps/{appID}/configuration/push.
func (s *Server) handlePushConfigDelete(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	if err := s.PushConfigs.DeletePushConfig(r.Context(), c); err != nil {
		return err
	}
	return noContent(w)
}
