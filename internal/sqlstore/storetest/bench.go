package storetest

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/sqlstore"
)

// BenchmarkCreateObject measures a store's write path alone: concurrent
// object creations (object row, bucket upsert, outbox event) through the
// group-commit writer, by 1, 16, 64 and 256 writers. open returns an
// opened store over a new, empty database (Hasher set, Close registered
// with b.Cleanup); it is called once per sub-benchmark run.
func BenchmarkCreateObject(b *testing.B, open func(b *testing.B) *sqlstore.Store) {
	for _, workers := range []int{1, 16, 64, 256} {
		b.Run(strconv.Itoa(workers)+"-writers", func(b *testing.B) {
			ctx := context.Background()
			db := open(b)
			app, err := db.Apps.CreateApp(ctx, kumo.AppCreate{})
			if err != nil {
				b.Fatal(err)
			}
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
						if _, err := db.Objects.CreateObject(ctx, c, kumo.ObjectCreate{Bucket: bucket, Data: data}); err != nil {
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
