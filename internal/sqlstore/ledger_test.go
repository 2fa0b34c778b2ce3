package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/auth"
	"github.com/kumo-iot/kumo/internal/sqlstore"
	"github.com/kumo-iot/kumo/internal/sqlstore/sqlite"
)

// newLedgerPair opens a store whose delivery ledger is a store of its
// own, as kumo serve's embedded mode has it.
func newLedgerPair(t *testing.T) (db *sqlstore.Store, ledger *sqlstore.LedgerStore) {
	t.Helper()
	dir := t.TempDir()
	ledger = openLedger(t, filepath.Join(dir, "ledger.db"))
	db = openOpened(t, func(ctx context.Context) (*sqlstore.Store, error) {
		return sqlite.Open(ctx, filepath.Join(dir, "kumo.db"))
	})
	db.Ledger.Store, db.Ledger.On = ledger, true
	return db, ledger
}

// openLedger opens the ledger database at path, and closes it when the
// test ends.
func openLedger(t *testing.T, path string) *sqlstore.LedgerStore {
	t.Helper()
	ledger, err := sqlite.OpenLedger(context.Background(), path)
	if err != nil {
		t.Fatalf("open the ledger: %v", err)
	}
	if err := ledger.Open(); err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := ledger.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return ledger
}

func records(n int, tag string) []kumo.DeliveryRecord {
	rs := make([]kumo.DeliveryRecord, n)
	for i := range rs {
		rs[i] = kumo.DeliveryRecord{AppID: "app1", MessageID: fmt.Sprintf("%s-%d", tag, i), EventType: kumo.DataObjectCreated,
			InstallationID: "in1", DeviceType: "MQTT", MQTTTopic: "t1", State: kumo.DeliverySent, Created: 1}
	}
	return rs
}

func countRecords(t *testing.T, ledger interface{ ReadDB() *sql.DB }) int {
	t.Helper()
	var n int
	if err := ledger.ReadDB().QueryRow("SELECT COUNT(*) FROM push_deliveries").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestLedgerPacedWrites checks that an unhurried write of the ledger
// writes every record, and that its pauses stop when another write waits
// for the ledger's writer, so that a phone push's record or the
// dispatcher's never waits behind them; their own writes never pause.
func TestLedgerPacedWrites(t *testing.T) {
	db, ledger := newLedgerPair(t)
	ctx := kumo.Unhurried(context.Background())

	before := sqlstore.LedgerPauses()
	if err := db.Ledger.RecordDeliveries(ctx, records(100, "calm")); err != nil {
		t.Fatal(err)
	}
	if n := countRecords(t, ledger); n != 100 {
		t.Fatalf("%d records after a paced write of 100", n)
	}
	if p := sqlstore.LedgerPauses() - before; p != 3 { // 4 INSERTs of 32, 32, 32 and 4
		t.Errorf("a paced write of 100 records paused %d times; want 3", p)
	}

	// A calm write long enough to be caught in its pauses (127 of them,
	// 127 ms at least); a record comes meanwhile.
	before = sqlstore.LedgerPauses()
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := db.Ledger.RecordDeliveries(ctx, records(sqlstore.LedgerCalm, "long")); err != nil {
			t.Error(err)
		}
	})
	deadline := time.Now().Add(time.Minute)
	for sqlstore.LedgerPauses() == before { // the paced write has begun
		if time.Now().After(deadline) {
			t.Fatal("the paced write never paused")
		}
		time.Sleep(time.Millisecond)
	}
	if err := db.Ledger.RecordDeliveries(context.Background(), records(1, "phone")); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if n := countRecords(t, ledger); n != 100+sqlstore.LedgerCalm+1 {
		t.Errorf("%d records; want %d", n, 100+sqlstore.LedgerCalm+1)
	}
	if p := sqlstore.LedgerPauses() - before; p >= sqlstore.LedgerCalm/32-1 {
		t.Errorf("the paced write paused %d times although a write waited; want it to stop pausing", p)
	}

	// A write somebody waits for (the dispatcher's), no pauses.
	before = sqlstore.LedgerPauses()
	if err := db.Ledger.RecordDeliveries(context.Background(), records(100, "dispatcher")); err != nil {
		t.Fatal(err)
	}
	if p := sqlstore.LedgerPauses() - before; p != 0 {
		t.Errorf("a write that is not unhurried paused %d times; want none", p)
	}

	// Beyond LedgerCalm records (a saturated server), no pauses.
	before = sqlstore.LedgerPauses()
	if err := db.Ledger.RecordDeliveries(ctx, records(sqlstore.LedgerCalm+1, "busy")); err != nil {
		t.Fatal(err)
	}
	if p := sqlstore.LedgerPauses() - before; p != 0 {
		t.Errorf("a write of %d records paused %d times; want none", sqlstore.LedgerCalm+1, p)
	}
}

