package api

import (
	"net/http"
	"strings"

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

// handleThingUpdate serves PATCH /api/apps/{appID}/things/{thing}: the
// fields given are merged; _vendorThingID and _password are ignored. 204.
func (s *Server) handleThingUpdate(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	body, err := decodeObject(w, r)
	if err != nil {
		return err
	}
	fields, err := kumo.ParseThingFields(body)
	if err != nil {
		return err
	}
	if err := s.Things.UpdateThing(r.Context(), c, r.PathValue("thing"), fields); err != nil {
		return err
	}
	return noContent(w)
}

// handleThingPost serves POST on a thing: an update when
// X-HTTP-Method-Override says PATCH (k4j).
func (s *Server) handleThingPost(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	if !strings.EqualFold(strings.TrimSpace(r.Header.Get("X-HTTP-Method-Override")), "PATCH") {
		return kumo.Errorf(kumo.ErrMethodNotAllowed, "POST on a thing needs X-HTTP-Method-Override: PATCH")
	}
	return s.handleThingUpdate(w, r, c)
}

// handleThingDelete serves DELETE /api/apps/{appID}/things/{thing}: 204.
func (s *Server) handleThingDelete(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	if err := s.Things.DeleteThing(r.Context(), c, r.PathValue("thing")); err != nil {
		return err
	}
	return noContent(w)
}

// handleThingStatus serves GET .../things/{thing}/status: {"disabled"}.
func (s *Server) handleThingStatus(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	t, err := s.Things.FindThing(r.Context(), c, r.PathValue("thing"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, "application/vnd.kii.ThingStatusRetrievalResponse+json", map[string]any{"disabled": t.Disabled})
	return nil
}

// handleThingSetStatus serves PUT .../things/{thing}/status with
// {"disabled": true|false}: 204.
func (s *Server) handleThingSetStatus(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	body, err := decodeObject(w, r)
	if err != nil {
		return err
	}
	disabled, ok := body["disabled"].(bool)
	if !ok {
		return kumo.InvalidInput(map[string]string{"disabled": "must be true or false"})
	}
	if err := s.Things.SetThingDisabled(r.Context(), c, r.PathValue("thing"), disabled); err != nil {
		return err
	}
	return noContent(w)
}

// handleVendorThingIDGet serves GET …/things/{thing}/vendor-thing-id:
// {"_vendorThingID"}.
func (s *Server) handleVendorThingIDGet(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	t, err := s.Things.FindThing(r.Context(), c, r.PathValue("thing"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, "application/vnd.kii.VendorThingIDRetrievalResponse+json", map[string]any{"_vendorThingID": t.VendorThingID})
	return nil
}

// handleVendorThingIDPut serves PUT …/things/{thing}/vendor-thing-id with
// {"_vendorThingID", "_password"}: a new vendor thing ID and password. 204.
func (s *Server) handleVendorThingIDPut(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	body, err := decodeObject(w, r)
	if err != nil {
		return err
	}
	vid, pw, err := kumo.ParseVendorThingIDChange(body)
	if err != nil {
		return err
	}
	if err := s.Things.ChangeVendorThingID(r.Context(), c, r.PathValue("thing"), vid, pw); err != nil {
		return err
	}
	return noContent(w)
}

// handleThingPassword serves PUT …/things/{thing}/password with
// {"newPassword"}: 204.
func (s *Server) handleThingPassword(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	body, err := decodeObject(w, r)
	if err != nil {
		return err
	}
	if err := s.Things.ChangeThingPassword(r.Context(), c, r.PathValue("thing"), stringField(body, "newPassword")); err != nil {
		return err
	}
	return noContent(w)
}

// handleThingQuery serves POST /api/apps/{appID}/things/query with a
// ThingQueryRequest: 200 {"results":[things as GET renders them],
// "nextPaginationKey"} (the key only when more follow).
func (s *Server) handleThingQuery(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	raw, err := readJSON(w, r, maxJSONBody)
	if err != nil {
		return err
	}
	q, err := kumo.ParseThingQuery(raw)
	if err != nil {
		return err
	}
	things, next, err := s.ThingQueries.QueryThings(r.Context(), c, q)
	if err != nil {
		return err
	}
	results := make([]any, len(things))
	for i, t := range things {
		results[i] = thingJSON(t)
	}
	out := map[string]any{"results": results}
	if next != "" {
		out["nextPaginationKey"] = next
	}
	writeJSON(w, http.StatusOK, "application/vnd.kii.ThingQueryResponse+json", out)
	return nil
}
