package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/kumo-iot/kumo"
)

// BodyService implements kumo.BodyService: object bodies, their uploads in
// chunks and their publications.
type BodyService struct {
	db    *DB
	acls  *ACLService
	hooks *HookService // server code: hooks
}

var _ kumo.BodyService = (*BodyService)(nil)

// Object bodies (kumo.BodyService). The bytes are blobs (Blobs), written
// before the writer transaction that points the object_bodies row at them
// and deleted after the one that stops pointing at them (through
// blob_trash, written in that same transaction). So the writer's
// transactions carry no body bytes, and a crash leaves no row pointing at
// missing bytes: at worst a blob no row names, which sweepBlobs deletes at
// the next start.

// bodyKey is the WHERE condition of one object's rows in the body tables.
const bodyKey = "app_id = ? AND scope = ? AND bucket = ? AND object_id = ?"

func bodyArgs(ref kumo.BodyRef) []any {
	b := ref.Bucket
	return []any{b.AppID, b.Scope.Key(), b.Name, ref.ObjectID}
}

// lockKey orders the objects a write locks: their keys' parts quoted, so
// that no two objects share one (bucket "ab" and object "x" against bucket
// "a" and object "bx" did, joined bare, and two moves between them could
// lock in opposite orders).
func lockKey(ref kumo.BodyRef) string { return fmt.Sprintf("%q", bodyArgs(ref)) }

// newBlobID returns a new blob ID, which is also the body's ETag.
func newBlobID() string { return kumo.RandomHex(16) }

// maxBodySize is the configured limit on a body's size.
func (s *BodyService) maxBodySize() int64 {
	if s.db.MaxBodySize > 0 {
		return s.db.MaxBodySize
	}
	return kumo.DefaultMaxBodySize
}

// bodyAccess resolves the scope of ref and checks that c may read
// (ReadExistingObject) or write (WriteExistingObject) its object, which
// must exist: a body goes with its object's ACL.
func (s *BodyService) bodyAccess(ctx context.Context, c kumo.Caller, ref kumo.BodyRef, v kumo.ACLVerb) (kumo.BodyRef, error) {
	b, st, err := s.acls.resolveBucket(ctx, c, ref.Bucket)
	if err != nil {
		return ref, err
	}
	ref.Bucket = b
	if v == kumo.WriteExistingObject {
		_, err := s.acls.mayWriteObject(ctx, c, st, b, ref.ObjectID)
		return ref, err
	}
	return ref, s.acls.mayReadObject(ctx, c, st, b, ref.ObjectID)
}

// objectExists reports whether the object of ref exists (q is the read
// pool's queryRow or a transaction's QueryRow).
func objectExists(ctx context.Context, q func(context.Context, string, ...any) *sql.Row, ref kumo.BodyRef) error {
	var n int
	b := ref.Bucket
	if err := q(ctx, "SELECT COUNT(*) FROM objects WHERE app_id = ? AND scope = ? AND bucket = ? AND id = ?",
		b.AppID, b.Scope.Key(), b.Name, ref.ObjectID).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return kumo.ObjectNotFound(b, ref.ObjectID)
	}
	return nil
}

// lockObject checks, within a write, that the object of ref exists, and
// on PostgreSQL locks its row until the write ends. Every write of a body
// takes it first, so that the body writes of one object, from any node,
// run one after another, each seeing what the one before committed (which
// blob the object has, which to trash). SQLite's single writer needs no
// lock.
func lockObject(ctx context.Context, tx *Tx, ref kumo.BodyRef) error {
	b := ref.Bucket
	ok, err := rowExists(ctx, tx, tx.db.locks.LockUpdate("SELECT 1 FROM objects WHERE app_id = ? AND scope = ? AND bucket = ? AND id = ?"),
		b.AppID, b.Scope.Key(), b.Name, ref.ObjectID)
	if err == nil && !ok {
		err = kumo.ObjectNotFound(b, ref.ObjectID)
	}
	return err
}

