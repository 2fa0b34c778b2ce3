package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ServerCodeConfig is what RunServerCode needs.
type ServerCodeConfig struct {
	// BaseURL, AppID, ClientID and ClientSecret: the server and its app.
	BaseURL, AppID, ClientID, ClientSecret string
	// Concurrency is how many HTTP workers call at once.
	Concurrency int
	// Duration is the length of each measured phase.
	Duration time.Duration
	// Rounds is how many times each pair of phases runs, alternating;
	// the figures are medians over rounds (default 3).
	Rounds int
	// NoHooks skips the phases of object writes (with and without the
	// hook): the endpoint alone is measured.
	NoHooks bool
	// Progress receives human-readable progress lines; nil discards them.
	Progress io.Writer
}

// ServerCodeResult is the outcome of "kumo bench servercode": an endpoint
// that reads one object through the SDK surface beside a plain REST GET
// of the same object, and object writes with and without a server hook
// that does nothing. Rates are medians over rounds.
type ServerCodeResult struct {
	EndpointPerS float64 `json:"endpoint_per_s"`
	EndpointP50  Millis  `json:"endpoint_p50_ms"`
	EndpointP99  Millis  `json:"endpoint_p99_ms"`
	GetPerS      float64 `json:"get_per_s"`
	GetP50       Millis  `json:"get_p50_ms"`
	GetP99       Millis  `json:"get_p99_ms"`
	// EndpointVsGet is the median over rounds of each round's ratio.
	EndpointVsGet float64 `json:"endpoint_vs_get"`
	// GetCPUus and EndpointCPUus are this process's CPU time (all its
	// threads) per call, medians over rounds; EndpointVsGetCPU is the
	// median of GetCPUus/EndpointCPUus: the ratio of rates the two would
	// have on the same CPU, steadier than EndpointVsGet on a machine that
	// other work loads. They include the server's work only when it runs
	// in this process (the default).
	GetCPUus         float64 `json:"get_cpu_us"`
	EndpointCPUus    float64 `json:"endpoint_cpu_us"`
	EndpointVsGetCPU float64 `json:"endpoint_vs_get_cpu"`

	WritesPerS         float64 `json:"writes_per_s"`
	WritesWithHookPerS float64 `json:"writes_with_hook_per_s"`
	// HookVsNone is the median over rounds of each round's ratio.
	HookVsNone float64 `json:"hook_vs_none"`
	// WriteCPUus and WriteWithHookCPUus are this process's CPU time per
	// object written (with the hook: until the developer log held every
	// run), medians over rounds; HookVsNoneCPU is the median of
	// WriteCPUus/WriteWithHookCPUus (as EndpointVsGetCPU).
	WriteCPUus         float64 `json:"write_cpu_us"`
	WriteWithHookCPUus float64 `json:"write_with_hook_cpu_us"`
	HookVsNoneCPU      float64 `json:"hook_vs_none_cpu"`
	// HookRuns is the number of hook runs the developer log recorded,
	// against the objects written while the hook was current.
	HookRuns    int64 `json:"hook_runs"`
	HookObjects int64 `json:"hook_objects"`
	// HookDrainMs is the longest wait, after a phase with the hook, until
	// the developer log held a run for each object written.
	HookDrainMs Millis `json:"hook_drain_ms"`

	Errors      int64   `json:"errors"`
	FirstError  string  `json:"first_error,omitempty"`
	Concurrency int     `json:"concurrency"`
	Rounds      int     `json:"rounds"`
	DurationS   float64 `json:"duration_s"`
}

// serverCodeScript is the script the benchmark deploys: an endpoint that
// reads one object with the admin context, and a hook that does nothing.
const serverCodeScript = `
function readObject(params, context, done) {
  var obj = context.getAppAdminContext().objectWithURI(params.uri);
  obj.refresh({
    success: function(o) { done(o.get("n")); },
    failure: function(o, err) { done("error: " + err); }
  });
}

function noop(params, context) {
}
`

// phase is one measured phase: calls per second and latencies.
type phase struct {
	perS     float64
	p50, p99 time.Duration
	n        int64
	cpu      time.Duration // the process's CPU time during the phase
}

