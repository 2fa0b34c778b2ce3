package storetest

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/sqlstore"
)

// testBodies checks kumo.BodyService: bodies, ranges, publications,
// resumable uploads, their events, and that no bytes outlive what holds
// them.
func testBodies(t *testing.T, s suite) {
	f := newFixture(t, s)
	a, aCaller := f.mustThing("vt-a")
	_, bCaller := f.mustThing("vt-b")
	appBucket := f.bucket(kumo.AppScope, "files")
	thingBucket := f.bucket(thingScope(a.ID), "files")
	obj := f.mustObject(aCaller, appBucket, map[string]any{"k": 1})
	ref := kumo.BodyRef{Bucket: obj.Bucket, ObjectID: obj.ID}
	data := pattern(3*sqlstore.BlobChunkSize + 100) // several PostgreSQL chunks
	f.claimAll()

	t.Run("Put and read", func(t *testing.T) {
		body := f.mustPutBody(aCaller, ref, "image/jpeg", data)
		if body.Size != int64(len(data)) || body.ContentType != "image/jpeg" || body.ETag == "" || body.Modified != f.clock.Millis() {
			t.Errorf("PutBody = %+v, want %d bytes of image/jpeg modified at %d", body, len(data), f.clock.Millis())
		}
		events := f.claimAll()
		if len(events) != 1 || events[0].Type != kumo.DataObjectBodyUpdated || events[0].ObjectID != obj.ID ||
			events[0].ModifiedAt != body.Modified || !aCaller.Is(events[0].Sender) {
			t.Errorf("events = %+v, want one DATA_OBJECT_BODY_UPDATED of %s at %d", events, obj.ID, body.Modified)
		}
		got, err := f.db.Bodies.GetBody(f.ctx, f.anon, ref) // app scope: anyone reads
		if err != nil || got != body {
			t.Errorf("GetBody = %+v, %v; want %+v", got, err, body)
		}
		if b := f.readBody(f.anon, ref, kumo.BodyGet{}); !bytes.Equal(b, data) {
			t.Errorf("OpenBody read %d bytes, want the %d put", len(b), len(data))
		}
		// The object's JSON is another thing: replacing it keeps the body.
		if _, _, err := f.db.Objects.ReplaceObject(f.ctx, aCaller, kumo.ObjectWrite{Bucket: appBucket, ID: obj.ID, Data: map[string]any{"k": 2}}); err != nil {
			t.Fatal(err)
		}
		if got, err := f.db.Bodies.GetBody(f.ctx, aCaller, ref); err != nil || got.ETag != body.ETag {
			t.Errorf("after ReplaceObject: GetBody = %+v, %v; want the body kept", got, err)
		}
		f.claimAll()
	})

	t.Run("Ranges", func(t *testing.T) {
		size := int64(len(data))
		chunk := int64(sqlstore.BlobChunkSize)
		tests := []struct {
			name      string
			r         kumo.ByteRange
			off, n    int64
			notSatisf bool
		}{
			{name: "first bytes", r: kumo.ByteRange{First: 0, Last: 9}, off: 0, n: 10},
			{name: "across chunks", r: kumo.ByteRange{First: chunk - 5, Last: 2*chunk + 4}, off: chunk - 5, n: chunk + 10},
			{name: "in a later chunk", r: kumo.ByteRange{First: 2*chunk + 7, Last: 2*chunk + 8}, off: 2*chunk + 7, n: 2},
			{name: "open end", r: kumo.ByteRange{First: size - 3, Last: -1}, off: size - 3, n: 3},
			{name: "last past the end", r: kumo.ByteRange{First: 5, Last: size + 100}, off: 5, n: size - 5},
			{name: "suffix", r: kumo.ByteRange{Suffix: 7}, off: size - 7, n: 7},
			{name: "suffix longer than the body", r: kumo.ByteRange{Suffix: size + 1}, off: 0, n: size},
			{name: "first at the end", r: kumo.ByteRange{First: size, Last: -1}, notSatisf: true},
			{name: "first past the end", r: kumo.ByteRange{First: size + 10, Last: size + 20}, notSatisf: true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				br, err := f.db.Bodies.OpenBody(f.ctx, aCaller, ref, kumo.BodyGet{Range: &tt.r})
				if tt.notSatisf {
					wantCode(t, "OpenBody", err, kumo.ErrBodyRangeNotSatisfiable)
					wantFields(t, "OpenBody", err, map[string]any{"objectBodySize": size})
					return
				}
				if err != nil {
					t.Fatalf("OpenBody: %v", err)
				}
				got, err := io.ReadAll(br)
				br.Close()
				if err != nil || !br.Partial || br.Offset != tt.off || br.Length != tt.n || !bytes.Equal(got, data[tt.off:tt.off+tt.n]) {
					t.Errorf("OpenBody %+v = offset %d length %d partial %v, %d bytes (%v); want offset %d length %d",
						tt.r, br.Offset, br.Length, br.Partial, len(got), err, tt.off, tt.n)
				}
			})
		}
	})

	t.Run("If-Match", func(t *testing.T) {
		cur, _ := f.db.Bodies.GetBody(f.ctx, aCaller, ref)
		if _, err := f.db.Bodies.OpenBody(f.ctx, aCaller, ref, kumo.BodyGet{IfMatch: "stale"}); !wantCode(t, "OpenBody stale", err, kumo.ErrBodyIntegrityNotAssured) {
			return
		}
		br, err := f.db.Bodies.OpenBody(f.ctx, aCaller, ref, kumo.BodyGet{IfMatch: cur.ETag})
		if err != nil {
			t.Fatalf("OpenBody with the current ETag: %v", err)
		}
		br.Close()
	})

	t.Run("Errors", func(t *testing.T) {
		bare := f.mustObject(aCaller, thingBucket, nil)
		bareRef := kumo.BodyRef{Bucket: thingBucket, ObjectID: bare.ID}
		missing := kumo.BodyRef{Bucket: appBucket, ObjectID: "no-such-object"}
		put := func(c kumo.Caller, r kumo.BodyRef) error {
			_, err := f.db.Bodies.PutBody(f.ctx, c, kumo.BodyPut{Ref: r, Size: -1, Data: strings.NewReader("x")})
			return err
		}
		get := func(c kumo.Caller, r kumo.BodyRef) error { _, err := f.db.Bodies.GetBody(f.ctx, c, r); return err }
		tests := []struct {
			name string
			err  error
			code kumo.Code
		}{
			{"put, no object", put(aCaller, missing), kumo.ErrObjectNotFound},
			{"get, no object", get(aCaller, missing), kumo.ErrObjectNotFound},
			{"get, no body", get(aCaller, bareRef), kumo.ErrBodyNotFound},
			{"delete, no body", f.db.Bodies.DeleteBody(f.ctx, aCaller, bareRef), kumo.ErrBodyNotFound},
			{"put, app scope, anonymous", put(f.anon, ref), kumo.ErrUnauthorized},
			{"put, thing scope, another thing", put(bCaller, bareRef), kumo.ErrUnauthorized},
			{"get, thing scope, another thing", get(bCaller, bareRef), kumo.ErrUnauthorized},
			{"get, thing scope, anonymous", get(f.anon, bareRef), kumo.ErrUnauthorized},
			{"delete, app scope, anonymous", f.db.Bodies.DeleteBody(f.ctx, f.anon, ref), kumo.ErrUnauthorized},
			{"put, thing scope, admin", put(f.admin, bareRef), ""},
			{"get, thing scope, the thing", get(aCaller, bareRef), ""},
		}
		for _, tt := range tests {
			wantCode(t, tt.name, tt.err, tt.code)
		}
		f.claimAll()
	})

	t.Run("Size limit", func(t *testing.T) {
		before := f.blobCount()
		cur, _ := f.db.Bodies.GetBody(f.ctx, aCaller, ref)
		f.db.MaxBodySize = 1000
		defer func() { f.db.MaxBodySize = 0 }()
		_, err := f.db.Bodies.PutBody(f.ctx, aCaller, kumo.BodyPut{Ref: ref, Size: -1, Data: bytes.NewReader(make([]byte, 1001))})
		wantCode(t, "PutBody of 1001 bytes, limit 1000", err, kumo.ErrBodyTooLarge)
		_, err = f.db.Bodies.PutBody(f.ctx, aCaller, kumo.BodyPut{Ref: ref, Size: 5000, Data: strings.NewReader("")})
		wantCode(t, "PutBody announcing 5000 bytes", err, kumo.ErrBodyTooLarge)
		if got, _ := f.db.Bodies.GetBody(f.ctx, aCaller, ref); got != cur {
			t.Errorf("after refused puts: body %+v, want %+v kept", got, cur)
		}
		if n := f.blobCount(); n != before {
			t.Errorf("%d blobs after refused puts, want %d: nothing half-written", n, before)
		}
		if _, err := f.db.Bodies.PutBody(f.ctx, aCaller, kumo.BodyPut{Ref: ref, Size: -1, Data: bytes.NewReader(make([]byte, 1000))}); err != nil {
			t.Errorf("PutBody of 1000 bytes, limit 1000: %v", err)
		}
		f.db.MaxBodySize = 0
		f.mustPutBody(aCaller, ref, "image/jpeg", data)
		f.claimAll()
	})

	t.Run("Replace and delete", func(t *testing.T) {
		o := f.mustObject(aCaller, appBucket, nil)
		r := kumo.BodyRef{Bucket: appBucket, ObjectID: o.ID}
		before := f.blobCount()
		first := f.mustPutBody(aCaller, r, "", []byte("one"))
		if first.ContentType != kumo.DefaultBodyType {
			t.Errorf("ContentType = %q, want %s by default", first.ContentType, kumo.DefaultBodyType)
		}
		f.clock.Advance(time.Second)
		second := f.mustPutBody(aCaller, r, "text/plain", []byte("two"))
		if second.ETag == first.ETag || second.Modified != first.Modified+1000 {
			t.Errorf("second put = %+v, want a new ETag and the new time", second)
		}
		if n := f.blobCount(); n != before+1 {
			t.Errorf("%d blobs after replacing a body, want %d: the old bytes deleted", n, before+1)
		}
		if b := f.readBody(aCaller, r, kumo.BodyGet{}); string(b) != "two" {
			t.Errorf("body = %q, want two", b)
		}
		f.claimAll()
		if err := f.db.Bodies.DeleteBody(f.ctx, aCaller, r); err != nil {
			t.Fatal(err)
		}
		events := f.claimAll()
		if len(events) != 1 || events[0].Type != kumo.DataObjectBodyDeleted || events[0].ObjectID != o.ID {
			t.Errorf("events = %+v, want DATA_OBJECT_BODY_DELETED", events)
		}
		wantCode(t, "GetBody after DeleteBody", errOf(f.db.Bodies.GetBody(f.ctx, aCaller, r)), kumo.ErrBodyNotFound)
		if n := f.blobCount(); n != before {
			t.Errorf("%d blobs after DeleteBody, want %d", n, before)
		}
	})

	t.Run("Publish", func(t *testing.T) {
		o := f.mustObject(aCaller, appBucket, nil)
		r := kumo.BodyRef{Bucket: appBucket, ObjectID: o.ID}
		_, err := f.db.Bodies.PublishBody(f.ctx, aCaller, kumo.BodyPublish{Ref: r})
		wantCode(t, "PublishBody without a body", err, kumo.ErrBodyNotFound)
		f.mustPutBody(aCaller, r, "text/plain", []byte("hello"))
		now := f.clock.Millis()
		for _, p := range []kumo.BodyPublish{{ExpiresAt: now - 1}, {ExpiresAt: now + 1000, ExpiresIn: 5}, {ExpiresIn: -1}} {
			p.Ref = r
			_, err := f.db.Bodies.PublishBody(f.ctx, aCaller, p)
			wantCode(t, fmt.Sprintf("PublishBody expiresAt %d expiresIn %d", p.ExpiresAt, p.ExpiresIn), err, kumo.ErrInvalidInputData)
		}
		forever, err := f.db.Bodies.PublishBody(f.ctx, f.anon, kumo.BodyPublish{Ref: r}) // READ is enough
		if err != nil || forever.ExpiresAt != 0 || len(forever.ID) != 25 {
			t.Fatalf("PublishBody = %+v, %v; want a 25-character ID, no expiry", forever, err)
		}
		in := must(f.db.Bodies.PublishBody(f.ctx, aCaller, kumo.BodyPublish{Ref: r, ExpiresIn: 60}))(t)
		at := must(f.db.Bodies.PublishBody(f.ctx, aCaller, kumo.BodyPublish{Ref: r, ExpiresAt: now + 120_000}))(t)
		if in.ExpiresAt != now+60_000 || at.ExpiresAt != now+120_000 {
			t.Errorf("expiries %d and %d, want %d and %d", in.ExpiresAt, at.ExpiresAt, now+60_000, now+120_000)
		}
		open := func(id string) (string, error) {
			br, err := f.db.Bodies.OpenPublication(f.ctx, id, kumo.BodyGet{})
			if err != nil {
				return "", err
			}
			defer br.Close()
			b, err := io.ReadAll(br)
			return string(b), err
		}
		for _, id := range []string{forever.ID, in.ID, at.ID} {
			if got, err := open(id); got != "hello" || err != nil {
				t.Errorf("OpenPublication(%s) = %q, %v; want hello", id, got, err)
			}
		}
		f.clock.Advance(61 * time.Second)
		wantCode(t, "OpenPublication after expiresIn", errOf(open(in.ID)), kumo.ErrPublicationExpired)
		if got, err := open(at.ID); got != "hello" || err != nil {
			t.Errorf("OpenPublication before expiresAt = %q, %v", got, err)
		}
		wantCode(t, "OpenPublication, unknown ID", errOf(open("nosuchpublication")), kumo.ErrPublicationNotFound)
		// A body replaced is served as it is now.
		f.mustPutBody(aCaller, r, "text/plain", []byte("world"))
		if got, err := open(forever.ID); got != "world" || err != nil {
			t.Errorf("OpenPublication after a new body = %q, %v; want world", got, err)
		}
		// A deleted body takes its publications with it.
		if err := f.db.Bodies.DeleteBody(f.ctx, aCaller, r); err != nil {
			t.Fatal(err)
		}
		wantCode(t, "OpenPublication after DeleteBody", errOf(open(forever.ID)), kumo.ErrPublicationNotFound)
		f.claimAll()
	})

	t.Run("Uploads", func(t *testing.T) {
		o := f.mustObject(aCaller, appBucket, nil)
		r := kumo.BodyRef{Bucket: appBucket, ObjectID: o.ID}
		before := f.blobCount()
		chunk := func(id string, first, last, total int64, b []byte) error {
			return f.db.Bodies.PutBodyChunk(f.ctx, aCaller, kumo.BodyChunk{Ref: r, UploadID: id, ContentType: "video/mp4",
				Range: kumo.ContentRange{First: first, Last: last, Total: total}, Data: bytes.NewReader(b)})
		}
		_, err := f.db.Bodies.StartBodyUpload(f.ctx, f.anon, r)
		wantCode(t, "StartBodyUpload, anonymous", err, kumo.ErrUnauthorized)
		_, err = f.db.Bodies.StartBodyUpload(f.ctx, aCaller, kumo.BodyRef{Bucket: appBucket, ObjectID: "nope"})
		wantCode(t, "StartBodyUpload, no object", err, kumo.ErrObjectNotFound)
		id := must(f.db.Bodies.StartBodyUpload(f.ctx, aCaller, r))(t)
		total := int64(len(data))
		half := total / 2
		wantCode(t, "commit before any chunk", errOf(f.db.Bodies.CommitBodyUpload(f.ctx, aCaller, r, id)), kumo.ErrInvalidInputData)
		wantCode(t, "chunk, unknown upload", chunk("nosuchupload", 0, 9, total, data[:10]), kumo.ErrBodyUploadNotFound)
		wantCode(t, "chunk not at the start", chunk(id, 5, 9, total, data[5:10]), kumo.ErrInvalidInputData)
		wantCode(t, "chunk shorter than its range", chunk(id, 0, 9, total, data[:5]), kumo.ErrInvalidInputData)
		wantCode(t, "chunk longer than its range", chunk(id, 0, 9, total, data[:11]), kumo.ErrInvalidInputData)
		wantCode(t, "first chunk", chunk(id, 0, half-1, total, data[:half]), "")
		wantCode(t, "chunk of another total", chunk(id, half, total-1, total+1, data[half:]), kumo.ErrInvalidInputData)
		wantCode(t, "commit with chunks missing", errOf(f.db.Bodies.CommitBodyUpload(f.ctx, aCaller, r, id)), kumo.ErrInvalidInputData)
		wantCode(t, "first chunk again (a retry)", chunk(id, 0, half-1, total, data[:half]), "")
		wantCode(t, "second chunk", chunk(id, half, total-1, total, data[half:]), "")
		wantCode(t, "commit, unknown upload", errOf(f.db.Bodies.CommitBodyUpload(f.ctx, aCaller, r, "nosuchupload")), kumo.ErrBodyUploadNotFound)
		f.claimAll()
		body, err := f.db.Bodies.CommitBodyUpload(f.ctx, aCaller, r, id)
		if err != nil || body.Size != total || body.ContentType != "video/mp4" {
			t.Fatalf("CommitBodyUpload = %+v, %v; want %d bytes of video/mp4", body, err, total)
		}
		if events := f.claimAll(); len(events) != 1 || events[0].Type != kumo.DataObjectBodyUpdated {
			t.Errorf("events = %+v, want DATA_OBJECT_BODY_UPDATED", events)
		}
		if b := f.readBody(aCaller, r, kumo.BodyGet{}); !bytes.Equal(b, data) {
			t.Errorf("committed body: %d bytes, not the %d uploaded", len(b), len(data))
		}
		wantCode(t, "commit again", errOf(f.db.Bodies.CommitBodyUpload(f.ctx, aCaller, r, id)), kumo.ErrBodyUploadNotFound)
		if n := f.blobCount(); n != before+1 {
			t.Errorf("%d blobs after the commit, want %d: the chunks' bytes deleted", n, before+1)
		}

		// One chunk, committed as it is.
		one := must(f.db.Bodies.StartBodyUpload(f.ctx, aCaller, r))(t)
		wantCode(t, "single chunk", chunk(one, 0, 2, 3, []byte("abc")), "")
		if _, err := f.db.Bodies.CommitBodyUpload(f.ctx, aCaller, r, one); err != nil {
			t.Fatal(err)
		}
		if b := f.readBody(aCaller, r, kumo.BodyGet{}); string(b) != "abc" {
			t.Errorf("body = %q, want abc", b)
		}

		// Cancelled: nothing changes, nothing stays.
		c := must(f.db.Bodies.StartBodyUpload(f.ctx, aCaller, r))(t)
		wantCode(t, "chunk to cancel", chunk(c, 0, 2, 6, []byte("xyz")), "")
		if err := f.db.Bodies.CancelBodyUpload(f.ctx, aCaller, r, c); err != nil {
			t.Fatal(err)
		}
		wantCode(t, "chunk after cancel", chunk(c, 3, 5, 6, []byte("xyz")), kumo.ErrBodyUploadNotFound)
		wantCode(t, "cancel again", f.db.Bodies.CancelBodyUpload(f.ctx, aCaller, r, c), kumo.ErrBodyUploadNotFound)
		if n := f.blobCount(); n != before+1 {
			t.Errorf("%d blobs after a cancelled upload, want %d", n, before+1)
		}
		f.claimAll()
	})

	t.Run("Deleted with what holds them", func(t *testing.T) {
		g, gCaller := f.mustThing("vt-gone")
		u, uCaller := f.mustUser("gone")
		before := f.blobCount()
		withBody := func(c kumo.Caller, b kumo.BucketRef) kumo.BodyRef {
			o := f.mustObject(c, b, nil)
			r := kumo.BodyRef{Bucket: b, ObjectID: o.ID}
			f.mustPutBody(c, r, "", []byte("bytes of "+o.ID))
			up := must(f.db.Bodies.StartBodyUpload(f.ctx, c, r))(t)
			if err := f.db.Bodies.PutBodyChunk(f.ctx, c, kumo.BodyChunk{Ref: r, UploadID: up,
				Range: kumo.ContentRange{First: 0, Last: 1, Total: 4}, Data: strings.NewReader("ab")}); err != nil {
				t.Fatal(err)
			}
			must(f.db.Bodies.PublishBody(f.ctx, c, kumo.BodyPublish{Ref: r}))(t)
			return r
		}
		objRef := withBody(aCaller, appBucket)
		bucket := f.bucket(kumo.AppScope, "doomed")
		withBody(aCaller, bucket)
		withBody(gCaller, f.bucket(thingScope(g.ID), "data"))
		withBody(uCaller, f.bucket(userScope(u.ID), "data"))
		if n := f.blobCount(); n != before+8 {
			t.Fatalf("%d blobs, want %d", n, before+8)
		}
		if err := f.db.Objects.DeleteObject(f.ctx, aCaller, appBucket, objRef.ObjectID, ""); err != nil {
			t.Fatal(err)
		}
		if err := f.db.Buckets.DeleteBucket(f.ctx, aCaller, bucket); err != nil {
			t.Fatal(err)
		}
		if err := f.db.Things.DeleteThing(f.ctx, f.admin, g.ID); err != nil {
			t.Fatal(err)
		}
		if err := f.db.Users.DeleteUser(f.ctx, f.admin, u.ID); err != nil {
			t.Fatal(err)
		}
		if n := f.blobCount(); n != before {
			t.Errorf("%d blobs after deleting the object, the bucket, the thing and the user; want %d", n, before)
		}
		// An object created again under the ID starts without a body.
		if _, _, err := f.db.Objects.ReplaceObject(f.ctx, aCaller, kumo.ObjectWrite{Bucket: appBucket, ID: objRef.ObjectID}); err != nil {
			t.Fatal(err)
		}
		wantCode(t, "GetBody of a re-created object", errOf(f.db.Bodies.GetBody(f.ctx, aCaller, objRef)), kumo.ErrBodyNotFound)
		f.claimAll()
	})

	t.Run("Blobs left by a crash", func(t *testing.T) {
		before := f.blobCount()
		// A write that stopped between its bytes and its row.
		if _, err := f.db.Blobs.Create(f.ctx, "orphan0123456789", strings.NewReader("lost"), 100); err != nil {
			t.Fatal(err)
		}
		files, isFiles := f.db.Blobs.(sqlstore.FileBlobs)
		if !isFiles {
			return // a shared database keeps young blobs an hour: another node may be writing their row
		}
		// A write that stopped before its bytes were whole.
		tmp := filepath.Join(files.Dir, "tmp", "orphan-partial")
		if err := os.WriteFile(tmp, []byte("part"), 0o600); err != nil {
			t.Fatal(err)
		}
		f.reopen()
		deadline := time.Now().Add(10 * time.Second)
		for f.blobCount() != before && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := f.blobCount(); n != before {
			t.Errorf("%d blobs after a restart, want %d: the orphan deleted", n, before)
		}
		for _, err := os.Stat(tmp); err == nil && time.Now().Before(deadline); _, err = os.Stat(tmp) {
			time.Sleep(10 * time.Millisecond)
		}
		if _, err := os.Stat(tmp); err == nil {
			t.Errorf("the temporary file %s outlived a restart", tmp)
		}
		if b := f.readBody(aCaller, ref, kumo.BodyGet{}); !bytes.Equal(b, data) {
			t.Errorf("after a restart: body of %d bytes, want the %d put", len(b), len(data))
		}
	})
}