// readBody reads the body row of ref: OBJECT_NOT_FOUND or
// OBJECT_BODY_NOT_FOUND when there is none.
func readBody(ctx context.Context, q func(context.Context, string, ...any) *sql.Row, ref kumo.BodyRef) (kumo.Body, error) {
	body := kumo.Body{Ref: ref}
	err := q(ctx, "SELECT blob_id, content_type, size, modified FROM object_bodies WHERE "+bodyKey, bodyArgs(ref)...).
		Scan(&body.ETag, &body.ContentType, &body.Size, &body.Modified)
	if errors.Is(err, sql.ErrNoRows) {
		if err := objectExists(ctx, q, ref); err != nil {
			return body, err
		}
		return body, kumo.BodyNotFound(ref)
	}
	return body, err
}

// PutBody implements kumo.BodyService.
func (s *BodyService) PutBody(ctx context.Context, c kumo.Caller, p kumo.BodyPut) (kumo.Body, error) {
	ref, err := s.bodyAccess(ctx, c, p.Ref, kumo.WriteExistingObject)
	if err != nil {
		return kumo.Body{}, err
	}
	if err := objectExists(ctx, s.db.queryRow, ref); err != nil {
		return kumo.Body{}, err
	}
	limit := s.maxBodySize()
	if p.Size > limit {
		return kumo.Body{}, kumo.BodyTooLarge(limit)
	}
	id := newBlobID()
	size, err := s.db.Blobs.Create(ctx, id, p.Data, limit)
	if err != nil {
		return kumo.Body{}, err
	}
	body := kumo.Body{Ref: ref, ContentType: bodyType(p.ContentType), Size: size, ETag: id, Modified: s.db.now()}
	err = s.db.writeTx(ctx, func(tx *Tx) error {
		if err := lockObject(ctx, tx, ref); err != nil {
			return err
		}
		return s.setBody(ctx, tx, c, body)
	})
	return s.afterBodyWrite(ctx, body, err, id)
}

// afterBodyWrite finishes a write that created the blob id: on failure
// the blob is deleted, on success the blobs it replaced are.
func (s *BodyService) afterBodyWrite(ctx context.Context, body kumo.Body, err error, id string) (kumo.Body, error) {
	if err != nil {
		if derr := s.db.Blobs.Delete(context.WithoutCancel(ctx), []string{id}); derr != nil {
			s.db.Log.Warn("delete an unused blob", "blob", id, "error", derr)
		}
		return kumo.Body{}, err
	}
	s.db.emptyTrash(ctx, s.db.Log)
	return body, nil
}

// bodyType is the content type a body is stored with.
func bodyType(ct string) string {
	if strings.TrimSpace(ct) == "" {
		return kumo.DefaultBodyType
	}
	return ct
}