// cpuPerOp is the phase's CPU time per operation in µs.
func (p phase) cpuPerOp() float64 {
	if p.n == 0 {
		return 0
	}
	return float64(p.cpu.Microseconds()) / float64(p.n)
}

// processCPU is the CPU time (user and system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// RunServerCode runs the server-code benchmark against cfg's server.
func RunServerCode(ctx context.Context, cfg ServerCodeConfig) (ServerCodeResult, error) {
	if cfg.Concurrency <= 0 || cfg.Duration <= 0 {
		return ServerCodeResult{}, fmt.Errorf("bench: concurrency and duration must be positive")
	}
	if cfg.Rounds <= 0 {
		cfg.Rounds = 3
	}
	p := &progress{w: cfg.Progress}
	c := newAPIClient(cfg.BaseURL, cfg.AppID, cfg.Concurrency+4)
	defer c.close()
	admin, err := c.adminToken(ctx, cfg.ClientID, cfg.ClientSecret)
	if err != nil {
		return ServerCodeResult{}, err
	}
	runID := newRunID()
	bucket := "benchsc" + runID
	var created struct {
		ObjectID string `json:"objectID"`
	}
	if err := c.do(ctx, "POST", "/buckets/"+bucket+"/objects", admin, jsonType, []byte(`{"n":42}`), 201, &created); err != nil {
		return ServerCodeResult{}, err
	}
	objectPath := "/buckets/" + bucket + "/objects/" + created.ObjectID
	uri := "kiicloud://buckets/" + bucket + "/objects/" + created.ObjectID

	// The app's own current version, put back when the run ends (against
	// a real app at --url, the run must leave its server code as it was).
	previous, err := currentVersion(ctx, c, admin)
	if err != nil {
		return ServerCodeResult{}, err
	}
	var deployed struct {
		VersionID string `json:"versionID"`
	}
	if err := c.do(ctx, "POST", "/server-code", admin, "application/javascript", []byte(serverCodeScript), 201, &deployed); err != nil {
		return ServerCodeResult{}, err
	}
	defer func() {
		ctx := context.WithoutCancel(ctx)
		if previous != "" {
			c.do(ctx, "PUT", "/server-code/versions/current", admin, "text/plain", []byte(previous), 204, nil)
		} else {
			c.do(ctx, "DELETE", "/server-code/versions/current", admin, "", nil, 204, nil)
		}
		c.do(ctx, "DELETE", "/server-code/versions/"+deployed.VersionID, admin, "", nil, 204, nil)
	}()
	hooks := fmt.Sprintf(`{"kiicloud://buckets/%s": [{"when": "DATA_OBJECT_CREATED", "what": "EXECUTE_SERVER_CODE", "endpoint": "noop"}]}`, bucket+"w")
	if err := c.do(ctx, "PUT", "/hooks/versions/"+deployed.VersionID, admin, "application/vnd.kii.HooksDeploymentRequest+json", []byte(hooks), 204, nil); err != nil {
		return ServerCodeResult{}, err
	}
	setCurrent := func() error {
		return c.do(ctx, "PUT", "/server-code/versions/current", admin, "text/plain", []byte(deployed.VersionID), 204, nil)
	}
	clearCurrent := func() error {
		return c.do(ctx, "DELETE", "/server-code/versions/current", admin, "", nil, 204, nil)
	}
	if err := setCurrent(); err != nil {
		return ServerCodeResult{}, err
	}
	// The endpoint must answer 42 before anything is measured.
	var first struct {
		ReturnedValue any `json:"returnedValue"`
	}
	args, _ := json.Marshal(map[string]string{"uri": uri})
	if err := c.do(ctx, "POST", "/server-code/versions/current/readObject", "", jsonType, args, 200, &first); err != nil {
		return ServerCodeResult{}, err
	}
	if v, _ := first.ReturnedValue.(float64); v != 42 {
		return ServerCodeResult{}, fmt.Errorf("bench: the endpoint returned %v, not the object's 42", first.ReturnedValue)
	}

	res := ServerCodeResult{Concurrency: cfg.Concurrency, Rounds: cfg.Rounds, DurationS: cfg.Duration.Seconds()}
	var errs atomic.Int64
	var firstErr atomic.Value
	fail := func(err error) {
		if errs.Add(1) == 1 {
			firstErr.Store(err.Error())
		}
	}
	call := func(ctx context.Context) error {
		return c.do(ctx, "POST", "/server-code/versions/current/readObject", "", jsonType, args, 200, nil)
	}
	get := func(ctx context.Context) error {
		return c.do(ctx, "GET", objectPath, admin, "", nil, 200, nil)
	}
	var seq atomic.Int64
	write := func(ctx context.Context) error {
		body := fmt.Appendf(nil, `{"n":%d,"payload":%q}`, seq.Add(1), payload)
		return c.do(ctx, "POST", "/buckets/"+bucket+"w/objects", admin, jsonType, body, 201, nil)
	}

	var calls, gets, plain, hooked []phase
	var ratios, hookRatios, cpuRatios, hookCPURatios []float64
	for round := 1; round <= cfg.Rounds; round++ {
		g := measure(ctx, cfg, get, fail)
		e := measure(ctx, cfg, call, fail)
		gets, calls = append(gets, g), append(calls, e)
		ratios = append(ratios, ratio(e.perS, g.perS))
		cpuRatios = append(cpuRatios, ratio(g.cpuPerOp(), e.cpuPerOp()))
		p.printf("round %d/%d: GET %.1f/s, endpoint %.1f/s (%.3f×); CPU per call %.0f µs, %.0f µs (%.3f×)", round, cfg.Rounds, g.perS, e.perS, ratio(e.perS, g.perS),
			g.cpuPerOp(), e.cpuPerOp(), ratio(g.cpuPerOp(), e.cpuPerOp()))

		if cfg.NoHooks {
			continue
		}
		if err := clearCurrent(); err != nil {
			return res, err
		}
		w := measure(ctx, cfg, write, fail)
		if err := setCurrent(); err != nil {
			return res, err
		}
		cursor, err := logCursor(ctx, c, admin)
		if err != nil {
			return res, err
		}
		cpu0 := processCPU()
		h := measure(ctx, cfg, write, fail)
		runs, drain, err := hookRuns(ctx, c, admin, cursor, "noop", h.n)
		if err != nil {
			return res, err
		}
		h.cpu = processCPU() - cpu0 // the hook runs after the load included
		res.HookObjects += h.n
		res.HookRuns += runs
		res.HookDrainMs = max(res.HookDrainMs, ms(drain))
		plain, hooked = append(plain, w), append(hooked, h)
		hookRatios = append(hookRatios, ratio(h.perS, w.perS))
		hookCPURatios = append(hookCPURatios, ratio(w.cpuPerOp(), h.cpuPerOp()))
		p.printf("round %d/%d: writes %.1f/s, with a no-op hook %.1f/s (%.3f×); CPU per write %.0f µs, %.0f µs (%.3f×); %d hook runs logged for %d objects, the last %.0f ms after the load",
			round, cfg.Rounds, w.perS, h.perS, ratio(h.perS, w.perS), w.cpuPerOp(), h.cpuPerOp(), ratio(w.cpuPerOp(), h.cpuPerOp()), runs, h.n, float64(ms(drain)))
		if err := ctx.Err(); err != nil {
			return res, err
		}
	}
	med := func(ps []phase) phase { // the lower median, as medianFloat
		sort.Slice(ps, func(i, k int) bool { return ps[i].perS < ps[k].perS })
		return ps[(len(ps)-1)/2]
	}
	e, g := med(calls), med(gets)
	res.EndpointPerS, res.EndpointP50, res.EndpointP99 = round(e.perS, 1), ms(e.p50), ms(e.p99)
	res.GetPerS, res.GetP50, res.GetP99 = round(g.perS, 1), ms(g.p50), ms(g.p99)
	res.EndpointVsGet = round(medianFloat(ratios), 3)
	res.GetCPUus, res.EndpointCPUus = round(medianCPU(gets), 1), round(medianCPU(calls), 1)
	res.EndpointVsGetCPU = round(medianFloat(cpuRatios), 3)
	if !cfg.NoHooks {
		res.WritesPerS, res.WritesWithHookPerS = round(med(plain).perS, 1), round(med(hooked).perS, 1)
		res.HookVsNone = round(medianFloat(hookRatios), 3)
		res.WriteCPUus, res.WriteWithHookCPUus = round(medianCPU(plain), 1), round(medianCPU(hooked), 1)
		res.HookVsNoneCPU = round(medianFloat(hookCPURatios), 3)
	}
	res.Errors = errs.Load()
	if s, ok := firstErr.Load().(string); ok {
		res.FirstError = s
	}
	return res, nil
}

