package api

import (
	"net/http"
	"strings"

	"github.com/kumo-iot/kumo"
)

// triggerTarget reads the {target} of a trigger path, thing:{thingID}
// in any case.
func triggerTarget(r *http.Request) (string, error) {
	return kumo.ParseTarget(r.PathValue("target"))
}

// triggerID reads the {triggerID} of a trigger path. A "}" at its end is
// dropped: the Thing-IF JavaScript SDK's enableTrigger writes one after
// the ID (…/triggers/{id}}/enable); no trigger ID has one.
func triggerID(r *http.Request) string {
	return strings.TrimSuffix(r.PathValue("triggerID"), "}")
}

// handleTriggerCreate serves POST /thing-if/apps/{appID}/targets/{target}/triggers:
// 201 {"triggerID"}.
func (s *Server) handleTriggerCreate(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	thingID, err := triggerTarget(r)
	if err != nil {
		return err
	}
	body, err := decodeObject(w, r)
	if err != nil {
		return err
	}
	t, err := kumo.ParseTrigger(thingID, body, 0) // the store checks a SCHEDULE_ONCE is not past
	if err != nil {
		return err
	}
	t, err = s.Triggers.CreateTrigger(r.Context(), c, t)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, "application/json", map[string]string{"triggerID": t.ID})
	return nil
}

// handleTriggerGet serves GET …/triggers/{triggerID}: 200, the whole
// trigger with disabled (and disabledReason when it has one).
func (s *Server) handleTriggerGet(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	thingID, err := triggerTarget(r)
	if err != nil {
		return err
	}
	t, err := s.Triggers.Trigger(r.Context(), c, thingID, triggerID(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, "application/json", t)
	return nil
}

// handleTriggerPatch serves PATCH …/triggers/{triggerID}: 204.
func (s *Server) handleTriggerPatch(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	thingID, err := triggerTarget(r)
	if err != nil {
		return err
	}
	body, err := decodeObject(w, r)
	if err != nil {
		return err
	}
	if err := s.Triggers.UpdateTrigger(r.Context(), c, thingID, triggerID(r), body); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleTriggerEnable serves PUT …/triggers/{triggerID}/enable and
// …/disable: 204.
func (s *Server) handleTriggerEnable(enabled bool) handler {
	return func(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
		thingID, err := triggerTarget(r)
		if err != nil {
			return err
		}
		if err := s.Triggers.SetTriggerEnabled(r.Context(), c, thingID, triggerID(r), enabled); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// handleTriggerDelete serves DELETE …/triggers/{triggerID}: 204.
func (s *Server) handleTriggerDelete(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	thingID, err := triggerTarget(r)
	if err != nil {
		return err
	}
	if err := s.Triggers.DeleteTrigger(r.Context(), c, thingID, triggerID(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleTriggerList serves GET …/triggers?bestEffortLimit=&paginationKey=:
// 200 {"triggers":[…]} with "nextPaginationKey" when more follow.
func (s *Server) handleTriggerList(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	thingID, err := triggerTarget(r)
	if err != nil {
		return err
	}
	limit, err := bestEffortLimit(r)
	if err != nil {
		return err
	}
	ts, next, err := s.Triggers.Triggers(r.Context(), c, thingID, r.URL.Query().Get("paginationKey"), limit)
	if err != nil {
		return err
	}
	return writePage(w, "application/json", "triggers", ts, next)
}

// handleTriggerServerCodeResults serves GET
// …/triggers/{triggerID}/results/server-code: 200
// {"triggerServerCodeResults":[…]} with "nextPaginationKey" when more
// follow.
func (s *Server) handleTriggerServerCodeResults(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	thingID, err := triggerTarget(r)
	if err != nil {
		return err
	}
	limit, err := bestEffortLimit(r)
	if err != nil {
		return err
	}
	rs, next, err := s.Triggers.ServerCodeResults(r.Context(), c, thingID, triggerID(r), r.URL.Query().Get("paginationKey"), limit)
	if err != nil {
		return err
	}
	return writePage(w, "application/json", "triggerServerCodeResults", rs, next)
}