// setBody points the object at a new body, puts its previous blob in the
// trash and commits DATA_OBJECT_BODY_UPDATED (event and hooks).
func (s *BodyService) setBody(ctx context.Context, tx *Tx, c kumo.Caller, body kumo.Body) error {
	if err := trashBlobs(ctx, tx, body.Modified, "SELECT blob_id, CAST(? AS BIGINT) FROM object_bodies WHERE "+bodyKey, bodyArgs(body.Ref)...); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, "DELETE FROM object_bodies WHERE "+bodyKey, bodyArgs(body.Ref)...); err != nil {
		return err
	}
	b := body.Ref.Bucket
	if _, err := tx.Exec(ctx, `INSERT INTO object_bodies (app_id, scope, bucket, object_id, blob_id, content_type, size, modified)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, b.AppID, b.Scope.Key(), b.Name, body.Ref.ObjectID, body.ETag, body.ContentType, body.Size, body.Modified); err != nil {
		return err
	}
	if err := insertEvent(ctx, tx, kumo.Event{Type: kumo.DataObjectBodyUpdated, Bucket: b, ObjectID: body.Ref.ObjectID,
		Sender: c.Principal(), When: body.Modified, ModifiedAt: body.Modified}); err != nil {
		return err
	}
	return s.hooks.object(ctx, tx, "DATA_OBJECT_BODY_UPDATED", b, body.Ref.ObjectID, c.Principal())
}

// trashBlobs inserts into blob_trash the blob IDs that selectIDs (a
// SELECT of a blob ID and the time, bound to now) returns.
func trashBlobs(ctx context.Context, tx *Tx, now int64, selectIDs string, args ...any) error {
	res, err := tx.Exec(ctx, "INSERT INTO blob_trash (blob_id, created) "+selectIDs, append([]any{now}, args...)...)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n > 0 {
		tx.db.trashPending.Store(true)
	}
	return nil
}

// emptyTrash deletes the blobs in the trash, then their trash rows. It
// runs after a write that trashed blobs has committed (and at start).
func (db *DB) emptyTrash(ctx context.Context, log *slog.Logger) {
	if !db.trashPending.CompareAndSwap(true, false) {
		return
	}
	ctx = context.WithoutCancel(ctx)
	db.trashMu.Lock()
	defer db.trashMu.Unlock()
	for {
		rows, err := db.query(ctx, "SELECT blob_id FROM blob_trash ORDER BY blob_id LIMIT 100")
		if err != nil {
			log.Warn("read the blob trash", "error", err)
			return
		}
		var ids []any
		var names []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err == nil {
				ids, names = append(ids, id), append(names, id)
			}
		}
		rows.Close()
		if len(ids) == 0 {
			return
		}
		if err := db.Blobs.Delete(ctx, names); err != nil {
			log.Warn("delete blobs", "error", err)
			db.trashPending.Store(true)
			return
		}
		err = db.writeTx(ctx, func(tx *Tx) error {
			_, err := tx.Exec(ctx, "DELETE FROM blob_trash WHERE blob_id IN ("+placeholders(len(ids))+")", ids...)
			return err
		})
		if err != nil {
			log.Warn("empty the blob trash", "error", err)
			return
		}
	}
}

// sweepBlobs deletes, at start, the blobs that no row names: those of a
// write that crashed between writing its blob and committing its row,
// and those trashed but not yet deleted. Only blobs older than the start
// (SQLite: one process) or than the dialect's OrphanAge before it (a
// shared database, where other nodes may be between the two steps) are
// considered.
func (db *DB) sweepBlobs(ctx context.Context, log *slog.Logger, started time.Time) {
	db.trashPending.Store(true)
	db.emptyTrash(ctx, log)
	before := started.Add(-db.orphanAge())
	if c, ok := db.Blobs.(interface{ CleanTemp(time.Time) error }); ok {
		if err := c.CleanTemp(before); err != nil {
			log.Warn("remove the temporary files of unfinished blobs", "error", err)
		}
	}
	var orphans []string
	err := db.Blobs.List(ctx, before, func(id string) error {
		var n int
		err := db.queryRow(ctx, `SELECT (SELECT COUNT(*) FROM object_bodies WHERE blob_id = ?)
			+ (SELECT COUNT(*) FROM body_upload_chunks WHERE blob_id = ?)`, id, id).Scan(&n)
		if err == nil && n == 0 {
			orphans = append(orphans, id)
		}
		return err
	})
	if err == nil && len(orphans) > 0 {
		log.Info("deleting blobs no body names", "blobs", len(orphans))
		err = db.Blobs.Delete(ctx, orphans)
	}
	if err != nil && ctx.Err() == nil {
		log.Warn("sweep blobs", "error", err)
	}
}

// GetBody implements kumo.BodyService.
func (s *BodyService) GetBody(ctx context.Context, c kumo.Caller, ref kumo.BodyRef) (kumo.Body, error) {
	ref, err := s.bodyAccess(ctx, c, ref, kumo.ReadExistingObject)
	if err != nil {
		return kumo.Body{}, err
	}
	return readBody(ctx, s.db.queryRow, ref)
}

// OpenBody implements kumo.BodyService.
func (s *BodyService) OpenBody(ctx context.Context, c kumo.Caller, ref kumo.BodyRef, g kumo.BodyGet) (*kumo.BodyReader, error) {
	ref, err := s.bodyAccess(ctx, c, ref, kumo.ReadExistingObject)
	if err != nil {
		return nil, err
	}
	return s.openBody(ctx, ref, g)
}

// openBody opens the body of ref (canonical). A body replaced between
// reading its row and opening its blob is read again.
func (s *BodyService) openBody(ctx context.Context, ref kumo.BodyRef, g kumo.BodyGet) (*kumo.BodyReader, error) {
	for attempt := 0; ; attempt++ {
		body, err := readBody(ctx, s.db.queryRow, ref)
		if err != nil {
			return nil, err
		}
		if g.IfMatch != "" && g.IfMatch != body.ETag {
			return nil, kumo.BodyChanged(ref)
		}
		br := &kumo.BodyReader{Body: body, Length: body.Size}
		if g.Range != nil {
			off, n, ok := g.Range.Resolve(body.Size)
			if !ok {
				return nil, kumo.RangeNotSatisfiable(ref, body.Size)
			}
			br.Offset, br.Length, br.Partial = off, n, true
		}
		r, err := s.db.Blobs.Open(ctx, body.ETag, br.Offset, br.Length)
		if err != nil {
			if attempt < 2 {
				continue
			}
			return nil, err
		}
		br.ReadCloser = r
		return br, nil
	}
}

// DeleteBody implements kumo.BodyService.
func (s *BodyService) DeleteBody(ctx context.Context, c kumo.Caller, ref kumo.BodyRef) error {
	ref, err := s.bodyAccess(ctx, c, ref, kumo.WriteExistingObject)
	if err != nil {
		return err
	}
	now := s.db.now()
	err = s.db.writeTx(ctx, func(tx *Tx) error {
		if err := lockObject(ctx, tx, ref); err != nil {
			return err
		}
		if _, err := readBody(ctx, tx.QueryRow, ref); err != nil {
			return err
		}
		if err := trashBlobs(ctx, tx, now, "SELECT blob_id, CAST(? AS BIGINT) FROM object_bodies WHERE "+bodyKey, bodyArgs(ref)...); err != nil {
			return err
		}
		for _, table := range []string{"object_bodies", "body_publications"} {
			if _, err := tx.Exec(ctx, "DELETE FROM "+table+" WHERE "+bodyKey, bodyArgs(ref)...); err != nil {
				return err
			}
		}
		if err := insertEvent(ctx, tx, kumo.Event{Type: kumo.DataObjectBodyDeleted, Bucket: ref.Bucket, ObjectID: ref.ObjectID,
			Sender: c.Principal(), When: now}); err != nil {
			return err
		}
		return s.hooks.object(ctx, tx, "DATA_OBJECT_BODY_DELETED", ref.Bucket, ref.ObjectID, c.Principal())
	})
	if err == nil {
		s.db.emptyTrash(ctx, s.db.Log)
	}
	return err
}

// MoveBody implements kumo.BodyService. The blob stays where it is: the
// target's row takes it over, in one write.
func (s *BodyService) MoveBody(ctx context.Context, c kumo.Caller, from, to kumo.BodyRef) error {
	var err error
	for _, v := range []kumo.ACLVerb{kumo.ReadExistingObject, kumo.WriteExistingObject} {
		if from, err = s.bodyAccess(ctx, c, from, v); err != nil {
			return err
		}
		if to, err = s.bodyAccess(ctx, c, to, v); err != nil {
			return err
		}
	}
	now := s.db.now()
	err = s.db.writeTx(ctx, func(tx *Tx) error {
		// Both objects locked, in one order whichever way a body moves.
		first, second := from, to
		if lockKey(to) < lockKey(from) {
			first, second = to, from
		}
		for _, ref := range []kumo.BodyRef{first, second} {
			if err := lockObject(ctx, tx, ref); err != nil {
				return err
			}
		}
		body, err := readBody(ctx, tx.QueryRow, from)
		if err != nil {
			return err
		}
		if slices.Equal(bodyArgs(from), bodyArgs(to)) {
			return nil // onto itself: nothing moves
		}
		for _, table := range []string{"object_bodies", "body_publications"} {
			if _, err := tx.Exec(ctx, "DELETE FROM "+table+" WHERE "+bodyKey, bodyArgs(from)...); err != nil {
				return err
			}
		}
		if err := insertEvent(ctx, tx, kumo.Event{Type: kumo.DataObjectBodyDeleted, Bucket: from.Bucket, ObjectID: from.ObjectID,
			Sender: c.Principal(), When: now}); err != nil {
			return err
		}
		if err := s.hooks.object(ctx, tx, "DATA_OBJECT_BODY_DELETED", from.Bucket, from.ObjectID, c.Principal()); err != nil {
			return err
		}
		body.Ref, body.Modified = to, now
		return s.setBody(ctx, tx, c, body) // trashes the target's previous blob
	})
	if err == nil {
		s.db.emptyTrash(ctx, s.db.Log)
	}
	return err
}

// PublishBody implements kumo.BodyService.
func (s *BodyService) PublishBody(ctx context.Context, c kumo.Caller, p kumo.BodyPublish) (kumo.Publication, error) {
	ref, err := s.bodyAccess(ctx, c, p.Ref, kumo.ReadExistingObject)
	if err != nil {
		return kumo.Publication{}, err
	}
	now := s.db.now()
	expires, err := p.Validate(now)
	if err != nil {
		return kumo.Publication{}, err
	}
	pub := kumo.Publication{ID: kumo.NewPublicationID(), ExpiresAt: expires}
	err = s.db.writeTx(ctx, func(tx *Tx) error {
		if err := lockObject(ctx, tx, ref); err != nil {
			return err
		}
		if _, err := readBody(ctx, tx.QueryRow, ref); err != nil {
			return err
		}
		b := ref.Bucket
		_, err := tx.Exec(ctx, `INSERT INTO body_publications (id, app_id, scope, bucket, object_id, expires, created)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, pub.ID, b.AppID, b.Scope.Key(), b.Name, ref.ObjectID, pub.ExpiresAt, now)
		if err != nil {
			return err
		}
		return s.hooks.object(ctx, tx, "DATA_OBJECT_BODY_PUBLISHED", b, ref.ObjectID, c.Principal())
	})
	return pub, err
}

