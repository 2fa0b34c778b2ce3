package servercode

// The hook worker (issue 13, part hooks): runs the server code the store
// queued in the transactions of the changes that cause it (server hooks,
// Thing-IF SERVER_CODE triggers), at least once each, never in a write.

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/kumo-iot/kumo"
)

// HookJobs is the store's queue of server code runs (st.Hooks).
type HookJobs interface {
	// Claim claims up to limit due jobs for lease milliseconds.
	Claim(ctx context.Context, limit int, lease int64) ([]kumo.ServerCodeJob, error)
	// Done deletes jobs that ran, in one write, recording the Result of
	// each Thing-IF trigger's run.
	Done(ctx context.Context, jobs ...kumo.ServerCodeJob) error
	// Retry releases a job, due again at next (epoch ms).
	Retry(ctx context.Context, j kumo.ServerCodeJob, next int64) error
	// Notify receives when jobs were committed on this node unclaimed.
	Notify() <-chan struct{}
	// Subscribe has the jobs this node commits claimed by it at insert
	// (for lease milliseconds) and handed on the channel returned;
	// it releases the claims this node held in a previous life.
	Subscribe(ctx context.Context, lease int64) (<-chan kumo.ServerCodeJob, error)
}

// Defaults of HookWorkerConfig.
const (
	DefaultHookWorkers     = 16
	DefaultHookLease       = 2 * time.Minute
	DefaultHookPoll        = time.Second
	DefaultHookRetryMin    = time.Second
	DefaultHookRetryMax    = 5 * time.Minute
	DefaultHookMaxAttempts = 10
	DefaultHookRunTimeout  = 30 * time.Second
)

// HookDevLogKey is the developer log key of what the worker records
// beside the runs themselves (the engine logs each run as
// servercode.invoke): a run retried, given up, or not started.
const HookDevLogKey = "servercode.hook"

// HookWorkerConfig configures a HookWorker. Zero values take the
// defaults.
type HookWorkerConfig struct {
	Jobs   HookJobs              // st.Hooks; required
	Runner kumo.ServerCodeRunner // the engine; required
	Logs   Logs                  // st.DevLogs; nil: nothing is logged
	Log    *slog.Logger          // the server's log
	// Workers is how many runs go on at once on this node.
	Workers int
	// Lease is how long a claimed job is this node's: a node that dies
	// leaves its jobs to be claimed again once it ends. It exceeds
	// RunTimeout (which is cut to half of it otherwise).
	Lease time.Duration
	// Poll is how often the worker looks for due jobs without being
	// notified (jobs committed by other nodes, retries, expired leases).
	Poll time.Duration
	// RetryMin and RetryMax bound the backoff between the attempts of a
	// run that could not complete: RetryMin, doubling, at most RetryMax.
	RetryMin, RetryMax time.Duration
	// MaxAttempts is how many times a run is attempted before it is
	// given up.
	MaxAttempts int
	// RunTimeout bounds a run (the engine's own wall clock is shorter).
	RunTimeout time.Duration
	// Now returns the current time (time.Now when nil).
	Now func() time.Time
}

// HookWorker claims the queued runs of server code, runs them, retries
// with backoff those that could not complete (the store or the engine
// failed, the run was cut short, the node died), and completes them: a
// Thing-IF trigger's result is recorded then.
//
// What the code itself does wrong (an exception, a limit) is the run's
// outcome, not retried: Kii retries hooks on infrastructure failures only.
type HookWorker struct {
	cfg HookWorkerConfig
}

// NewHookWorker returns a worker; Run runs it.
func NewHookWorker(cfg HookWorkerConfig) *HookWorker {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultHookWorkers
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultHookMaxAttempts
	}
	def(&cfg.Lease, DefaultHookLease)
	def(&cfg.Poll, DefaultHookPoll)
	def(&cfg.RetryMin, DefaultHookRetryMin)
	def(&cfg.RetryMax, DefaultHookRetryMax)
	def(&cfg.RunTimeout, DefaultHookRunTimeout)
	if cfg.RunTimeout >= cfg.Lease {
		cfg.RunTimeout = cfg.Lease / 2 // else no claimed job would ever run
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &HookWorker{cfg: cfg}
}

