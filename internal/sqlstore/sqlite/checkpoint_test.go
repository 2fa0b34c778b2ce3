package sqlite_test

import (
	"context"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/auth"
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

// TestLogStartsOverUnderSteadyWrites checks that the write-ahead log does
// not grow without bound while writes never stop: without the writer's
// part of the checkpoint, a checkpoint never catches up with the commits
// and the log is never started over.
func TestLogStartsOverUnderSteadyWrites(t *testing.T) {
	defer sqlite.SetCheckpointTiming(100*time.Millisecond, 64<<10)()
	path := filepath.Join(t.TempDir(), "kumo.db")
	ctx := context.Background()
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	// More writers than a transaction takes: the writer always has the
	// next batch waiting, as under a steady load, so a checkpoint running
	// beside it never sees the end of the log.
	db.MaxBatch = 4
	db.Hasher = auth.Hasher{Iterations: 1000}
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	app, err := db.CreateApp(ctx, kumo.AppCreate{})
	if err != nil {
		t.Fatal(err)
	}
	c := kumo.Caller{AppID: app.AppID, Kind: kumo.ThingCaller, ID: "th.x"}
	bucket := kumo.BucketRef{AppID: app.AppID, Scope: kumo.Scope{Kind: kumo.ScopeThing, ID: "th.x"}, Name: "steady"}
	first, err := db.CreateObject(ctx, c, kumo.ObjectCreate{Bucket: bucket, Data: map[string]any{"n": 0}})
	if err != nil {
		t.Fatal(err)
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 16 { // writers that never pause
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := db.CreateObject(ctx, c, kumo.ObjectCreate{Bucket: bucket, Data: map[string]any{"payload": "0123456789abcdef"}}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for range 2 { // and readers
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := db.GetObject(ctx, c, bucket, first.ID); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	defer func() {
		close(stop)
		wg.Wait()
	}()

	wal := path + "-wal"
	start := walRestarts(t, wal)
	deadline := time.Now().Add(time.Minute)
	for walRestarts(t, wal)-start < 3 {
		if time.Now().After(deadline) {
			fi, _ := os.Stat(wal)
			t.Fatalf("under steady writes the log was started over %d times in a minute (want 3); it is %d bytes",
				walRestarts(t, wal)-start, fi.Size())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
