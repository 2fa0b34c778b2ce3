package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/kql"
)

// Dialect is what differs between databases. Beyond the methods below, a
// dialect may supply behaviour of its own through the optional interfaces
// of this file (RowLocker, ObjectWriter, OutboxLeaser, …): each operation
// that differs has one generic implementation here, in portable SQL, which
// a dialect overrides by implementing the interface. Shared code calls the
// operation; it never asks which database it runs on.
type Dialect interface {
	// Rebind rewrites the "?" placeholders of query for the database.
	Rebind(query string) string
	// IsUniqueViolation reports whether err is a unique-constraint failure.
	IsUniqueViolation(err error) bool
	// The SQL of queries (kql.Dialect).
	kql.Dialect
}

// StatementCacher is implemented by a Dialect whose driver prepares and
// caches the statements it runs, per connection (pgx does). The writer
// then runs its statements as they are instead of preparing them once per
// transaction, which on a network database costs a round trip to prepare
// and another to deallocate, per statement and transaction. (A property
// of the driver, not of the SQL: no SQL depends on it.)
type StatementCacher interface {
	CachesStatements() bool
}

// IgnoreInserter is implemented by a Dialect that has INSERT OR IGNORE
// (SQLite): a multi-row INSERT that can fail on no row then needs no
// statement journal (a copy of every page it changes, kept to undo it
// alone). Generic: "INSERT".
type IgnoreInserter interface {
	InsertOrIgnore() string
}

// insertOrIgnore is "INSERT OR IGNORE" where the dialect has it, else
// "INSERT": for the writes that cannot conflict with anything and whose
// values are never NULL (ledger records), to spare SQLite a statement
// journal.
func (db *DB) insertOrIgnore() string {
	if d, ok := db.dialect.(IgnoreInserter); ok {
		return d.InsertOrIgnore()
	}
	return "INSERT"
}

// RowLocker is implemented by a Dialect whose concurrent transactions
// must lock the rows they read inside a write to see one another's changes
// (PostgreSQL, under READ COMMITTED). Each method returns query, a SELECT
// run inside a write, made to lock the rows it reads until the write ends.
// Generic (noLocks): the query as it is, for a database whose writes run
// one at a time (SQLite's single writer).
type RowLocker interface {
	// LockShared locks the rows against change and deletion by others,
	// who may still lock them shared too.
	LockShared(query string) string
	// LockUpdate locks rows the write is about to change.
	LockUpdate(query string) string
	// LockSkipLocked locks rows to change, skipping the rows other
	// transactions hold locked (nodes claiming work at once get different
	// rows).
	LockSkipLocked(query string) string
}

// noLocks is the generic RowLocker.
type noLocks struct{}

func (noLocks) LockShared(q string) string     { return q }
func (noLocks) LockUpdate(q string) string     { return q }
func (noLocks) LockSkipLocked(q string) string { return q }

// StatisticsRefresher is implemented by a Dialect whose planner must be
// told of a table that grew at once (PostgreSQL plans from statistics it
// otherwise gathers later, and a bad plan can take minutes). Generic:
// nothing.
type StatisticsRefresher interface {
	// RefreshStatistics refreshes the planner's statistics of table.
	RefreshStatistics(ctx context.Context, db *sql.DB, table string) error
}

// refreshStatistics refreshes the planner's statistics of table where the
// dialect asks for it (StatisticsRefresher).
func (db *DB) refreshStatistics(ctx context.Context, table string) error {
	if r, ok := db.dialect.(StatisticsRefresher); ok {
		return r.RefreshStatistics(ctx, db.read, table)
	}
	return nil
}

// BlobSweeper is implemented by a Dialect whose database several nodes
// share. OrphanAge is how long before the start of this node a blob that
// no row names must have been written for the sweep at start to delete
// it: another node may be between writing a blob and committing its row.
// Generic: 0 (one process; every blob older than its start).
type BlobSweeper interface {
	OrphanAge() time.Duration
}

// orphanAge is the dialect's BlobSweeper.OrphanAge, or 0.
func (db *DB) orphanAge() time.Duration {
	if s, ok := db.dialect.(BlobSweeper); ok {
		return s.OrphanAge()
	}
	return 0
}

// NewObject is an object to insert with its bucket (when it has no row
// yet), its index rows (when its bucket is indexed) and its event
// (ObjectWriter.InsertObject).
type NewObject struct {
	// Object is the object: its Bucket, ID, DataType, Owner (also the
	// bucket's creator), Created and Modified; its Version is 1.
	Object kumo.Object
	// JSON is the object's data as stored.
	JSON string
	// Event is its DataObjectCreated event.
	Event kumo.Event
}

