package api

import (
	"net/http"

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
