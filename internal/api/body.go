package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/kumo-iot/kumo"
)

// bodyRef is the body named by a request's path.
func bodyRef(r *http.Request, b kumo.BucketRef) kumo.BodyRef {
	return kumo.BodyRef{Bucket: b, ObjectID: r.PathValue("object")}
}

// handleBodyPut serves PUT …/objects/{object}/body: the request body is
// the object body, streamed to storage; its Content-Type is kept
// (application/octet-stream when absent). 200 {"modifiedAt"}.
func (s *Server) handleBodyPut(w http.ResponseWriter, r *http.Request, c kumo.Caller, b kumo.BucketRef) error {
	body, err := s.Bodies.PutBody(r.Context(), c, kumo.BodyPut{
		Ref: bodyRef(r, b), ContentType: r.Header.Get("Content-Type"), Size: r.ContentLength, Data: r.Body,
	})
	if err != nil {
		return err
	}
	w.Header().Set("ETag", quote(body.ETag))
	writeJSON(w, http.StatusOK, "application/vnd.kii.ObjectBodyUpdateResponse+json", map[string]any{"modifiedAt": body.Modified})
	return nil
}

// handleBodyHead serves HEAD …/objects/{object}/body: 204 with the body's
// Content-Type, ETag and Last-Modified; 404 when there is none.
func (s *Server) handleBodyHead(w http.ResponseWriter, r *http.Request, c kumo.Caller, b kumo.BucketRef) error {
	body, err := s.Bodies.GetBody(r.Context(), c, bodyRef(r, b))
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", body.ContentType)
	h.Set("Content-Security-Policy", bodyCSP)
	h.Set("ETag", quote(body.ETag))
	h.Set("Last-Modified", httpDate(body.Modified))
	h.Set("Accept-Ranges", "bytes")
	return noContent(w)
}

// handleBodyGet serves GET …/objects/{object}/body: the whole body (200)
// or the range a Range header asks for (206 with Content-Range). If-Match
// (the body ETag, sent by chunked downloads) must match.
func (s *Server) handleBodyGet(w http.ResponseWriter, r *http.Request, c kumo.Caller, b kumo.BucketRef) error {
	br, err := s.Bodies.OpenBody(r.Context(), c, bodyRef(r, b), bodyGet(r))
	if err != nil {
		return rangeError(w, err)
	}
	s.writeBody(w, r, br)
	return nil
}

// handlePublication serves GET /api/x/{publication}: a published body,
// for anyone (no app, no credentials).
func (s *Server) handlePublication(w http.ResponseWriter, r *http.Request) {
	br, err := s.Bodies.OpenPublication(r.Context(), r.PathValue("publication"), bodyGet(r))
	if err != nil {
		s.writeError(w, r, publicationError(rangeError(w, err)))
		return
	}
	s.writeBody(w, r, br)
}

// publicationError is err as the holder of a publication link may see it:
// its code, with none of the IDs a body error carries (appID, thingID or
// user, bucketID, objectID, in fields or message), which the link does not
// reveal. Only the publication's ID and the body's size stay.
func publicationError(err error) error {
	var e *kumo.Error
	if !errors.As(err, &e) {
		return err
	}
	out := &kumo.Error{Code: e.Code, Message: e.Message}
	for _, k := range []string{"publicationID", "objectBodySize"} {
		if v, ok := e.Fields[k]; ok {
			out = out.With(k, v)
		}
	}
	switch e.Code {
	case kumo.ErrPublicationNotFound, kumo.ErrPublicationExpired, kumo.ErrBodyRangeNotSatisfiable:
		// Their messages name only the publication and the body's size.
	case kumo.ErrBodyNotFound, kumo.ErrObjectNotFound:
		out.Message = "The published object or its body no longer exists"
	case kumo.ErrBodyIntegrityNotAssured:
		out.Message = "The published body has changed"
	default:
		out.Message = "The publication could not be served"
	}
	return out
}

// bodyGet reads the Range and If-Match headers of a download. A Range
// that is not one byte range is ignored: the whole body is served.
func bodyGet(r *http.Request) kumo.BodyGet {
	g := kumo.BodyGet{IfMatch: kumo.ParseETag(r.Header.Get("If-Match"))}
	if g.IfMatch == "*" {
		g.IfMatch = ""
	}
	if h := r.Header.Get("Range"); h != "" {
		if rng, ok := kumo.ParseByteRange(h); ok {
			g.Range = &rng
		}
	}
	return g
}

// rangeError adds to a 416 the Content-Range that names the body's size.
func rangeError(w http.ResponseWriter, err error) error {
	var e *kumo.Error
	if errors.As(err, &e) && e.Code == kumo.ErrBodyRangeNotSatisfiable {
		if size, ok := e.Fields["objectBodySize"].(int64); ok {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", size))
		}
	}
	return err
}

// bodyCSP is the Content-Security-Policy of served bodies: a stored HTML
// page or SVG opened in a browser runs no script, loads nothing and gets
// an opaque origin, so that nothing uploaded acts on the API's origin (and
// the console's session there). X-Content-Type-Options: nosniff, on every
// answer (serveHTTP), keeps browsers from reading a body as HTML when its
// type says otherwise.
const bodyCSP = "sandbox; default-src 'none'"