// pattern returns n bytes that differ from chunk to chunk.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31 + i/1000)
	}
	return b
}

// errOf returns the error of a (value, error) pair.
func errOf[T any](_ T, err error) error { return err }

// must returns v, or fails the test with err: must(f())(t).
func must[T any](v T, err error) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func (f *fixture) mustPutBody(c kumo.Caller, r kumo.BodyRef, contentType string, b []byte) kumo.Body {
	f.t.Helper()
	body, err := f.db.Bodies.PutBody(f.ctx, c, kumo.BodyPut{Ref: r, ContentType: contentType, Size: int64(len(b)), Data: bytes.NewReader(b)})
	if err != nil {
		f.t.Fatalf("PutBody(%+v): %v", r, err)
	}
	return body
}

// readBody reads a whole body (or range).
func (f *fixture) readBody(c kumo.Caller, r kumo.BodyRef, g kumo.BodyGet) []byte {
	f.t.Helper()
	br, err := f.db.Bodies.OpenBody(f.ctx, c, r, g)
	if err != nil {
		f.t.Fatalf("OpenBody(%+v): %v", r, err)
	}
	defer br.Close()
	b, err := io.ReadAll(br)
	if err != nil {
		f.t.Fatalf("read body: %v", err)
	}
	return b
}

// blobCount returns the number of blobs the store holds.
func (f *fixture) blobCount() int {
	f.t.Helper()
	n := 0
	err := f.db.Blobs.List(f.ctx, time.Now().Add(time.Hour), func(string) error { n++; return nil })
	if err != nil {
		f.t.Fatalf("list blobs: %v", err)
	}
	return n
}
