package sqlite_test

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/auth"
	"github.com/kumo-iot/kumo/internal/sqlstore/sqlite"
)

// BenchmarkCreateObject measures the store's write path alone: concurrent
// object creations (object row, bucket upsert, outbox event) through the
// group-commit writer, with synchronous=FULL.
func BenchmarkCreateObject(b *testing.B) {
	for _, workers := range []int{1, 16, 64, 256} {
		b.Run(itoa(workers)+"-writers", func(b *testing.B) {
			ctx := context.Background()
			db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "kumo.db"))
			if err != nil {
				b.Fatal(err)
			}
			db.Hasher = auth.Hasher{Iterations: 1000}
			if err := db.Open(); err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			app, _ := db.CreateApp(ctx, kumo.AppCreate{})
			c := kumo.Caller{AppID: app.AppID, Kind: kumo.ThingCaller, ID: "th.x"}
			bucket := kumo.BucketRef{AppID: app.AppID, Scope: kumo.Scope{Kind: kumo.ScopeThing, ID: "th.x"}, Name: "bench"}
			data := map[string]any{"seq": 1, "payload": "0123456789"}
			var n atomic.Int64
			b.ResetTimer()
			var wg sync.WaitGroup
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for n.Add(1) <= int64(b.N) {
						if _, err := db.CreateObject(ctx, c, kumo.ObjectCreate{Bucket: bucket, Data: data}); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "objects/s")
		})
	}
}

func itoa(i int) string {
	s := ""
	for ; i > 0; i /= 10 {
		s = string(rune('0'+i%10)) + s
	}
	return s
}