// TestLedgerInTheStoreIsNotPaced checks that a ledger kept in the store
// itself (PostgreSQL's way), whose writer is every write's, never pauses.
func TestLedgerInTheStoreIsNotPaced(t *testing.T) {
	db := newSQLiteDB(t).Store
	db.Ledger.On = true
	before := sqlstore.LedgerPauses()
	if err := db.Ledger.RecordDeliveries(kumo.Unhurried(context.Background()), records(100, "own")); err != nil {
		t.Fatal(err)
	}
	if p := sqlstore.LedgerPauses() - before; p != 0 {
		t.Errorf("a ledger in the store paused %d times; want none", p)
	}
}

// schemaOf lists the tables and indexes of the SQLite database behind db.
func schemaOf(t *testing.T, db *sql.DB) (tables, indexes []string) {
	t.Helper()
	rows, err := db.Query("SELECT type, name FROM sqlite_master WHERE type IN ('table', 'index') AND name NOT LIKE 'sqlite_autoindex%' ORDER BY type, name")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var typ, name string
		if err := rows.Scan(&typ, &name); err != nil {
			t.Fatal(err)
		}
		if typ == "table" {
			tables = append(tables, name)
		} else {
			indexes = append(indexes, name)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return tables, indexes
}

// TestLedgerHasItsOwnSchema checks that a new ledger database holds the
// delivery ledger's table and indexes alone (and its migrations' list),
// not a copy of the store's schema, and that opening it makes no object
// bodies directory.
func TestLedgerHasItsOwnSchema(t *testing.T) {
	dir := t.TempDir()
	ledger := openLedger(t, filepath.Join(dir, "ledger.db"))
	tables, indexes := schemaOf(t, ledger.ReadDB())
	if want := []string{"ledger_migrations", "push_deliveries", "sqlite_sequence"}; !slices.Equal(tables, want) {
		t.Errorf("tables %v; want %v", tables, want)
	}
	if want := []string{"push_deliveries_installation", "push_deliveries_message", "push_deliveries_owner"}; !slices.Equal(indexes, want) {
		t.Errorf("indexes %v; want %v", indexes, want)
	}
	if _, err := os.Stat(sqlite.BodiesDir(filepath.Join(dir, "ledger.db"))); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("opening the ledger made an object bodies directory (stat: %v)", err)
	}
}

// TestLedgerOpensTheOldLayout checks that a ledger.db made when the
// ledger was a second store (every table of the store's schema) opens
// with its records, which stay readable, and takes new ones after them.
func TestLedgerOpensTheOldLayout(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ledger.db")
	old, err := sqlite.Open(context.Background(), path) // the store's schema: the old layout
	if err != nil {
		t.Fatal(err)
	}
	old.Hasher, old.KeepBlobs = auth.Hasher{Iterations: 1000}, true
	if err := old.Open(); err != nil {
		t.Fatal(err)
	}
	if err := old.Ledger.RecordDeliveries(context.Background(), records(5, "old")); err != nil {
		t.Fatal(err)
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	db, _ := newLedgerPair(t)
	ledger := openLedger(t, path)
	db.Ledger.Store = ledger
	if tables, _ := schemaOf(t, ledger.ReadDB()); !slices.Contains(tables, "things") {
		t.Fatalf("tables %v: the old layout's were not kept as they were", tables)
	}
	if err := db.Ledger.RecordDeliveries(context.Background(), records(2, "new")); err != nil {
		t.Fatal(err)
	}
	admin := kumo.Caller{AppID: "app1", Kind: kumo.Admin}
	got, _, err := db.Ledger.Deliveries(context.Background(), admin, kumo.DeliveryFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i, r := range got {
		ids = append(ids, r.MessageID)
		if i > 0 && r.ID <= got[i-1].ID {
			t.Errorf("record %s has ID %d after %d", r.MessageID, r.ID, got[i-1].ID)
		}
	}
	if want := []string{"old-0", "old-1", "old-2", "old-3", "old-4", "new-0", "new-1"}; !slices.Equal(ids, want) {
		t.Errorf("records %v; want %v", ids, want)
	}
	if n, err := db.Ledger.PruneDeliveries(context.Background(), 2); err != nil || n != 7 {
		t.Errorf("PruneDeliveries = %d, %v; want the 7 records", n, err)
	}
}

// TestLedgerWriteFailsAlone checks that concurrent writes of the ledger
// all land, and that one failing write fails alone, however the ledger's
// writer batched them.
func TestLedgerWriteFailsAlone(t *testing.T) {
	db, ledger := newLedgerPair(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if err := db.Ledger.RecordDeliveries(context.Background(), records(10, fmt.Sprint("w", i))); err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() {
			if err := sqlstore.LedgerExec(ledger, "INSERT INTO no_such_table VALUES (1)"); err == nil {
				t.Error("a write into a missing table succeeded")
			}
		})
	}
	wg.Wait()
	if n := countRecords(t, ledger); n != 80 {
		t.Errorf("%d records; want 80", n)
	}
	if got := db.Ledger.DeliveryCounts()[kumo.DeliverySent]; got != 80 {
		t.Errorf("DeliveryCounts says %d sent; want 80", got)
	}
}
