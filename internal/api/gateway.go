package api

import (
	"net/http"

	"github.com/kumo-iot/kumo"
)

// handleEndNodes serves GET /thing-if/apps/{appID}/things/{gw}/end-nodes:
// 200 {"results": [{"thingID", "vendorThingID"}…], "nextPaginationKey"},
// a page of bestEffortLimit end nodes after paginationKey (kii_go sends
// it as nextPaginationKey).
func (s *Server) handleEndNodes(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	q := r.URL.Query()
	limit, err := kumo.ParseEndNodeListLimit(q.Get("bestEffortLimit"))
	if err != nil {
		return err
	}
	key := q.Get("paginationKey")
	if key == "" {
		key = q.Get("nextPaginationKey")
	}
	nodes, next, err := s.Gateways.EndNodes(r.Context(), c, r.PathValue("gw"), limit, key)
	if err != nil {
		return err
	}
	results := make([]map[string]string, len(nodes))
	for i, n := range nodes {
		results[i] = map[string]string{"thingID": n.ThingID, "vendorThingID": n.VendorThingID}
	}
	return writePage(w, "application/vnd.kii.EndNodesRetrievalResponse+json", "results", results, next)
}

// handleEndNodeAdd serves PUT /api/apps/{appID}/things/{gw}/end-nodes/{en}
// (kii_go's AddEndNode; empty body): 204.
func (s *Server) handleEndNodeAdd(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	if err := s.Gateways.AddEndNode(r.Context(), c, r.PathValue("gw"), r.PathValue("en")); err != nil {
		return err
	}
	return noContent(w)
}

// handleEndNodeRemove serves DELETE /api/apps/{appID}/things/{gw}/end-nodes/{en}: 204.
func (s *Server) handleEndNodeRemove(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	if err := s.Gateways.RemoveEndNode(r.Context(), c, r.PathValue("gw"), r.PathValue("en")); err != nil {
		return err
	}
	return noContent(w)
}

// handleEndNodeConnection serves PUT
// /thing-if/apps/{appID}/things/{gw}/end-nodes/{en}/connection with
// {"online": true|false}: the end node's _online follows it. 204.
func (s *Server) handleEndNodeConnection(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	body, err := decodeObject(w, r)
	if err != nil {
		return err
	}
	online, err := kumo.ParseEndNodeConnection(body)
	if err != nil {
		return err
	}
	if err := s.Gateways.SetEndNodeOnline(r.Context(), c, r.PathValue("gw"), r.PathValue("en"), online); err != nil {
		return err
	}
	return noContent(w)
}

// handleEndNodeToken serves POST
// /api/apps/{appID}/things/{gw}/end-nodes/{en}/token with an optional
// {"expires_in": seconds}: 200 with the end node's token, as a login
// answers it ({"id", "access_token", "expires_in", "token_type"[,
// "refresh_token"]}).
func (s *Server) handleEndNodeToken(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	body, err := decodeObject(w, r)
	if err != nil {
		return err
	}
	expiresIn, err := kumo.ParseEndNodeTokenRequest(body)
	if err != nil {
		return err
	}
	tok, err := s.Gateways.EndNodeToken(r.Context(), c, r.PathValue("gw"), r.PathValue("en"), expiresIn)
	if err != nil {
		return err
	}
	out := map[string]any{"id": tok.PrincipalID, "access_token": tok.AccessToken,
		"expires_in": tok.ExpiresIn, "token_type": "bearer"}
	if tok.RefreshToken != "" {
		out["refresh_token"] = tok.RefreshToken
	}
	writeJSON(w, http.StatusOK, "application/json", out)
	return nil
}
