// Package storecopy is kumo copy: it copies every table of one Kumo store
// into another (an SQLite file into a PostgreSQL database, for instance),
// in chunks, idempotently, and verifies the copy by counts and checksums.
// It works on the tables, not through the services: it needs of a store
// only its pools, its dialect and its blobs (sqlstore.DB's ReadDB,
// WriteDB, Dialect and Blobs). What differs between databases is the
// dialects' behaviour (SerialAdvancer), never a test of the engine here.
package storecopy

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kumo-iot/kumo/internal/sqlstore"
)

// Table is a table that Copy copies: its name and primary key. The
// columns are not listed: Copy reads them from the two databases, which
// must have the same (a column added to one migration only stops the copy
// with an error; one added to both is copied).
type Table struct {
	Name string
	// Key is the primary key, in order: rows are read, written and
	// checksummed in this order on both sides.
	Key []string
	// App is the column holding the app ID ("" when the table is not per
	// app), with which the verification leaves out the rows of apps that
	// only the destination has.
	App string
	// Max, when set, is a column that takes the greater of the source's
	// and the destination's values (the counters) instead of the
	// destination's row being kept as it is.
	Max string
	// Serial is the column whose values the database generates (an
	// AUTOINCREMENT or BIGSERIAL key), "" when none: after the table's
	// copy the destination's generator is moved past the values copied
	// (see SerialAdvancer).
	Serial string
}

// tables are the tables of the schema in the order Copy copies them
// (dependency order: the apps before their data, the outbox after the
// data it points at). TestCopyTablesMatchSchema checks that they are
// every table of both dialects' migrations, with these primary keys and
// serial columns.
var tables = []Table{
	{Name: "meta", Key: []string{"key"}},
	{Name: "apps", Key: []string{"id"}, App: "id"},
	{Name: "tokens", Key: []string{"key"}, App: "app_id"},
	{Name: "refresh_tokens", Key: []string{"key"}, App: "app_id"},
	{Name: "login_failures", Key: []string{"app_id", "principal_id"}, App: "app_id"},
	{Name: "users", Key: []string{"app_id", "id"}, App: "app_id"},
	{Name: "things", Key: []string{"app_id", "id"}, App: "app_id"},
	{Name: "groups", Key: []string{"app_id", "id"}, App: "app_id"},
	{Name: "group_members", Key: []string{"app_id", "group_id", "user_id"}, App: "app_id"},
	{Name: "thing_owners", Key: []string{"app_id", "thing_id", "owner_kind", "owner_id"}, App: "app_id"},
	{Name: "thing_ownership_codes", Key: []string{"app_id", "thing_id", "code_hash"}, App: "app_id"},
	{Name: "end_nodes", Key: []string{"app_id", "end_node_id"}, App: "app_id"},
	{Name: "states", Key: []string{"app_id", "thing_id"}, App: "app_id"},
	{Name: "state_history", Key: []string{"seq"}, App: "app_id", Serial: "seq"},
	{Name: "thing_types", Key: []string{"app_id", "name"}, App: "app_id"},
	{Name: "firmware_versions", Key: []string{"app_id", "thing_type", "name"}, App: "app_id"},
	{Name: "trait_versions", Key: []string{"app_id", "trait", "version"}, App: "app_id"},
	{Name: "trait_aliases", Key: []string{"app_id", "thing_type", "firmware_version", "alias"}, App: "app_id"},
	{Name: "commands", Key: []string{"seq"}, App: "app_id", Serial: "seq"},
	{Name: "triggers", Key: []string{"app_id", "id"}, App: "app_id"},
	{Name: "trigger_server_code_results", Key: []string{"app_id", "trigger_id", "id"}, App: "app_id"},
	{Name: "buckets", Key: []string{"app_id", "scope", "name"}, App: "app_id"},
	{Name: "objects", Key: []string{"app_id", "scope", "bucket", "id"}, App: "app_id"},
	{Name: "acl_entries", Key: []string{"app_id", "scope", "bucket", "object_id", "topic", "verb", "subject"}, App: "app_id"},
	{Name: "object_bodies", Key: []string{"app_id", "scope", "bucket", "object_id"}, App: "app_id"},
	{Name: "body_publications", Key: []string{"id"}, App: "app_id"},
	{Name: "body_uploads", Key: []string{"id"}, App: "app_id"},
	{Name: "body_upload_chunks", Key: []string{"upload_id", "first_byte"}},
	{Name: "blob_trash", Key: []string{"blob_id"}},
	{Name: "object_fields", Key: []string{"app_id", "scope", "bucket", "object_id", "field"}, App: "app_id"},
	{Name: "installations", Key: []string{"app_id", "id"}, App: "app_id"},
	{Name: "push_configs", Key: []string{"app_id"}, App: "app_id"},
	// server code: scapi
	{Name: "server_code_versions", Key: []string{"app_id", "id"}, App: "app_id"},
	{Name: "server_code_current", Key: []string{"app_id"}, App: "app_id"},
	{Name: "server_code_hooks", Key: []string{"app_id", "version_id"}, App: "app_id"},
	{Name: "bucket_subscriptions", Key: []string{"app_id", "scope", "bucket", "subscriber_kind", "subscriber_id"}, App: "app_id"},
	{Name: "topics", Key: []string{"app_id", "scope", "name"}, App: "app_id"},
	{Name: "topic_subscriptions", Key: []string{"app_id", "scope", "topic", "subscriber_kind", "subscriber_id"}, App: "app_id"},
	{Name: "outbox", Key: []string{"seq"}, App: "app_id", Serial: "seq"},
	{Name: "server_code_jobs", Key: []string{"id"}, App: "app_id"}, // server code: hooks
	{Name: "push_deliveries", Key: []string{"id"}, App: "app_id", Serial: "id"},
	{Name: "phone_pushes", Key: []string{"id"}, App: "app_id", Serial: "id"},
	{Name: "mqtt_queue", Key: []string{"mqtt_topic", "seq"}, App: "app_id"},
	// server code: sched
	{Name: "dev_logs", Key: []string{"seq"}, App: "app_id", Serial: "seq"},
	{Name: "schedule_executions", Key: []string{"app_id", "id"}, App: "app_id"},
	{Name: "counters", Key: []string{"name"}, Max: "value"},
}

