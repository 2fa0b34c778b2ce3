package api

import (
	"encoding/json"
	"net/http"

	"github.com/kumo-iot/kumo"
)

// commandAnswer is a command as GET …/commands/{commandID} and the
// listing show it (push-mqtt §7.2).
type commandAnswer struct {
	CommandID        string          `json:"commandID"`
	Target           string          `json:"target"`
	Issuer           string          `json:"issuer"`
	Schema           string          `json:"schema,omitempty"`
	SchemaVersion    *int            `json:"schemaVersion,omitempty"`
	Actions          json.RawMessage `json:"actions"`
	ActionResults    json.RawMessage `json:"actionResults,omitempty"`
	CommandState     string          `json:"commandState"`
	FiredByTriggerID string          `json:"firedByTriggerID,omitempty"`
	CreatedAt        int64           `json:"createdAt"`
	ModifiedAt       int64           `json:"modifiedAt"`
	Title            string          `json:"title,omitempty"`
	Description      string          `json:"description,omitempty"`
	Metadata         json.RawMessage `json:"metadata,omitempty"`
}

// answerOf renders c: actionResults only once the thing reported
// (kii_go checks it is absent before); schema and schemaVersion only for
// a non-trait command.
func answerOf(c kumo.Command) commandAnswer {
	a := commandAnswer{CommandID: c.ID, Target: c.Target(), Issuer: c.Issuer, Schema: c.Schema, Actions: c.Actions,
		ActionResults: c.ActionResults, CommandState: string(c.State), FiredByTriggerID: c.FiredByTriggerID,
		CreatedAt: c.CreatedAt, ModifiedAt: c.ModifiedAt, Title: c.Title, Description: c.Description, Metadata: c.Metadata}
	if !c.Trait() {
		a.SchemaVersion = &c.SchemaVersion
	}
	return a
}

// handleCommandCreate serves POST /thing-if/apps/{appID}/targets/{target}/commands:
// 201 {"commandID"}. The body's shape tells a trait command from a
// non-trait one (kumo.ParseCommand), whatever the Content-Type
// (application/vnd.kii.CommandCreationRequest+json or application/json).
func (s *Server) handleCommandCreate(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	thingID, err := kumo.ParseTarget(r.PathValue("target"))
	if err != nil {
		return err
	}
	body, err := decodeObject(w, r)
	if err != nil {
		return err
	}
	cmd, err := kumo.ParseCommand(body)
	if err != nil {
		return err
	}
	cmd.ThingID = thingID // the path names the target
	cmd, err = s.Commands.Create(r.Context(), c, cmd)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, "application/json", map[string]string{"commandID": cmd.ID})
	return nil
}

// handleCommandGet serves GET …/targets/{target}/commands/{commandID}.
func (s *Server) handleCommandGet(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	thingID, err := kumo.ParseTarget(r.PathValue("target"))
	if err != nil {
		return err
	}
	cmd, err := s.Commands.Get(r.Context(), c, thingID, r.PathValue("commandID"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, "application/json", answerOf(cmd))
	return nil
}

// handleCommandList serves GET …/targets/{target}/commands[?bestEffortLimit=N&paginationKey=K]:
// 200 {"commands":[…]}, with "nextPaginationKey" when more follow
// (push-mqtt §10.19). An empty paginationKey is the first page.
func (s *Server) handleCommandList(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	thingID, err := kumo.ParseTarget(r.PathValue("target"))
	if err != nil {
		return err
	}
	limit, err := bestEffortLimit(r)
	if err != nil {
		return err
	}
	cmds, next, err := s.Commands.List(r.Context(), c, thingID, limit, r.URL.Query().Get("paginationKey"))
	if err != nil {
		return err
	}
	list := make([]commandAnswer, len(cmds))
	for i, cmd := range cmds {
		list[i] = answerOf(cmd)
	}
	return writePage(w, "application/json", "commands", list, next)
}

// handleActionResults serves PUT …/targets/{target}/commands/{commandID}/action-results:
// 204. Trait results come as application/vnd.kii.CommandResultsUpdateRequest+json,
// non-trait ones as application/json; the command's model decides how
// the body is read.
func (s *Server) handleActionResults(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	thingID, err := kumo.ParseTarget(r.PathValue("target"))
	if err != nil {
		return err
	}
	body, err := decodeObject(w, r)
	if err != nil {
		return err
	}
	if err := s.Commands.PutActionResults(r.Context(), c, thingID, r.PathValue("commandID"), body); err != nil {
		return err
	}
	return noContent(w)
}
