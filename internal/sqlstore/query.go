package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/kql"
)

// The query index (table object_fields) holds one row per indexed
// top-level field (kumo.IndexEntries) of every object of an indexed
// bucket. A bucket is indexed by its first query (indexBucket); from then
// on every write of an object writes its rows in the same transaction. A
// bucket never queried, such as one devices write their state to, costs
// no index rows. kql compiles queries to SQL over the index.

// maxFieldRows bounds the rows of one INSERT (9 parameters each, within
// SQLite's 32766).
const maxFieldRows = 1000

// writeFields indexes the fields of object o, when its bucket is indexed
// (bucketIndexed). With replace, the object's previous rows go first.
func writeFields(ctx context.Context, tx *Tx, o kumo.Object, replace bool) error {
	b, id := o.Bucket, o.ID
	indexed, err := bucketIndexed(ctx, tx, b)
	if err != nil || !indexed {
		return err
	}
	return tx.db.objects.WriteFields(ctx, tx, b, id, objectEntries(o.Data, o.Created, o.Modified), replace)
}

// objectEntries returns the index rows of an object: its fields
// (kumo.IndexEntries) and its _created and _modified times, which are
// indexed like fields so that objects need no index of their own for them
// (a bucket never queried then costs nothing).
func objectEntries(data map[string]any, created, modified int64) []kumo.IndexEntry {
	entries := append(kumo.IndexEntries(data),
		kumo.IndexEntry{Field: "_created", IndexValue: kumo.IndexValue{Kind: kumo.IndexNumber, Num: float64(created)}},
		kumo.IndexEntry{Field: "_modified", IndexValue: kumo.IndexValue{Kind: kumo.IndexNumber, Num: float64(modified)}})
	sort.Slice(entries, func(i, j int) bool { return entries[i].Field < entries[j].Field })
	return entries
}

// upsertFields makes an insert of index rows replace rows left over (an
// object deleted and made again with the same ID while its bucket was
// being indexed).
const upsertFields = ` ON CONFLICT (app_id, scope, bucket, object_id, field) DO UPDATE
	SET kind = excluded.kind, num = excluded.num, str = excluded.str, lon = excluded.lon`

// insertFields inserts index rows, a bounded number per statement; conflict
// is appended to the statement ("ON CONFLICT DO NOTHING" for a backfill).
func insertFields(ctx context.Context, tx *Tx, b kumo.BucketRef, id string, entries []kumo.IndexEntry, conflict string) error {
	for len(entries) > 0 {
		n := min(len(entries), maxFieldRows)
		if _, err := tx.Exec(ctx, insertFieldsSQL(n)+conflict, fieldArgs(b, id, entries[:n])...); err != nil {
			return err
		}
		entries = entries[n:]
	}
	return nil
}