// Tables returns the tables Copy copies, in the order it copies them.
func Tables() []Table {
	out := make([]Table, len(tables))
	for i, t := range tables {
		t.Key = slices.Clone(t.Key)
		out[i] = t
	}
	return out
}

// Options tune Copy.
type Options struct {
	// ChunkRows is how many rows are read, and written in one transaction,
	// at a time: 1000 when 0.
	ChunkRows int
	// Progress, when set, is called after every chunk a table's copy
	// processes (and once for an empty table): done of the source's total
	// rows have been copied or found already there.
	Progress func(table string, done, total int64)
	// Verifying, when set, is called when the verification of a table
	// starts.
	Verifying func(table string)
}

// Report is what Copy did, table by table.
type Report struct {
	Tables []TableReport
	// OutboxSeq is the highest outbox seq in the destination after the
	// copy: new events get greater ones.
	OutboxSeq int64
}

// Copied returns the number of rows the copy wrote.
func (r Report) Copied() int64 {
	var n int64
	for _, t := range r.Tables {
		n += t.Copied
	}
	return n
}

// Mismatches returns the tables that did not verify.
func (r Report) Mismatches() []TableReport {
	var out []TableReport
	for _, t := range r.Tables {
		if t.Mismatch != "" {
			out = append(out, t)
		}
	}
	return out
}

// TableReport is the copy and verification of one table.
type TableReport struct {
	Table string
	// Source is the number of rows in the source (its snapshot).
	Source int64
	// Copied is the number of rows this run wrote: inserted, or counters
	// raised. Zero when everything was there already.
	Copied int64
	// Destination is the number of rows verified in the destination:
	// all of them but those of apps that only the destination has.
	Destination int64
	// SourceSum and DestinationSum are the SHA-256 (hex) of the rows in
	// key order, in a canonical text form, computed in Go on each side.
	SourceSum, DestinationSum string
	// Mismatch says why the table does not verify; empty when it does.
	Mismatch string
}

// ConflictError is returned by Copy, before it writes anything, when the
// destination holds data that contradicts the source: an app with the
// same ID (or key, or client ID) but other credentials, or a server
// secret with another value.
type ConflictError struct {
	Conflicts []string
}

