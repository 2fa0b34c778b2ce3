package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"

	"github.com/kumo-iot/kumo"
)

// CreateObject implements kumo.ObjectService.
func (db *DB) CreateObject(ctx context.Context, c kumo.Caller, o kumo.ObjectCreate) (kumo.Object, error) {
	b, err := db.resolveBucket(ctx, c, o.Bucket)
	if err != nil {
		return kumo.Object{}, err
	}
	if !kumo.BucketAllowed(c, b.Scope, kumo.CreateObjectsInBucket) {
		return kumo.Object{}, kumo.Unauthorized(c, "The caller may not create objects in bucket %s", b.Name)
	}
	data := o.JSON
	if len(data) == 0 {
		if data, err = json.Marshal(o.Data); err != nil {
			return kumo.Object{}, kumo.Errorf(kumo.ErrInvalidJSON, "The object cannot be stored as JSON")
		}
	}
	now := db.now()
	obj := kumo.Object{ID: kumo.NewObjectID(), Bucket: b, Data: o.Data, DataType: o.DataType,
		Owner: owner(c), Version: 1, Created: now, Modified: now}
	e := kumo.Event{Type: kumo.DataObjectCreated, Bucket: b, ObjectID: obj.ID, Sender: c.Principal(), When: now, ModifiedAt: now}
	err = db.writeTx(ctx, func(tx *Tx) error {
		if db.cteWrites {
			// One statement, one round trip, for the three rows.
			_, err := tx.Exec(ctx, `WITH b AS (INSERT INTO buckets (app_id, scope, name, created) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING),
				o AS (INSERT INTO objects (app_id, scope, bucket, id, data, data_type, owner, version, created, modified)
					VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?))
				INSERT INTO outbox (app_id, type, scope, bucket, object_id, sender_kind, sender_id, at, modified_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				b.AppID, b.Scope.Key(), b.Name, now,
				b.AppID, b.Scope.Key(), b.Name, obj.ID, string(data), obj.DataType, obj.Owner, now, now,
				b.AppID, string(e.Type), b.Scope.Key(), b.Name, e.ObjectID, int(e.Sender.Kind), e.Sender.ID, e.When, e.ModifiedAt)
			if err == nil {
				tx.events++
			}
			return err
		}
		if err := ensureBucket(ctx, tx, b, now); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO objects (app_id, scope, bucket, id, data, data_type, owner, version, created, modified)
			VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?)`, b.AppID, b.Scope.Key(), b.Name, obj.ID, string(data), obj.DataType, obj.Owner, now, now)
		if err != nil {
			return err
		}
		return insertEvent(ctx, tx, e)
	})
	if err != nil {
		return kumo.Object{}, err
	}
	return obj, nil
}

// GetObject implements kumo.ObjectService.
func (db *DB) GetObject(ctx context.Context, c kumo.Caller, b kumo.BucketRef, id string) (kumo.Object, error) {
	b, err := db.resolveBucket(ctx, c, b)
	if err != nil {
		return kumo.Object{}, err
	}
	if !kumo.BucketAllowed(c, b.Scope, kumo.ReadObjectsInBucket) {
		return kumo.Object{}, kumo.Unauthorized(c, "The caller may not read objects in bucket %s", b.Name)
	}
	o := kumo.Object{ID: id, Bucket: b}
	var data string
	err = db.queryRow(ctx, `SELECT data, data_type, owner, version, created, modified FROM objects
		WHERE app_id = ? AND scope = ? AND bucket = ? AND id = ?`, b.AppID, b.Scope.Key(), b.Name, id).
		Scan(&data, &o.DataType, &o.Owner, &o.Version, &o.Created, &o.Modified)
	if errors.Is(err, sql.ErrNoRows) {
		return o, kumo.ObjectNotFound(b, id)
	}
	if err != nil {
		return o, err
	}
	d := json.NewDecoder(strings.NewReader(data))
	d.UseNumber()
	err = d.Decode(&o.Data)
	return o, err
}

// owner is the _owner of what c creates: its user or thing ID.
func owner(c kumo.Caller) string {
	if c.Kind == kumo.UserCaller || c.Kind == kumo.ThingCaller {
		return c.ID
	}
	return ""
}
