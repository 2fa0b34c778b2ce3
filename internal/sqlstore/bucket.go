package sqlstore

import (
	"context"

	"github.com/kumo-iot/kumo"
)

// BucketService implements kumo.BucketService.
type BucketService struct {
	db   *DB
	acls *ACLService
}

var _ kumo.BucketService = (*BucketService)(nil)

// bucketExists reports whether b has a bucket row, within a write.
func bucketExists(ctx context.Context, tx *Tx, b kumo.BucketRef) (bool, error) {
	var n int
	err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM buckets WHERE app_id = ? AND scope = ? AND name = ?",
		b.AppID, b.Scope.Key(), b.Name).Scan(&n)
	return n > 0, err
}

// GetBucket implements kumo.BucketService.
func (bs *BucketService) GetBucket(ctx context.Context, c kumo.Caller, b kumo.BucketRef) (kumo.BucketInfo, error) {
	b, st, err := bs.acls.resolveBucket(ctx, c, b)
	if err != nil {
		return kumo.BucketInfo{}, err
	}
	if err := bs.acls.mayBucket(ctx, c, st, b, kumo.QueryObjectsInBucket); err != nil {
		return kumo.BucketInfo{}, err
	}
	var n int
	if err := bs.db.queryRow(ctx, "SELECT COUNT(*) FROM buckets WHERE app_id = ? AND scope = ? AND name = ?",
		b.AppID, b.Scope.Key(), b.Name).Scan(&n); err != nil {
		return kumo.BucketInfo{}, err
	}
	if n == 0 {
		return kumo.BucketInfo{}, kumo.BucketNotFound(b)
	}
	info := kumo.BucketInfo{Type: b.Type()}
	err = bs.db.queryRow(ctx, "SELECT COUNT(*) FROM objects WHERE app_id = ? AND scope = ? AND bucket = ?",
		b.AppID, b.Scope.Key(), b.Name).Scan(&info.Size)
	return info, err
}

// CreateBucket implements kumo.BucketService.
func (bs *BucketService) CreateBucket(ctx context.Context, c kumo.Caller, b kumo.BucketRef) error {
	b, st, err := bs.acls.resolveBucket(ctx, c, b)
	if err != nil {
		return err
	}
	ok, err := bs.acls.allowed(ctx, c, st, kumo.ACLTarget{Bucket: kumo.BucketRef{AppID: b.AppID, Scope: b.Scope}}, kumo.CreateNewBucket, nil)
	if err != nil {
		return err
	}
	if !ok {
		return kumo.Unauthorized(c, "The caller may not create bucket %s", b.Name)
	}
	now := bs.db.now()
	return bs.db.writeTx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(ctx, "INSERT INTO buckets (app_id, scope, name, created, creator) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
			b.AppID, b.Scope.Key(), b.Name, now, owner(c))
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
func (bs *BucketService) DeleteBucket(ctx context.Context, c kumo.Caller, b kumo.BucketRef) error {
	b, st, err := bs.acls.resolveBucket(ctx, c, b)
	if err != nil {
		return err
	}
	if err := bs.acls.mayBucket(ctx, c, st, b, kumo.DropBucketWithAllContent); err != nil {
		return err
	}
	now := bs.db.now()
	err = bs.db.writeTx(ctx, func(tx *Tx) error {
		ok, err := bucketExists(ctx, tx, b)
		if err != nil {
			return err
		}
		if !ok {
			return kumo.BucketNotFound(b)
		}
		// The bucket, its objects with their bodies and index rows, its
		// ACL changes; its push subscriptions stay (cascade.go).
		if _, err := cascade(ctx, tx, doomed{kind: doomBucket, appID: b.AppID, scope: b.Scope.Key(), bucket: b.Name}); err != nil {
			return err
		}
		return insertEvent(ctx, tx, kumo.Event{Type: kumo.BucketDeleted, Bucket: b, Sender: c.Principal(), When: now})
	})
	if err == nil {
		bs.db.emptyTrash(ctx, bs.db.Log)
	}
	return err
}

// ListBuckets implements kumo.BucketService.
func (bs *BucketService) ListBuckets(ctx context.Context, c kumo.Caller, s kumo.Scope, after string, limit int) ([]kumo.BucketRef, error) {
	b, st, err := bs.acls.resolveBucket(ctx, c, kumo.BucketRef{AppID: c.AppID, Scope: s})
	if err != nil {
		return nil, err
	}
	s = b.Scope
	// Listing is the scope owners' (implicit rights), and the admin's.
	if !kumo.ImplicitlyAllowed(c, s, st, kumo.QueryObjectsInBucket) {
		return nil, kumo.Unauthorized(c, "The caller may not list the buckets of this scope")
	}
	rows, err := bs.db.query(ctx, "SELECT name FROM buckets WHERE app_id = ? AND scope = ? AND name > ? ORDER BY name LIMIT ?",
		c.AppID, s.Key(), after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []kumo.BucketRef
	for rows.Next() {
		r := kumo.BucketRef{AppID: c.AppID, Scope: s}
		if err := rows.Scan(&r.Name); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
