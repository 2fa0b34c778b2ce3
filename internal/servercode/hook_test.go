package servercode

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/auth"
	"github.com/kumo-iot/kumo/internal/sqlstore"
	"github.com/kumo-iot/kumo/internal/sqlstore/sqlite"
)

// hookClock is a settable clock shared by the store and the worker.
type hookClock struct{ ms atomic.Int64 }

func (c *hookClock) Now() time.Time          { return time.UnixMilli(c.ms.Load()) }
func (c *hookClock) Advance(d time.Duration) { c.ms.Add(d.Milliseconds()) }

// hookTestConfigs gives every app, at version "v1", the hook onCreate on
// objects created in app bucket b.
type hookTestConfigs struct{}

func (hookTestConfigs) CurrentHookConfig(context.Context, string) (kumo.HookConfig, string, bool, error) {
	return kumo.HookConfig{Triggers: []kumo.TriggerHook{{Path: "kiicloud://buckets/b", When: "DATA_OBJECT_CREATED", Endpoint: "onCreate"}}}, "v1", true, nil
}

// hookRunner is a kumo.ServerCodeRunner recording its calls; answer,
// when set, decides each call's outcome (by the call and how many times
// the same params were run before).
type hookRunner struct {
	mu     sync.Mutex
	calls  []kumo.ServerCodeCall
	runs   map[string]int // params -> runs
	answer func(c kumo.ServerCodeCall, n int) (kumo.ServerCodeResult, error)
}

func (r *hookRunner) Check(string) error { return nil }

func (r *hookRunner) Run(ctx context.Context, c kumo.ServerCodeCall) (kumo.ServerCodeResult, error) {
	if t, ok := kumo.ServerCodeFrom(ctx); !ok || t != c.Trigger {
		return kumo.ServerCodeResult{}, fmt.Errorf("the run's context is not marked as server code run by %s", c.Trigger)
	}
	r.mu.Lock()
	r.calls = append(r.calls, c)
	if r.runs == nil {
		r.runs = map[string]int{}
	}
	r.runs[string(c.Params)]++
	n := r.runs[string(c.Params)]
	answer := r.answer
	r.mu.Unlock()
	if answer != nil {
		return answer(c, n)
	}
	return kumo.ServerCodeResult{VersionID: c.Version, ReturnedValue: json.RawMessage(`"ok"`)}, nil
}

func (r *hookRunner) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

// memLogs keeps developer log records in memory.
type memLogs struct {
	mu   sync.Mutex
	logs []kumo.DevLog
}

func (m *memLogs) AppendDevLogs(_ context.Context, logs []kumo.DevLog) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.logs = append(m.logs, logs...)
	return nil
}

func (m *memLogs) levels() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, l := range m.logs {
		if l.Key != HookDevLogKey {
			out = append(out, "bad key "+l.Key)
		}
		out = append(out, l.Level)
	}
	return out
}

// hookFixture is a SQLite store with an app, a clock, a runner and the
// worker running.
type hookFixture struct {
	t      testing.TB
	ctx    context.Context
	st     *sqlstore.Store
	clock  *hookClock
	runner *hookRunner
	logs   *memLogs
	admin  kumo.Caller
	claims atomic.Int64 // the worker's Claim calls
}

// countingJobs counts the worker's claims.
type countingJobs struct {
	*sqlstore.HookService
	n *atomic.Int64
}

func (c countingJobs) Claim(ctx context.Context, limit int, lease int64) ([]kumo.ServerCodeJob, error) {
	c.n.Add(1)
	return c.HookService.Claim(ctx, limit, lease)
}

func newHookFixture(t testing.TB) *hookFixture {
	f := &hookFixture{t: t, ctx: context.Background(), clock: &hookClock{}, runner: &hookRunner{}, logs: &memLogs{}}
	f.clock.ms.Store(1_700_000_000_000)
	st, err := sqlite.Open(f.ctx, filepath.Join(t.TempDir(), "kumo.db"))
	if err != nil {
		t.Fatal(err)
	}
	st.Hasher = auth.Hasher{Iterations: 1000}
	st.Now = f.clock.Now
	if err := st.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	st.Hooks.Configs = hookTestConfigs{}
	f.st = st
	creds, err := st.Apps.CreateApp(f.ctx, kumo.AppCreate{ID: "app1", Key: "key1", Name: "App"})
	if err != nil {
		t.Fatal(err)
	}
	f.admin = kumo.Caller{AppID: "app1", Kind: kumo.Admin, ID: creds.ClientID}
	return f
}

