package kumo

import (
	"context"
	"io"
	"strconv"
	"strings"
)

// DefaultMaxBodySize is the largest object body Kumo accepts unless
// configured otherwise: 1 GiB.
const DefaultMaxBodySize int64 = 1 << 30

// MaxEpochMillis is the latest instant a client may set (epoch ms): the
// last millisecond of the year 9999, the last an HTTP date can name. Later
// ones, and durations that end later, are refused or clamped rather than
// left to overflow.
const MaxEpochMillis int64 = 253402300799999

// DefaultBodyType is the content type of a body uploaded without one.
const DefaultBodyType = "application/octet-stream"

// BodyRef names the body of an object: the object's bucket and ID.
type BodyRef struct {
	Bucket   BucketRef // Scope.ID may be a selector in requests
	ObjectID string
}

// Body is what is known of an object body without reading it.
type Body struct {
	Ref         BodyRef // canonical scope ID
	ContentType string
	Size        int64
	ETag        string // the body's version (unquoted); changes with every put
	Modified    int64  // epoch ms
}

// ByteRange is a part of a body a client asks for (HTTP Range
// "bytes=First-Last", "bytes=First-" with Last < 0, or the last Suffix
// bytes with "bytes=-Suffix").
type ByteRange struct {
	First, Last int64
	Suffix      int64 // > 0: the last Suffix bytes; First and Last unused
}

// Resolve returns the offset and length of r in a body of size bytes. ok
// is false when the range is not satisfiable: it starts at or past the
// end, or asks for the last 0 bytes.
func (r ByteRange) Resolve(size int64) (off, n int64, ok bool) {
	if r.Suffix > 0 {
		n = min(r.Suffix, size)
		return size - n, n, n > 0
	}
	if r.First < 0 || r.First >= size || r.Last >= 0 && r.Last < r.First {
		return 0, 0, false
	}
	last := size - 1
	if r.Last >= 0 && r.Last < last {
		last = r.Last
	}
	return r.First, last - r.First + 1, true
}

// BodyGet is how a body is read.
type BodyGet struct {
	// IfMatch, when set, is the body ETag the client expects (ParseETag
	// form): OBJECT_BODY_INTEGRITY_NOT_ASSURED when the body changed.
	IfMatch string
	// Range, when set, is the part to read.
	Range *ByteRange
}

// BodyReader is an open body: its metadata and a reader of the part
// asked for (the whole body when no range was).
type BodyReader struct {
	Body
	Offset, Length int64 // the part Read returns
	Partial        bool  // a range was asked for and served
	io.ReadCloser
}

// BodyPut is an upload of a whole body.
type BodyPut struct {
	Ref         BodyRef
	ContentType string    // DefaultBodyType when empty
	Size        int64     // the announced length, or -1 when unknown
	Data        io.Reader // read to its end, streamed to storage
}

// BodyPublish asks for a public URL of a body: without expiry, or until
// ExpiresAt (epoch ms), or for ExpiresIn seconds. At most one is set.
type BodyPublish struct {
	Ref       BodyRef
	ExpiresAt int64
	ExpiresIn int64
}

// Publication is a published body: anyone may read it by ID until it
// expires.
type Publication struct {
	ID        string
	ExpiresAt int64 // epoch ms; 0: never
}

// ContentRange is the part of a body a resumable upload chunk carries:
// bytes First to Last (inclusive) of Total.
type ContentRange struct {
	First, Last, Total int64
}

// BodyChunk is one chunk of a resumable upload.
type BodyChunk struct {
	Ref         BodyRef
	UploadID    string
	ContentType string // the body's type, DefaultBodyType when empty
	Range       ContentRange
	Data        io.Reader // Range.Last-Range.First+1 bytes
}