func (e *ConflictError) Error() string {
	return "the destination holds data that conflicts with the source, nothing was copied:\n  " +
		strings.Join(e.Conflicts, "\n  ")
}

// MismatchError is returned by Copy when the verification finds a table
// whose rows differ between the source and the destination.
type MismatchError struct {
	Tables []TableReport
}

func (e *MismatchError) Error() string {
	var b strings.Builder
	b.WriteString("verification failed: the destination differs from the source in ")
	for i, t := range e.Tables {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "table %s (%s)", t.Table, t.Mismatch)
	}
	return b.String()
}

// Copy copies every app and all their data from the store from to the
// store to (an SQLite file to a PostgreSQL database, for instance), then
// verifies the copy.
//
// The source is read in one read-only transaction: a consistent snapshot
// of every table, even while a server writes to it (SQLite in WAL mode
// allows that). The tables are copied in dependency order (Tables),
// each in primary-key order, ChunkRows rows at a time, each chunk in a
// transaction of its own. A row whose key the destination has already is
// left as it is (INSERT … ON CONFLICT DO NOTHING), except the counters,
// which take the greater value. So Copy can run again: after a complete
// copy it writes nothing; after an interrupted one it copies the rest.
// The outbox keeps its seqs (pending events are pushed by the
// destination's server), and the destination's seq generator is moved
// past them.
//
// Before writing anything, Copy checks that the destination has no app
// with the same ID, key or client ID but other credentials, and no meta
// entry (such as the MQTT password secret) with another value: it returns
// a *ConflictError listing them.
//
// After the copy, it verifies each table: the same number of rows on both
// sides and the same checksum (TableReport). The rows of apps that only
// the destination has are left out of the comparison, and a counter may
// be greater in the destination. A difference is a *MismatchError naming
// the tables, returned with the report. A difference arises when the
// destination was written to otherwise, or when the source changed since
// an earlier copy into the same destination (Copy adds missing rows but
// never changes or deletes a row): copy into an empty database then.
// Nor should a copy run again once a server has run on the destination:
// the events it has dispatched (and deleted) would be inserted again.
//
// Nothing else may write to the destination during the copy. Both stores
// are used through their connection pools, not their writers.
func Copy(ctx context.Context, from, to *sqlstore.DB, opt Options) (Report, error) {
	if from == to {
		return Report{}, errors.New("copy: the source and the destination are the same store")
	}
	if opt.ChunkRows <= 0 {
		opt.ChunkRows = 1000
	}
	src, err := from.ReadDB().BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return Report{}, fmt.Errorf("copy: begin the source's read transaction: %w", err)
	}
	defer src.Rollback()

	c := &copier{from: from, to: to, src: src, opt: opt}
	// The first read fixes the source's snapshot.
	if err := c.readColumns(ctx); err != nil {
		return Report{}, err
	}
	if err := c.checkConflicts(ctx); err != nil {
		return Report{}, err
	}
	rep := Report{}
	for _, t := range tables {
		tr, err := c.copyTable(ctx, t)
		if err != nil {
			return rep, fmt.Errorf("copy table %s: %w", t.Name, err)
		}
		rep.Tables = append(rep.Tables, tr)
		if t.Serial != "" {
			if err := c.advanceSerial(ctx, t); err != nil {
				return rep, err
			}
		}
	}
	if err := to.ReadDB().QueryRowContext(ctx, "SELECT COALESCE(MAX(seq), 0) FROM outbox").Scan(&rep.OutboxSeq); err != nil {
		return rep, fmt.Errorf("copy: read the destination's outbox: %w", err)
	}
	blobs, err := c.copyBlobs(ctx)
	if err != nil {
		return rep, fmt.Errorf("copy object body bytes: %w", err)
	}
	if err := c.verify(ctx, &rep); err != nil {
		return rep, err
	}
	if err := c.verifyBlobs(ctx, &blobs); err != nil {
		return rep, err
	}
	rep.Tables = append(rep.Tables, blobs)
	if bad := rep.Mismatches(); len(bad) > 0 {
		return rep, &MismatchError{Tables: bad}
	}
	return rep, nil
}

type copier struct {
	from, to *sqlstore.DB
	src      *sql.Tx
	opt      Options
	cols     map[string][]string // table -> columns, in the source's order
	apps     map[string]bool     // the source's app IDs
	meta     map[string]bool     // the source's meta keys
}