// currentVersion returns the app's current server code version ("" when
// it has none).
func currentVersion(ctx context.Context, c *apiClient, admin string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", c.app+"/server-code/versions/current", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := c.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("GET the current server code version: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	switch {
	case err != nil:
		return "", err
	case resp.StatusCode == http.StatusNotFound:
		return "", nil
	case resp.StatusCode != http.StatusOK:
		return "", &statusError{method: "GET", path: req.URL.Path, status: resp.StatusCode, body: snippet(b)}
	}
	return strings.TrimSpace(string(b)), nil
}

// logCursor returns the position of the newest developer log record.
func logCursor(ctx context.Context, c *apiClient, admin string) (int64, error) {
	var page struct {
		Cursor string `json:"cursor"`
	}
	if err := c.do(ctx, "GET", "/server-code/logs?limit=1", admin, "", nil, 200, &page); err != nil {
		return 0, err
	}
	return strconv.ParseInt(page.Cursor, 10, 64)
}

// hookRuns waits (up to a minute) until the developer log holds, after
// the cursor, a run of endpoint for each of want objects, and returns how
// many it holds and how long after the call it saw the last.
func hookRuns(ctx context.Context, c *apiClient, admin string, after int64, endpoint string, want int64) (int64, time.Duration, error) {
	start := time.Now()
	deadline := start.Add(time.Minute)
	var n int64
	for {
		var page struct {
			Logs []struct {
				Key      string `json:"key"`
				Endpoint string `json:"endpoint"`
			} `json:"logs"`
			Cursor string `json:"cursor"`
		}
		if err := c.do(ctx, "GET", fmt.Sprintf("/server-code/logs?limit=500&after=%d", after), admin, "", nil, 200, &page); err != nil {
			return n, 0, err
		}
		for _, l := range page.Logs {
			if l.Key == "servercode.invoke" && l.Endpoint == endpoint {
				n++
			}
		}
		after, _ = strconv.ParseInt(page.Cursor, 10, 64)
		if len(page.Logs) > 0 {
			continue // more pages may follow
		}
		if n >= want || time.Now().After(deadline) {
			return n, time.Since(start), nil
		}
		select {
		case <-ctx.Done():
			return n, 0, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// measure runs op from cfg.Concurrency workers for cfg.Duration.
func measure(ctx context.Context, cfg ServerCodeConfig, op func(context.Context) error, fail func(error)) phase {
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	start, cpu0 := time.Now(), processCPU()
	for range cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for ctx.Err() == nil {
				t := time.Now()
				if err := op(context.WithoutCancel(ctx)); err != nil {
					fail(err)
					continue
				}
				mine = append(mine, time.Since(t))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed, cpu := time.Since(start), processCPU()-cpu0
	sort.Slice(lat, func(i, k int) bool { return lat[i] < lat[k] })
	return phase{
		perS: float64(len(lat)) / elapsed.Seconds(),
		p50:  percentile(lat, 50),
		p99:  percentile(lat, 99),
		n:    int64(len(lat)),
		cpu:  cpu,
	}
}

// medianCPU is the median of the phases' CPU time per operation (µs).
func medianCPU(ps []phase) float64 {
	xs := make([]float64, len(ps))
	for i, p := range ps {
		xs[i] = p.cpuPerOp()
	}
	return medianFloat(xs)
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}
