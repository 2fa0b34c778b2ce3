package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// setupWorkers is how many devices are set up at a time.
const setupWorkers = 8

// DefaultDrain is how long Run waits, by default, for the pushes still
// missing after the load phase.
const DefaultDrain = 5 * time.Second

// payload pads every object to a realistic telemetry size.
const payload = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// Config is what Run needs: where the server is, with which app, and the
// shape of the load.
type Config struct {
	// BaseURL is the server's base URL, such as http://localhost:8080.
	BaseURL string
	// AppID, ClientID and ClientSecret are the app's credentials; the
	// client credentials grant the admin token that registers the things.
	AppID, ClientID, ClientSecret string
	// MQTTHost, when not empty, replaces the host of every MQTT endpoint.
	MQTTHost string
	// MQTTPort, when not 0, replaces the portTCP of every MQTT endpoint.
	MQTTPort int

	// Things is how many devices are registered and connected.
	Things int
	// Concurrency is how many HTTP workers create objects.
	Concurrency int
	// Rate paces object creations globally, in objects/s; 0 creates them
	// as fast as the workers can.
	Rate float64
	// Duration is how long objects are created.
	Duration time.Duration
	// Drain is how long to wait after the load phase for the pushes still
	// missing (default DefaultDrain).
	Drain time.Duration
	// Baseline is how long the baseline phase lasts (see Baseline); 0
	// skips it.
	Baseline time.Duration
	// FsyncDir, when set, is the directory of the server's store: the
	// baseline also times the disk's own fsyncs there (see Baseline).
	FsyncDir string

	// Progress receives human-readable progress lines; nil discards them.
	Progress io.Writer
}

// Result is the outcome of a run. Its JSON form is the one line "kumo
// bench" prints; the first six keys are fixed.
type Result struct {
	// ObjectsPerS is the number of acked objects whose push arrived, per
	// second of the load phase.
	ObjectsPerS float64 `json:"objects_per_s"`
	// P50, P99 and Max are POST-to-push latencies of the delivered objects.
	P50 Millis `json:"p50_ms"`
	P99 Millis `json:"p99_ms"`
	Max Millis `json:"max_ms"`
	// Lost is the number of acked objects whose push never arrived.
	Lost int64 `json:"lost"`
	// RSSMiB is this process's resident set size at the end of the run.
	RSSMiB float64 `json:"rss_mib"`
	// RSSNote says what RSSMiB covers; Run leaves it to the caller, which
	// knows whether the server runs in this process.
	RSSNote string `json:"rss_note,omitempty"`

	// Acked is the number of objects created (HTTP 201).
	Acked int64 `json:"acked"`
	// Errors is the number of object creations that failed (no 201).
	Errors int64 `json:"errors"`
	// Duplicates is the number of pushes beyond the first of an object.
	Duplicates int64 `json:"duplicates"`
	// UnackedPushes is the number of objects pushed but never acked.
	UnackedPushes int64 `json:"unacked_pushes"`
	// MQTTDisconnects is the number of MQTT connections that dropped.
	MQTTDisconnects int64 `json:"mqtt_disconnects"`

	// Things, Concurrency and Rate repeat the run's Config.
	Things      int     `json:"things"`
	Concurrency int     `json:"concurrency"`
	Rate        float64 `json:"rate"`
	// DurationS is the measured length of the load phase, in seconds: the
	// requested duration plus the last in-flight requests.
	DurationS float64 `json:"duration_s"`
	// FirstError describes the first failed object creation.
	FirstError string `json:"first_error,omitempty"`

	// Baseline is the same-run baseline (absent when skipped), and
	// VsBaseline is ObjectsPerS over its round trips/s.
	Baseline   *Baseline `json:"baseline,omitempty"`
	VsBaseline float64   `json:"objects_vs_baseline,omitempty"`
}

// Millis is a duration in milliseconds, marshalled with three decimals.
type Millis float64

// ms converts d to Millis.
func ms(d time.Duration) Millis { return Millis(float64(d) / float64(time.Millisecond)) }

// MarshalJSON implements json.Marshaler.
func (m Millis) MarshalJSON() ([]byte, error) {
	return strconv.AppendFloat(nil, float64(m), 'f', 3, 64), nil
}

