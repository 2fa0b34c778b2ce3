package servercode_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/servercode"
	"github.com/kumo-iot/kumo/internal/sqlstore"
	"github.com/kumo-iot/kumo/internal/sqlstore/sqlite"
	"github.com/kumo-iot/kumo/internal/sqlstore/storetest"
)

// scheduleRunner is a kumo.ServerCodeRunner that records the calls it gets
// and answers each with fail's error (when set) or returns the params.
type scheduleRunner struct {
	mu    sync.Mutex
	calls []kumo.ServerCodeCall
	fail  atomic.Bool
	block chan struct{} // when set, Run waits for it to close
}

func (r *scheduleRunner) Check(string) error { return nil }

func (r *scheduleRunner) Run(ctx context.Context, call kumo.ServerCodeCall) (kumo.ServerCodeResult, error) {
	if t, ok := kumo.ServerCodeFrom(ctx); !ok || t != kumo.RunSchedule {
		return kumo.ServerCodeResult{}, kumo.Errorf(kumo.ErrInvalidInputData, "not run as a schedule")
	}
	r.mu.Lock()
	r.calls = append(r.calls, call)
	r.mu.Unlock()
	if r.block != nil {
		<-r.block
	}
	if call.Endpoint == "missing" {
		return kumo.ServerCodeResult{}, kumo.Errorf(kumo.ErrInvalidInputData, "no endpoint missing")
	}
	if r.fail.Load() {
		return kumo.ServerCodeResult{Err: &kumo.ServerCodeError{ErrorMessage: kumo.ServerCodeErrorMessage,
			Details: kumo.ServerCodeErrorDetails{ErrorCode: "RUNTIME_ERROR", Message: "boom"}}}, nil
	}
	return kumo.ServerCodeResult{ReturnedValue: call.Params}, nil
}

func (r *scheduleRunner) Calls() []kumo.ServerCodeCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]kumo.ServerCodeCall(nil), r.calls...)
}

// clock is a settable clock.
type clock struct{ ms atomic.Int64 }

func (c *clock) Now() time.Time   { return time.UnixMilli(c.ms.Load()).UTC() }
func (c *clock) Set(t time.Time)  { c.ms.Store(t.UnixMilli()) }
func at(hh, mm, ss int) time.Time { return time.Date(2026, 3, 2, hh, mm, ss, 0, time.UTC) }
func minute(hh, mm int) int64     { return at(hh, mm, 0).UnixMilli() }
func openStore(t *testing.T, path string) *sqlstore.Store {
	return storetest.MustOpen(t, func(ctx context.Context) (*sqlstore.Store, error) { return sqlite.Open(ctx, path) })
}

// scheduleFixture is a store with app1, whose current version has the
// jobs of hooks.
type scheduleFixture struct {
	t      *testing.T
	path   string
	st     *sqlstore.Store
	admin  kumo.Caller
	clock  *clock
	runner *scheduleRunner
}

func newScheduleFixture(t *testing.T, hooks string) *scheduleFixture {
	f := &scheduleFixture{t: t, path: filepath.Join(t.TempDir(), "kumo.db"), clock: &clock{}, runner: &scheduleRunner{}}
	f.st = openStore(t, f.path)
	f.st.Now = f.clock.Now
	ctx := context.Background()
	creds, err := f.st.Apps.CreateApp(ctx, kumo.AppCreate{ID: "app1", Key: "key1"})
	if err != nil {
		t.Fatal(err)
	}
	f.admin = kumo.Caller{AppID: creds.AppID, Kind: kumo.Admin, ID: creds.ClientID}
	v, err := f.st.ServerCode.Deploy(ctx, f.admin, "function job(params, context, done) { done(params); }", "")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := kumo.ParseHookConfig([]byte(hooks))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.st.ServerCode.PutHookConfig(ctx, f.admin, v.ID, cfg); err != nil {
		t.Fatal(err)
	}
	if err := f.st.ServerCode.SetCurrent(ctx, f.admin, v.ID); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *scheduleFixture) scheduler() *servercode.Scheduler {
	return servercode.NewScheduler(servercode.SchedulerConfig{Configs: f.st.ServerCode, Executions: f.st.Schedules,
		Runner: f.runner, Logs: f.st.DevLogs, Now: f.clock.Now})
}

// tick runs one pass of s at time now and waits for the runs it started.
func (f *scheduleFixture) tick(s *servercode.Scheduler, now time.Time) {
	f.clock.Set(now)
	s.Tick(context.Background())
	s.Wait()
}

