package api

import (
	"net/http"

	"github.com/kumo-iot/kumo"
)

// handleAppParams serves GET /api/apps/{appID}/configuration/parameters:
// the parameters the admin has set, as a JSON object.
func (s *Server) handleAppParams(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	p, err := s.AppParams.AppParams(r.Context(), c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, "application/vnd.kii.AppConfigParamsRetrievalResponse+json", p)
	return nil
}

// handleAppParamsUpdate serves PATCH (or POST)
// /api/apps/{appID}/configuration/parameters with an
// AppConfigParamsModificationRequest: the parameters given are set, the
// others kept; a null removes one. 200 with all the parameters.
func (s *Server) handleAppParamsUpdate(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	body, err := decodeObject(w, r)
	if err != nil {
		return err
	}
	p, err := s.AppParams.UpdateAppParams(r.Context(), c, body)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, "application/vnd.kii.AppConfigParamsRetrievalResponse+json", p)
	return nil
}