// Run sets up cfg.Things devices on the server, creates objects for
// cfg.Duration and measures how their pushes arrive. It disconnects every
// device before it returns. It stops early, with ctx's error, when ctx is
// done.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.check(); err != nil {
		return Result{}, err
	}
	if cfg.Drain <= 0 {
		cfg.Drain = DefaultDrain
	}
	r := newRunner(cfg, max(cfg.Concurrency, setupWorkers))
	defer r.close()

	adminToken, err := r.api.adminToken(ctx, cfg.ClientID, cfg.ClientSecret)
	if err != nil {
		return Result{}, err
	}
	devices, disconnect, err := r.connect(ctx, r.newDeviceSetup(adminToken))
	if err != nil {
		return Result{}, err
	}
	defer disconnect()

	var base *Baseline
	if cfg.Baseline > 0 {
		r.progress.printf("baseline: no-op HTTP round trips for %v, same workers and pacing", cfg.Baseline)
		b, err := r.baseline(ctx, cfg.Baseline)
		if ctx.Err() != nil {
			return Result{}, interrupted(ctx)
		}
		if err != nil {
			return Result{}, fmt.Errorf("baseline: %w", err)
		}
		r.progress.printf("baseline: %.0f round trips/s, p50 %.3f ms, p99 %.3f ms", b.PerS, float64(b.P50), float64(b.P99))
		if cfg.FsyncDir != "" {
			if b.Fsync, err = fsyncBaseline(ctx, cfg.FsyncDir, fsyncProbe, cfg.Rate); err != nil {
				return Result{}, fmt.Errorf("baseline: %w", err)
			}
			r.progress.printf("baseline: the disk's fsync (8 KiB writes): %.0f/s, p50 %.3f ms, p99 %.3f ms",
				b.Fsync.PerS, float64(b.Fsync.P50), float64(b.Fsync.P99))
		}
		base = &b
	}

	// The setup's garbage is collected before the load, as testing.B does
	// before a benchmark: the load phase then starts with the collector's
	// target set by the heap it really keeps, instead of paying, in its
	// first second, for the short collections of a heap that is growing
	// from nothing (three of them, up to 25 ms each, with the in-process
	// server). It collects this process only: a server at --url is
	// measured as it is.
	runtime.GC()
	elapsed := r.load(ctx, devices)
	if ctx.Err() != nil {
		return Result{}, interrupted(ctx)
	}
	if sent := r.tracker.counts().acked + r.errors.Load(); cfg.Rate > 0 && float64(sent) < 0.95*cfg.Rate*cfg.Duration.Seconds() {
		r.progress.printf("sending fell behind the rate of %g objects/s: %.0f objects/s sent (the server or the %d workers could not keep up)",
			cfg.Rate, float64(sent)/elapsed.Seconds(), cfg.Concurrency)
	}
	if r.drain(ctx) != nil {
		return Result{}, interrupted(ctx)
	}
	res := r.result(elapsed)
	if base != nil {
		res.Baseline = base
		if base.PerS > 0 {
			res.VsBaseline = round(res.ObjectsPerS/base.PerS, 3)
		}
	}
	return res, nil
}

// interrupted is the error of a run stopped by ctx.
func interrupted(ctx context.Context) error {
	return fmt.Errorf("bench interrupted: %w", context.Cause(ctx))
}

func (c Config) check() error {
	if err := c.checkDevices(); err != nil {
		return err
	}
	switch {
	case c.Concurrency < 1:
		return fmt.Errorf("bench: concurrency must be at least 1, not %d", c.Concurrency)
	case c.Rate < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0):
		return fmt.Errorf("bench: rate must be 0 (unlimited) or positive, not %v", c.Rate)
	case c.Duration <= 0:
		return fmt.Errorf("bench: duration must be positive, not %v", c.Duration)
	}
	return nil
}

// checkDevices checks what every run needs: a server, an app and things.
func (c Config) checkDevices() error {
	switch {
	case c.BaseURL == "":
		return errors.New("bench: no server URL")
	case c.AppID == "" || c.ClientID == "" || c.ClientSecret == "":
		return errors.New("bench: the app ID, client ID and client secret are all needed")
	case c.Things < 1:
		return fmt.Errorf("bench: things must be at least 1, not %d", c.Things)
	}
	return nil
}