func (f *scheduleFixture) executions() []kumo.ScheduleExecution {
	f.t.Helper()
	q, _ := kumo.ParseScheduleExecutionQuery(nil)
	es, _, err := f.st.Schedules.QueryScheduleExecutions(context.Background(), f.admin, q)
	if err != nil {
		f.t.Fatal(err)
	}
	return es
}

const dailyJob = `{"kiicloud://scheduler":{"Daily":{"cron":"5 10 * * *","endpoint":"job","parameters":{"n":1},"what":"EXECUTE_SERVER_CODE"}}}`

// TestSchedulerFiresOncePerTick: a job fires within its minute, once,
// with its parameters and no token; its execution is SUCCESS with the
// returned value.
func TestSchedulerFiresOncePerTick(t *testing.T) {
	f := newScheduleFixture(t, dailyJob)
	s := f.scheduler()
	for _, now := range []time.Time{at(10, 4, 59), at(10, 5, 1), at(10, 5, 30), at(10, 6, 59), at(10, 7, 0), at(10, 8, 0)} {
		f.tick(s, now)
	}
	calls := f.runner.Calls()
	if len(calls) != 1 {
		t.Fatalf("%d runs, want 1: %+v", len(calls), calls)
	}
	c := calls[0]
	if c.AppID != "app1" || c.Endpoint != "job" || string(c.Params) != `{"n":1}` || c.Token != "" || c.Trigger != kumo.RunSchedule || c.Version == "" {
		t.Errorf("call = %+v", c)
	}
	es := f.executions()
	if len(es) != 1 || es[0].Name != "Daily" || es[0].Status != kumo.ScheduleSuccess || es[0].Result != `{"n":1}` ||
		es[0].Tick != minute(10, 5) || es[0].StartedAt != at(10, 5, 1).UnixMilli() || len(es[0].ID) != 25 {
		t.Errorf("executions = %+v", es)
	}
	// The next day's tick fires again.
	f.tick(s, at(10, 5, 0).AddDate(0, 0, 1))
	if n := len(f.runner.Calls()); n != 2 {
		t.Errorf("%d runs after the next day's tick, want 2", n)
	}
}

// TestSchedulerOncePerCluster: two schedulers over one store (two nodes)
// looking at the same time run a tick once.
func TestSchedulerOncePerCluster(t *testing.T) {
	f := newScheduleFixture(t, `{"kiicloud://scheduler":{"Every":{"cron":"* * * * *","endpoint":"job","what":"EXECUTE_SERVER_CODE"},
		"Also":{"cron":"0/2 * * * *","endpoint":"job","what":"EXECUTE_SERVER_CODE"}}}`)
	a, b := f.scheduler(), f.scheduler()
	f.clock.Set(at(10, 6, 10))
	for round := 0; round < 3; round++ {
		var wg sync.WaitGroup
		for _, s := range []*servercode.Scheduler{a, b} {
			wg.Add(1)
			go func() { defer wg.Done(); s.Tick(context.Background()) }()
		}
		wg.Wait()
	}
	a.Wait()
	b.Wait()
	// Every: 10:05 and 10:06; Also: 10:06.
	if n := len(f.runner.Calls()); n != 3 {
		t.Fatalf("%d runs, want 3 (each tick once)", n)
	}
	got := map[string]int{}
	for _, e := range f.executions() {
		got[e.Name+"@"+time.UnixMilli(e.Tick).UTC().Format("15:04")]++
	}
	want := map[string]int{"Every@10:05": 1, "Every@10:06": 1, "Also@10:06": 1}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("executions %v, want %v", got, want)
			break
		}
	}
}

// TestSchedulerAfterRestart: a tick missed while the node was down runs
// when it comes back within the next minute; a tick claimed before the
// restart does not run again.
func TestSchedulerAfterRestart(t *testing.T) {
	f := newScheduleFixture(t, dailyJob)
	// Down at 10:05; back at 10:06:20: the 10:05 tick still runs.
	f.st.Close()
	f.st = openStore(t, f.path)
	f.st.Now = f.clock.Now
	f.tick(f.scheduler(), at(10, 6, 20))
	if n := len(f.runner.Calls()); n != 1 {
		t.Fatalf("%d runs of the missed tick, want 1", n)
	}
	// Restarted again at 10:06:40: the tick is claimed, it stays run once.
	f.st.Close()
	f.st = openStore(t, f.path)
	f.st.Now = f.clock.Now
	f.tick(f.scheduler(), at(10, 6, 40))
	if n := len(f.runner.Calls()); n != 1 {
		t.Fatalf("%d runs after a second restart, want 1", n)
	}
	// A tick missed by more than a minute is skipped.
	f.tick(f.scheduler(), at(10, 7, 0).AddDate(0, 0, 1))
	if n := len(f.runner.Calls()); n != 1 {
		t.Errorf("%d runs of a tick two minutes old, want 1", n)
	}
}

