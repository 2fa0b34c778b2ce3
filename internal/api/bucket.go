package api

import (
	"net/http"
	"strconv"

	"github.com/kumo-iot/kumo"
)

// handleBucketGet serves GET {scope}/buckets/{bucket}: its type and size.
func (s *Server) handleBucketGet(w http.ResponseWriter, r *http.Request, c kumo.Caller, b kumo.BucketRef) error {
	info, err := s.Buckets.GetBucket(r.Context(), c, b)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, "application/vnd.kii.BucketRetrievalResponse+json",
		map[string]any{"bucketType": info.Type, "size": info.Size})
	return nil
}

// handleBucketHead serves HEAD {scope}/buckets/{bucket}: 204 when the
// bucket exists (Kii's guide), 404 when not.
func (s *Server) handleBucketHead(w http.ResponseWriter, r *http.Request, c kumo.Caller, b kumo.BucketRef) error {
	if _, err := s.Buckets.GetBucket(r.Context(), c, b); err != nil {
		return err
	}
	return noContent(w)
}

// handleBucketList serves GET {scope}/buckets: the scope's buckets,
// {"buckets":[{"bucketID","bucketType"}],"paginationKey"} (a Kumo
// extension: Kii's shape is not in the sources), at most ?limit= (default
// and maximum 1000) a page; paginationKey goes in ?paginationKey=.
func (s *Server) handleBucketList(kind kumo.ScopeKind) handler {
	return func(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
		limit := maxBucketPage
		if v := r.URL.Query().Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return kumo.InvalidInput(map[string]string{"limit": "must be a positive integer"})
			}
			limit = min(n, maxBucketPage)
		}
		scope := kumo.Scope{Kind: kind, ID: r.PathValue("scopeID")}
		bs, err := s.Buckets.ListBuckets(r.Context(), c, scope, r.URL.Query().Get("paginationKey"), limit+1)
		if err != nil {
			return err
		}
		out := map[string]any{}
		if len(bs) > limit {
			bs = bs[:limit]
			out["paginationKey"] = bs[limit-1].Name
		}
		list := make([]any, len(bs))
		for i, b := range bs {
			list[i] = map[string]any{"bucketID": b.Name, "bucketType": b.Type()}
		}
		out["buckets"] = list
		writeJSON(w, http.StatusOK, "application/vnd.kii.BucketsRetrievalResponse+json", out)
		return nil
	}
}

// maxBucketPage is the largest page of a bucket listing.
const maxBucketPage = 1000

// handleBucketCreate serves PUT {scope}/buckets/{bucket}: 204, or 409 when
// it exists. The body ({"bucketType"}) may be absent; the type follows
// the name (CRYPTO: for encrypted buckets).
func (s *Server) handleBucketCreate(w http.ResponseWriter, r *http.Request, c kumo.Caller, b kumo.BucketRef) error {
	body, err := decodeObject(w, r)
	if err != nil {
		return err
	}
	if t, ok := body["bucketType"].(string); ok && t != b.Type() {
		return kumo.InvalidInput(map[string]string{"bucketType": "must be " + b.Type() + " for bucket " + b.Name})
	}
	if err := s.Buckets.CreateBucket(r.Context(), c, b); err != nil {
		return err
	}
	return noContent(w)
}

// handleBucketDelete serves DELETE {scope}/buckets/{bucket}: 204; the
// bucket's objects go with it.
func (s *Server) handleBucketDelete(w http.ResponseWriter, r *http.Request, c kumo.Caller, b kumo.BucketRef) error {
	if err := s.Buckets.DeleteBucket(r.Context(), c, b); err != nil {
		return err
	}
	return noContent(w)
}