// OpenPublication implements kumo.BodyService.
func (s *BodyService) OpenPublication(ctx context.Context, id string, g kumo.BodyGet) (*kumo.BodyReader, error) {
	var (
		ref     kumo.BodyRef
		scope   string
		expires int64
	)
	// Joined to its object: a publication never outlives what it publishes.
	err := s.db.queryRow(ctx, `SELECT p.app_id, p.scope, p.bucket, p.object_id, p.expires FROM body_publications p
		JOIN objects o ON o.app_id = p.app_id AND o.scope = p.scope AND o.bucket = p.bucket AND o.id = p.object_id
		WHERE p.id = ?`, id).
		Scan(&ref.Bucket.AppID, &scope, &ref.Bucket.Name, &ref.ObjectID, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, kumo.Errorf(kumo.ErrPublicationNotFound, "The publication %s was not found", id).With("publicationID", id)
	}
	if err != nil {
		return nil, err
	}
	if expires != 0 && expires <= s.db.now() {
		return nil, kumo.Errorf(kumo.ErrPublicationExpired, "The publication %s has expired", id).With("publicationID", id)
	}
	ref.Bucket.Scope = scopeFromKey(scope)
	return s.openBody(ctx, ref, g)
}

// upload is a resumable upload and its chunks, in order.
type upload struct {
	id          string
	contentType string
	total       int64 // -1 before the first chunk
	chunks      []uploadChunk
}

