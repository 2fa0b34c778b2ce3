package api

import (
	"net/http"

	"github.com/kumo-iot/kumo"
)

// handleQuery serves POST {scope}/buckets/{bucket}/query. The request's
// media type is application/vnd.kii.QueryRequest+json, but any JSON body
// is parsed; an empty body queries everything.
func (s *Server) handleQuery(w http.ResponseWriter, r *http.Request, c kumo.Caller, b kumo.BucketRef) error {
	raw, err := readJSON(w, r, maxJSONBody)
	if err != nil {
		return err
	}
	q, err := kumo.ParseQuery(raw)
	if err != nil {
		return err
	}
	res, err := s.Objects.QueryObjects(r.Context(), c, b, q)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, "application/vnd.kii.QueryResponse+json", queryJSON(q, res))
	return nil
}

// queryJSON is the body of a query's answer: {"queryDescription",
// "results":[objects as GET renders them, with "_calculated" distances],
// "nextPaginationKey" when more follow}, or {"aggregations":{name: count}}
// for a count.
func queryJSON(q kumo.Query, res kumo.QueryResult) map[string]any {
	if res.Aggregations != nil {
		return map[string]any{"aggregations": res.Aggregations}
	}
	results := make([]map[string]any, len(res.Results))
	for i, h := range res.Results {
		results[i] = objectJSON(h.Object)
		if len(h.Calculated) > 0 {
			results[i]["_calculated"] = h.Calculated
		}
	}
	out := map[string]any{"queryDescription": q.Description(), "results": results}
	if res.NextPaginationKey != "" {
		out["nextPaginationKey"] = res.NextPaginationKey
	}
	return out
}
