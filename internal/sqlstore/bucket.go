package sqlstore

import (
	"context"

	"github.com/kumo-iot/kumo"
)

// bucketExists reports whether b has a bucket row, within a write.
func bucketExists(ctx context.Context, tx *Tx, b kumo.BucketRef) (bool, error) {
	var n int
	err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM buckets WHERE app_id = ? AND scope = ? AND name = ?",
		b.AppID, b.Scope.Key(), b.Name).Scan(&n)
	return n > 0, err
}

// GetBucket implements kumo.BucketService.
func (db *DB) GetBucket(ctx context.Context, c kumo.Caller, b kumo.BucketRef) (kumo.BucketInfo, error) {
	b, err := db.resolveBucket(ctx, c, b)
	if err != nil {
		return kumo.BucketInfo{}, err
	}
	if !kumo.BucketAllowed(c, b.Scope, kumo.QueryObjectsInBucket) {
		return kumo.BucketInfo{}, kumo.Unauthorized(c, "The caller may not read bucket %s", b.Name)
	}
	var n int
	if err := db.queryRow(ctx, "SELECT COUNT(*) FROM buckets WHERE app_id = ? AND scope = ? AND name = ?",
		b.AppID, b.Scope.Key(), b.Name).Scan(&n); err != nil {
		return kumo.BucketInfo{}, err
	}
	if n == 0 {
		return kumo.BucketInfo{}, kumo.BucketNotFound(b)
	}
	info := kumo.BucketInfo{Type: b.Type()}
	err = db.queryRow(ctx, "SELECT COUNT(*) FROM objects WHERE app_id = ? AND scope = ? AND bucket = ?",
		b.AppID, b.Scope.Key(), b.Name).Scan(&info.Size)
	return info, err
}

// CreateBucket implements kumo.BucketService.
func (db *DB) CreateBucket(ctx context.Context, c kumo.Caller, b kumo.BucketRef) error {
	b, err := db.resolveBucket(ctx, c, b)
	if err != nil {
		return err
	}
	if !kumo.BucketAllowed(c, b.Scope, kumo.CreateObjectsInBucket) {
		return kumo.Unauthorized(c, "The caller may not create bucket %s", b.Name)
	}
	now := db.now()
	return db.writeTx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(ctx, "INSERT INTO buckets (app_id, scope, name, created) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
			b.AppID, b.Scope.Key(), b.Name, now)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return kumo.Errorf(kumo.ErrBucketAlreadyExists, "Bucket %s already exists", b.Name).
				With("objectScope", b.Scope.ObjectScope(b.AppID)).With("bucketID", b.Name)
		}
		return nil
	})
}

// DeleteBucket implements kumo.BucketService.
func (db *DB) DeleteBucket(ctx context.Context, c kumo.Caller, b kumo.BucketRef) error {
	b, err := db.resolveBucket(ctx, c, b)
	if err != nil {
		return err
	}
	if !kumo.BucketAllowed(c, b.Scope, kumo.DropBucketWithAllContent) {
		return kumo.Unauthorized(c, "The caller may not drop bucket %s", b.Name)
	}
	now := db.now()
	return db.writeTx(ctx, func(tx *Tx) error {
		ok, err := bucketExists(ctx, tx, b)
		if err != nil {
			return err
		}
		if !ok {
			return kumo.BucketNotFound(b)
		}
		if _, err := tx.Exec(ctx, "DELETE FROM objects WHERE app_id = ? AND scope = ? AND bucket = ?", b.AppID, b.Scope.Key(), b.Name); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "DELETE FROM object_fields WHERE app_id = ? AND scope = ? AND bucket = ?", b.AppID, b.Scope.Key(), b.Name); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "DELETE FROM buckets WHERE app_id = ? AND scope = ? AND name = ?", b.AppID, b.Scope.Key(), b.Name); err != nil {
			return err
		}
		return insertEvent(ctx, tx, kumo.Event{Type: kumo.BucketDeleted, Bucket: b, Sender: c.Principal(), When: now})
	})
}