// start runs a worker with cfg (its Jobs, Runner, Logs and Now set
// here) until the test ends.
func (f *hookFixture) start(cfg HookWorkerConfig) {
	cfg.Jobs, cfg.Logs, cfg.Now = countingJobs{f.st.Hooks, &f.claims}, f.logs, f.st.Now
	if cfg.Runner == nil {
		cfg.Runner = f.runner
	}
	if cfg.Poll == 0 {
		cfg.Poll = 5 * time.Millisecond
	}
	w := NewHookWorker(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Run(ctx)
	}()
	f.t.Cleanup(func() {
		cancel()
		<-done
	})
}

// object creates an object in app bucket b (a hook's job).
func (f *hookFixture) object() kumo.Object {
	f.t.Helper()
	o, err := f.st.Objects.CreateObject(f.ctx, f.admin, kumo.ObjectCreate{Bucket: kumo.BucketRef{AppID: "app1", Name: "b"}, Data: map[string]any{}})
	if err != nil {
		f.t.Fatal(err)
	}
	return o
}

// eventually polls cond until it holds or 10 s pass.
func (f *hookFixture) eventually(what string, cond func() bool) {
	f.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			f.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (f *hookFixture) pending() int {
	f.t.Helper()
	n, err := f.st.Hooks.Pending(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

// job returns the one queued job's next_at and claimed_until.
func (f *hookFixture) job() (nextAt, claimedUntil int64) {
	f.t.Helper()
	if err := f.st.ReadDB().QueryRow("SELECT next_at, claimed_until FROM server_code_jobs").Scan(&nextAt, &claimedUntil); err != nil {
		f.t.Fatal(err)
	}
	return
}

// TestHookWorkerRunsOnce checks that each queued hook runs exactly once
// under normal runs, with the hook's version, endpoint, params and actor.
func TestHookWorkerRunsOnce(t *testing.T) {
	f := newHookFixture(t)
	f.start(HookWorkerConfig{Workers: 3})
	ids := map[string]bool{}
	for range 25 {
		ids[f.object().ID] = true
	}
	f.eventually("25 runs and no job left", func() bool { return f.runner.count() >= 25 && f.pending() == 0 })
	f.runner.mu.Lock()
	defer f.runner.mu.Unlock()
	if len(f.runner.calls) != 25 {
		t.Errorf("%d runs of 25 hooks", len(f.runner.calls))
	}
	for _, c := range f.runner.calls {
		var p struct{ ObjectID, URI string }
		json.Unmarshal(c.Params, &p)
		if c.AppID != "app1" || c.Version != "v1" || c.Endpoint != "onCreate" || c.Trigger != kumo.RunHook || c.Actor != f.admin.Principal() ||
			c.Token != "" || !ids[p.ObjectID] || p.URI != "kiicloud://buckets/b/objects/"+p.ObjectID {
			t.Errorf("call %+v (params %s)", c, c.Params)
		}
		if f.runner.runs[string(c.Params)] != 1 {
			t.Errorf("the hook of %s ran %d times", p.ObjectID, f.runner.runs[string(c.Params)])
		}
	}
	if l := f.logs.levels(); len(l) != 0 {
		t.Errorf("developer log of runs that went well: %v", l)
	}
}

// TestHookWorkerRetries checks the outcomes of a run: one that could not
// complete (the engine busy, the store failing, the run cut short) is
// retried after a backoff that doubles, and given up after MaxAttempts;
// an exception of the code, or a run that can never start, is not
// retried. Each retry and give-up is in the developer log.
func TestHookWorkerRetries(t *testing.T) {
	const retryMin = 10 * time.Second
	busy := kumo.Errorf(kumo.ErrUnavailable, "Server code is busy; try again")
	cases := []struct {
		name string
		// answer fails the first n runs (n > 0) as it says.
		answer func(n int) (kumo.ServerCodeResult, error)
		runs   int      // runs in all
		levels []string // developer log
	}{
		{"busy twice", func(n int) (kumo.ServerCodeResult, error) {
			if n <= 2 {
				return kumo.ServerCodeResult{}, busy
			}
			return kumo.ServerCodeResult{}, nil
		}, 3, []string{"WARN", "WARN"}},
		{"store failure, cut short", func(n int) (kumo.ServerCodeResult, error) {
			switch n {
			case 1:
				return kumo.ServerCodeResult{}, fmt.Errorf("load version: connection reset")
			case 2:
				return kumo.ServerCodeResult{Err: &kumo.ServerCodeError{ErrorMessage: kumo.ServerCodeErrorMessage,
					Details: kumo.ServerCodeErrorDetails{ErrorCode: "CANCELED", Message: "the run was canceled"}}}, nil
			}
			return kumo.ServerCodeResult{}, nil
		}, 3, []string{"WARN", "WARN"}},
		{"always busy", func(int) (kumo.ServerCodeResult, error) { return kumo.ServerCodeResult{}, busy },
			4, []string{"WARN", "WARN", "WARN", "ERROR"}},
		{"an exception", func(int) (kumo.ServerCodeResult, error) {
			return kumo.ServerCodeResult{Err: &kumo.ServerCodeError{ErrorMessage: kumo.ServerCodeErrorMessage,
				Details: kumo.ServerCodeErrorDetails{ErrorCode: "RUNTIME_ERROR", Message: "x is not defined"}}}, nil
		}, 1, nil},
		{"no such version", func(int) (kumo.ServerCodeResult, error) {
			return kumo.ServerCodeResult{}, kumo.Errorf(kumo.ErrServerCodeVersionNotFound, "Version v1 was not found")
		}, 1, []string{"ERROR"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newHookFixture(t)
			f.runner.answer = func(_ kumo.ServerCodeCall, n int) (kumo.ServerCodeResult, error) { return tc.answer(n) }
			f.start(HookWorkerConfig{RetryMin: retryMin, RetryMax: 25 * time.Second, MaxAttempts: 4})
			f.object()
			wait := retryMin
			for run := 1; run <= tc.runs; run++ {
				f.eventually(fmt.Sprintf("run %d", run), func() bool { return f.runner.count() >= run })
				if run == tc.runs {
					break
				}
				// Released, due after the backoff: not run before it.
				next := f.clock.Now().Add(wait).UnixMilli()
				f.eventually(fmt.Sprintf("the job released after run %d", run), func() bool {
					nextAt, claimed := f.job()
					return claimed == 0 && nextAt == next
				})
				if n := f.runner.count(); n != run {
					t.Fatalf("%d runs before the backoff ended, want %d", n, run)
				}
				f.clock.Advance(wait)
				wait = min(2*wait, 25*time.Second)
			}
			f.eventually("no job left", func() bool { return f.pending() == 0 })
			if n := f.runner.count(); n != tc.runs {
				t.Errorf("%d runs, want %d", n, tc.runs)
			}
			if got := f.logs.levels(); strings.Join(got, ",") != strings.Join(tc.levels, ",") {
				t.Errorf("developer log levels %v, want %v", got, tc.levels)
			}
		})
	}
}

// TestHookBackoff checks the backoff: RetryMin, doubling, at most
// RetryMax.
func TestHookBackoff(t *testing.T) {
	w := NewHookWorker(HookWorkerConfig{RetryMin: time.Second, RetryMax: 5 * time.Second})
	for attempt, want := range []time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 5 * time.Second, 9: 5 * time.Second} {
		if attempt == 0 || want == 0 {
			continue
		}
		if got := w.backoff(attempt); got != want {
			t.Errorf("backoff(%d) = %v, want %v", attempt, got, want)
		}
	}
}

// TestHookWorkerLeaseExpiry checks that a job claimed by a node that then
// died runs once its lease ends (at least once), not before.
func TestHookWorkerLeaseExpiry(t *testing.T) {
	f := newHookFixture(t)
	f.object()
	const lease = time.Minute
	f.st.NodeID = "dead-node" // another node: its claims are not this one's to release
	if jobs, err := f.st.Hooks.Claim(f.ctx, 10, lease.Milliseconds()); err != nil || len(jobs) != 1 {
		t.Fatalf("the dead node's claim = %v, %v", jobs, err)
	}
	f.st.NodeID = "node"
	f.start(HookWorkerConfig{Lease: lease})
	// The worker polls while the lease lasts: the job stays claimed.
	_, claimed := f.job()
	f.eventually("a few polls", func() bool { return f.claims.Load() >= 3 })
	if n := f.runner.count(); n != 0 {
		t.Fatalf("a leased job ran %d times", n)
	}
	f.clock.Advance(lease)
	f.eventually("the run after the lease", func() bool { return f.runner.count() == 1 && f.pending() == 0 })
	if claimed != f.clock.Now().UnixMilli() {
		t.Errorf("the dead node's lease ended at %d, want %d", claimed, f.clock.Now().UnixMilli())
	}
}

// TestHookWorkerThingIF checks a Thing-IF SERVER_CODE trigger's run: its
// endpoint, parameters and executor token; its result, success or
// failure, recorded once in the trigger's results.
func TestHookWorkerThingIF(t *testing.T) {
	f := newHookFixture(t)
	f.runner.answer = func(c kumo.ServerCodeCall, _ int) (kumo.ServerCodeResult, error) {
		if c.Endpoint == "fails" {
			return kumo.ServerCodeResult{Err: &kumo.ServerCodeError{ErrorMessage: kumo.ServerCodeErrorMessage,
				Details: kumo.ServerCodeErrorDetails{ErrorCode: "RUNTIME_ERROR", Message: "adminContext is not defined"}}}, nil
		}
		return kumo.ServerCodeResult{ReturnedValue: json.RawMessage(`200`)}, nil
	}
	f.start(HookWorkerConfig{})
	th, _, err := f.st.Things.RegisterThing(f.ctx, f.admin, kumo.ThingRegistration{VendorThingID: "lamp", Password: "pw", Fields: map[string]any{}}, false)
	if err != nil {
		t.Fatal(err)
	}
	trigger := func(endpoint string) kumo.Trigger {
		t.Helper()
		var m map[string]any
		d := json.NewDecoder(strings.NewReader(`{"predicate":{"eventSource":"SCHEDULE_ONCE","scheduleAt":1700000000000},"triggersWhat":"SERVER_CODE",
			"serverCode":{"endpoint":"` + endpoint + `","executorAccessToken":"tok-` + endpoint + `","parameters":{"caller":"trigger"}}}`))
		d.UseNumber()
		if err := d.Decode(&m); err != nil {
			t.Fatal(err)
		}
		tr, err := kumo.ParseTrigger(th.ID, m, 0)
		if err != nil {
			t.Fatal(err)
		}
		if tr, err = f.st.Triggers.CreateTrigger(f.ctx, f.admin, tr); err != nil {
			t.Fatal(err)
		}
		return tr
	}
	ok, fails := trigger("alertTemperature"), trigger("fails")
	if n, err := f.st.Triggers.FireDue(f.ctx, 10); err != nil || n != 2 {
		t.Fatalf("FireDue = %d, %v", n, err)
	}
	f.eventually("both runs done", func() bool { return f.runner.count() == 2 && f.pending() == 0 })
	for _, c := range f.runner.calls {
		if c.AppID != "app1" || c.Version != kumo.CurrentVersion || c.Trigger != kumo.RunThingIF || c.Token != "tok-"+c.Endpoint ||
			string(c.Params) != `{"caller":"trigger"}` {
			t.Errorf("call %+v (params %s)", c, c.Params)
		}
	}
	results := func(tr kumo.Trigger) string {
		t.Helper()
		rs, _, err := f.st.Triggers.ServerCodeResults(f.ctx, f.admin, th.ID, tr.ID, "", 10)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(rs)
		return string(b)
	}
	at := fmt.Sprint(f.clock.Now().UnixMilli())
	if got, want := results(ok), `[{"succeeded":true,"returnedValue":200,"executedAt":`+at+`,"endpoint":"alertTemperature"}]`; got != want {
		t.Errorf("results of a run that succeeded:\n%s\nwant\n%s", got, want)
	}
	if got, want := results(fails), `[{"succeeded":false,"executedAt":`+at+`,"endpoint":"fails","error":{"errorMessage":"Error found while executing the developer-defined code","details":{"errorCode":"RUNTIME_ERROR","message":"adminContext is not defined"}}}]`; got != want {
		t.Errorf("results of a run that failed:\n%s\nwant\n%s", got, want)
	}
}

// TestHookWorkerReleasesOwnClaims checks that a node restarted with the
// same ID runs at once the jobs it had claimed before it died (and those
// it committed claimed), not after their lease.
func TestHookWorkerReleasesOwnClaims(t *testing.T) {
	f := newHookFixture(t)
	f.object()
	if jobs, err := f.st.Hooks.Claim(f.ctx, 10, time.Hour.Milliseconds()); err != nil || len(jobs) != 1 {
		t.Fatalf("the claim before the crash = %v, %v", jobs, err)
	}
	f.start(HookWorkerConfig{})
	f.eventually("the run of the job claimed before the restart", func() bool { return f.runner.count() == 1 && f.pending() == 0 })
	// Committed while the worker runs: claimed by this node at insert.
	f.object()
	f.eventually("the run of a job committed here", func() bool { return f.runner.count() == 2 && f.pending() == 0 })
}