// newRunner returns the runner of cfg, with a client of each of its
// servers keeping up to conns connections (closed by close).
func newRunner(cfg Config, conns int) *runner {
	r := &runner{cfg: cfg, tracker: newTracker(), progress: &progress{w: cfg.Progress}}
	for _, u := range strings.Split(cfg.BaseURL, ",") {
		r.apis = append(r.apis, newAPIClient(strings.TrimSpace(u), cfg.AppID, conns))
	}
	r.api = r.apis[0]
	return r
}

// close drops the runner's idle connections.
func (r *runner) close() {
	for _, a := range r.apis {
		a.close()
	}
}

// connect sets the devices up with s; disconnect ends them.
func (r *runner) connect(ctx context.Context, s *deviceSetup) (devices []*device, disconnect func(), err error) {
	devices, err = r.setupDevices(ctx, s)
	if ctx.Err() != nil {
		return nil, nil, interrupted(ctx)
	}
	if err != nil {
		return nil, nil, err
	}
	return devices, func() {
		r.progress.printf("disconnecting %d MQTT clients", len(devices))
		disconnectAll(devices)
	}, nil
}

// runner is the state of one run.
type runner struct {
	cfg      Config
	api      *apiClient   // the first server: admin token, registrations
	apis     []*apiClient // every server given (a cluster's nodes)
	tracker  *tracker
	progress *progress

	errors      atomic.Int64
	firstError  atomic.Pointer[string]
	disconnects atomic.Int64

	// send, when set, is what the load workers send instead of objects:
	// the i-th request, to device d, sent at t0; it returns the ID of what
	// it created, which the tracker then awaits.
	send func(p *objectPoster, d *device, i int64, t0 time.Time) (string, error)
	// what names what the load sends, in progress lines ("objects" when
	// empty).
	what string
}

// newDeviceSetup is the setup of the devices of an objects run: each
// subscribed to its own bucket, its pushes going to the tracker.
func (r *runner) newDeviceSetup(adminToken string) *deviceSetup {
	return &deviceSetup{
		api: r.api, apis: r.apis, adminToken: adminToken, appID: r.cfg.AppID,
		mqttHost: r.cfg.MQTTHost, mqttPort: r.cfg.MQTTPort,
		onPush: r.tracker.push,
		onLost: r.lost,
	}
}

// lost counts a dropped MQTT connection and reports the first.
func (r *runner) lost(err error) {
	if r.disconnects.Add(1) == 1 {
		r.progress.printf("an MQTT connection dropped: %v", err)
	}
}

// setupDevices sets up cfg.Things devices as s says, with setupWorkers
// workers. On failure it disconnects those already connected.
func (r *runner) setupDevices(ctx context.Context, s *deviceSetup) ([]*device, error) {
	n := r.cfg.Things
	runID := newRunID()
	what := "push subscription to its bucket"
	if s.topic != "" {
		what = "subscription to topic " + s.topic
	}
	steps := "register, MQTT installation"
	if s.owner != nil {
		steps = "onboard for the owner (MQTT installation)"
	}
	r.progress.printf("setting up %d things (run %s): %s, %s, MQTT connection; %d at a time",
		n, runID, steps, what, setupWorkers)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	devices := make([]*device, n)
	step := max(n/10, 1)
	start := time.Now()
	var next, ready atomic.Int64
	var wg sync.WaitGroup
	for range min(setupWorkers, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				d, err := s.setup(ctx, fmt.Sprintf("bench-%s-%d", runID, i), i)
				if err != nil {
					cancel(fmt.Errorf("set up device %d: %w", i, err))
					return
				}
				devices[i] = d
				if k := int(ready.Add(1)); k%step == 0 || k == n {
					r.progress.printf("%d/%d devices ready (%.1fs)", k, n, time.Since(start).Seconds())
				}
			}
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		disconnectAll(devices)
		return nil, context.Cause(ctx)
	}
	return devices, nil
}

// newRunID returns a short random ID that keeps the vendor thing IDs of
// this run apart from those of earlier runs on the same server.
func newRunID() string {
	var b [4]byte
	rand.Read(b[:]) // never fails
	return hex.EncodeToString(b[:])
}

