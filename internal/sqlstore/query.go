package sqlstore

import (
	"context"
	"encoding/json"
	"sort"
	"strings"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/kql"
)

// The query index (table object_fields) holds one row per indexed
// top-level field of every object (kumo.IndexEntries). Every write of an
// object writes its rows in the same transaction; kql compiles queries
// to SQL over it.

// maxFieldRows bounds the rows of one INSERT (9 parameters each, within
// SQLite's 32766).
const maxFieldRows = 1000

// writeFields indexes the fields of object id in b. With replace, the
// object's previous rows go first (a replacement or a patch).
func writeFields(ctx context.Context, tx *Tx, b kumo.BucketRef, id string, data map[string]any, replace bool) error {
	entries := kumo.IndexEntries(data)
	if tx.db.cteWrites {
		// One statement whatever the number of fields: the rows come from
		// arrays, and a replacement upserts them and deletes the others.
		f := fieldArrays(entries)
		if !replace {
			_, err := tx.Exec(ctx, `INSERT INTO object_fields (app_id, scope, bucket, object_id, field, kind, num, str, lon)
				SELECT ?, ?, ?, ?, * FROM unnest(?::text[], ?::text[], ?::float8[], ?::text[], ?::float8[])`,
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
	if replace {
		if err := deleteFields(ctx, tx, b, id); err != nil {
			return err
		}
	}
	for len(entries) > 0 {
		n := min(len(entries), maxFieldRows)
		if _, err := tx.Exec(ctx, insertFieldsSQL(n), fieldArgs(b, id, entries[:n])...); err != nil {
			return err
		}
		entries = entries[n:]
	}
	return nil
}

// deleteFields drops the index rows of object id in b.
func deleteFields(ctx context.Context, tx *Tx, b kumo.BucketRef, id string) error {
	_, err := tx.Exec(ctx, "DELETE FROM object_fields WHERE app_id = ? AND scope = ? AND bucket = ? AND object_id = ?",
		b.AppID, b.Scope.Key(), b.Name, id)
	return err
}

// insertFieldsSQL is the INSERT of n index rows.
func insertFieldsSQL(n int) string {
	const row = "(?, ?, ?, ?, ?, ?, ?, ?, ?)"
	return "INSERT INTO object_fields (app_id, scope, bucket, object_id, field, kind, num, str, lon) VALUES " +
		strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}

func fieldArgs(b kumo.BucketRef, id string, entries []kumo.IndexEntry) []any {
	args := make([]any, 0, 9*len(entries))
	scope := b.Scope.Key()
	for _, e := range entries {
		args = append(args, b.AppID, scope, b.Name, id, e.Field, string(e.Kind), e.Num, e.Str, e.Lon)
	}
	return args
}

// fieldColumns are index rows as column arrays (PostgreSQL's unnest).
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

// backfillKey is the meta row that migration 0007 inserts: the objects
// stored before it are not indexed yet.
const backfillKey = "object-fields-backfill"

// indexExistingObjects indexes the objects stored before the query index
// existed, a chunk per write transaction, then deletes the backfill row.
// Later writes keep the index up to date. Run again after a crash, or by
// two nodes at once, it writes the same rows.
func (db *DB) indexExistingObjects(ctx context.Context) error {
	var n int
	err := db.read.QueryRowContext(ctx, db.dialect.Rebind("SELECT COUNT(*) FROM meta WHERE key = ?"), backfillKey).Scan(&n)
	if err != nil || n == 0 {
		return err
	}
	last := []any{"", "", "", ""}
	for done := false; !done; {
		err := db.writeTx(ctx, func(tx *Tx) error {
			rows, err := tx.Query(ctx, `SELECT app_id, scope, bucket, id, data FROM objects
				WHERE (app_id, scope, bucket, id) > (?, ?, ?, ?) ORDER BY app_id, scope, bucket, id LIMIT 500`, last...)
			if err != nil {
				return err
			}
			type obj struct {
				b    kumo.BucketRef
				id   string
				data map[string]any
			}
			var objs []obj
			for rows.Next() {
				var o obj
				var scope, data string
				if err := rows.Scan(&o.b.AppID, &scope, &o.b.Name, &o.id, &data); err != nil {
					rows.Close()
					return err
				}
				o.b.Scope = scopeFromKey(scope)
				o.data, _ = decodeData(data)
				objs = append(objs, o)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			for _, o := range objs {
				if err := writeFields(ctx, tx, o.b, o.id, o.data, true); err != nil {
					return err
				}
			}
			if len(objs) < 500 {
				done = true
				_, err := tx.Exec(ctx, "DELETE FROM meta WHERE key = ?", backfillKey)
				return err
			}
			o := objs[len(objs)-1]
			last = []any{o.b.AppID, o.b.Scope.Key(), o.b.Name, o.id}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func decodeData(s string) (map[string]any, error) {
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var m map[string]any
	err := d.Decode(&m)
	return m, err
}

// objectSource is the kql.Source of the objects of bucket b.
func objectSource(b kumo.BucketRef) kql.Source {
	return kql.Source{
		Table: "objects", ID: "id", Index: "object_fields", IndexID: "object_id",
		Keys:    []kql.Key{{Column: "app_id", Value: b.AppID}, {Column: "scope", Value: b.Scope.Key()}, {Column: "bucket", Value: b.Name}},
		Columns: []string{"id", "data", "data_type", "owner", "version", "created", "modified"},
		System: []kql.SystemCol{
			{Field: "_id", Column: "id", Kind: kumo.IndexString},
			{Field: "_owner", Column: "owner", Kind: kumo.IndexString, EmptyAbsent: true},
			{Field: "_created", Column: "created", Kind: kumo.IndexNumber},
			{Field: "_modified", Column: "modified", Kind: kumo.IndexNumber},
			{Field: "_version", Column: "version", Kind: kumo.IndexNumber},
		},
	}
}

// QueryObjects implements kumo.ObjectService. The results are the
// matches the caller may read: all of them with READ_OBJECTS_IN_BUCKET,
// else those whose ACL grants it READ_EXISTING_OBJECT (a page may then
// hold fewer than the limit; its paginationKey still follows the page).
func (db *DB) QueryObjects(ctx context.Context, c kumo.Caller, b kumo.BucketRef, q kumo.Query) (kumo.QueryResult, error) {
	b, st, err := db.resolveBucket(ctx, c, b)
	if err != nil {
		return kumo.QueryResult{}, err
	}
	if err := db.mayBucket(ctx, c, st, b, kumo.QueryObjectsInBucket); err != nil {
		return kumo.QueryResult{}, err
	}
	res, err := db.queryObjects(ctx, b, q)
	if err != nil || len(res.Results) == 0 {
		return res, err
	}
	readAll, err := db.allowed(ctx, c, st, kumo.ACLTarget{Bucket: b}, kumo.ReadObjectsInBucket, nil)
	if err != nil || readAll {
		return res, err
	}
	readable := res.Results[:0]
	for _, h := range res.Results {
		owner := principalOf(h.Object.Owner)
		ok, err := db.allowed(ctx, c, st, kumo.ACLTarget{Bucket: b, ObjectID: h.Object.ID}, kumo.ReadExistingObject, &owner)
		if err != nil {
			return res, err
		}
		if ok {
			readable = append(readable, h)
		}
	}
	res.Results = readable
	return res, nil
}

// queryObjects runs q in bucket b (canonical, checked).
func (db *DB) queryObjects(ctx context.Context, b kumo.BucketRef, q kumo.Query) (kumo.QueryResult, error) {
	var after *kql.Cursor
	if q.PaginationKey != "" {
		cur, err := kql.DecodeCursor(q.PaginationKey)
		if err != nil {
			return kumo.QueryResult{}, err
		}
		after = &cur
	}
	var n int
	if err := db.queryRow(ctx, "SELECT COUNT(*) FROM buckets WHERE app_id = ? AND scope = ? AND name = ?",
		b.AppID, b.Scope.Key(), b.Name).Scan(&n); err != nil {
		return kumo.QueryResult{}, err
	}
	if n == 0 {
		return kumo.QueryResult{}, kumo.BucketNotFound(b)
	}
	src := objectSource(b)
	if name, ok := q.Count(); ok {
		count, err := db.countObjects(ctx, src, b, q)
		return kumo.QueryResult{Aggregations: map[string]int64{name: count}}, err
	}
	if kql.OrdersByDistance(q) {
		return db.queryByDistance(ctx, src, b, q, after)
	}
	var (
		res  kumo.QueryResult
		last kql.Cursor // the key of the last result
	)
	for {
		st := kql.Compile(src, q, after, q.Limit+1, db.dialect)
		rows, err := db.readRows(ctx, st, b)
		if err != nil {
			return res, err
		}
		for _, r := range rows {
			if st.Superset && !q.Clause.Matches(r.obj) {
				continue
			}
			if len(res.Results) == q.Limit {
				// One more than a page: there is a next page.
				res.NextPaginationKey = last.Encode()
				return res, nil
			}
			res.Results = append(res.Results, kumo.QueryHit{Object: r.obj, Calculated: q.Clause.Distances(r.obj)})
			last = r.key
		}
		if len(rows) < q.Limit+1 {
			return res, nil
		}
		cur := rows[len(rows)-1].key
		after = &cur // only when rows were filtered out: read on
	}
}

// queryRow is a row of a compiled query.
type queryRow struct {
	obj kumo.Object
	key kql.Cursor
}

// readRows runs a compiled query on the read pool. Its SQL is not kept
// prepared (queries come in endless shapes).
func (db *DB) readRows(ctx context.Context, st kql.Statement, b kumo.BucketRef) ([]queryRow, error) {
	rows, err := db.read.QueryContext(ctx, st.SQL, st.Args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []queryRow
	for rows.Next() {
		r := queryRow{obj: kumo.Object{Bucket: b}}
		var data string
		o := &r.obj
		if err := rows.Scan(&o.ID, &data, &o.DataType, &o.Owner, &o.Version, &o.Created, &o.Modified,
			&r.key.Kind, &r.key.Num, &r.key.Str, &r.key.ID); err != nil {
			return nil, err
		}
		if o.Data, err = decodeData(data); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// countObjects counts the objects q's clause matches.
func (db *DB) countObjects(ctx context.Context, src kql.Source, b kumo.BucketRef, q kumo.Query) (int64, error) {
	q.OrderBy, q.Descending = "", false
	st := kql.CompileCount(src, q, db.dialect)
	if !st.Superset {
		var n int64
		err := db.read.QueryRowContext(ctx, st.SQL, st.Args...).Scan(&n)
		return n, err
	}
	rows, err := db.readRows(ctx, kql.Compile(src, q, nil, 0, db.dialect), b)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, r := range rows {
		if q.Clause.Matches(r.obj) {
			n++
		}
	}
	return n, nil
}

// queryByDistance answers a query ordered by a calculated distance: SQL
// selects the candidates (within the circles' bounding boxes), Go keeps
// the matches, sorts them by distance and cuts the page.
func (db *DB) queryByDistance(ctx context.Context, src kql.Source, b kumo.BucketRef, q kumo.Query, after *kql.Cursor) (kumo.QueryResult, error) {
	rows, err := db.readRows(ctx, kql.Compile(src, q, nil, 0, db.dialect), b)
	if err != nil {
		return kumo.QueryResult{}, err
	}
	type hit struct {
		obj  kumo.Object
		dist float64
	}
	var hits []hit
	for _, r := range rows {
		if !q.Selects(r.obj) {
			continue
		}
		v, _ := q.OrderValue(r.obj)
		if after != nil && (v.Num < after.Num || v.Num == after.Num && r.obj.ID <= after.ID) {
			continue
		}
		hits = append(hits, hit{r.obj, v.Num})
	}
	sort.Slice(hits, func(i, j int) bool { return q.Compare(hits[i].obj, hits[j].obj) < 0 })
	var res kumo.QueryResult
	for i, h := range hits {
		if i == q.Limit {
			last := hits[i-1]
			res.NextPaginationKey = kql.Cursor{Kind: string(kumo.IndexNumber), Num: last.dist, ID: last.obj.ID}.Encode()
			break
		}
		res.Results = append(res.Results, kumo.QueryHit{Object: h.obj, Calculated: q.Clause.Distances(h.obj)})
	}
	return res, nil
}