type uploadChunk struct {
	first, size int64
	blob        string
}

// next returns where the next chunk starts: the end of the last one.
func (u upload) next() int64 {
	if len(u.chunks) == 0 {
		return 0
	}
	last := u.chunks[len(u.chunks)-1]
	return last.first + last.size
}

// loadUpload reads an upload of the object of ref.
func loadUpload(ctx context.Context, q func(context.Context, string, ...any) *sql.Row, query func(context.Context, string, ...any) (*sql.Rows, error), ref kumo.BodyRef, id string) (upload, error) {
	u := upload{id: id}
	err := q(ctx, "SELECT content_type, total FROM body_uploads WHERE id = ? AND "+bodyKey,
		append([]any{id}, bodyArgs(ref)...)...).Scan(&u.contentType, &u.total)
	if errors.Is(err, sql.ErrNoRows) {
		if err := objectExists(ctx, q, ref); err != nil {
			return u, err
		}
		return u, kumo.UploadNotFound(ref, id)
	}
	if err != nil {
		return u, err
	}
	rows, err := query(ctx, "SELECT first_byte, size, blob_id FROM body_upload_chunks WHERE upload_id = ? ORDER BY first_byte", id)
	if err != nil {
		return u, err
	}
	defer rows.Close()
	for rows.Next() {
		var ch uploadChunk
		if err := rows.Scan(&ch.first, &ch.size, &ch.blob); err != nil {
			return u, err
		}
		u.chunks = append(u.chunks, ch)
	}
	return u, rows.Err()
}