// bucketIndexed reports, inside a write, whether b's objects are indexed
// for queries. On PostgreSQL the read takes a share lock on the bucket's
// row, so that a write racing with the bucket's first indexing either
// precedes it (and is indexed by it) or sees the bucket indexed.
func bucketIndexed(ctx context.Context, tx *Tx, b kumo.BucketRef) (bool, error) {
	var state int
	err := tx.QueryRow(ctx, tx.db.locks.LockShared("SELECT indexed FROM buckets WHERE app_id = ? AND scope = ? AND name = ?"),
		b.AppID, b.Scope.Key(), b.Name).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return state != notIndexed, err
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

// The states of a bucket's query index (buckets.indexed).
const (
	notIndexed = 0 // no index rows; writes write none
	indexing   = 2 // being indexed: writes index themselves, queries wait for the backfill
	indexed    = 1 // every object has its rows
)

// backfillObjects is how many objects one write of indexBucket indexes,
// so that the writes of others go on in between; backfillBytes bounds
// their stored JSON (and so the memory of a chunk of large objects).
const backfillObjects = 2000

var backfillBytes = 1 << 20 // a variable for tests

// indexBucket indexes the objects of bucket b for queries: it marks the
// bucket as being indexed (from then on every write indexes its object,
// see writeFields), writes the rows of the objects it held, a chunk per
// write transaction, then marks it indexed. It is safe to run twice at
// once (two queries, two nodes) or again after a crash: rows already
// there are kept. Queries of one node share one run.
func (s *ObjectService) indexBucket(ctx context.Context, b kumo.BucketRef) error {
	key := b.AppID + "\x00" + b.Scope.Key() + "\x00" + b.Name
	s.indexingMu.Lock()
	run, ok := s.indexingRuns[key]
	if !ok {
		run = &indexRun{done: make(chan struct{})}
		if s.indexingRuns == nil {
			s.indexingRuns = map[string]*indexRun{}
			s.indexingCtx, s.indexingStop = context.WithCancel(context.Background())
		}
		s.indexingRuns[key] = run
		s.indexingWG.Add(1)
		runCtx := s.indexingCtx
		go func() {
			defer s.indexingWG.Done()
			// Not the query's context: a client giving up does not undo
			// the work; closing the store stops it (a query finishes it).
			run.err = s.backfill(runCtx, b)
			s.indexingMu.Lock()
			delete(s.indexingRuns, key)
			s.indexingMu.Unlock()
			close(run.done)
		}()
	}
	s.indexingMu.Unlock()
	select {
	case <-run.done:
		return run.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stopIndexing cancels the backfills under way and waits for them.
func (s *ObjectService) stopIndexing() {
	s.indexingMu.Lock()
	if s.indexingStop != nil {
		s.indexingStop()
	}
	s.indexingMu.Unlock()
	s.indexingWG.Wait()
}

// indexRun is a backfill under way, waited for by the queries that need it.
type indexRun struct {
	done chan struct{}
	err  error
}

// backfill is the work of indexBucket.
func (s *ObjectService) backfill(ctx context.Context, b kumo.BucketRef) error {
	start := time.Now()
	err := s.db.writeTx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(ctx, "UPDATE buckets SET indexed = ? WHERE app_id = ? AND scope = ? AND name = ? AND indexed = ?",
			indexing, b.AppID, b.Scope.Key(), b.Name, notIndexed)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			// Rows a stopped backfill left (of a bucket since dropped and
			// made again) describe nothing here.
			return deleteBucketFields(ctx, tx, b)
		}
		return nil
	})
	if err != nil {
		return err
	}
	objects, after := 0, ""
	for {
		if err := ctx.Err(); err != nil {
			return err // the store is closing: the next query resumes the work
		}
		n, last, more := 0, "", false
		err := s.db.writeTx(ctx, func(tx *Tx) error {
			// Still being indexed? A bucket dropped meanwhile stops the run.
			var state int
			if err := tx.QueryRow(ctx, "SELECT indexed FROM buckets WHERE app_id = ? AND scope = ? AND name = ?",
				b.AppID, b.Scope.Key(), b.Name).Scan(&state); err != nil || state != indexing {
				if err == nil || errors.Is(err, sql.ErrNoRows) {
					err = errBackfillStopped
				}
				return err
			}
			var err error
			n, last, more, err = backfillChunk(ctx, tx, b, after)
			return err
		})
		if errors.Is(err, errBackfillStopped) {
			return nil // the query that asked will find the bucket gone or indexed
		}
		if err != nil {
			return err
		}
		objects += n
		if !more {
			break
		}
		after = last
	}
	err = s.db.writeTx(ctx, func(tx *Tx) error {
		_, err := tx.Exec(ctx, "UPDATE buckets SET indexed = ? WHERE app_id = ? AND scope = ? AND name = ? AND indexed = ?",
			indexed, b.AppID, b.Scope.Key(), b.Name, indexing)
		return err
	})
	if err != nil {
		return err
	}
	s.db.Log.Info("indexed a bucket for queries", "app", b.AppID, "scope", b.Scope.Key(), "bucket", b.Name,
		"objects", objects, "took", time.Since(start).Round(time.Millisecond))
	if objects > 0 {
		// The next queries are planned from fresh statistics rather than
		// from those of an emptier table.
		if err := s.db.refreshStatistics(ctx, "object_fields"); err != nil {
			s.db.Log.Warn("analyze after indexing a bucket failed", "error", err)
		}
	}
	return nil
}