// load creates objects with cfg.Concurrency workers for cfg.Duration and
// returns how long it took: the duration plus the requests in flight at
// its end.
func (r *runner) load(ctx context.Context, devices []*device) time.Duration {
	cfg := r.cfg
	rate := "as fast as possible"
	if cfg.Rate > 0 {
		rate = fmt.Sprintf("at %g objects/s", cfg.Rate)
	}
	r.progress.printf("creating %s for %v with %d workers, %s", r.sends(), cfg.Duration, cfg.Concurrency, rate)
	start := time.Now()
	deadline := start.Add(cfg.Duration)
	sched := schedule{start: start, rate: cfg.Rate}

	stopProgress := r.reportLoad(start)
	defer stopProgress()

	var next atomic.Int64
	var wg sync.WaitGroup
	for range cfg.Concurrency {
		wg.Go(func() {
			poster := newPoster(ctx)
			defer poster.close()
			for {
				i := next.Add(1) - 1
				due := sched.due(i)
				if !due.Before(deadline) || !time.Now().Before(deadline) {
					return
				}
				if sleepUntil(ctx, due) != nil {
					return
				}
				d := devices[i%int64(len(devices))]
				t0 := time.Now()
				var id string
				var err error
				if r.send != nil {
					id, err = r.send(poster, d, i, t0)
				} else {
					id, err = poster.post(d.objects, i)
				}
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					if r.errors.Add(1) == 1 {
						msg := err.Error()
						r.firstError.Store(&msg)
						r.progress.printf("a creation of %s failed: %v", r.sends(), err)
					}
					continue
				}
				r.tracker.ack(id, t0)
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}

// sends names what the load sends.
func (r *runner) sends() string {
	if r.what == "" {
		return "objects"
	}
	return r.what
}

// reportLoad prints a progress line every second of the load phase, until
// the returned function is called.
func (r *runner) reportLoad(start time.Time) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		var lastAcked int64
		lastLatencies := 0
		last := start
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				c := r.tracker.counts()
				rate := float64(c.acked-lastAcked) / now.Sub(last).Seconds()
				recent := r.tracker.latenciesSince(lastLatencies)
				lastAcked, last, lastLatencies = c.acked, now, lastLatencies+len(recent)
				slices.Sort(recent)
				r.progress.printf("%5.1fs  acked %d  pushes %d  errors %d  %.0f %s/s  p99 this second %.3f ms",
					now.Sub(start).Seconds(), c.acked, c.pushes, r.errors.Load(), rate, r.sends(), ms(percentile(recent, 99)))
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

// drain waits up to cfg.Drain for the pushes of the acked objects still
// missing. It returns ctx's error when ctx is done first.
func (r *runner) drain(ctx context.Context) error {
	c := r.tracker.counts()
	if missing := c.acked - c.delivered; missing > 0 {
		r.progress.printf("waiting up to %v for %d missing pushes", r.cfg.Drain, missing)
	}
	deadline := time.Now().Add(r.cfg.Drain)
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		c := r.tracker.counts()
		if c.delivered >= c.acked || !time.Now().Before(deadline) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// result sums the run up; elapsed is the length of the load phase.
func (r *runner) result(elapsed time.Duration) Result {
	c := r.tracker.counts()
	lat := r.tracker.sortedLatencies()
	res := Result{
		ObjectsPerS:     round(float64(c.delivered)/elapsed.Seconds(), 1),
		P50:             ms(percentile(lat, 50)),
		P99:             ms(percentile(lat, 99)),
		Max:             ms(percentile(lat, 100)),
		Lost:            c.acked - c.delivered,
		Acked:           c.acked,
		Errors:          r.errors.Load(),
		Duplicates:      c.duplicates,
		UnackedPushes:   r.tracker.unackedPushes(),
		MQTTDisconnects: r.disconnects.Load(),
		Things:          r.cfg.Things,
		Concurrency:     r.cfg.Concurrency,
		Rate:            r.cfg.Rate,
		DurationS:       round(elapsed.Seconds(), 3),
	}
	if p := r.firstError.Load(); p != nil {
		res.FirstError = *p
	}
	if rss, err := RSSMiB(); err == nil {
		res.RSSMiB = round(rss, 1)
	} else {
		r.progress.printf("%v", err)
	}
	return res
}

// round rounds f to digits decimals.
func round(f float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(f*p) / p
}

// progress writes progress lines, one at a time.
type progress struct {
	mu sync.Mutex
	w  io.Writer
}

func (p *progress) printf(format string, args ...any) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "bench: "+format+"\n", args...)
}