func (s *BodyService) loadUpload(ctx context.Context, ref kumo.BodyRef, id string) (upload, error) {
	return loadUpload(ctx, s.db.queryRow, s.db.query, ref, id)
}

func (tx *Tx) loadUpload(ctx context.Context, ref kumo.BodyRef, id string) (upload, error) {
	return loadUpload(ctx, tx.QueryRow, tx.Query, ref, id)
}

// checkChunk checks that r may follow the chunks of u: it starts where
// they end, or at the start of one of them (a retry), and has u's total.
func (u upload) checkChunk(r kumo.ContentRange) error {
	if u.total >= 0 && r.Total != u.total {
		return kumo.InvalidInput(map[string]string{"Content-Range": "the total size differs from the upload's earlier chunks"})
	}
	if r.First == u.next() {
		return nil
	}
	for _, ch := range u.chunks {
		if ch.first == r.First {
			return nil
		}
	}
	return kumo.InvalidInput(map[string]string{"Content-Range": "a chunk must start where the previous one ended"})
}

// StartBodyUpload implements kumo.BodyService.
func (s *BodyService) StartBodyUpload(ctx context.Context, c kumo.Caller, ref kumo.BodyRef) (string, error) {
	ref, err := s.bodyAccess(ctx, c, ref, kumo.WriteExistingObject)
	if err != nil {
		return "", err
	}
	id, now := kumo.NewUploadID(), s.db.now()
	err = s.db.writeTx(ctx, func(tx *Tx) error {
		if err := objectExists(ctx, tx.QueryRow, ref); err != nil {
			return err
		}
		b := ref.Bucket
		_, err := tx.Exec(ctx, `INSERT INTO body_uploads (id, app_id, scope, bucket, object_id, content_type, total, created)
			VALUES (?, ?, ?, ?, ?, '', -1, ?)`, id, b.AppID, b.Scope.Key(), b.Name, ref.ObjectID, now)
		return err
	})
	return id, err
}

// PutBodyChunk implements kumo.BodyService.
func (s *BodyService) PutBodyChunk(ctx context.Context, c kumo.Caller, ch kumo.BodyChunk) error {
	ref, err := s.bodyAccess(ctx, c, ch.Ref, kumo.WriteExistingObject)
	if err != nil {
		return err
	}
	if limit := s.maxBodySize(); ch.Range.Total > limit {
		return kumo.BodyTooLarge(limit)
	}
	u, err := s.loadUpload(ctx, ref, ch.UploadID)
	if err != nil {
		return err
	}
	if err := u.checkChunk(ch.Range); err != nil {
		return err
	}
	want := ch.Range.Last - ch.Range.First + 1
	id := newBlobID()
	n, err := s.db.Blobs.Create(ctx, id, ch.Data, want)
	if kumo.ErrorCode(err) == kumo.ErrBodyTooLarge {
		return kumo.InvalidInput(map[string]string{"Content-Range": "the chunk's data is longer than its range"})
	}
	if err != nil {
		return err // nothing was stored
	}
	if n != want {
		_, err := s.afterBodyWrite(ctx, kumo.Body{}, kumo.InvalidInput(map[string]string{"Content-Range": "the chunk's data is shorter than its range"}), id)
		return err
	}
	now := s.db.now()
	err = s.db.writeTx(ctx, func(tx *Tx) error {
		u, err := tx.loadUpload(ctx, ref, ch.UploadID)
		if err != nil {
			return err
		}
		if err := u.checkChunk(ch.Range); err != nil {
			return err
		}
		// A retried chunk replaces the chunks from its start on.
		if err := trashBlobs(ctx, tx, now, "SELECT blob_id, CAST(? AS BIGINT) FROM body_upload_chunks WHERE upload_id = ? AND first_byte >= ?",
			u.id, ch.Range.First); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "DELETE FROM body_upload_chunks WHERE upload_id = ? AND first_byte >= ?", u.id, ch.Range.First); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "INSERT INTO body_upload_chunks (upload_id, first_byte, size, blob_id) VALUES (?, ?, ?, ?)",
			u.id, ch.Range.First, want, id); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, "UPDATE body_uploads SET content_type = ?, total = ? WHERE id = ?", bodyType(ch.ContentType), ch.Range.Total, u.id)
		return err
	})
	_, err = s.afterBodyWrite(ctx, kumo.Body{}, err, id)
	return err
}

