package kumo

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
)

// MaxObjectSize is the largest JSON object Kii accepts, in bytes.
const MaxObjectSize = 65534

// Object is a JSON document in a bucket.
type Object struct {
	ID       string
	Bucket   BucketRef
	Data     map[string]any // the client's fields; never the system fields
	DataType string         // short data type ("mydata"); "" when untyped
	Owner    string         // user or thing ID of the creator; "" for admin or anonymous
	Version  int64          // starts at 1
	Created  int64          // epoch ms
	Modified int64          // epoch ms
}

// MediaType returns the Content-Type of o: application/vnd.{appID}.{type}+json
// for typed objects, application/json otherwise.
func (o Object) MediaType() string { return ObjectMediaType(o.Bucket.AppID, o.DataType) }

// ObjectMediaType returns the media type of an object of dataType in appID.
func ObjectMediaType(appID, dataType string) string {
	if dataType == "" {
		return "application/json"
	}
	return "application/vnd." + appID + "." + dataType + "+json"
}

// ObjectDataType extracts the short data type from a request media type
// ("application/vnd.{appID}.mydata+json" → "mydata"). Plain JSON, a missing
// type and Kii's own vnd.kii types are untyped ("").
func ObjectDataType(mediaType string) string {
	mediaType, _, _ = strings.Cut(mediaType, ";") // parameters such as charset
	mediaType = strings.TrimSpace(mediaType)
	mt := strings.ToLower(mediaType)
	if !strings.HasPrefix(mt, "application/vnd.") || !strings.HasSuffix(mt, "+json") || strings.HasPrefix(mt, "application/vnd.kii.") {
		return ""
	}
	// Keep the client's case in the type name.
	rest := mediaType[len("application/vnd.") : len(mediaType)-len("+json")]
	if i := strings.IndexByte(rest, '.'); i >= 0 && i < len(rest)-1 {
		return rest[i+1:]
	}
	return ""
}

// systemFields are the object fields the server manages; a client that
// sends them has them ignored.
var systemFields = map[string]bool{
	"_id": true, "_created": true, "_modified": true, "_owner": true, "_version": true, "_dataType": true,
}

// ParseObjectData checks that raw is a JSON object within Kii's size limit
// and returns its fields, without the system fields. Numbers keep their
// exact text (json.Number).
func ParseObjectData(raw []byte) (map[string]any, error) {
	m, _, err := ParseObjectJSON(raw)
	return m, err
}

// ParseObjectJSON is ParseObjectData that also returns the JSON text to
// store: raw itself when no system field had to be dropped (so that it
// need not be encoded again), else nil.
func ParseObjectJSON(raw []byte) (map[string]any, []byte, error) {
	if len(raw) > MaxObjectSize {
		return nil, nil, Errorf(ErrInvalidInputData, "The object is larger than %d bytes", MaxObjectSize)
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil || m == nil || d.More() {
		return nil, nil, Errorf(ErrInvalidJSON, "The request body must be a JSON object")
	}
	text := raw
	for k := range m {
		if systemFields[k] {
			delete(m, k)
			text = nil
		}
	}
	return m, text, nil
}

// ObjectCreate asks for a new object in a bucket.
type ObjectCreate struct {
	Bucket   BucketRef // Scope.ID may be a selector
	Data     map[string]any
	DataType string
	// JSON, when set, is Data as JSON text (see ParseObjectJSON), stored
	// as it is.
	JSON []byte
}

// ObjectService stores objects.
type ObjectService interface {
	// CreateObject stores a new object with a generated ID and commits a
	// DATA_OBJECT_CREATED event with it. The bucket is created on first
	// write. UNAUTHORIZED when the caller may not create objects there.
	CreateObject(ctx context.Context, c Caller, o ObjectCreate) (Object, error)
	// GetObject returns an object. OBJECT_NOT_FOUND when absent.
	GetObject(ctx context.Context, c Caller, b BucketRef, id string) (Object, error)
	// ReplaceObject creates the object w.ID (created is true, version 1,
	// DATA_OBJECT_CREATED) or replaces its data (a new version,
	// DATA_OBJECT_UPDATED). OBJECT_VERSION_IS_STALE when w.IfMatch is not
	// the current version; OBJECT_ALREADY_EXISTS with w.IfNoneMatch.
	ReplaceObject(ctx context.Context, c Caller, w ObjectWrite) (o Object, created bool, err error)
	// PatchObject merges w.Data into an existing object's top-level
	// fields and returns the whole object (DATA_OBJECT_UPDATED).
	// OBJECT_NOT_FOUND when absent; OBJECT_VERSION_IS_STALE as above.
	PatchObject(ctx context.Context, c Caller, w ObjectWrite) (Object, error)
	// DeleteObject deletes an object (DATA_OBJECT_DELETED).
	// OBJECT_NOT_FOUND when absent; OBJECT_VERSION_IS_STALE as above.
	DeleteObject(ctx context.Context, c Caller, b BucketRef, id, ifMatch string) error
	// QueryObjects returns a page of the objects of b that q selects
	// (Query.Selects), in q's order (Query.Compare), or their count.
	// BUCKET_NOT_FOUND when b does not exist; UNAUTHORIZED without
	// QUERY_OBJECTS_IN_BUCKET; INVALID_INPUT_DATA for a pagination key
	// the store did not issue.
	QueryObjects(ctx context.Context, c Caller, b BucketRef, q Query) (QueryResult, error)
}

// ObjectWrite is a write to an object of a known ID: a full replacement
// (PUT) or a partial update (PATCH).
type ObjectWrite struct {
	Bucket      BucketRef
	ID          string
	Data        map[string]any
	DataType    string // with TypeGiven: the new data type ("" untyped)
	TypeGiven   bool   // the request had a Content-Type; else the type is kept
	IfMatch     string // the version the object must have (ParseETag), or ""
	IfNoneMatch bool   // PUT only: create, never replace
}

// ValidObjectID reports whether a client-chosen object ID is acceptable:
// 2 to 100 characters of [a-zA-Z0-9-_.].
func ValidObjectID(id string) bool { return validChars(id, 2, 100, idChars+".") }

// ParseETag turns an If-Match value into a version: quotes and a weak
// prefix are dropped ("3", 3 and W/"3" are all 3).
func ParseETag(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "W/")
	return strings.Trim(s, `"`)
}

// StaleVersion returns Kii's OBJECT_VERSION_IS_STALE for id in b.
func StaleVersion(b BucketRef, id string) *Error {
	return Errorf(ErrObjectVersionIsStale, "The object %s was modified since version you sent", id).
		With("objectScope", b.Scope.ObjectScope(b.AppID)).With("bucketID", b.Name).With("objectID", id)
}

// ObjectNotFound returns Kii's OBJECT_NOT_FOUND error for id in b.
func ObjectNotFound(b BucketRef, id string) *Error {
	return Errorf(ErrObjectNotFound, "The object with ID %s was not found in bucket %s", id, b.Name).
		With("objectScope", b.Scope.ObjectScope(b.AppID)).With("bucketID", b.Name).With("objectID", id)
}