// errBackfillStopped ends a backfill whose bucket is no longer being
// indexed (dropped, or indexed by another run).
var errBackfillStopped = errors.New("backfill stopped")

// deleteBucketFields deletes every index row of bucket b.
func deleteBucketFields(ctx context.Context, tx *Tx, b kumo.BucketRef) error {
	_, err := tx.Exec(ctx, "DELETE FROM object_fields WHERE app_id = ? AND scope = ? AND bucket = ?", b.AppID, b.Scope.Key(), b.Name)
	return err
}

// backfillChunk indexes up to backfillObjects objects of b whose IDs
// follow after, and up to backfillBytes of their stored JSON (one object
// at least), within a write, and returns how many, the last ID, and
// whether more objects may follow.
func backfillChunk(ctx context.Context, tx *Tx, b kumo.BucketRef, after string) (_ int, _ string, more bool, _ error) {
	// Locked (PostgreSQL): a write to one of these objects waits, then
	// indexes itself over what this chunk wrote.
	rows, err := tx.Query(ctx, tx.db.locks.LockShared(`SELECT id, data, created, modified FROM objects WHERE app_id = ? AND scope = ? AND bucket = ? AND id > ?
		ORDER BY id LIMIT ?`), b.AppID, b.Scope.Key(), b.Name, after, backfillObjects)
	if err != nil {
		return 0, "", false, err
	}
	type obj struct {
		id                string
		data              map[string]any
		created, modified int64
	}
	var objs []obj
	size := 0
	for rows.Next() {
		if size >= backfillBytes {
			more = true
			break
		}
		var o obj
		var data string
		if err := rows.Scan(&o.id, &data, &o.created, &o.modified); err != nil {
			rows.Close()
			return 0, "", false, err
		}
		size += len(data)
		o.data, _ = decodeData(data)
		objs = append(objs, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(objs) == 0 {
		return 0, "", false, err
	}
	more = more || len(objs) == backfillObjects
	last := objs[len(objs)-1].id
	fields := make([]ObjectFields, len(objs))
	for i, o := range objs {
		fields[i] = ObjectFields{ID: o.id, Fields: objectEntries(o.data, o.created, o.modified)}
	}
	if err := tx.db.objects.BackfillFields(ctx, tx, b, fields); err != nil {
		return 0, "", false, err
	}
	return len(objs), last, more, nil
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
			// _created and _modified are index rows (objectEntries).
			{Field: "_version", Column: "version", Kind: kumo.IndexNumber},
		},
	}
}

// QueryObjects implements kumo.ObjectService. The results are the
// matches the caller may read: all of them with READ_OBJECTS_IN_BUCKET,
// else those whose ACL grants it READ_EXISTING_OBJECT (a page may then
// hold fewer than the limit; its paginationKey still follows the page).
func (s *ObjectService) QueryObjects(ctx context.Context, c kumo.Caller, b kumo.BucketRef, q kumo.Query) (kumo.QueryResult, error) {
	b, st, err := s.acls.resolveBucket(ctx, c, b)
	if err != nil {
		return kumo.QueryResult{}, err
	}
	if err := s.acls.mayBucket(ctx, c, st, b, kumo.QueryObjectsInBucket); err != nil {
		return kumo.QueryResult{}, err
	}
	readAll, err := s.acls.allowed(ctx, c, st, kumo.ACLTarget{Bucket: b}, kumo.ReadObjectsInBucket, nil)
	if err != nil {
		return kumo.QueryResult{}, err
	}
	var readable func(kumo.Object) (bool, error) // nil: every match
	if !readAll {
		if _, ok := q.Count(); ok {
			// A count of objects one may not all read would tell what
			// they hold (range counts narrow values down).
			return kumo.QueryResult{}, kumo.Unauthorized(c, "Counting needs READ_OBJECTS_IN_BUCKET on bucket %s", b.Name)
		}
		readable = func(o kumo.Object) (bool, error) {
			owner := principalOf(o.Owner)
			return s.acls.allowed(ctx, c, st, kumo.ACLTarget{Bucket: b, ObjectID: o.ID}, kumo.ReadExistingObject, &owner)
		}
	}
	return s.queryObjects(ctx, b, q, readable)
}

