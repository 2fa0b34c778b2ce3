package api

import (
	"net/http"

	"github.com/kumo-iot/kumo"
)

// handleScheduleExecutionQuery serves POST
// /api/apps/{appID}/hooks/executions/query with a
// ScheduleExecutionQueryRequest (admin only; spec server-code.md §5.1):
// 200 {"queryDescription","results":[executions],"nextPaginationKey"}
// (the key only when more follow).
func (s *Server) handleScheduleExecutionQuery(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	raw, err := readJSON(w, r, maxJSONBody)
	if err != nil {
		return err
	}
	q, err := kumo.ParseScheduleExecutionQuery(raw)
	if err != nil {
		return err
	}
	es, next, err := s.ScheduleExecutions.QueryScheduleExecutions(r.Context(), c, q)
	if err != nil {
		return err
	}
	if es == nil {
		es = []kumo.ScheduleExecution{}
	}
	out := map[string]any{"queryDescription": q.Description(), "results": es}
	if next != "" {
		out["nextPaginationKey"] = next
	}
	writeJSON(w, http.StatusOK, "application/vnd.kii.ScheduleExecutionQueryResponse+json", out)
	return nil
}

// handleScheduleExecutionGet serves GET
// /api/apps/{appID}/hooks/executions/{id} (admin only; §5.2): 200 the
// execution, 404 SCHEDULE_EXECUTION_NOT_FOUND.
func (s *Server) handleScheduleExecutionGet(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	e, err := s.ScheduleExecutions.ScheduleExecution(r.Context(), c, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, "application/vnd.kii.ScheduleExecutionResponse+json", e)
	return nil
}
