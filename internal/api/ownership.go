package api

import (
	"net/http"

	"github.com/kumo-iot/kumo"
)

// handleOwnershipAdd serves POST …/things/{thing}/ownership with
// {"thingPassword", "userID"|"groupID"}: 204.
func (s *Server) handleOwnershipAdd(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	body, err := decodeObject(w, r)
	if err != nil {
		return err
	}
	req, err := kumo.ParseOwnershipRequest(body)
	if err != nil {
		return err
	}
	if err := s.Things.AddThingOwner(r.Context(), c, r.PathValue("thing"), req); err != nil {
		return err
	}
	return noContent(w)
}

// handleOwnershipGet serves GET …/things/{thing}/ownership:
// {"users": [...], "groups": [...]}.
func (s *Server) handleOwnershipGet(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	o, err := s.Things.ThingOwners(r.Context(), c, r.PathValue("thing"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, "application/vnd.kii.ThingOwnershipRetrievalResponse+json",
		map[string]any{"users": o.Users, "groups": o.Groups})
	return nil
}

// ownerHandler is a handler of …/ownership/{owner}.
type ownerHandler func(w http.ResponseWriter, r *http.Request, c kumo.Caller, o kumo.ThingOwner) error

// owner wraps a handler of …/things/{thing}/ownership/{owner}, {owner}
// being user:{userID} or group:{groupID}.
func (s *Server) owner(h ownerHandler) http.HandlerFunc {
	return s.app(func(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
		o, err := kumo.ParseThingOwner(r.PathValue("owner"))
		if err != nil {
			return err
		}
		return h(w, r, c, o)
	})
}

// handleOwnerPut serves the legacy PUT …/ownership/{owner} (no password):
// 204.
func (s *Server) handleOwnerPut(w http.ResponseWriter, r *http.Request, c kumo.Caller, o kumo.ThingOwner) error {
	if err := s.Things.AddThingOwner(r.Context(), c, r.PathValue("thing"), kumo.OwnershipRequest{Owner: o, Legacy: true}); err != nil {
		return err
	}
	return noContent(w)
}

// handleOwnerHead serves HEAD …/ownership/{owner}: 204 when o owns the
// thing, else 404 THING_OWNERSHIP_NOT_FOUND (without a body, as HEAD).
func (s *Server) handleOwnerHead(w http.ResponseWriter, r *http.Request, c kumo.Caller, o kumo.ThingOwner) error {
	if err := s.Things.HasThingOwner(r.Context(), c, r.PathValue("thing"), o); err != nil {
		return err
	}
	return noContent(w)
}

// handleOwnerDelete serves DELETE …/ownership/{owner}: 204.
func (s *Server) handleOwnerDelete(w http.ResponseWriter, r *http.Request, c kumo.Caller, o kumo.ThingOwner) error {
	if err := s.Things.RemoveThingOwner(r.Context(), c, r.PathValue("thing"), o); err != nil {
		return err
	}
	return noContent(w)
}

// handleOwnershipRequest serves POST …/ownership/request/{owner} (the PIN
// code flow; an empty body) → 200 ThingOwnershipRequestResponse {"code"}.
func (s *Server) handleOwnershipRequest(w http.ResponseWriter, r *http.Request, c kumo.Caller, o kumo.ThingOwner) error {
	code, err := s.Things.RequestThingOwnership(r.Context(), c, r.PathValue("thing"), o)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, "application/vnd.kii.ThingOwnershipRequestResponse+json", map[string]any{"code": code})
	return nil
}

// handleOwnershipConfirm serves POST …/ownership/confirm
// (ThingOwnershipConfirmationRequest {"code"}) → 204.
func (s *Server) handleOwnershipConfirm(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	m, err := decodeObject(w, r)
	if err != nil {
		return err
	}
	code, _ := m["code"].(string)
	if code == "" {
		return kumo.Errorf(kumo.ErrInvalidInputData, "code is required")
	}
	if err := s.Things.ConfirmThingOwnership(r.Context(), c, r.PathValue("thing"), code); err != nil {
		return err
	}
	return noContent(w)
}
