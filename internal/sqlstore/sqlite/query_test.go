package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/sqlstore"
	"github.com/kumo-iot/kumo/internal/sqlstore/storetest"
)

// FuzzQuery checks random queries on random objects against the reference
// evaluator (storetest.FuzzQuery).
func FuzzQuery(f *testing.F) {
	storetest.FuzzQuery(f, func(t *testing.T) *sqlstore.DB {
		// Not t.TempDir: a seed's name ("seed#0") puts "#" in the path,
		// which ends a file: URI.
		dir, err := os.MkdirTemp("", "kumo-fuzz")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		return MustOpen(t, filepath.Join(dir, "kumo.db"))
	})
}

// TestQueryIndexBackfill opens a database whose objects were stored before
// the query index (as migration 0007 finds them) and queries them.
func TestQueryIndexBackfill(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "kumo.db")
	db := MustOpen(t, path)
	app, err := db.CreateApp(ctx, kumo.AppCreate{ID: "app1"})
	if err != nil {
		t.Fatal(err)
	}
	admin := kumo.Caller{AppID: app.AppID, Kind: kumo.Admin}
	b := kumo.BucketRef{AppID: app.AppID, Scope: kumo.AppScope, Name: "old"}
	for i := range 1200 { // more than one chunk
		if _, err := db.CreateObject(ctx, admin, kumo.ObjectCreate{Bucket: b, Data: map[string]any{"n": i}}); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"DELETE FROM object_fields", "INSERT INTO meta (key, value) VALUES ('object-fields-backfill', 'pending')"} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	raw.Close()
	db = MustOpen(t, path)
	q, _ := kumo.ParseQuery([]byte(`{"bucketQuery":{"clause":{"type":"range","field":"n","lowerLimit":1100}}}`))
	res, err := db.QueryObjects(ctx, admin, b, q)
	if err != nil || len(res.Results) != 100 {
		t.Fatalf("after the backfill: %d results, %v; want 100", len(res.Results), err)
	}
	var n int
	if err := db.ReadDB().QueryRow("SELECT COUNT(*) FROM meta WHERE key = 'object-fields-backfill'").Scan(&n); err != nil || n != 0 {
		t.Errorf("backfill row left: %d, %v", n, err)
	}
}

// BenchmarkQuery measures queries on 100,000 objects next to a GET by ID
// (see storetest.BenchmarkQuery).
func BenchmarkQuery(b *testing.B) {
	storetest.BenchmarkQuery(b, func(b *testing.B) *sqlstore.DB {
		return MustOpen(b, filepath.Join(b.TempDir(), "kumo.db"))
	})
}