// CommitBodyUpload implements kumo.BodyService.
func (s *BodyService) CommitBodyUpload(ctx context.Context, c kumo.Caller, ref kumo.BodyRef, uploadID string) (kumo.Body, error) {
	ref, err := s.bodyAccess(ctx, c, ref, kumo.WriteExistingObject)
	if err != nil {
		return kumo.Body{}, err
	}
	u, err := s.loadUpload(ctx, ref, uploadID)
	if err != nil {
		return kumo.Body{}, err
	}
	if u.total < 0 || u.next() != u.total {
		return kumo.Body{}, kumo.InvalidInput(map[string]string{"uploadID": "the upload is missing chunks"})
	}
	// One chunk is the body as it is; several are joined into a new blob.
	id, created := u.chunks[0].blob, false
	if len(u.chunks) > 1 {
		id, created = newBlobID(), true
		if _, err := s.db.Blobs.Create(ctx, id, &chunksReader{ctx: ctx, blobs: s.db.Blobs, chunks: u.chunks}, u.total); err != nil {
			return kumo.Body{}, err
		}
	}
	body := kumo.Body{Ref: ref, ContentType: u.contentType, Size: u.total, ETag: id, Modified: s.db.now()}
	err = s.db.writeTx(ctx, func(tx *Tx) error {
		if err := lockObject(ctx, tx, ref); err != nil {
			return err
		}
		cur, err := tx.loadUpload(ctx, ref, uploadID)
		if err != nil {
			return err
		}
		if len(cur.chunks) != len(u.chunks) || cur.next() != u.next() || cur.chunks[0].blob != u.chunks[0].blob {
			return kumo.Errorf(kumo.ErrUnavailable, "The upload changed while it was committed; commit again")
		}
		if created {
			if err := trashBlobs(ctx, tx, body.Modified, "SELECT blob_id, CAST(? AS BIGINT) FROM body_upload_chunks WHERE upload_id = ?", uploadID); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, "DELETE FROM body_upload_chunks WHERE upload_id = ?", uploadID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "DELETE FROM body_uploads WHERE id = ?", uploadID); err != nil {
			return err
		}
		return s.setBody(ctx, tx, c, body)
	})
	if err != nil && !created {
		return kumo.Body{}, err // the chunk's blob stays the upload's
	}
	return s.afterBodyWrite(ctx, body, err, id)
}

// chunksReader reads an upload's chunks one after the other, opening each
// when it is reached.
type chunksReader struct {
	ctx    context.Context
	blobs  Blobs
	chunks []uploadChunk
	cur    io.ReadCloser
}

func (r *chunksReader) Read(p []byte) (int, error) {
	for {
		if r.cur == nil {
			if len(r.chunks) == 0 {
				return 0, io.EOF
			}
			ch := r.chunks[0]
			r.chunks = r.chunks[1:]
			rc, err := r.blobs.Open(r.ctx, ch.blob, 0, ch.size)
			if err != nil {
				return 0, err
			}
			r.cur = rc
		}
		n, err := r.cur.Read(p)
		if err == io.EOF {
			r.cur.Close()
			r.cur = nil
			if n == 0 {
				continue
			}
			err = nil
		}
		return n, err
	}
}

// CancelBodyUpload implements kumo.BodyService.
func (s *BodyService) CancelBodyUpload(ctx context.Context, c kumo.Caller, ref kumo.BodyRef, uploadID string) error {
	ref, err := s.bodyAccess(ctx, c, ref, kumo.WriteExistingObject)
	if err != nil {
		return err
	}
	now := s.db.now()
	err = s.db.writeTx(ctx, func(tx *Tx) error {
		if _, err := tx.loadUpload(ctx, ref, uploadID); err != nil {
			return err
		}
		if err := trashBlobs(ctx, tx, now, "SELECT blob_id, CAST(? AS BIGINT) FROM body_upload_chunks WHERE upload_id = ?", uploadID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "DELETE FROM body_upload_chunks WHERE upload_id = ?", uploadID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "DELETE FROM body_uploads WHERE id = ?", uploadID)
		return err
	})
	if err == nil {
		s.db.emptyTrash(ctx, s.db.Log)
	}
	return err
}
