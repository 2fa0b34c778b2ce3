package postgres

import (
	"context"
	"database/sql"
	"time"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/sqlstore"
)

// The behaviour PostgreSQL's dialect supplies to sqlstore: row locks (its
// concurrent transactions run under READ COMMITTED, and several nodes may
// share the database), writes of many rows in one statement from arrays
// (unnest), fresh planner statistics after a bulk write, and the SQL of
// the lease outbox.

var (
	_ sqlstore.RowLocker           = Dialect{}
	_ sqlstore.ObjectWriter        = Dialect{}
	_ sqlstore.StatisticsRefresher = Dialect{}
	_ sqlstore.BlobSweeper         = Dialect{}
	_ sqlstore.OutboxLeaser        = Dialect{}
)

// ClaimEventsSQL implements sqlstore.OutboxLeaser (several nodes may share
// a PostgreSQL database, so the store's outbox is a sqlstore.LeaseOutbox):
// the rows are locked FOR UPDATE SKIP LOCKED, so that nodes claiming at
// once get different events.
func (Dialect) ClaimEventsSQL() string {
	return `UPDATE outbox SET claimed_by = ?, claimed_until = ?
		WHERE seq IN (SELECT seq FROM outbox WHERE claimed_until < ? ORDER BY seq LIMIT ? FOR UPDATE SKIP LOCKED)`
}

// DeleteEventsSQL implements sqlstore.OutboxLeaser: the seqs as an array.
func (Dialect) DeleteEventsSQL() string {
	return "DELETE FROM outbox WHERE seq = ANY(?) AND claimed_by = ?"
}

// LockShared implements sqlstore.RowLocker.
func (Dialect) LockShared(query string) string { return query + " FOR SHARE" }

// LockUpdate implements sqlstore.RowLocker.
func (Dialect) LockUpdate(query string) string { return query + " FOR UPDATE" }

// LockSkipLocked implements sqlstore.RowLocker.
func (Dialect) LockSkipLocked(query string) string { return query + " FOR UPDATE SKIP LOCKED" }

// RefreshStatistics implements sqlstore.StatisticsRefresher: ANALYZE.
func (Dialect) RefreshStatistics(ctx context.Context, db *sql.DB, table string) error {
	_, err := db.ExecContext(ctx, "ANALYZE "+table)
	return err
}

// OrphanAge implements sqlstore.BlobSweeper: an hour, far longer than any
// node takes between writing a blob and committing the row that names it.
func (Dialect) OrphanAge() time.Duration { return time.Hour }

// upsertFields makes an insert of index rows replace rows left over (an
// object deleted and made again with the same ID while its bucket was
// being indexed).
const upsertFields = ` ON CONFLICT (app_id, scope, bucket, object_id, field) DO UPDATE
	SET kind = excluded.kind, num = excluded.num, str = excluded.str, lon = excluded.lon`

