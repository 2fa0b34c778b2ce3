package sqlstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/sqlstore"
	"github.com/kumo-iot/kumo/internal/sqlstore/sqlite"
)

// newLedgerPair opens a store whose delivery ledger is a store of its
// own, as kumo serve's embedded mode has it.
func newLedgerPair(t *testing.T) (db, ledger *sqlstore.Store) {
	t.Helper()
	dir := t.TempDir()
	ledger = openOpened(t, func(ctx context.Context) (*sqlstore.Store, error) {
		return sqlite.OpenLedger(ctx, filepath.Join(dir, "ledger.db"))
	})
	db = openOpened(t, func(ctx context.Context) (*sqlstore.Store, error) {
		return sqlite.Open(ctx, filepath.Join(dir, "kumo.db"))
	})
	db.LedgerStore, db.LedgerOn = ledger.DB, true
	return db, ledger
}

func records(n int, tag string) []kumo.DeliveryRecord {
	rs := make([]kumo.DeliveryRecord, n)
	for i := range rs {
		rs[i] = kumo.DeliveryRecord{AppID: "app1", MessageID: fmt.Sprintf("%s-%d", tag, i), EventType: kumo.DataObjectCreated,
			InstallationID: "in1", DeviceType: "MQTT", MQTTTopic: "t1", State: kumo.DeliverySent, Created: 1}
	}
	return rs
}

func countRecords(t *testing.T, ledger *sqlstore.Store) int {
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
	db.LedgerOn = true
	before := sqlstore.LedgerPauses()
	if err := db.Ledger.RecordDeliveries(kumo.Unhurried(context.Background()), records(100, "own")); err != nil {
		t.Fatal(err)
	}
	if p := sqlstore.LedgerPauses() - before; p != 0 {
		t.Errorf("a ledger in the store paused %d times; want none", p)
	}
}
