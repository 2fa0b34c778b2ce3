package sqlite_test

import (
	"context"
	"database/sql"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/sqlstore/sqlite"
)

// walRestarts reads the checkpoint sequence number of the log at path:
// SQLite adds one each time the log is started over.
func walRestarts(t *testing.T, path string) uint32 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var h [16]byte
	if _, err := io.ReadFull(f, h[:]); err != nil {
		t.Fatalf("read the log's header: %v", err)
	}
	return binary.BigEndian.Uint32(h[12:16])
}

// TestWriterStartsTheLogOver checks the writer's part of the checkpoint.
// Under steady writes a background checkpoint never copies the whole log
// (commits come while it runs), so the writer never starts the log over
// and it grows without bound. The test makes that state for certain (a
// reader holds the checkpoint back), sees the log not started over, then
// asks for the writer's chore and sees it started over.
func TestWriterStartsTheLogOver(t *testing.T) {
	defer sqlite.SetCheckpointTiming(time.Hour, 1<<40)() // no background checkpoint meanwhile
	path := filepath.Join(t.TempDir(), "kumo.db")
	wal := path + "-wal"
	db := MustOpen(t, path)
	ctx := context.Background()
	app, err := db.Apps.CreateApp(ctx, kumo.AppCreate{})
	if err != nil {
		t.Fatal(err)
	}
	c := kumo.Caller{AppID: app.AppID, Kind: kumo.ThingCaller, ID: "th.x"}
	bucket := kumo.BucketRef{AppID: app.AppID, Scope: kumo.Scope{Kind: kumo.ScopeThing, ID: "th.x"}, Name: "steady"}
	write := func(n int) {
		t.Helper()
		for range n {
			if _, err := db.Objects.CreateObject(ctx, c, kumo.ObjectCreate{Bucket: bucket, Data: map[string]any{"payload": "0123456789abcdef"}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(20)

	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	reader, err := raw.Conn(ctx) // a read transaction on the log as it is now
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if _, err := reader.ExecContext(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	if err := reader.QueryRowContext(ctx, "SELECT COUNT(*) FROM objects").Scan(&n); err != nil {
		t.Fatal(err)
	}
	write(20) // commits past the reader's snapshot
	var busy, frames, copied int
	if err := raw.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied); err != nil {
		t.Fatal(err)
	}
	if copied >= frames {
		t.Fatalf("the checkpoint copied %d of %d frames past a reader: the test cannot make its state", copied, frames)
	}
	if _, err := reader.ExecContext(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	reader.Close()

	start := walRestarts(t, wal)
	write(5)
	if got := walRestarts(t, wal); got != start {
		t.Fatalf("the log started over by itself (%d to %d): the test tests nothing", start, got)
	}
	db.RequestWriterChore()
	write(2) // the chore runs after the first; the second starts the log over
	if got := walRestarts(t, wal); got == start {
		t.Errorf("the log was not started over after the writer's checkpoint (sequence %d)", got)
	}
}