// writeBody streams an open body with its headers. Once the headers are
// out, a failure can only cut the connection short.
func (s *Server) writeBody(w http.ResponseWriter, r *http.Request, br *kumo.BodyReader) {
	defer br.Close()
	h := w.Header()
	h.Set("Content-Type", br.ContentType)
	h.Set("Content-Security-Policy", bodyCSP)
	h.Set("Content-Length", strconv.FormatInt(br.Length, 10))
	h.Set("ETag", quote(br.ETag))
	h.Set("Last-Modified", httpDate(br.Modified))
	h.Set("Accept-Ranges", "bytes")
	status := http.StatusOK
	if br.Partial {
		status = http.StatusPartialContent
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", br.Offset, br.Offset+br.Length-1, br.Size))
	}
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	if err := s.copyBody(w, br); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			s.Log.Info("object body download closed: the client read too slowly", "path", r.URL.Path)
		} else if r.Context().Err() == nil {
			s.Log.Warn("object body download cut short", "path", r.URL.Path, "error", err)
		}
		panic(http.ErrAbortHandler)
	}
}

// bodyPiece is how much of a body copyBody writes at a time.
const bodyPiece = 32 << 10

// copyBody writes a body to a client under the minimum rate rule of
// request bodies, the other way round: the client must take at least
// BodyMinBytes within each BodyReadWindow, else the write fails (and the
// connection is closed), so that a client reading a byte a minute does
// not hold a goroutine, a connection and the body's buffers for good. The
// body goes in pieces of bodyPiece bytes; the connection's write deadline
// is moved a window ahead each time BodyMinBytes more have been taken,
// and cleared once all of it has been handed to the connection.
func (s *Server) copyBody(w http.ResponseWriter, body io.Reader) error {
	rc := http.NewResponseController(w)
	window, minBytes := s.bodyRate()
	rc.SetWriteDeadline(time.Now().Add(window)) // not supported by test recorders: no deadline then
	buf := make([]byte, bodyPiece)
	var got int64 // bytes written since the deadline last moved
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return err
			}
			if got += int64(n); got >= minBytes {
				got = 0
				rc.SetWriteDeadline(time.Now().Add(window))
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return rerr
		}
	}
	// What the connection still buffers goes under the deadline too.
	if err := rc.Flush(); err != nil {
		return err
	}
	rc.SetWriteDeadline(time.Time{})
	return nil
}

// handleBodyDelete serves DELETE …/objects/{object}/body: 204.
func (s *Server) handleBodyDelete(w http.ResponseWriter, r *http.Request, c kumo.Caller, b kumo.BucketRef) error {
	if err := s.Bodies.DeleteBody(r.Context(), c, bodyRef(r, b)); err != nil {
		return err
	}
	return noContent(w)
}

// handleBodyMove serves POST …/objects/{object}/body/move
// (ObjectBodyMoveRequest: {"targetObjectScope": {"appID", "type",
// "userID"|"groupID"|"thingID"}, "targetBucketID", "targetObjectID"}) → 204.
func (s *Server) handleBodyMove(w http.ResponseWriter, r *http.Request, c kumo.Caller, b kumo.BucketRef) error {
	m, err := decodeObject(w, r)
	if err != nil {
		return err
	}
	to, err := moveTarget(c.AppID, m)
	if err != nil {
		return err
	}
	if err := s.Bodies.MoveBody(r.Context(), c, bodyRef(r, b), to); err != nil {
		return err
	}
	return noContent(w)
}

// moveTarget reads the target object of an ObjectBodyMoveRequest.
func moveTarget(appID string, m map[string]any) (kumo.BodyRef, error) {
	invalid := func(msg string) (kumo.BodyRef, error) {
		return kumo.BodyRef{}, kumo.Errorf(kumo.ErrInvalidInputData, "%s", msg)
	}
	scope, _ := m["targetObjectScope"].(map[string]any)
	bucket, _ := m["targetBucketID"].(string)
	object, _ := m["targetObjectID"].(string)
	if scope == nil || bucket == "" || object == "" {
		return invalid("targetObjectScope, targetBucketID and targetObjectID are required")
	}
	if id, _ := scope["appID"].(string); id != "" && id != appID {
		return invalid("targetObjectScope.appID must be this app's ID")
	}
	typ, _ := scope["type"].(string)
	idField := map[kumo.ScopeKind]string{kumo.ScopeApp: "", kumo.ScopeUser: "userID", kumo.ScopeGroup: "groupID", kumo.ScopeThing: "thingID"}
	field, ok := idField[kumo.ScopeKind(typ)]
	if !ok {
		return invalid("targetObjectScope.type must be APP, APP_AND_USER, APP_AND_GROUP or APP_AND_THING")
	}
	sc := kumo.Scope{Kind: kumo.ScopeKind(typ)}
	if field != "" {
		if sc.ID, _ = scope[field].(string); sc.ID == "" {
			return invalid("targetObjectScope." + field + " is required with type " + typ)
		}
	}
	name, err := kumo.ParseBucketName(bucket)
	if err != nil {
		return kumo.BodyRef{}, err
	}
	return kumo.BodyRef{Bucket: kumo.BucketRef{AppID: appID, Scope: sc, Name: name}, ObjectID: object}, nil
}