// BodyService stores object bodies: binary attachments of objects, of
// any content type and up to a configured size (DefaultMaxBodySize),
// streamed in and out (never held whole in memory). Reading a body needs
// READ_OBJECTS_IN_BUCKET, writing it WRITE_EXISTING_OBJECT, as the
// object's JSON. Every method answers OBJECT_NOT_FOUND when the object
// does not exist, and UNAUTHORIZED when the caller may not.
type BodyService interface {
	// PutBody stores a body, replacing the object's previous one, and
	// commits a DATA_OBJECT_BODY_UPDATED event with it.
	// REQUEST_ENTITY_TOO_LARGE when the data passes the size limit;
	// nothing is stored then.
	PutBody(ctx context.Context, c Caller, p BodyPut) (Body, error)
	// GetBody returns a body's metadata. OBJECT_BODY_NOT_FOUND when the
	// object has none.
	GetBody(ctx context.Context, c Caller, ref BodyRef) (Body, error)
	// OpenBody opens a body for reading (the caller closes the reader).
	// OBJECT_BODY_NOT_FOUND as above; OBJECT_BODY_RANGE_NOT_SATISFIABLE
	// for a range outside the body; OBJECT_BODY_INTEGRITY_NOT_ASSURED
	// when g.IfMatch is not the body's ETag.
	OpenBody(ctx context.Context, c Caller, ref BodyRef, g BodyGet) (*BodyReader, error)
	// DeleteBody deletes a body and its publications, and commits a
	// DATA_OBJECT_BODY_DELETED event. OBJECT_BODY_NOT_FOUND when absent.
	DeleteBody(ctx context.Context, c Caller, ref BodyRef) error
	// MoveBody moves the body of one object to another, of any scope
	// (spec rest-core §5.7): the target's body, if any, is replaced, the
	// source is left without one and its publications end. c needs to
	// read and write both objects. OBJECT_NOT_FOUND for a missing
	// object, OBJECT_BODY_NOT_FOUND when the source has no body. Commits
	// DATA_OBJECT_BODY_DELETED for the source and DATA_OBJECT_BODY_UPDATED
	// for the target.
	MoveBody(ctx context.Context, c Caller, from, to BodyRef) error
	// PublishBody makes a body readable by anyone through its
	// publication ID. It needs READ_OBJECTS_IN_BUCKET. INVALID_INPUT_DATA
	// when both expiries are set, or one is not in the future;
	// OBJECT_BODY_NOT_FOUND when there is no body.
	PublishBody(ctx context.Context, c Caller, p BodyPublish) (Publication, error)
	// OpenPublication opens the body published under id, for anyone.
	// PUBLICATION_NOT_FOUND for an unknown ID; PUBLICATION_EXPIRED after
	// its expiry; OBJECT_BODY_NOT_FOUND when the body is gone (a body
	// replaced since it was published is served as it is now).
	OpenPublication(ctx context.Context, id string, g BodyGet) (*BodyReader, error)

	// StartBodyUpload starts a resumable upload and returns its ID.
	StartBodyUpload(ctx context.Context, c Caller, ref BodyRef) (string, error)
	// PutBodyChunk stores a chunk of an upload. Chunks come in order: a
	// chunk starts where the previous one ended, or again at the start
	// of an earlier chunk (a retry, which drops what followed it).
	// OBJECT_BODY_UPLOAD_NOT_FOUND for an unknown upload;
	// INVALID_INPUT_DATA for a chunk out of order, of another total
	// size, or whose data is not its range's length;
	// REQUEST_ENTITY_TOO_LARGE when the total passes the size limit.
	PutBodyChunk(ctx context.Context, c Caller, ch BodyChunk) error
	// CommitBodyUpload makes the uploaded chunks the object's body (as
	// PutBody does) and ends the upload. INVALID_INPUT_DATA when chunks
	// are missing.
	CommitBodyUpload(ctx context.Context, c Caller, ref BodyRef, uploadID string) (Body, error)
	// CancelBodyUpload ends an upload and drops its chunks.
	CancelBodyUpload(ctx context.Context, c Caller, ref BodyRef, uploadID string) error
}

// Validate checks that at most one expiry is set and that it lies after
// now (epoch ms), and returns the expiry as epoch ms (0: never).
func (p BodyPublish) Validate(now int64) (int64, error) {
	switch {
	case p.ExpiresAt != 0 && p.ExpiresIn != 0:
		return 0, InvalidInput(map[string]string{"expiresAt": "set expiresAt or expiresIn, not both"})
	case p.ExpiresAt != 0:
		if p.ExpiresAt <= now {
			return 0, InvalidInput(map[string]string{"expiresAt": "must be in the future"})
		}
		if p.ExpiresAt > MaxEpochMillis {
			return 0, InvalidInput(map[string]string{"expiresAt": "must be before the year 10000"})
		}
		return p.ExpiresAt, nil
	case p.ExpiresIn != 0:
		if p.ExpiresIn < 0 {
			return 0, InvalidInput(map[string]string{"expiresIn": "must be positive"})
		}
		if p.ExpiresIn > (MaxEpochMillis-now)/1000 { // now + ExpiresIn*1000 would overflow, or pass the year 9999
			return 0, InvalidInput(map[string]string{"expiresIn": "must end before the year 10000"})
		}
		return now + p.ExpiresIn*1000, nil
	}
	return 0, nil
}