// Run claims and runs jobs until ctx ends; it returns once the runs in
// progress have stopped. Cancel it before the store closes. A run cut
// short by the end of ctx is left claimed: it runs again when its lease
// ends (here after a restart, or on another node).
//
// The jobs this node commits come claimed already (Subscribe); others
// (another node's that died, retries) are claimed ahead, up to four per
// worker, so that a claim (a write) serves many runs. A job whose claim
// would end before its run could (RunTimeout) is released instead of
// run.
func (w *HookWorker) Run(ctx context.Context) {
	local, err := w.cfg.Jobs.Subscribe(ctx, w.cfg.Lease.Milliseconds())
	if err != nil && ctx.Err() == nil {
		w.cfg.Log.Error("server code: the jobs committed here will be claimed, not handed on", "error", err)
	}
	queue := make(chan kumo.ServerCodeJob, 4*w.cfg.Workers)
	taken := make(chan struct{}, 1)
	done := make(chan kumo.ServerCodeJob, w.cfg.Workers)
	var workers sync.WaitGroup
	for range w.cfg.Workers {
		workers.Add(1)
		go func() {
			defer workers.Done()
			w.work(ctx, local, queue, taken, done)
		}()
	}
	completed := make(chan struct{})
	go func() { // completes the jobs run, many in one write
		defer close(completed)
		w.complete(ctx, done)
	}()
	poll := time.NewTicker(w.cfg.Poll)
	defer poll.Stop()
	more := false // the last claim took all it asked for: more may be due
	for {
		// Claim when the queue has room: when more are likely, only once
		// it is half empty (not for each job taken).
		if room := cap(queue) - len(queue); room > 0 && (!more || room >= cap(queue)/2) {
			jobs, err := w.cfg.Jobs.Claim(ctx, room, w.cfg.Lease.Milliseconds())
			if err != nil && ctx.Err() == nil {
				w.cfg.Log.Error("server code: claiming jobs failed", "error", err)
			}
			for _, j := range jobs {
				queue <- j // room was made for them: only this loop adds
			}
			more = err == nil && len(jobs) == room
		}
		var whenTaken <-chan struct{}
		if more {
			whenTaken = taken
		}
		select {
		case <-ctx.Done():
			close(queue)
			workers.Wait()
			close(done)
			<-completed
			return
		case <-w.cfg.Jobs.Notify():
			more = false
		case <-whenTaken:
		case <-poll.C:
			more = false
		}
	}
}

// work runs the jobs this node committed (local) and those it claimed
// (queue) until queue closes, passing those done to done. Once ctx has
// ended it runs no more: it releases them.
func (w *HookWorker) work(ctx context.Context, local <-chan kumo.ServerCodeJob, queue <-chan kumo.ServerCodeJob, taken chan<- struct{}, done chan<- kumo.ServerCodeJob) {
	store := context.WithoutCancel(ctx)
	for {
		var j kumo.ServerCodeJob
		select {
		case j = <-local:
		case q, ok := <-queue:
			if !ok {
				return
			}
			j = q
			select {
			case taken <- struct{}{}:
			default:
			}
		}
		if ctx.Err() != nil || w.cfg.Now().Add(w.cfg.RunTimeout).UnixMilli() > j.ClaimedUntil {
			// Shutting down, or its claim too short for a run: released
			// for any node to claim (the claim counted as an attempt).
			if err := w.cfg.Jobs.Retry(store, j, w.cfg.Now().UnixMilli()); err != nil {
				w.cfg.Log.Warn("server code: a job could not be released (it runs again when its lease ends)", "job", j.ID, "error", err)
			}
			continue
		}
		if w.run(ctx, &j) {
			done <- j
		}
	}
}

// complete deletes the jobs that come on done, all those waiting in one
// write, until done closes.
func (w *HookWorker) complete(ctx context.Context, done <-chan kumo.ServerCodeJob) {
	store := context.WithoutCancel(ctx)
	for j := range done {
		batch := []kumo.ServerCodeJob{j}
	fill:
		for len(batch) < 256 {
			select {
			case j, ok := <-done:
				if !ok {
					break fill
				}
				batch = append(batch, j)
			default:
				break fill
			}
		}
		if err := w.cfg.Jobs.Done(store, batch...); err != nil {
			w.cfg.Log.Error("server code: jobs could not be completed (they run again when their lease ends)", "jobs", len(batch), "error", err)
		}
	}
}

