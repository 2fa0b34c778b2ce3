package api

import (
	"net/http"

	"github.com/kumo-iot/kumo"
)

// handleThingRegister serves POST /api/apps/{appID}/things. The media type
// ThingRegistrationAndAuthorizationRequest also issues the thing's token.
func (s *Server) handleThingRegister(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	body, err := decodeObject(w, r)
	if err != nil {
		return err
	}
	reg, err := kumo.ParseThingRegistration(body)
	if err != nil {
		return err
	}
	withToken := isKiiType(r, "ThingRegistrationAndAuthorizationRequest")
	t, tok, err := s.Things.RegisterThing(r.Context(), c, reg, withToken)
	if err != nil {
		return err
	}
	out := thingJSON(t)
	mt := "application/vnd.kii.ThingRegistrationResponse+json"
	if tok != nil {
		out["_accessToken"] = tok.AccessToken
		mt = "application/vnd.kii.ThingRegistrationAndAuthorizationResponse+json"
	}
	w.Header().Set("Location", baseURL(r)+"/api/apps/"+c.AppID+"/things/"+t.ID)
	writeJSON(w, http.StatusCreated, mt, out)
	return nil
}

// handleThingGet serves GET /api/apps/{appID}/things/{thing}.
func (s *Server) handleThingGet(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	t, err := s.Things.FindThing(r.Context(), c, r.PathValue("thing"))
	if err != nil {
		return err
	}
	out := thingJSON(t)
	out["_online"] = t.Online
	if t.OnlineModified > 0 {
		out["_onlineStatusModifiedAt"] = t.OnlineModified
	}
	writeJSON(w, http.StatusOK, "application/vnd.kii.ThingRetrievalResponse+json", out)
	return nil
}

// thingJSON is a thing's record as Kii returns it.
func thingJSON(t kumo.Thing) map[string]any {
	out := make(map[string]any, len(t.Fields)+6)
	for k, v := range t.Fields {
		out[k] = v
	}
	out["_thingID"] = t.ID
	out["_vendorThingID"] = t.VendorThingID
	out["_created"] = t.Created
	out["_disabled"] = t.Disabled
	if _, ok := out["_layoutPosition"]; !ok {
		out["_layoutPosition"] = "STANDALONE"
	}
	return out
}
