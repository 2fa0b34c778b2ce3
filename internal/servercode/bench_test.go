package servercode_test

import (
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/servercode"
)

// BenchmarkReadObject compares an endpoint that reads one object through
// the SDK with a plain REST GET of the same object (the target:
// at least half the REST rate).
func BenchmarkReadObject(b *testing.B) {
	w := sqliteWorld(b, servercode.Config{})
	bucket := kumo.BucketRef{AppID: w.app.AppID, Scope: kumo.AppScope, Name: "bench"}
	o, err := w.st.Objects.CreateObject(w.ctx, w.admin, kumo.ObjectCreate{Bucket: bucket, Data: map[string]any{"name": "x"}})
	if err != nil {
		b.Fatal(err)
	}
	v := w.versions.add(w.app.AppID, `function read(params, context) {
  return context.getAppAdminContext().objectWithURI(params.uri).refresh().then(function (o) { return o.get("name"); });
}`)
	params := `{"uri":"kiicloud://buckets/bench/objects/` + o.ID + `"}`
	tok := w.adminToken()
	b.Run("endpoint", func(b *testing.B) {
		defer reportCPU(b)()
		for b.Loop() {
			res, err := w.eng.Run(w.ctx, kumo.ServerCodeCall{AppID: w.app.AppID, Version: v, Endpoint: "read", Params: []byte(params)})
			if err != nil || res.Err != nil || string(res.ReturnedValue) != `"x"` {
				b.Fatalf("%v %+v %s", err, res.Err, res.ReturnedValue)
			}
		}
	})
	b.Run("rest-get", func(b *testing.B) {
		defer reportCPU(b)()
		for b.Loop() {
			req, _ := http.NewRequest("GET", w.base+"/api/apps/"+w.app.AppID+"/buckets/bench/objects/"+o.ID, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(body), `"x"`) {
				b.Fatalf("%d %s", resp.StatusCode, body)
			}
		}
	})
}

// reportCPU reports the process's CPU time (user and system, all
// threads: the GC's included) per operation, a steadier figure than the
// wall clock on a loaded machine. Call the function it returns at the end.
func reportCPU(b *testing.B) func() {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	return func() { b.ReportMetric(float64(cpu()-start)/float64(b.N), "cpu-ns/op") }
}
