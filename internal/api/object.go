package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/kumo-iot/kumo"
)

// handleObjectCreate serves POST {scope}/buckets/{bucket}/objects. A typed
// media type (application/vnd.{appID}.{type}+json) sets the data type.
func (s *Server) handleObjectCreate(w http.ResponseWriter, r *http.Request, c kumo.Caller, b kumo.BucketRef) error {
	raw, err := readBody(w, r, kumo.MaxObjectSize+1)
	if err != nil {
		return err
	}
	data, text, err := kumo.ParseObjectJSON(raw)
	if err != nil {
		return err
	}
	o, err := s.Objects.CreateObject(r.Context(), c, kumo.ObjectCreate{Bucket: b, Data: data, JSON: text,
		DataType: kumo.ObjectDataType(r.Header.Get("Content-Type"))})
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Location", baseURL(r)+"/api/apps/"+c.AppID+o.Bucket.Scope.Path()+"/buckets/"+o.Bucket.Name+"/objects/"+o.ID)
	h.Set("ETag", etag(o.Version))
	writeJSON(w, http.StatusCreated, "application/vnd.kii.ObjectCreationResponse+json", objectCreated{
		CreatedAt: o.Created, DataType: o.MediaType(), ObjectID: o.ID,
	})
	return nil
}

// handleObjectGet serves GET {scope}/buckets/{bucket}/objects/{object}.
func (s *Server) handleObjectGet(w http.ResponseWriter, r *http.Request, c kumo.Caller, b kumo.BucketRef) error {
	o, err := s.Objects.GetObject(r.Context(), c, b, r.PathValue("object"))
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("ETag", etag(o.Version))
	h.Set("Last-Modified", time.UnixMilli(o.Modified).UTC().Format(http.TimeFormat))
	writeJSON(w, http.StatusOK, o.MediaType(), objectJSON(o))
	return nil
}

// objectJSON is an object as Kii returns it: the client's fields and the
// system fields, _version as a string and _dataType as the short name.
func objectJSON(o kumo.Object) map[string]any {
	out := make(map[string]any, len(o.Data)+6)
	for k, v := range o.Data {
		out[k] = v
	}
	out["_id"] = o.ID
	out["_created"] = o.Created
	out["_modified"] = o.Modified
	out["_version"] = strconv.FormatInt(o.Version, 10)
	if o.Owner != "" {
		out["_owner"] = o.Owner
	}
	if o.DataType != "" {
		out["_dataType"] = o.DataType
	}
	return out
}

// etag is an object version as an ETag header value: quoted ("1").
func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// objectCreated is the body of a 201 to an object creation.
type objectCreated struct {
	CreatedAt int64  `json:"createdAt"`
	DataType  string `json:"dataType"`
	ObjectID  string `json:"objectID"`
}
