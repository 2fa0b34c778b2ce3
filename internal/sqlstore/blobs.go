package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kumo-iot/kumo"
)

// Blobs stores the bytes of object bodies, outside the group-commit
// writer: a blob is written (durably) before the row that points at it
// commits, and deleted after the row that pointed at it is gone. A blob
// is written once and never changed; its ID is chosen by the caller.
// The dialect packages choose the implementation: files beside an SQLite
// database (FileBlobs), chunks in PostgreSQL (SQLBlobs).
type Blobs interface {
	// Create stores r's bytes, to its end, as the blob id and returns
	// their number. When r has more than limit bytes it stores nothing
	// and returns REQUEST_ENTITY_TOO_LARGE.
	Create(ctx context.Context, id string, r io.Reader, limit int64) (int64, error)
	// Open returns a reader of n bytes of the blob id from offset off.
	Open(ctx context.Context, id string, off, n int64) (io.ReadCloser, error)
	// Size returns the size of the blob id; ok is false when there is none.
	Size(ctx context.Context, id string) (size int64, ok bool, err error)
	// Delete deletes blobs; a missing one is no error.
	Delete(ctx context.Context, ids []string) error
	// List calls fn with the ID of every blob created before before.
	List(ctx context.Context, before time.Time, fn func(id string) error) error
}

// copyLimited copies r to w, at most limit bytes, and reports a body over
// the limit.
func copyLimited(w io.Writer, r io.Reader, limit int64) (int64, error) {
	n, err := io.Copy(w, io.LimitReader(r, limit+1))
	if err != nil {
		return n, err
	}
	if n > limit {
		return n, kumo.BodyTooLarge(limit)
	}
	return n, nil
}

// FileBlobs keeps each blob in a file of its own under Dir
// ({Dir}/{id[:2]}/{id}). A blob is written to {Dir}/tmp, flushed to disk,
// then renamed into place, so that a crash leaves a whole blob or a
// temporary file, which CleanTemp removes.
type FileBlobs struct {
	Dir string
}

