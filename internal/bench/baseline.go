package bench

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultBaseline is how long, by default, the baseline phase lasts.
const DefaultBaseline = 3 * time.Second

// Baseline is what the machine does without Kumo, measured in the same run
// with the same workers, pacing and requests: HTTP round trips to a
// handler that reads the request and answers 201 with an object ID, and
// nothing else. Objects/s over baseline round trips/s is the share of the
// machine's HTTP ceiling that the whole push flow reaches.
type Baseline struct {
	PerS float64 `json:"http_per_s"`
	P50  Millis  `json:"http_p50_ms"`
	P99  Millis  `json:"http_p99_ms"`
	// Fsync is the disk's own flush latency in the store's directory (an
	// in-process server only): no acknowledged write can be faster than
	// one fsync, so its p99 is a floor under the paced p99.
	Fsync *FsyncBaseline `json:"fsync,omitempty"`
}

// FsyncBaseline is the disk's flush rate and latency: one writer writing
// 8 KiB and calling fsync, paced at the run's rate (back to back without
// one).
type FsyncBaseline struct {
	PerS float64 `json:"per_s"`
	P50  Millis  `json:"p50_ms"`
	P99  Millis  `json:"p99_ms"`
}

// fsyncProbe is how long the fsync baseline lasts.
const fsyncProbe = 2 * time.Second

// fsyncBaseline times fsyncs of a scratch file in dir for d.
func fsyncBaseline(ctx context.Context, dir string, d time.Duration, rate float64) (*FsyncBaseline, error) {
	f, err := os.CreateTemp(dir, "fsync-baseline-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 8192)
	start := time.Now()
	sched := schedule{start: start, rate: rate}
	var latencies []time.Duration
	for i := int64(0); time.Since(start) < d && ctx.Err() == nil; i++ {
		if err := sleepUntil(ctx, sched.due(i)); err != nil {
			return nil, err
		}
		if _, err := f.WriteAt(buf, (i%256)*int64(len(buf))); err != nil {
			return nil, err
		}
		t := time.Now()
		if err := f.Sync(); err != nil {
			return nil, err
		}
		latencies = append(latencies, time.Since(t))
	}
	if len(latencies) == 0 {
		return nil, errors.New("fsync baseline: no fsync timed")
	}
	slices.Sort(latencies)
	return &FsyncBaseline{PerS: round(float64(len(latencies))/time.Since(start).Seconds(), 1),
		P50: ms(latencies[len(latencies)/2]), P99: ms(latencies[len(latencies)*99/100])}, nil
}

// noopHandler answers every POST like an object creation, doing nothing.
func noopHandler() http.Handler {
	var n atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		body := `{"objectID":"baseline-` + strconv.FormatInt(n.Add(1), 10) + `","createdAt":1,"dataType":"application/json"}`
		w.Header().Set("Content-Type", "application/vnd.kii.ObjectCreationResponse+json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, body)
	})
}

// baseline runs the baseline phase for d: a no-op HTTP server on
// 127.0.0.1, loaded by cfg.Concurrency workers at cfg.Rate.
func (r *runner) baseline(ctx context.Context, d time.Duration) (Baseline, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return Baseline{}, err
	}
	srv := &http.Server{Handler: noopHandler()}
	go srv.Serve(ln)
	defer srv.Close()

	client := newAPIClient("http://"+ln.Addr().String(), "baseline", r.cfg.Concurrency)
	defer client.close()
	u, err := url.Parse(client.app + "/things/th.baseline/buckets/bench/objects")
	if err != nil {
		return Baseline{}, err
	}
	target, err := newObjectTarget(u, "baseline")
	if err != nil {
		return Baseline{}, err
	}

	start := time.Now()
	deadline := start.Add(d)
	sched := schedule{start: start, rate: r.cfg.Rate}
	var (
		next      atomic.Int64
		wg        sync.WaitGroup
		mu        sync.Mutex // guards latencies and firstErr
		latencies []time.Duration
		firstErr  error
	)
	for range r.cfg.Concurrency {
		wg.Go(func() {
			poster := newPoster(ctx)
			defer poster.close()
			var mine []time.Duration
			defer func() {
				mu.Lock()
				latencies = append(latencies, mine...)
				mu.Unlock()
			}()
			for {
				i := next.Add(1) - 1
				due := sched.due(i)
				if !due.Before(deadline) || !time.Now().Before(deadline) || sleepUntil(ctx, due) != nil {
					return
				}
				t0 := time.Now()
				if _, err := poster.post(target, i); err != nil {
					mu.Lock()
					firstErr = errors.Join(firstErr, err)
					mu.Unlock()
					return
				}
				mine = append(mine, time.Since(t0))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return Baseline{}, firstErr
	}
	slices.Sort(latencies)
	return Baseline{
		PerS: round(float64(len(latencies))/elapsed.Seconds(), 1),
		P50:  ms(percentile(latencies, 50)),
		P99:  ms(percentile(latencies, 99)),
	}, nil
}