// run runs job j once, and returns whether it is done (completed, or
// given up: j.Result set for a Thing-IF trigger's run); otherwise it was
// retried, or left to its lease's end.
func (w *HookWorker) run(ctx context.Context, j *kumo.ServerCodeJob) bool {
	runCtx, cancel := context.WithTimeout(kumo.WithServerCode(ctx, j.Trigger), w.cfg.RunTimeout)
	defer cancel()
	start := w.cfg.Now()
	res, err := w.cfg.Runner.Run(runCtx, kumo.ServerCodeCall{AppID: j.AppID, Version: j.Version, Endpoint: j.Endpoint,
		Params: j.Params, Token: j.Token, Actor: j.Actor, Trigger: j.Trigger})
	if ctx.Err() != nil {
		return false // shutting down: the job runs again when its lease ends
	}
	store := context.WithoutCancel(ctx)
	if why := incomplete(res, err); why != "" {
		if j.Attempts < w.cfg.MaxAttempts {
			delay := w.backoff(j.Attempts)
			w.devLog(store, *j, "WARN", "retried in "+delay.String()+": "+why)
			if err := w.cfg.Jobs.Retry(store, *j, w.cfg.Now().Add(delay).UnixMilli()); err != nil {
				w.cfg.Log.Error("server code: a job could not be retried (it runs again when its lease ends)", "job", j.ID, "error", err)
			}
			return false
		}
		w.devLog(store, *j, "ERROR", "given up: "+why)
		res.Err = &kumo.ServerCodeError{ErrorMessage: kumo.ServerCodeErrorMessage,
			Details: kumo.ServerCodeErrorDetails{ErrorCode: "GIVEN_UP", Message: why}}
	} else if err != nil {
		// It could not start, and never will: no such version or endpoint,
		// params too large.
		w.devLog(store, *j, "ERROR", "not run: "+kumo.ErrorMessage(err))
		res.Err = &kumo.ServerCodeError{ErrorMessage: kumo.ServerCodeErrorMessage,
			Details: kumo.ServerCodeErrorDetails{ErrorCode: string(kumo.ErrorCode(err)), Message: kumo.ErrorMessage(err)}}
	}
	if j.Trigger == kumo.RunThingIF {
		j.Result = thingIFResult(*j, res, start)
	}
	return true
}

// incomplete says why a run could not complete ("" when it did, or when
// it could not start for good): the store or the engine failed or was
// busy, or the run was cut short.
func incomplete(res kumo.ServerCodeResult, err error) string {
	if err != nil {
		switch kumo.ErrorCode(err) {
		case kumo.ErrInternal, kumo.ErrUnavailable:
			return err.Error()
		}
		return ""
	}
	// Stopped because its context ended (the node stopping): the run
	// did not complete, so it is retried.
	if res.Err != nil && res.Err.Details.ErrorCode == CodeCanceled {
		return res.Err.Details.Message
	}
	return ""
}

// backoff returns the wait after the attempt-th attempt: RetryMin,
// doubling, at most RetryMax.
func (w *HookWorker) backoff(attempt int) time.Duration {
	d := w.cfg.RetryMin
	for i := 1; i < attempt && d < w.cfg.RetryMax; i++ {
		d *= 2
	}
	return min(d, w.cfg.RetryMax)
}

// thingIFResult is the result of a Thing-IF trigger's run, as
// GET …/results/server-code lists it.
func thingIFResult(j kumo.ServerCodeJob, res kumo.ServerCodeResult, at time.Time) *kumo.TriggerServerCodeResult {
	r := &kumo.TriggerServerCodeResult{Succeeded: res.Err == nil, ExecutedAt: at.UnixMilli(), Endpoint: j.Endpoint, Error: res.Err}
	if res.Err == nil && len(res.ReturnedValue) > 0 {
		d := json.NewDecoder(bytes.NewReader(res.ReturnedValue))
		d.UseNumber()
		var v any
		if d.Decode(&v) == nil {
			r.ReturnedValue = v
		}
	}
	return r
}

// devLog records in the app's developer log what became of job j.
func (w *HookWorker) devLog(ctx context.Context, j kumo.ServerCodeJob, level, what string) {
	w.cfg.Log.Warn("server code: "+what, "app", j.AppID, "endpoint", j.Endpoint, "trigger", j.Trigger, "attempt", j.Attempts)
	if w.cfg.Logs == nil {
		return
	}
	fields := map[string]any{"endpoint": j.Endpoint, "versionID": j.Version, "trigger": string(j.Trigger), "attempt": j.Attempts}
	desc := "Endpoint " + j.Endpoint
	switch j.Trigger {
	case kumo.RunHook:
		fields["path"], fields["when"] = j.Path, j.When
		desc += " (hook " + j.When + " on " + j.Path + ")"
	case kumo.RunThingIF:
		fields["thingID"], fields["triggerID"] = j.ThingID, j.TriggerID
		desc += " (Thing-IF trigger " + j.TriggerID + ")"
	}
	rec := kumo.DevLog{ID: devLogID(), Key: HookDevLogKey, Time: w.cfg.Now().UnixMilli(), Level: level, AppID: j.AppID,
		Description: desc + ": " + what, Fields: fields}
	if j.Actor.Kind == kumo.UserCaller {
		rec.UserID = j.Actor.ID
	}
	if err := w.cfg.Logs.AppendDevLogs(ctx, []kumo.DevLog{rec}); err != nil {
		w.cfg.Log.Error("server code: developer log", "error", err)
	}
}