// InsertObject implements sqlstore.ObjectWriter: one statement, one round
// trip, for the object, its bucket, its index rows and its event.
func (Dialect) InsertObject(ctx context.Context, tx *sqlstore.Tx, o sqlstore.NewObject) error {
	obj, e := o.Object, o.Event
	b, now := obj.Bucket, obj.Created
	f := fieldArrays(o.Fields())
	// bk locks the bucket's row (waiting for a bucket that is being
	// switched to indexing) and reads its latest state.
	_, err := tx.Exec(ctx, `WITH b AS (INSERT INTO buckets (app_id, scope, name, created, creator) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING),
		bk AS (SELECT indexed FROM buckets WHERE app_id = ? AND scope = ? AND name = ? FOR SHARE),
		o AS (INSERT INTO objects (app_id, scope, bucket, id, data, data_type, owner, version, created, modified)
			VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?)),
		f AS (INSERT INTO object_fields (app_id, scope, bucket, object_id, field, kind, num, str, lon)
			SELECT ?, ?, ?, ?, u.* FROM unnest(?::text[], ?::text[], ?::float8[], ?::text[], ?::float8[]) AS u
			WHERE (SELECT indexed FROM bk) <> 0
			ON CONFLICT (app_id, scope, bucket, object_id, field) DO UPDATE
			SET kind = excluded.kind, num = excluded.num, str = excluded.str, lon = excluded.lon)
		INSERT INTO outbox (app_id, type, scope, bucket, object_id, sender_kind, sender_id, at, modified_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		b.AppID, b.Scope.Key(), b.Name, now, obj.Owner,
		b.AppID, b.Scope.Key(), b.Name,
		b.AppID, b.Scope.Key(), b.Name, obj.ID, o.JSON, obj.DataType, obj.Owner, now, obj.Modified,
		b.AppID, b.Scope.Key(), b.Name, obj.ID, f.fields, f.kinds, f.nums, f.strs, f.lons,
		b.AppID, string(e.Type), b.Scope.Key(), b.Name, e.ObjectID, int(e.Sender.Kind), e.Sender.ID, e.When, e.ModifiedAt)
	return err
}

// WriteFields implements sqlstore.ObjectWriter: one statement whatever
// the number of fields; a replacement upserts the rows and deletes the
// others.
func (Dialect) WriteFields(ctx context.Context, tx *sqlstore.Tx, b kumo.BucketRef, id string, fields []kumo.IndexEntry, replace bool) error {
	f := fieldArrays(fields)
	if !replace {
		_, err := tx.Exec(ctx, `INSERT INTO object_fields (app_id, scope, bucket, object_id, field, kind, num, str, lon)
				SELECT ?, ?, ?, ?, * FROM unnest(?::text[], ?::text[], ?::float8[], ?::text[], ?::float8[])`+upsertFields,
			b.AppID, b.Scope.Key(), b.Name, id, f.fields, f.kinds, f.nums, f.strs, f.lons)
		return err
	}
	_, err := tx.Exec(ctx, `WITH d AS (DELETE FROM object_fields WHERE app_id = ? AND scope = ? AND bucket = ? AND object_id = ?
				AND NOT (field = ANY (?::text[])))
			INSERT INTO object_fields (app_id, scope, bucket, object_id, field, kind, num, str, lon)
			SELECT ?, ?, ?, ?, * FROM unnest(?::text[], ?::text[], ?::float8[], ?::text[], ?::float8[])
			ON CONFLICT (app_id, scope, bucket, object_id, field) DO UPDATE
			SET kind = excluded.kind, num = excluded.num, str = excluded.str, lon = excluded.lon`,
		b.AppID, b.Scope.Key(), b.Name, id, f.fields,
		b.AppID, b.Scope.Key(), b.Name, id, f.fields, f.kinds, f.nums, f.strs, f.lons)
	return err
}

// BackfillFields implements sqlstore.ObjectWriter: the rows of all the
// objects in one statement, from arrays.
func (Dialect) BackfillFields(ctx context.Context, tx *sqlstore.Tx, b kumo.BucketRef, objects []sqlstore.ObjectFields) error {
	var ids []string
	var f fieldColumns
	for _, o := range objects {
		for _, e := range o.Fields {
			ids = append(ids, o.ID)
			f.fields, f.kinds, f.nums = append(f.fields, e.Field), append(f.kinds, string(e.Kind)), append(f.nums, e.Num)
			f.strs, f.lons = append(f.strs, e.Str), append(f.lons, e.Lon)
		}
	}
	_, err := tx.Exec(ctx, `INSERT INTO object_fields (app_id, scope, bucket, object_id, field, kind, num, str, lon)
		SELECT ?, ?, ?, * FROM unnest(?::text[], ?::text[], ?::text[], ?::float8[], ?::text[], ?::float8[])
		ON CONFLICT DO NOTHING`, b.AppID, b.Scope.Key(), b.Name, ids, f.fields, f.kinds, f.nums, f.strs, f.lons)
	return err
}

// fieldColumns are index rows as column arrays (for unnest).
type fieldColumns struct {
	fields, kinds, strs []string
	nums, lons          []float64
}

func fieldArrays(entries []kumo.IndexEntry) fieldColumns {
	f := fieldColumns{fields: make([]string, len(entries)), kinds: make([]string, len(entries)),
		strs: make([]string, len(entries)), nums: make([]float64, len(entries)), lons: make([]float64, len(entries))}
	for i, e := range entries {
		f.fields[i], f.kinds[i], f.nums[i], f.strs[i], f.lons[i] = e.Field, string(e.Kind), e.Num, e.Str, e.Lon
	}
	return f
}