// queryObjects runs q in bucket b (canonical, checked). With readable,
// only the matches it accepts are results, and pages are cut among them
// (a page's key is the last returned result's, never a skipped one's).
func (s *ObjectService) queryObjects(ctx context.Context, b kumo.BucketRef, q kumo.Query, readable func(kumo.Object) (bool, error)) (kumo.QueryResult, error) {
	var after *kql.Cursor
	if q.PaginationKey != "" {
		cur, err := kql.DecodeCursor(q.PaginationKey)
		if err != nil {
			return kumo.QueryResult{}, err
		}
		after = &cur
	}
	var state int
	err := s.db.queryRow(ctx, "SELECT indexed FROM buckets WHERE app_id = ? AND scope = ? AND name = ?",
		b.AppID, b.Scope.Key(), b.Name).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return kumo.QueryResult{}, kumo.BucketNotFound(b)
	}
	if err != nil {
		return kumo.QueryResult{}, err
	}
	if state != indexed { // not indexed, or being indexed (perhaps by a node that died)
		if err := s.indexBucket(ctx, b); err != nil {
			return kumo.QueryResult{}, err
		}
	}
	src := objectSource(b)
	if name, ok := q.Count(); ok {
		count, err := s.countObjects(ctx, src, b, q)
		return kumo.QueryResult{Aggregations: map[string]int64{name: count}}, err
	}
	if kql.OrdersByDistance(q) {
		return s.queryByDistance(ctx, src, b, q, after, readable)
	}
	var (
		res       kumo.QueryResult
		last      kql.Cursor // the key of the last result
		scanned   int        // rows read, results or not
		pageBytes int        // stored JSON of the results so far
	)
	for {
		if scanned >= maxSkipped { // a caller who may read few of the objects: bounded work per request
			if len(res.Results) > 0 {
				res.NextPaginationKey = last.Encode()
				return res, nil
			}
			return kumo.QueryResult{}, kumo.Errorf(kumo.ErrQueryNotSupported,
				"More than %d objects match before one the caller may read: narrow the query", maxSkipped)
		}
		st := kql.Compile(src, q, after, q.Limit+1, s.db.dialect)
		// A page nearly full still reads rows by the eighth of its bound,
		// not one at a time, past those the caller may not read.
		rows, cut, err := s.readRows(ctx, st, b, max(maxPageBytes-pageBytes, maxPageBytes/8))
		if err != nil {
			return res, err
		}
		scanned += len(rows)
		for _, r := range rows {
			if st.Superset && !q.Clause.Matches(r.obj) {
				continue
			}
			if readable != nil {
				ok, err := readable(r.obj)
				if err != nil {
					return res, err
				}
				if !ok {
					continue
				}
			}
			if len(res.Results) == q.Limit || len(res.Results) > 0 && pageBytes+r.size > maxPageBytes {
				// One more than a page (or than its bytes): there is a
				// next page.
				res.NextPaginationKey = last.Encode()
				return res, nil
			}
			res.Results = append(res.Results, kumo.QueryHit{Object: r.obj, Calculated: q.Clause.Distances(r.obj)})
			pageBytes += r.size
			last = r.key
		}
		if !cut && len(rows) < q.Limit+1 {
			return res, nil
		}
		cur := rows[len(rows)-1].key
		after = &cur // only when rows were filtered out: read on
	}
}

// maxPageBytes bounds the stored JSON of a query page's results (and so
// the memory and the answer of one query: decoded, deeply nested JSON
// takes up to a hundred times its size): a page whose objects are
// larger ends before bestEffortLimit, with a nextPaginationKey, as a
// best-effort limit allows. A page holds at least one object. A variable
// for tests.
var maxPageBytes = 512 << 10