// TestSchedulerFailure: a job whose code fails is FAILED with the error's
// JSON; one the runner cannot start is FAILED with the cause, and the
// developer log has an ERROR record of it (the engine logs the others).
func TestSchedulerFailure(t *testing.T) {
	f := newScheduleFixture(t, `{"kiicloud://scheduler":{"Daily":{"cron":"5 10 * * *","endpoint":"job","what":"EXECUTE_SERVER_CODE"},
		"Broken":{"cron":"5 10 * * *","endpoint":"missing","what":"EXECUTE_SERVER_CODE"}}}`)
	f.runner.fail.Store(true)
	f.tick(f.scheduler(), at(10, 5, 2))
	es := f.executions()
	if len(es) != 2 || es[0].Status != kumo.ScheduleFailed || es[1].Status != kumo.ScheduleFailed {
		t.Fatalf("executions = %+v", es)
	}
	results := map[string]string{}
	for _, e := range es {
		results[e.Name] = e.Result
	}
	var e kumo.ServerCodeError
	if err := json.Unmarshal([]byte(results["Daily"]), &e); err != nil || e.Details.Message != "boom" || e.Details.ErrorCode != "RUNTIME_ERROR" {
		t.Errorf("result %q: %v", results["Daily"], err)
	}
	if results["Broken"] != `{"errorCode":"INVALID_INPUT_DATA","message":"no endpoint missing"}` {
		t.Errorf("result of a run not started: %q", results["Broken"])
	}
	logs, err := f.st.DevLogs.DevLogs(context.Background(), "app1", kumo.DevLogFilter{Level: kumo.DevLogError})
	if err != nil || len(logs) != 1 || logs[0].Fields["job"] != "Broken" {
		t.Errorf("developer log = %+v, %v", logs, err)
	}
}

// TestSchedulerStaleExecutions: an execution left RUNNING by a node that
// stopped is marked FAILED once older than Stale.
func TestSchedulerStaleExecutions(t *testing.T) {
	f := newScheduleFixture(t, `{}`)
	f.clock.Set(at(10, 0, 0))
	e, ok, err := f.st.Schedules.ClaimScheduleTick(context.Background(), "app1", "Lost", minute(10, 0))
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	s := servercode.NewScheduler(servercode.SchedulerConfig{Configs: f.st.ServerCode, Executions: f.st.Schedules,
		Runner: f.runner, Now: f.clock.Now, Stale: time.Minute})
	f.tick(s, at(10, 0, 50))
	if got, _ := f.st.Schedules.ScheduleExecution(context.Background(), f.admin, e.ID); got.Status != kumo.ScheduleRunning {
		t.Fatalf("a young execution was failed: %+v", got)
	}
	f.tick(s, at(10, 2, 0))
	if got, _ := f.st.Schedules.ScheduleExecution(context.Background(), f.admin, e.ID); got.Status != kumo.ScheduleFailed {
		t.Errorf("stale execution = %+v, want FAILED", got)
	}
}

// TestSchedulerStartClose: started, the scheduler runs due ticks by
// itself; Close waits for the run in progress.
func TestSchedulerStartClose(t *testing.T) {
	f := newScheduleFixture(t, dailyJob)
	f.runner.block = make(chan struct{})
	f.clock.Set(at(10, 5, 3))
	s := servercode.NewScheduler(servercode.SchedulerConfig{Configs: f.st.ServerCode, Executions: f.st.Schedules,
		Runner: f.runner, Now: f.clock.Now, Interval: 10 * time.Millisecond})
	s.Start()
	deadline := time.Now().Add(10 * time.Second)
	for len(f.runner.Calls()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the started scheduler ran nothing")
		}
		time.Sleep(5 * time.Millisecond)
	}
	closed := make(chan struct{})
	go func() { s.Close(context.Background()); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close returned while a run was in progress")
	case <-time.After(50 * time.Millisecond):
	}
	close(f.runner.block)
	<-closed
	if es := f.executions(); len(es) != 1 || es[0].Status != kumo.ScheduleSuccess {
		t.Errorf("executions after Close = %+v", es)
	}
}
