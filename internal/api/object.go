package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kumo-iot/kumo"
)

// handleObjectCreate serves POST {scope}/buckets/{bucket}/objects. A typed
// media type (application/vnd.{appID}.{type}+json) sets the data type.
func (s *Server) handleObjectCreate(w http.ResponseWriter, r *http.Request, c kumo.Caller, b kumo.BucketRef) error {
	raw, err := readJSON(w, r, kumo.MaxObjectSize+1)
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

// objectWrite decodes the body and conditions of a PUT or PATCH.
func objectWrite(w http.ResponseWriter, r *http.Request, b kumo.BucketRef) (kumo.ObjectWrite, error) {
	raw, err := readJSON(w, r, kumo.MaxObjectSize+1)
	if err != nil {
		return kumo.ObjectWrite{}, err
	}
	data, err := kumo.ParseObjectData(raw)
	if err != nil {
		return kumo.ObjectWrite{}, err
	}
	ct := r.Header.Get("Content-Type")
	return kumo.ObjectWrite{
		Bucket: b, ID: r.PathValue("object"), Data: data,
		DataType: kumo.ObjectDataType(ct), TypeGiven: ct != "",
		IfMatch:     kumo.ParseETag(r.Header.Get("If-Match")),
		IfNoneMatch: strings.TrimSpace(r.Header.Get("If-None-Match")) == "*",
	}, nil
}

// handleObjectPut serves PUT {scope}/buckets/{bucket}/objects/{object}:
// 201 when it creates the object, 200 when it replaces it; If-Match and
// If-None-Match: * are honoured.
func (s *Server) handleObjectPut(w http.ResponseWriter, r *http.Request, c kumo.Caller, b kumo.BucketRef) error {
	ow, err := objectWrite(w, r, b)
	if err != nil {
		return err
	}
	o, created, err := s.Objects.ReplaceObject(r.Context(), c, ow)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag(o.Version))
	if created {
		w.Header().Set("Location", baseURL(r)+"/api/apps/"+c.AppID+o.Bucket.Scope.Path()+"/buckets/"+o.Bucket.Name+"/objects/"+o.ID)
		writeJSON(w, http.StatusCreated, "application/vnd.kii.ObjectCreationResponse+json", map[string]any{
			"objectID": o.ID, "createdAt": o.Created, "modifiedAt": o.Modified,
		})
		return nil
	}
	writeJSON(w, http.StatusOK, "application/vnd.kii.ObjectUpdateResponse+json", map[string]any{"modifiedAt": o.Modified})
	return nil
}

// handleObjectPatch serves PATCH {scope}/buckets/{bucket}/objects/{object}
// (and POST with X-HTTP-Method-Override: PATCH): a top-level merge; the
// answer is the whole object.
func (s *Server) handleObjectPatch(w http.ResponseWriter, r *http.Request, c kumo.Caller, b kumo.BucketRef) error {
	ow, err := objectWrite(w, r, b)
	if err != nil {
		return err
	}
	o, err := s.Objects.PatchObject(r.Context(), c, ow)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag(o.Version))
	writeJSON(w, http.StatusOK, o.MediaType(), objectJSON(o))
	return nil
}

// handleObjectPost serves POST on an object: a partial update when
// X-HTTP-Method-Override says PATCH (the SDKs that cannot send PATCH).
func (s *Server) handleObjectPost(w http.ResponseWriter, r *http.Request, c kumo.Caller, b kumo.BucketRef) error {
	if !strings.EqualFold(strings.TrimSpace(r.Header.Get("X-HTTP-Method-Override")), "PATCH") {
		return kumo.Errorf(kumo.ErrMethodNotAllowed, "POST on an object needs X-HTTP-Method-Override: PATCH")
	}
	return s.handleObjectPatch(w, r, c, b)
}

// handleObjectDelete serves DELETE {scope}/buckets/{bucket}/objects/{object}.
func (s *Server) handleObjectDelete(w http.ResponseWriter, r *http.Request, c kumo.Caller, b kumo.BucketRef) error {
	if err := s.Objects.DeleteObject(r.Context(), c, b, r.PathValue("object"), kumo.ParseETag(r.Header.Get("If-Match"))); err != nil {
		return err
	}
	return noContent(w)
}