// ParseByteRange parses a Range header value: "bytes=a-b", "bytes=a-" or
// "bytes=-n". ok is false for anything else (several ranges, other
// units), which a server may ignore and answer with the whole body.
func ParseByteRange(s string) (r ByteRange, ok bool) {
	spec, found := strings.CutPrefix(strings.TrimSpace(s), "bytes=")
	if !found || strings.Contains(spec, ",") {
		return r, false
	}
	a, b, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return r, false
	}
	if a == "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n < 0 {
			return r, false
		}
		return ByteRange{Suffix: n, First: -1, Last: -1}, true
	}
	first, err := strconv.ParseInt(a, 10, 64)
	if err != nil || first < 0 {
		return r, false
	}
	r = ByteRange{First: first, Last: -1}
	if b != "" {
		if r.Last, err = strconv.ParseInt(b, 10, 64); err != nil || r.Last < 0 {
			return ByteRange{}, false
		}
	}
	return r, true
}

// ParseContentRange parses the Content-Range of a resumable upload chunk:
// "bytes=a-b/total" as Kii documents it, or the standard "bytes a-b/total".
func ParseContentRange(s string) (ContentRange, error) {
	bad := InvalidInput(map[string]string{"Content-Range": "must be bytes=first-last/total"})
	s = strings.TrimSpace(s)
	rest, ok := strings.CutPrefix(s, "bytes=")
	if !ok {
		if rest, ok = strings.CutPrefix(s, "bytes "); !ok {
			return ContentRange{}, bad
		}
	}
	span, total, ok := strings.Cut(strings.TrimSpace(rest), "/")
	a, b, ok2 := strings.Cut(span, "-")
	if !ok || !ok2 {
		return ContentRange{}, bad
	}
	var r ContentRange
	var err1, err2, err3 error
	r.First, err1 = strconv.ParseInt(a, 10, 64)
	r.Last, err2 = strconv.ParseInt(b, 10, 64)
	r.Total, err3 = strconv.ParseInt(total, 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || r.First < 0 || r.Last < r.First || r.Last >= r.Total {
		return ContentRange{}, bad
	}
	return r, nil
}

// bodyError returns an error of code about the body of ref, with Kii's
// context fields.
func bodyError(code Code, ref BodyRef, format string, args ...any) *Error {
	b := ref.Bucket
	return Errorf(code, format, args...).
		With("objectScope", b.Scope.ObjectScope(b.AppID)).With("bucketID", b.Name).With("objectID", ref.ObjectID)
}

// BodyNotFound returns Kii's OBJECT_BODY_NOT_FOUND for the body of ref.
func BodyNotFound(ref BodyRef) *Error {
	return bodyError(ErrBodyNotFound, ref, "The object %s has no body", ref.ObjectID)
}

// RangeNotSatisfiable returns Kii's OBJECT_BODY_RANGE_NOT_SATISFIABLE for
// a range outside the body of ref, of size bytes.
func RangeNotSatisfiable(ref BodyRef, size int64) *Error {
	return bodyError(ErrBodyRangeNotSatisfiable, ref, "The requested range is outside the body of %d bytes", size).
		With("objectBodySize", size)
}

// BodyChanged returns Kii's OBJECT_BODY_INTEGRITY_NOT_ASSURED: the body of
// ref is no longer the version the client read from.
func BodyChanged(ref BodyRef) *Error {
	return bodyError(ErrBodyIntegrityNotAssured, ref, "The body of object %s has changed", ref.ObjectID)
}

// UploadNotFound returns Kii's OBJECT_BODY_UPLOAD_NOT_FOUND.
func UploadNotFound(ref BodyRef, uploadID string) *Error {
	return bodyError(ErrBodyUploadNotFound, ref, "The upload %s was not found", uploadID).With("uploadID", uploadID)
}

// BodyTooLarge returns Kii's REQUEST_ENTITY_TOO_LARGE for a body over
// limit bytes.
func BodyTooLarge(limit int64) *Error {
	return Errorf(ErrBodyTooLarge, "The object body is larger than %d bytes", limit).With("maxSize", limit)
}

// NewPublicationID returns a new publication ID: 25 random characters, as
// Kii's.
func NewPublicationID() string { return RandomString(25, lowerAlnum) }

// NewUploadID returns a new resumable upload ID.
func NewUploadID() string { return RandomString(25, lowerAlnum) }