// Fields returns the object's index rows (computed on each call: only a
// write to an indexed bucket needs them).
func (o NewObject) Fields() []kumo.IndexEntry {
	return objectEntries(o.Object.Data, o.Object.Created, o.Object.Modified)
}

// ObjectFields are the index rows of one object (ObjectWriter.BackfillFields).
type ObjectFields struct {
	ID     string
	Fields []kumo.IndexEntry
}

// ObjectWriter writes objects and their index rows (table object_fields).
// The generic implementation (rowWriter) writes a bounded number of rows
// per statement; PostgreSQL overrides it to write each in one statement,
// one round trip, from arrays. Each method runs inside a write.
type ObjectWriter interface {
	// InsertObject inserts a new object, the row of its bucket when there
	// is none, its index rows when the bucket is indexed, and its event.
	InsertObject(ctx context.Context, tx *Tx, o NewObject) error
	// WriteFields writes the index rows of object id of the indexed bucket
	// b, replacing rows left over by a deleted object of the same ID. With
	// replace, the object's rows of fields not in fields are deleted.
	WriteFields(ctx context.Context, tx *Tx, b kumo.BucketRef, id string, fields []kumo.IndexEntry, replace bool) error
	// BackfillFields writes the index rows of objects of b being indexed,
	// leaving the rows that exist (written by the objects' own writes).
	BackfillFields(ctx context.Context, tx *Tx, b kumo.BucketRef, objects []ObjectFields) error
}

// rowWriter is the generic ObjectWriter.
type rowWriter struct{}

// InsertObject implements ObjectWriter: a statement per row kind, the
// index rows only once the bucket is found indexed.
func (rowWriter) InsertObject(ctx context.Context, tx *Tx, o NewObject) error {
	obj := o.Object
	b := obj.Bucket
	if _, err := tx.Exec(ctx, "INSERT INTO buckets (app_id, scope, name, created, creator) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
		b.AppID, b.Scope.Key(), b.Name, obj.Created, obj.Owner); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `INSERT INTO objects (app_id, scope, bucket, id, data, data_type, owner, version, created, modified)
			VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?)`, b.AppID, b.Scope.Key(), b.Name, obj.ID, o.JSON, obj.DataType, obj.Owner, obj.Created, obj.Modified)
	if err != nil {
		return err
	}
	indexed, err := bucketIndexed(ctx, tx, b)
	if err != nil {
		return err
	}
	if indexed {
		if err := (rowWriter{}).WriteFields(ctx, tx, b, obj.ID, o.Fields(), false); err != nil {
			return err
		}
	}
	return execInsertEvent(ctx, tx, o.Event)
}

// WriteFields implements ObjectWriter: the object's rows deleted first on
// replace, then inserted (upserted) maxFieldRows per statement.
func (rowWriter) WriteFields(ctx context.Context, tx *Tx, b kumo.BucketRef, id string, fields []kumo.IndexEntry, replace bool) error {
	if replace {
		if err := deleteFields(ctx, tx, b, id); err != nil {
			return err
		}
	}
	return insertFields(ctx, tx, b, id, fields, upsertFields)
}

// BackfillFields implements ObjectWriter: each object's rows inserted
// maxFieldRows per statement.
func (rowWriter) BackfillFields(ctx context.Context, tx *Tx, b kumo.BucketRef, objects []ObjectFields) error {
	for _, o := range objects {
		if err := insertFields(ctx, tx, b, o.ID, o.Fields, " ON CONFLICT DO NOTHING"); err != nil {
			return err
		}
	}
	return nil
}

// OutboxLeaser is implemented by a Dialect whose database the nodes of a
// cluster share (PostgreSQL): the store's outbox is then a LeaseOutbox,
// which claims events with leases held in the database, in the dialect's
// SQL.
type OutboxLeaser interface {
	// ClaimEventsSQL returns the UPDATE that claims events for a node: it
	// sets claimed_by and claimed_until to its first and second parameters
	// on up to its fourth parameter events whose claimed_until is below its
	// third, oldest first, skipping the events other nodes are claiming at
	// the same moment.
	ClaimEventsSQL() string
	// DeleteEventsSQL returns the DELETE of the events whose seqs are in
	// its first parameter (an []int64) and that the node of its second
	// parameter claims.
	DeleteEventsSQL() string
}