// queryer is a transaction or a pool.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// quote quotes an identifier for both dialects.
func quote(id string) string { return `"` + strings.ReplaceAll(id, `"`, `""`) + `"` }

func quoteAll(ids []string) string {
	q := make([]string, len(ids))
	for i, id := range ids {
		q[i] = quote(id)
	}
	return strings.Join(q, ", ")
}

// columnsOf returns the columns of table as the database reports them.
func columnsOf(ctx context.Context, q queryer, table string) ([]string, error) {
	rows, err := q.QueryContext(ctx, "SELECT * FROM "+quote(table)+" LIMIT 0")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	return cols, rows.Close()
}

// readColumns reads every table's columns on both sides and checks that
// they are the same.
func (c *copier) readColumns(ctx context.Context) error {
	c.cols = map[string][]string{}
	var problems []string
	for _, t := range tables {
		sc, err := columnsOf(ctx, c.src, t.Name)
		if err != nil {
			return fmt.Errorf("copy: read the source's table %s: %w", t.Name, err)
		}
		dc, err := columnsOf(ctx, c.to.ReadDB(), t.Name)
		if err != nil {
			return fmt.Errorf("copy: read the destination's table %s: %w", t.Name, err)
		}
		for _, col := range sc {
			if !slices.Contains(dc, col) {
				problems = append(problems, fmt.Sprintf("table %s: column %s is in the source but not in the destination", t.Name, col))
			}
		}
		for _, col := range dc {
			if !slices.Contains(sc, col) {
				problems = append(problems, fmt.Sprintf("table %s: column %s is in the destination but not in the source", t.Name, col))
			}
		}
		for _, col := range append(slices.Clone(t.Key), t.App, t.Max) {
			if col != "" && !slices.Contains(sc, col) {
				problems = append(problems, fmt.Sprintf("table %s: no column %s", t.Name, col))
			}
		}
		c.cols[t.Name] = sc
	}
	if len(problems) > 0 {
		return fmt.Errorf("copy: the schemas differ (are both databases at the same schema version?):\n  %s", strings.Join(problems, "\n  "))
	}
	return nil
}

// row is a row by column name.
type row map[string]any

