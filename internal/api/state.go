package api

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/kumo-iot/kumo"
)

// stateBody reads the JSON object body of a state request, gunzipping a
// Content-Encoding: gzip body (its size limit counts the decompressed
// bytes). An empty body is EMPTY_BODY.
func stateBody(w http.ResponseWriter, r *http.Request) (map[string]any, error) {
	if enc := strings.TrimSpace(r.Header.Get("Content-Encoding")); enc != "" && !strings.EqualFold(enc, "identity") {
		if !strings.EqualFold(enc, "gzip") {
			return nil, kumo.Errorf(kumo.ErrUnsupportedMediaType, "Content-Encoding %q is not supported; gzip is", enc)
		}
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, kumo.Errorf(kumo.ErrInvalidInputData, "The gzip body could not be read")
		}
		r.Body = struct {
			io.Reader
			io.Closer
		}{zr, r.Body}
	}
	b, err := readJSON(w, r, maxJSONBody)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, kumo.Errorf(kumo.ErrEmptyBody, "The request body is empty")
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil || m == nil || d.More() {
		return nil, kumo.Errorf(kumo.ErrInvalidJSON, "The request body must be a JSON object")
	}
	return m, nil
}

// stateTarget returns the thing ID of the request's {target}.
func stateTarget(r *http.Request) (string, error) {
	return kumo.ParseTarget(r.PathValue("target"))
}

// writeStates runs the writes and answers 201 when the thing had no
// state before, 204 after.
func (s *Server) writeStates(w http.ResponseWriter, r *http.Request, c kumo.Caller, thingID string, writes []kumo.StateWrite, firstIs201 bool) error {
	for i, sw := range writes {
		var err error
		if writes[i], err = kumo.ParseStateWrite(sw); err != nil {
			return err
		}
	}
	created, err := s.States.WriteStates(r.Context(), c, thingID, writes)
	if err != nil {
		return err
	}
	if created && firstIs201 {
		w.WriteHeader(http.StatusCreated)
		return nil
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleStatePut serves PUT …/targets/{target}/states: a non-trait
// document (application/json) or alias → fields
// (MultipleTraitState+json); 201 the first time, 204 after.
func (s *Server) handleStatePut(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	return s.writeState(w, r, c, kumo.StateWrite{Kind: kumo.StatePut,
		Trait: kumo.IsMediaType(mediaType(r), kumo.MediaMultipleTraitState)}, true)
}

// handleStatePatch serves PATCH …/states (MultipleTraitStatePatch+json):
// merges per alias; 204. Another media type merges a non-trait document.
func (s *Server) handleStatePatch(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	return s.writeState(w, r, c, kumo.StateWrite{Kind: kumo.StatePatch,
		Trait: kumo.IsMediaType(mediaType(r), kumo.MediaMultipleTraitStatePatch)}, false)
}

// handleStateAliasPut serves PUT …/states/aliases/{alias}
// (TraitState+json): the alias's fields; 204.
func (s *Server) handleStateAliasPut(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	return s.writeState(w, r, c, kumo.StateWrite{Kind: kumo.StateAliasPut, Trait: true, Alias: r.PathValue("alias")}, false)
}

// writeState reads the target and the body of a single state write and
// commits sw with that body as its state.
func (s *Server) writeState(w http.ResponseWriter, r *http.Request, c kumo.Caller, sw kumo.StateWrite, firstIs201 bool) error {
	thingID, err := stateTarget(r)
	if err != nil {
		return err
	}
	if sw.State, err = stateBody(w, r); err != nil {
		return err
	}
	return s.writeStates(w, r, c, thingID, []kumo.StateWrite{sw}, firstIs201)
}

// handleStatesBulk serves POST …/states-bulk:
// {"states":[{"generatedAt":ms,"payload":{…}}]}, each state put
// (StateBulkUploadRequest+json) or patched (StatePatchBulkUploadRequest+json)
// with its time, in one transaction; 204. A payload whose values are all
// objects is a trait state (alias → fields), another a non-trait document.
func (s *Server) handleStatesBulk(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	thingID, err := stateTarget(r)
	if err != nil {
		return err
	}
	kind := kumo.StatePut
	switch mt := mediaType(r); {
	case kumo.IsMediaType(mt, kumo.MediaStateBulkUpload):
	case kumo.IsMediaType(mt, kumo.MediaStatePatchBulkUpload):
		kind = kumo.StatePatch
	default:
		return kumo.Errorf(kumo.ErrUnsupportedMediaType, "A bulk upload is application/vnd.kii.StateBulkUploadRequest+json "+
			"or application/vnd.kii.StatePatchBulkUploadRequest+json; got %q", mt)
	}
	body, err := stateBody(w, r)
	if err != nil {
		return err
	}
	list, ok := body["states"].([]any)
	if !ok || len(list) == 0 {
		return kumo.Errorf(kumo.ErrInvalidInputData, "states must be a non-empty array of {generatedAt, payload}")
	}
	var writes []kumo.StateWrite
	for _, e := range list {
		m, _ := e.(map[string]any)
		payload, ok := m["payload"].(map[string]any)
		if !ok {
			return kumo.Errorf(kumo.ErrInvalidInputData, "Each state needs a payload object")
		}
		at, ok := m["generatedAt"].(json.Number)
		n, err := at.Int64()
		if !ok || err != nil || n <= 0 {
			return kumo.Errorf(kumo.ErrInvalidInputData, "Each state needs its generatedAt, in epoch milliseconds")
		}
		writes = append(writes, kumo.StateWrite{Kind: kind, Trait: aliasShaped(payload), State: payload, At: n})
	}
	return s.writeStates(w, r, c, thingID, writes, false)
}

// aliasShaped reports whether a bulk payload is a trait state (alias →
// fields: every value an object) rather than a non-trait document.
func aliasShaped(payload map[string]any) bool {
	for _, v := range payload {
		if _, ok := v.(map[string]any); !ok {
			return false
		}
	}
	return len(payload) > 0
}

// handleStateGet serves GET …/states (the whole document; {} before any
// state) and GET …/states/aliases/{alias}.
func (s *Server) handleStateGet(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	thingID, err := stateTarget(r)
	if err != nil {
		return err
	}
	alias := r.PathValue("alias")
	state, err := s.States.State(r.Context(), c, thingID, alias)
	if err != nil {
		return err
	}
	mt := "application/vnd.kii.MultipleTraitState+json"
	if alias != "" {
		mt = "application/vnd.kii.TraitState+json"
	}
	writeJSON(w, http.StatusOK, mt, state)
	return nil
}

// handleStateQuery serves POST …/states/aliases/{alias}/query
// (TraitStateQueryRequest+json), and POST …/states/query for a non-trait
// thing's history.
func (s *Server) handleStateQuery(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	thingID, err := stateTarget(r)
	if err != nil {
		return err
	}
	body, err := decodeObject(w, r)
	if err != nil {
		return err
	}
	q, err := kumo.ParseStateQuery(body)
	if err != nil {
		return err
	}
	res, err := s.States.QueryStates(r.Context(), c, thingID, r.PathValue("alias"), q)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, "application/vnd.kii.TraitStateQueryResponse+json", res)
	return nil
}