// maxCandidateBytes bounds the stored JSON of the candidates a query reads
// into memory to compute distances or a count (see candidates).
const maxCandidateBytes = 32 << 20

// queryRow is a row of a compiled query.
type queryRow struct {
	obj  kumo.Object
	key  kql.Cursor
	size int // the length of the object's stored JSON
}

// readRows runs a compiled query on the read pool. Its SQL is not kept
// prepared (queries come in endless shapes). It stops after the row whose
// stored JSON takes the rows' total beyond budget, if budget is positive,
// or after the first row otherwise, and reports that it was cut.
func (s *ObjectService) readRows(ctx context.Context, st kql.Statement, b kumo.BucketRef, budget int) (_ []queryRow, cut bool, _ error) {
	rows, err := s.db.read.QueryContext(ctx, st.SQL, st.Args...)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	var out []queryRow
	total := 0
	for rows.Next() {
		if total > 0 && total >= budget {
			return out, true, nil
		}
		r := queryRow{obj: kumo.Object{Bucket: b}}
		var data string
		o := &r.obj
		if err := rows.Scan(&o.ID, &data, &o.DataType, &o.Owner, &o.Version, &o.Created, &o.Modified,
			&r.key.Kind, &r.key.Num, &r.key.Str, &r.key.ID); err != nil {
			return nil, false, err
		}
		if o.Data, err = decodeData(data); err != nil {
			return nil, false, err
		}
		r.size = len(data)
		total += r.size
		out = append(out, r)
	}
	return out, false, rows.Err()
}

// countObjects counts the objects q's clause matches.
func (s *ObjectService) countObjects(ctx context.Context, src kql.Source, b kumo.BucketRef, q kumo.Query) (int64, error) {
	q.OrderBy, q.Descending = "", false
	st := kql.CompileCount(src, q, s.db.dialect)
	if !st.Superset {
		var n int64
		err := s.db.read.QueryRowContext(ctx, st.SQL, st.Args...).Scan(&n)
		return n, err
	}
	rows, err := s.candidates(ctx, src, b, q)
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
func (s *ObjectService) queryByDistance(ctx context.Context, src kql.Source, b kumo.BucketRef, q kumo.Query, after *kql.Cursor, readable func(kumo.Object) (bool, error)) (kumo.QueryResult, error) {
	rows, err := s.candidates(ctx, src, b, q)
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
		if readable != nil {
			ok, err := readable(r.obj)
			if err != nil {
				return kumo.QueryResult{}, err
			}
			if !ok {
				continue
			}
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

// maxSkipped bounds the rows a query reads to fill a page when the caller
// may read only some of the objects (READ_OBJECTS_IN_BUCKET revoked): a
// page cut short ends there (keyed by its last result, never by a row the
// caller may not read), and with no result at all the query is
// QUERY_NOT_SUPPORTED. A variable for tests.
var maxSkipped = maxCandidates

// maxCandidates bounds the objects a query that the index cannot answer
// exactly (a geodistance order, the count of a superset) may read into
// memory: beyond it the query is refused rather than loading a bucket.
const maxCandidates = 20_000

// candidates reads every object the index selects for q, at most
// maxCandidates objects and maxCandidateBytes of their stored JSON (else
// QUERY_NOT_SUPPORTED).
func (s *ObjectService) candidates(ctx context.Context, src kql.Source, b kumo.BucketRef, q kumo.Query) ([]queryRow, error) {
	rows, cut, err := s.readRows(ctx, kql.Compile(src, q, nil, maxCandidates+1, s.db.dialect), b, maxCandidateBytes)
	if err != nil {
		return nil, err
	}
	if cut {
		return nil, kumo.Errorf(kumo.ErrQueryNotSupported,
			"The query selects more than %d MiB of objects before its distances or count can be computed: narrow it (a geobox, a range)", maxCandidateBytes>>20)
	}
	if len(rows) > maxCandidates {
		return nil, kumo.Errorf(kumo.ErrQueryNotSupported,
			"The query selects more than %d objects before its distances or count can be computed: narrow it (a geobox, a range)", maxCandidates)
	}
	return rows, nil
}
