package servercode

import (
	"cmp"
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kumo-iot/kumo"
)

// The scheduler runs the apps' scheduled jobs (spec server-code.md §4.5):
// every node looks, every Interval, at the jobs of the apps' current hook
// configurations, and for each tick of a job's cron (UTC) in the current
// or the previous minute that nobody claimed yet, claims it (one row per
// app, job and tick: the cluster's lease) and runs it. A tick is claimed
// once, so it runs once in the cluster, and never again after a restart;
// a tick missed while every node was down is still run if a node comes
// back within the next minute.

// ScheduleConfigs gives the scheduled jobs (st.ServerCode).
type ScheduleConfigs interface {
	// AppsWithSchedules lists the apps whose current version has jobs.
	AppsWithSchedules(ctx context.Context) ([]string, error)
	// CurrentHookConfig returns an app's current version and its hooks.
	CurrentHookConfig(ctx context.Context, appID string) (cfg kumo.HookConfig, versionID string, ok bool, err error)
}

// ScheduleExecutions records the jobs' executions (st.Schedules).
type ScheduleExecutions interface {
	ScheduleTickClaimed(ctx context.Context, appID, name string, tick int64) (bool, error)
	ClaimScheduleTick(ctx context.Context, appID, name string, tick int64) (kumo.ScheduleExecution, bool, error)
	FinishScheduleExecution(ctx context.Context, appID, id string, status kumo.ScheduleStatus, result string) error
	FailStaleScheduleExecutions(ctx context.Context, before int64) (int64, error)
}

// Scheduler defaults.
const (
	DefaultScheduleInterval = 5 * time.Second
	// DefaultScheduleStale is how long after its start an execution
	// still RUNNING is marked FAILED: its node stopped (the engine's 20 s
	// wall clock, with a wide margin).
	DefaultScheduleStale = 2 * time.Minute
)

// SchedulerConfig configures a Scheduler.
type SchedulerConfig struct {
	Configs    ScheduleConfigs
	Executions ScheduleExecutions
	Runner     kumo.ServerCodeRunner
	// Logs, when set, gets an ERROR record of each execution the runner
	// could not start (the engine logs the runs it makes).
	Logs Logs
	// Interval is how often the scheduler looks for due ticks
	// (DefaultScheduleInterval when 0). It must be well under a minute
	// for a job to fire within its minute.
	Interval time.Duration
	// Stale is DefaultScheduleStale when 0.
	Stale time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	Log *slog.Logger
}

// Scheduler runs scheduled jobs. Start it, Close it.
type Scheduler struct {
	cfg       SchedulerConfig
	stop      chan struct{}
	done      chan struct{}
	runs      sync.WaitGroup // executions running
	ctx       context.Context
	cancel    context.CancelFunc
	lastStale time.Time
	passes    atomic.Int64 // Tick calls done
}

// NewScheduler returns a scheduler (not started).
func NewScheduler(cfg SchedulerConfig) *Scheduler {
	cfg.Interval = cmp.Or(cfg.Interval, DefaultScheduleInterval)
	cfg.Stale = cmp.Or(cfg.Stale, DefaultScheduleStale)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Scheduler{cfg: cfg, stop: make(chan struct{}), done: make(chan struct{}), ctx: ctx, cancel: cancel}
}