func (f FileBlobs) path(id string) string {
	if len(id) < 2 || strings.ContainsAny(id, `/\.`) {
		id = "invalid-" + strings.NewReplacer("/", "_", `\`, "_", ".", "_").Replace(id)
	}
	return filepath.Join(f.Dir, id[:2], id)
}

// Prepare creates the directories.
func (f FileBlobs) Prepare() error { return os.MkdirAll(filepath.Join(f.Dir, "tmp"), 0o700) }

// CleanTemp removes the temporary files of writes that started before
// before and never finished (a crash).
func (f FileBlobs) CleanTemp(before time.Time) error {
	tmp := filepath.Join(f.Dir, "tmp")
	files, err := os.ReadDir(tmp)
	if err != nil {
		return err
	}
	var errs []error
	for _, file := range files {
		if info, err := file.Info(); err == nil && info.ModTime().Before(before) {
			if err := os.Remove(filepath.Join(tmp, file.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Create implements Blobs.
func (f FileBlobs) Create(ctx context.Context, id string, r io.Reader, limit int64) (n int64, err error) {
	tmp, err := os.CreateTemp(filepath.Join(f.Dir, "tmp"), id+"-*")
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if n, err = copyLimited(tmp, r, limit); err != nil {
		return n, err
	}
	if err = tmp.Sync(); err != nil {
		return n, err
	}
	if err = tmp.Close(); err != nil {
		return n, err
	}
	final := f.path(id)
	dir := filepath.Dir(final)
	if err = os.MkdirAll(dir, 0o700); err != nil {
		return n, err
	}
	if err = os.Rename(tmp.Name(), final); err != nil {
		return n, err
	}
	return n, syncDir(dir)
}

// syncDir flushes a directory's entries (a rename into it) to disk.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Open implements Blobs.
func (f FileBlobs) Open(ctx context.Context, id string, off, n int64) (io.ReadCloser, error) {
	file, err := os.Open(f.path(id))
	if err != nil {
		return nil, err
	}
	if _, err := file.Seek(off, io.SeekStart); err != nil {
		file.Close()
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.LimitReader(file, n), file}, nil
}

// Size implements Blobs.
func (f FileBlobs) Size(ctx context.Context, id string) (int64, bool, error) {
	fi, err := os.Stat(f.path(id))
	if errors.Is(err, os.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	return fi.Size(), true, nil
}

// Delete implements Blobs.
func (f FileBlobs) Delete(ctx context.Context, ids []string) error {
	var errs []error
	for _, id := range ids {
		if err := os.Remove(f.path(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// List implements Blobs: the files whose modification time is before
// before.
func (f FileBlobs) List(ctx context.Context, before time.Time, fn func(id string) error) error {
	dirs, err := os.ReadDir(f.Dir)
	if err != nil {
		return err
	}
	for _, d := range dirs {
		if !d.IsDir() || d.Name() == "tmp" {
			continue
		}
		files, err := os.ReadDir(filepath.Join(f.Dir, d.Name()))
		if err != nil {
			return err
		}
		for _, file := range files {
			info, err := file.Info()
			if err != nil || !info.Mode().IsRegular() || !info.ModTime().Before(before) {
				continue
			}
			if err := fn(file.Name()); err != nil {
				return err
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	return nil
}

// BlobChunkSize is the size of the chunks SQLBlobs stores a blob in.
const BlobChunkSize = 1 << 20

// SQLBlobs keeps blobs in the database, in chunks of BlobChunkSize bytes
// (tables blobs and blob_chunks), through a pool of its own: a blob is
// written on its own connection, never in the writer's transaction, which
// stays short. A blob is read a piece of a chunk (BlobReadPiece) per
// query, so that a slow client holds no connection and little memory, and
// a range starts at the chunk that holds its start.
type SQLBlobs struct {
	DB      *sql.DB
	Dialect Dialect
	// ChunkSize is the size of new blobs' chunks: BlobChunkSize when 0.
	ChunkSize int
}

// Close closes the pool.
func (s SQLBlobs) Close() error { return s.DB.Close() }

func (s SQLBlobs) chunkSize() int {
	if s.ChunkSize > 0 {
		return s.ChunkSize
	}
	return BlobChunkSize
}

// Create implements Blobs. Each chunk is inserted in a statement of its
// own, not in one transaction: a slow client then holds no transaction
// open (PostgreSQL ends those idle for long, and they hold back vacuum).
// A failed write deletes what it wrote; the rows of a node that died
// meanwhile are a blob no body names, swept at a later start.
func (s SQLBlobs) Create(ctx context.Context, id string, r io.Reader, limit int64) (n int64, err error) {
	size := s.chunkSize()
	if _, err = s.DB.ExecContext(ctx, s.Dialect.Rebind("INSERT INTO blobs (id, size, chunk_size, created) VALUES (?, 0, ?, ?)"),
		id, size, time.Now().UnixMilli()); err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			s.Delete(context.WithoutCancel(ctx), []string{id})
		}
	}()
	buf := make([]byte, size)
	insert := s.Dialect.Rebind("INSERT INTO blob_chunks (blob_id, n, data) VALUES (?, ?, ?)")
	lr := io.LimitReader(r, limit+1)
	for i := 0; ; i++ {
		k, rerr := io.ReadFull(lr, buf)
		if rerr != nil && rerr != io.EOF && rerr != io.ErrUnexpectedEOF {
			// The client's fault (a body cut short) before the chunk is
			// written: that error, not the cancelled context's that
			// writing would meet.
			return n, rerr
		}
		if k > 0 {
			n += int64(k)
			if n > limit {
				return n, kumo.BodyTooLarge(limit)
			}
			if _, err = s.DB.ExecContext(ctx, insert, id, i, buf[:k]); err != nil {
				return n, err
			}
		}
		if rerr != nil {
			break
		}
	}
	_, err = s.DB.ExecContext(ctx, s.Dialect.Rebind("UPDATE blobs SET size = ? WHERE id = ?"), n, id)
	return n, err
}

// Open implements Blobs.
func (s SQLBlobs) Open(ctx context.Context, id string, off, n int64) (io.ReadCloser, error) {
	var size, chunk int64
	err := s.DB.QueryRowContext(ctx, s.Dialect.Rebind("SELECT size, chunk_size FROM blobs WHERE id = ?"), id).Scan(&size, &chunk)
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", id, err)
	}
	return &chunkReader{ctx: ctx, s: s, id: id, chunk: chunk, off: off, left: min(n, size-off)}, nil
}

// BlobReadPiece is the most a reader of SQLBlobs reads (and holds) at a
// time: a part of a chunk, so that a client reading slowly pins that
// much memory, not a whole chunk.
const BlobReadPiece = 64 << 10

// chunkReader reads a blob piece by piece (BlobReadPiece bytes of a
// chunk), one query each.
type chunkReader struct {
	ctx   context.Context
	s     SQLBlobs
	id    string
	chunk int64  // the blob's chunk size
	off   int64  // the next byte to return
	left  int64  // bytes still to return
	buf   []byte // the rest of the current piece
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, io.EOF
	}
	if len(c.buf) == 0 {
		// substr counts from 1, in bytes for a BLOB (SQLite) or a bytea
		// (PostgreSQL).
		n, skip := c.off/c.chunk, c.off%c.chunk
		want := min(BlobReadPiece, c.chunk-skip, c.left)
		var data []byte
		err := c.s.DB.QueryRowContext(c.ctx, c.s.Dialect.Rebind("SELECT substr(data, ?, ?) FROM blob_chunks WHERE blob_id = ? AND n = ?"),
			skip+1, want, c.id, n).Scan(&data)
		if err != nil {
			return 0, fmt.Errorf("blob %s chunk %d: %w", c.id, n, err)
		}
		if len(data) == 0 {
			return 0, io.ErrUnexpectedEOF
		}
		c.buf = data
	}
	k := copy(p, c.buf[:min(int64(len(c.buf)), c.left)])
	c.buf = c.buf[k:]
	c.off += int64(k)
	c.left -= int64(k)
	return k, nil
}

// held is how many bytes c holds in memory between reads.
func (c *chunkReader) held() int { return cap(c.buf) }

func (c *chunkReader) Close() error { c.buf = nil; return nil }

// Size implements Blobs.
func (s SQLBlobs) Size(ctx context.Context, id string) (int64, bool, error) {
	var size int64
	err := s.DB.QueryRowContext(ctx, s.Dialect.Rebind("SELECT size FROM blobs WHERE id = ?"), id).Scan(&size)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	return size, err == nil, err
}

// Delete implements Blobs: each blob in a transaction of its own.
func (s SQLBlobs) Delete(ctx context.Context, ids []string) error {
	for _, id := range ids {
		tx, err := s.DB.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.Dialect.Rebind("DELETE FROM blob_chunks WHERE blob_id = ?"), id)
		if err == nil {
			_, err = tx.ExecContext(ctx, s.Dialect.Rebind("DELETE FROM blobs WHERE id = ?"), id)
		}
		if err == nil {
			err = tx.Commit()
		}
		if err != nil {
			tx.Rollback()
			return err
		}
	}
	return nil
}

// List implements Blobs.
func (s SQLBlobs) List(ctx context.Context, before time.Time, fn func(id string) error) error {
	rows, err := s.DB.QueryContext(ctx, s.Dialect.Rebind("SELECT id FROM blobs WHERE created < ? ORDER BY id"), before.UnixMilli())
	if err != nil {
		return err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, id := range ids {
		if err := fn(id); err != nil {
			return err
		}
	}
	return nil
}