// readAll reads every row of a (small) table.
func readAll(ctx context.Context, q queryer, table string, cols []string) ([]row, error) {
	rows, err := q.QueryContext(ctx, "SELECT "+quoteAll(cols)+" FROM "+quote(table))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []row
	for rows.Next() {
		vals, err := scanValues(rows, len(cols))
		if err != nil {
			return nil, err
		}
		r := row{}
		for i, col := range cols {
			r[col] = vals[i]
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func scanValues(rows *sql.Rows, n int) ([]any, error) {
	vals := make([]any, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	for i, v := range vals {
		if b, ok := v.([]byte); ok { // TEXT columns only: drivers may hand bytes
			vals[i] = string(b)
		}
	}
	return vals, nil
}

// same reports whether two values are the same in canonical form.
func same(a, b any) bool {
	ea, errA := appendCanonical(nil, a)
	eb, errB := appendCanonical(nil, b)
	return errA == nil && errB == nil && string(ea) == string(eb)
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// checkConflicts compares the source's apps and meta entries with the
// destination's, and remembers the source's app IDs and meta keys.
func (c *copier) checkConflicts(ctx context.Context) error {
	srcApps, err := readAll(ctx, c.src, "apps", c.cols["apps"])
	if err != nil {
		return fmt.Errorf("copy: read the source's apps: %w", err)
	}
	dstApps, err := readAll(ctx, c.to.ReadDB(), "apps", c.cols["apps"])
	if err != nil {
		return fmt.Errorf("copy: read the destination's apps: %w", err)
	}
	srcMeta, err := readAll(ctx, c.src, "meta", c.cols["meta"])
	if err != nil {
		return fmt.Errorf("copy: read the source's meta: %w", err)
	}
	dstMeta, err := readAll(ctx, c.to.ReadDB(), "meta", c.cols["meta"])
	if err != nil {
		return fmt.Errorf("copy: read the destination's meta: %w", err)
	}
	var conflicts []string
	c.apps = map[string]bool{}
	for _, s := range srcApps {
		id := str(s["id"])
		c.apps[id] = true
		for _, d := range dstApps {
			if str(d["id"]) == id {
				var differ []string
				for _, col := range c.cols["apps"] {
					if !same(s[col], d[col]) {
						differ = append(differ, col)
					}
				}
				if len(differ) > 0 {
					conflicts = append(conflicts, fmt.Sprintf("app %s exists in the destination with another %s",
						id, strings.Join(differ, ", ")))
				}
				continue
			}
			// An app's key may stand for its ID, so IDs and keys share one
			// namespace; client IDs are unique too.
			names := []string{str(s["id"]), str(s["app_key"])}
			if slices.Contains(names, str(d["id"])) || slices.Contains(names, str(d["app_key"])) {
				conflicts = append(conflicts, fmt.Sprintf("app %s: the destination's app %s has the same ID or key", id, str(d["id"])))
			}
			if str(s["client_id"]) != "" && str(s["client_id"]) == str(d["client_id"]) {
				conflicts = append(conflicts, fmt.Sprintf("app %s: the destination's app %s has the same client ID", id, str(d["id"])))
			}
		}
	}
	c.meta = map[string]bool{}
	for _, s := range srcMeta {
		key := str(s["key"])
		c.meta[key] = true
		for _, d := range dstMeta {
			if str(d["key"]) != key || same(s["value"], d["value"]) {
				continue
			}
			msg := fmt.Sprintf("meta %s has another value in the destination", key)
			if strings.HasSuffix(key, "-secret") {
				msg += " (the destination has a server secret of its own: a Kumo server ran on it; with another secret, the devices' MQTT passwords would change)"
			}
			conflicts = append(conflicts, msg)
		}
	}
	if len(conflicts) > 0 {
		sort.Strings(conflicts)
		return &ConflictError{Conflicts: conflicts}
	}
	return nil
}

// maxParams bounds the placeholders of one statement (SQLite allows
// 32766, PostgreSQL 65535).
const maxParams = 30000

// copyTable copies one table, chunk by chunk in key order.
func (c *copier) copyTable(ctx context.Context, t Table) (TableReport, error) {
	tr := TableReport{Table: t.Name}
	cols := c.cols[t.Name]
	if err := c.src.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+quote(t.Name)).Scan(&tr.Source); err != nil {
		return tr, err
	}
	keyIdx := make([]int, len(t.Key))
	for i, k := range t.Key {
		keyIdx[i] = slices.Index(cols, k)
	}
	sel := "SELECT " + quoteAll(cols) + " FROM " + quote(t.Name)
	order := " ORDER BY " + quoteAll(t.Key) + " LIMIT " + strconv.Itoa(c.opt.ChunkRows)
	after := " WHERE (" + quoteAll(t.Key) + ") > (" + placeholders(len(t.Key)) + ")"
	var (
		last []any // the key of the last row read
		done int64
	)
	for {
		q, args := sel+order, []any(nil)
		if last != nil {
			q, args = sel+after+order, last
		}
		chunk, err := c.readChunk(ctx, q, args, len(cols))
		if err != nil {
			return tr, fmt.Errorf("read the source: %w", err)
		}
		if len(chunk) == 0 {
			break
		}
		n, err := c.writeChunk(ctx, t, cols, chunk)
		if err != nil {
			return tr, fmt.Errorf("write the destination: %w", err)
		}
		tr.Copied += n
		done += int64(len(chunk))
		if c.opt.Progress != nil {
			c.opt.Progress(t.Name, done, tr.Source)
		}
		lastRow := chunk[len(chunk)-1]
		last = make([]any, len(keyIdx))
		for i, k := range keyIdx {
			if lastRow[k] == nil {
				return tr, fmt.Errorf("a row has a NULL in its primary key column %s", t.Key[i])
			}
			last[i] = lastRow[k]
		}
		if len(chunk) < c.opt.ChunkRows {
			break
		}
	}
	if done == 0 && c.opt.Progress != nil {
		c.opt.Progress(t.Name, 0, tr.Source)
	}
	return tr, nil
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

func (c *copier) readChunk(ctx context.Context, query string, args []any, ncols int) ([][]any, error) {
	rows, err := c.src.QueryContext(ctx, c.from.Dialect().Rebind(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var chunk [][]any
	for rows.Next() {
		vals, err := scanValues(rows, ncols)
		if err != nil {
			return nil, err
		}
		chunk = append(chunk, vals)
	}
	return chunk, rows.Err()
}

// writeChunk inserts the rows of one chunk in one transaction and returns
// how many it wrote.
func (c *copier) writeChunk(ctx context.Context, t Table, cols []string, chunk [][]any) (int64, error) {
	tx, err := c.to.WriteDB().BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	per := max(1, maxParams/len(cols))
	var written int64
	for start := 0; start < len(chunk); start += per {
		part := chunk[start:min(start+per, len(chunk))]
		args := make([]any, 0, len(part)*len(cols))
		for _, r := range part {
			args = append(args, r...)
		}
		res, err := tx.ExecContext(ctx, c.to.Dialect().Rebind(insertSQL(t, cols, len(part))), args...)
		if err != nil {
			return 0, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, err
		}
		written += n
	}
	return written, tx.Commit()
}

// insertSQL is the statement that inserts n rows into t unless their key
// is there already (or, for a Max table, raises the Max column).
func insertSQL(t Table, cols []string, n int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO " + quote(t.Name) + " (" + quoteAll(cols) + ") VALUES ")
	one := "(" + placeholders(len(cols)) + ")"
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(one)
	}
	if t.Max == "" {
		b.WriteString(" ON CONFLICT DO NOTHING")
	} else {
		m := quote(t.Max)
		fmt.Fprintf(&b, " ON CONFLICT (%s) DO UPDATE SET %s = excluded.%s WHERE excluded.%s > %s.%s",
			quoteAll(t.Key), m, m, m, quote(t.Name), m)
	}
	return b.String()
}

// SerialAdvancer is implemented by a Dialect whose database does not
// move the generator of a serial column (PostgreSQL's BIGSERIAL sequence)
// past the values inserted explicitly, as Copy inserts them. Without it,
// the database's generator follows those values by itself (SQLite's
// AUTOINCREMENT does), and nothing is done.
type SerialAdvancer interface {
	// AdvanceSerial moves the generator of table's column past the
	// greatest value in the table, never back.
	AdvanceSerial(ctx context.Context, db *sql.DB, table, column string) error
}

// advanceSerial moves the destination's generator of t's serial column
// past the values copied.
func (c *copier) advanceSerial(ctx context.Context, t Table) error {
	a, ok := c.to.Dialect().(SerialAdvancer)
	if !ok {
		return nil
	}
	if err := a.AdvanceSerial(ctx, c.to.WriteDB(), t.Name, t.Serial); err != nil {
		return fmt.Errorf("copy: advance the destination's %s.%s generator: %w", t.Name, t.Serial, err)
	}
	return nil
}

// verify compares every table of the source's snapshot with the
// destination, filling in the report.
func (c *copier) verify(ctx context.Context, rep *Report) error {
	dst, err := c.to.ReadDB().BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return fmt.Errorf("verify: begin the destination's read transaction: %w", err)
	}
	defer dst.Rollback()
	// The rows of apps that only the destination has are left out.
	dstApps, err := readAll(ctx, dst, "apps", []string{"id"})
	if err != nil {
		return fmt.Errorf("verify: read the destination's apps: %w", err)
	}
	skipApps := map[string]bool{}
	for _, a := range dstApps {
		if id := str(a["id"]); !c.apps[id] {
			skipApps[id] = true
		}
	}
	for i, t := range tables {
		if c.opt.Verifying != nil {
			c.opt.Verifying(t.Name)
		}
		tr := &rep.Tables[i]
		var keep func(vals []any) bool // every row
		switch {
		case t.App != "":
			k := slices.Index(c.cols[t.Name], t.App)
			keep = func(vals []any) bool { return !skipApps[str(vals[k])] }
		case t.Name == "meta":
			k := slices.Index(c.cols[t.Name], "key")
			keep = func(vals []any) bool { return c.meta[str(vals[k])] }
		}
		var (
			s, d       tableSum
			sErr, dErr error
			wait       = make(chan struct{})
		)
		go func() {
			defer close(wait)
			s, sErr = sumTable(ctx, c.src, c.from.Dialect(), t, c.cols[t.Name], nil)
		}()
		d, dErr = sumTable(ctx, dst, c.to.Dialect(), t, c.cols[t.Name], keep)
		<-wait
		if sErr != nil {
			return fmt.Errorf("verify table %s: read the source: %w", t.Name, sErr)
		}
		if dErr != nil {
			return fmt.Errorf("verify table %s: read the destination: %w", t.Name, dErr)
		}
		tr.Destination = d.rows
		tr.SourceSum, tr.DestinationSum = s.sum, d.sum
		switch {
		case s.rows != tr.Source:
			tr.Mismatch = fmt.Sprintf("the source's snapshot changed: %d rows, then %d", tr.Source, s.rows)
		case s.rows != d.rows:
			tr.Mismatch = fmt.Sprintf("%d rows in the source, %d in the destination", s.rows, d.rows)
		case s.sum != d.sum:
			tr.Mismatch = "the rows' checksums differ"
		case t.Max != "":
			for k, sv := range s.max {
				if dv, ok := d.max[k]; !ok || dv < sv {
					tr.Mismatch = fmt.Sprintf("%s of %s is %d in the source, %d in the destination", t.Max, k, sv, dv)
					break
				}
			}
		}
	}
	return nil
}

// tableSum is a table's row count and checksum.
type tableSum struct {
	rows int64
	sum  string
	max  map[string]int64 // a Max table's Max column, by canonical key
}

// sumTable reads a table in key order and returns its count and checksum:
// the SHA-256 of every row (those keep accepts; all when nil) in a
// canonical text form, column by column in the order cols. A Max table's
// Max column is left out of the checksum and returned by key instead.
func sumTable(ctx context.Context, q queryer, d sqlstore.Dialect, t Table, cols []string, keep func([]any) bool) (tableSum, error) {
	rows, err := q.QueryContext(ctx, d.Rebind("SELECT "+quoteAll(cols)+" FROM "+quote(t.Name)+" ORDER BY "+quoteAll(t.Key)))
	if err != nil {
		return tableSum{}, err
	}
	defer rows.Close()
	var (
		h      hash.Hash = sha256.New()
		out              = tableSum{}
		buf    []byte
		maxIdx = slices.Index(cols, t.Max)
		keyIdx = make([]int, len(t.Key))
	)
	for i, k := range t.Key {
		keyIdx[i] = slices.Index(cols, k)
	}
	if t.Max != "" {
		out.max = map[string]int64{}
	}
	for rows.Next() {
		vals, err := scanValues(rows, len(cols))
		if err != nil {
			return tableSum{}, err
		}
		if keep != nil && !keep(vals) {
			continue
		}
		out.rows++
		buf = buf[:0]
		for i, v := range vals {
			if i == maxIdx {
				continue
			}
			if buf, err = appendCanonical(buf, v); err != nil {
				return tableSum{}, fmt.Errorf("column %s: %w", cols[i], err)
			}
		}
		buf = append(buf, '\n')
		h.Write(buf)
		if maxIdx >= 0 {
			var key []byte
			for _, k := range keyIdx {
				key, _ = appendCanonical(key, vals[k])
			}
			m, err := toInt64(vals[maxIdx])
			if err != nil {
				return tableSum{}, fmt.Errorf("column %s: %w", t.Max, err)
			}
			out.max[string(key)] = m
		}
	}
	if err := rows.Err(); err != nil {
		return tableSum{}, err
	}
	out.sum = hex.EncodeToString(h.Sum(nil))
	return out, nil
}

// appendCanonical appends a value's canonical text form, the same
// whichever driver read it: "n;" for NULL, "i<decimal>;" for an integer
// (flags included), "f<shortest decimal>;" for a float, and
// "s<byte length>:<bytes>;" for text.
func appendCanonical(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		b = append(b, 'n')
	case int64:
		b = strconv.AppendInt(append(b, 'i'), x, 10)
	case int32:
		b = strconv.AppendInt(append(b, 'i'), int64(x), 10)
	case int16:
		b = strconv.AppendInt(append(b, 'i'), int64(x), 10)
	case int:
		b = strconv.AppendInt(append(b, 'i'), int64(x), 10)
	case bool:
		if x {
			b = append(b, "i1"...)
		} else {
			b = append(b, "i0"...)
		}
	case float64:
		b = strconv.AppendFloat(append(b, 'f'), x, 'g', -1, 64)
	case string:
		b = strconv.AppendInt(append(b, 's'), int64(len(x)), 10)
		b = append(append(b, ':'), x...)
	case []byte:
		b = strconv.AppendInt(append(b, 's'), int64(len(x)), 10)
		b = append(append(b, ':'), x...)
	case time.Time:
		b = append(append(b, 't'), x.UTC().Format(time.RFC3339Nano)...)
	default:
		return b, fmt.Errorf("unexpected value of type %T", v)
	}
	return append(b, ';'), nil
}

func toInt64(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case int32:
		return int64(x), nil
	case int:
		return int64(x), nil
	}
	return 0, fmt.Errorf("not an integer: %T", v)
}

// BlobsReport is the name of the copy report's entry for the bytes of
// object bodies (Blobs), which are not in a table on every store.
const BlobsReport = "(object body bytes)"

// blobIDs returns the IDs of the blobs that the source's snapshot names,
// in order.
func (c *copier) blobIDs(ctx context.Context) ([]string, error) {
	rows, err := c.src.QueryContext(ctx, "SELECT blob_id FROM object_bodies UNION SELECT blob_id FROM body_upload_chunks ORDER BY 1")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// copyBlobs copies the bytes of the bodies and upload chunks the source
// names, streaming each blob (its ID kept), unless the destination has it
// already with the same size.
func (c *copier) copyBlobs(ctx context.Context) (TableReport, error) {
	tr := TableReport{Table: BlobsReport}
	ids, err := c.blobIDs(ctx)
	if err != nil {
		return tr, err
	}
	tr.Source = int64(len(ids))
	for i, id := range ids {
		size, ok, err := c.from.Blobs.Size(ctx, id)
		if err != nil || !ok {
			return tr, fmt.Errorf("blob %s of the source: missing (%v)", id, err)
		}
		dsize, dok, err := c.to.Blobs.Size(ctx, id)
		if err != nil {
			return tr, err
		}
		if dok && dsize != size {
			return tr, fmt.Errorf("blob %s: %d bytes in the source, %d in the destination", id, size, dsize)
		}
		if !dok {
			r, err := c.from.Blobs.Open(ctx, id, 0, size)
			if err != nil {
				return tr, err
			}
			_, err = c.to.Blobs.Create(ctx, id, r, size)
			r.Close()
			if err != nil {
				return tr, fmt.Errorf("blob %s: %w", id, err)
			}
			tr.Copied++
		}
		if c.opt.Progress != nil {
			c.opt.Progress(BlobsReport, int64(i+1), tr.Source)
		}
	}
	if len(ids) == 0 && c.opt.Progress != nil {
		c.opt.Progress(BlobsReport, 0, 0)
	}
	return tr, nil
}

// verifyBlobs checks that the destination holds every blob the source
// names, with the same bytes: a SHA-256 of all of them, in ID order, on
// each side.
func (c *copier) verifyBlobs(ctx context.Context, tr *TableReport) error {
	if c.opt.Verifying != nil {
		c.opt.Verifying(BlobsReport)
	}
	ids, err := c.blobIDs(ctx)
	if err != nil {
		return err
	}
	sum := func(b sqlstore.Blobs, count *int64) (string, error) {
		h := sha256.New()
		for _, id := range ids {
			size, ok, err := b.Size(ctx, id)
			if err != nil {
				return "", err
			}
			if !ok {
				continue
			}
			*count++
			r, err := b.Open(ctx, id, 0, size)
			if err != nil {
				return "", err
			}
			fmt.Fprintf(h, "%s %d\n", id, size)
			_, err = io.Copy(h, r)
			r.Close()
			if err != nil {
				return "", err
			}
		}
		return hex.EncodeToString(h.Sum(nil)), nil
	}
	var srcCount int64
	if tr.SourceSum, err = sum(c.from.Blobs, &srcCount); err != nil {
		return fmt.Errorf("verify object body bytes: read the source: %w", err)
	}
	if tr.DestinationSum, err = sum(c.to.Blobs, &tr.Destination); err != nil {
		return fmt.Errorf("verify object body bytes: read the destination: %w", err)
	}
	switch {
	case srcCount != tr.Destination:
		tr.Mismatch = fmt.Sprintf("%d blobs in the source, %d in the destination", srcCount, tr.Destination)
	case tr.SourceSum != tr.DestinationSum:
		tr.Mismatch = "the bytes' checksums differ"
	}
	return nil
}