// Start starts looking for due ticks, at once and then every Interval.
func (s *Scheduler) Start() {
	go func() {
		defer close(s.done)
		t := time.NewTicker(s.cfg.Interval)
		defer t.Stop()
		for {
			s.Tick(s.ctx)
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
}

// Close stops the scheduler and waits for the executions running to end,
// until ctx is done: those are then cancelled (and recorded FAILED).
func (s *Scheduler) Close(ctx context.Context) error {
	select {
	case <-s.stop:
	default:
		close(s.stop)
		<-s.done
	}
	ended := make(chan struct{})
	go func() { s.runs.Wait(); close(ended) }()
	select {
	case <-ended:
	case <-ctx.Done():
		s.cancel()
		<-ended
	}
	s.cancel()
	return nil
}

// Tick looks once for due ticks: it claims and starts each (the runs go
// on in the background; Wait waits for them). Start calls it every
// Interval; tests call it with their own clock.
func (s *Scheduler) Tick(ctx context.Context) {
	defer s.passes.Add(1)
	now := s.cfg.Now().UTC()
	if now.Sub(s.lastStale) >= time.Minute {
		s.lastStale = now
		if n, err := s.cfg.Executions.FailStaleScheduleExecutions(ctx, now.Add(-s.cfg.Stale).UnixMilli()); err != nil {
			s.cfg.Log.Warn("scheduler: stale executions not failed", "error", err)
		} else if n > 0 {
			s.cfg.Log.Warn("scheduler: executions left running by a stopped node marked FAILED", "executions", n)
		}
	}
	apps, err := s.cfg.Configs.AppsWithSchedules(ctx)
	if err != nil {
		s.cfg.Log.Warn("scheduler: apps not listed", "error", err)
		return
	}
	minute := now.Truncate(time.Minute)
	for _, app := range apps {
		cfg, version, ok, err := s.cfg.Configs.CurrentHookConfig(ctx, app)
		if err != nil {
			s.cfg.Log.Warn("scheduler: hook configuration not read", "app", app, "error", err)
			continue
		}
		if !ok {
			continue
		}
		for _, job := range cfg.Schedules {
			for _, tick := range []time.Time{minute.Add(-time.Minute), minute} {
				if job.Cron.Next(tick.Add(-time.Minute)) != tick {
					continue
				}
				s.claimAndRun(ctx, app, version, job, tick.UnixMilli())
			}
		}
	}
}

// claimAndRun claims a tick of a job and, when this node got it, runs the
// job in the background.
func (s *Scheduler) claimAndRun(ctx context.Context, app, version string, job kumo.ScheduleJob, tick int64) {
	claimed, err := s.cfg.Executions.ScheduleTickClaimed(ctx, app, job.Name, tick)
	if err != nil || claimed {
		if err != nil {
			s.cfg.Log.Warn("scheduler: tick not read", "app", app, "job", job.Name, "error", err)
		}
		return
	}
	e, ok, err := s.cfg.Executions.ClaimScheduleTick(ctx, app, job.Name, tick)
	if err != nil {
		s.cfg.Log.Warn("scheduler: tick not claimed", "app", app, "job", job.Name, "error", err)
		return
	}
	if !ok {
		return // another node claimed it meanwhile
	}
	s.runs.Add(1)
	go func() {
		defer s.runs.Done()
		s.run(app, version, job, e)
	}()
}

// run runs a claimed execution and records how it ended.
func (s *Scheduler) run(app, version string, job kumo.ScheduleJob, e kumo.ScheduleExecution) {
	ctx := kumo.WithServerCode(s.ctx, kumo.RunSchedule)
	res, err := s.cfg.Runner.Run(ctx, kumo.ServerCodeCall{
		AppID: app, Version: version, Endpoint: job.Endpoint, Params: job.Parameters, Trigger: kumo.RunSchedule,
	})
	status, result := kumo.ScheduleResult(res, err)
	ctx = context.WithoutCancel(ctx)
	if err := s.cfg.Executions.FinishScheduleExecution(ctx, app, e.ID, status, result); err != nil {
		s.cfg.Log.Warn("scheduler: execution not recorded", "app", app, "job", job.Name, "execution", e.ID, "error", err)
	}
	// The engine logs the runs it makes (their console lines, the error
	// the code threw); a run it could not start is logged here.
	if err != nil && s.cfg.Logs != nil {
		rec := kumo.DevLog{AppID: app, Key: "servercode.invoke", Level: kumo.DevLogError,
			Description: "Scheduled job " + job.Name + " failed: " + result,
			Fields:      map[string]any{"versionID": version, "endpoint": job.Endpoint, "job": job.Name, "scheduleExecutionID": e.ID}}
		if err := s.cfg.Logs.AppendDevLogs(ctx, []kumo.DevLog{rec}); err != nil {
			s.cfg.Log.Warn("scheduler: developer log not written", "app", app, "error", err)
		}
	}
}

// Passes returns how many times the scheduler looked for due ticks.
func (s *Scheduler) Passes() int64 { return s.passes.Load() }

// Wait waits for the executions started so far to end.
func (s *Scheduler) Wait() { s.runs.Wait() }