// handleBodyPublish serves POST …/objects/{object}/body/publish: {} or
// {"expiresAt": ms} or {"expiresIn": seconds} → 201 {"publicationID",
// "url"} with Location (and Expires when it expires).
func (s *Server) handleBodyPublish(w http.ResponseWriter, r *http.Request, c kumo.Caller, b kumo.BucketRef) error {
	m, err := decodeObject(w, r)
	if err != nil {
		return err
	}
	p := kumo.BodyPublish{Ref: bodyRef(r, b)}
	if p.ExpiresAt, err = longField(m, "expiresAt"); err != nil {
		return err
	}
	if p.ExpiresIn, err = longField(m, "expiresIn"); err != nil {
		return err
	}
	// Absent is no expiry; 0, which BodyPublish cannot tell from absent,
	// is an expiry not in the future, as any other (docs/compat.md).
	for k, v := range map[string]int64{"expiresAt": p.ExpiresAt, "expiresIn": p.ExpiresIn} {
		if m[k] != nil && v == 0 {
			return kumo.InvalidInput(map[string]string{k: "must be in the future"})
		}
	}
	pub, err := s.Bodies.PublishBody(r.Context(), c, p)
	if err != nil {
		return err
	}
	url := baseURL(r) + "/api/x/" + pub.ID
	h := w.Header()
	h.Set("Location", url)
	if pub.ExpiresAt != 0 {
		h.Set("Expires", httpDate(pub.ExpiresAt))
	}
	writeJSON(w, http.StatusCreated, "application/vnd.kii.ObjectBodyPublicationResponse+json",
		map[string]any{"publicationID": pub.ID, "url": url})
	return nil
}

// longField returns m[k] as an integer: a JSON number or a string of
// digits (0 when absent).
func longField(m map[string]any, k string) (int64, error) {
	var s string
	switch v := m[k].(type) {
	case nil:
		return 0, nil
	case json.Number:
		s = v.String()
	case string:
		s = v
	default:
		return 0, kumo.InvalidInput(map[string]string{k: "must be an integer"})
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, kumo.InvalidInput(map[string]string{k: "must be an integer"})
	}
	return n, nil
}

// handleUploadStart serves POST …/objects/{object}/body/uploads: 200
// {"uploadID"}. The request ({} or {"clientHash"}) is not used.
func (s *Server) handleUploadStart(w http.ResponseWriter, r *http.Request, c kumo.Caller, b kumo.BucketRef) error {
	if _, err := decodeObject(w, r); err != nil {
		return err
	}
	id, err := s.Bodies.StartBodyUpload(r.Context(), c, bodyRef(r, b))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, "application/vnd.kii.StartObjectBodyUploadResponse+json", map[string]any{"uploadID": id})
	return nil
}

// handleUploadData serves PUT …/body/uploads/{upload}/data: a chunk, its
// place in Content-Range ("bytes=a-b/total" or "bytes a-b/total"). 204.
func (s *Server) handleUploadData(w http.ResponseWriter, r *http.Request, c kumo.Caller, b kumo.BucketRef) error {
	rng, err := kumo.ParseContentRange(r.Header.Get("Content-Range"))
	if err != nil {
		return err
	}
	err = s.Bodies.PutBodyChunk(r.Context(), c, kumo.BodyChunk{
		Ref: bodyRef(r, b), UploadID: r.PathValue("upload"), ContentType: r.Header.Get("Content-Type"), Range: rng, Data: r.Body,
	})
	if err != nil {
		return err
	}
	return noContent(w)
}

// handleUploadCommit serves POST …/body/uploads/{upload}/status/committed:
// the chunks become the body. 204.
func (s *Server) handleUploadCommit(w http.ResponseWriter, r *http.Request, c kumo.Caller, b kumo.BucketRef) error {
	body, err := s.Bodies.CommitBodyUpload(r.Context(), c, bodyRef(r, b), r.PathValue("upload"))
	if err != nil {
		return err
	}
	w.Header().Set("ETag", quote(body.ETag))
	return noContent(w)
}

// handleUploadCancel serves POST …/body/uploads/{upload}/status/cancelled:
// the chunks are dropped. 204.
func (s *Server) handleUploadCancel(w http.ResponseWriter, r *http.Request, c kumo.Caller, b kumo.BucketRef) error {
	if err := s.Bodies.CancelBodyUpload(r.Context(), c, bodyRef(r, b), r.PathValue("upload")); err != nil {
		return err
	}
	return noContent(w)
}

// quote quotes an ETag value.
func quote(s string) string { return `"` + s + `"` }

// httpDate formats epoch milliseconds as an HTTP date.
func httpDate(ms int64) string { return time.UnixMilli(ms).UTC().Format(http.TimeFormat) }
