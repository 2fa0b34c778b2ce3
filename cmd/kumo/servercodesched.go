package main

// server code: sched — the developer log (its pruner and WebSocket) and
// the scheduler of the apps' scheduled jobs.

import (
	"cmp"
	"context"
	"flag"
	"log/slog"
	"time"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/devlog"
	"github.com/kumo-iot/kumo/internal/servercode"
	"github.com/kumo-iot/kumo/internal/sqlstore"
)

// Defaults of the flags below.
const (
	defaultServerCodeLogDays = 7
)

// schedConfig is what "kumo serve" is told about the developer log and
// the scheduler (a part of config).
type schedConfig struct {
	// ServerCodeLogDays is how many days developer log records and
	// schedule executions are kept (0: forever); ServerCodeLogsPerApp
	// how many records an app's developer log keeps at most.
	ServerCodeLogDays    int
	ServerCodeLogsPerApp int
	// ServerCodeScheduleInterval is how often each node looks for due
	// ticks of the apps' scheduled jobs.
	ServerCodeScheduleInterval time.Duration

	// devLogPruneEvery is how often the developer log is pruned (every
	// minute when 0).
	devLogPruneEvery time.Duration
}

func (c *schedConfig) schedFlags(fs *flag.FlagSet) {
	fs.IntVar(&c.ServerCodeLogDays, "servercode-log-days", defaultServerCodeLogDays, "how many days the developer log (server code's console.log lines and errors) and the schedule executions are kept (0: forever)")
	fs.IntVar(&c.ServerCodeLogsPerApp, "servercode-logs-per-app", sqlstore.DefaultDevLogsPerApp, "the most records an app's developer log keeps; beyond, the oldest are dropped (0: no cap)")
	fs.DurationVar(&c.ServerCodeScheduleInterval, "servercode-schedule-interval", servercode.DefaultScheduleInterval, "how often each node looks for scheduled server code jobs that are due (each tick runs once in a cluster); keep it well under a minute")
}

// schedParts are the node's parts of the developer log and the scheduler.
type schedParts struct {
	socket    *devlog.Server
	scheduler *servercode.Scheduler // nil without a runner
	stop      chan struct{}         // stops pruneDevLogs
	pruned    chan struct{}         // closed when pruneDevLogs returns
}

// startDevLog makes the developer log's WebSocket (api.Server.LogSocket)
// and starts its pruner; before the API.
func (n *node) startDevLog(cfg config, log *slog.Logger) {
	n.sched.socket = &devlog.Server{Apps: n.db.Apps, Tokens: n.db.Tokens, Logs: n.db.DevLogs, Log: log.With("component", "devlog")}
	n.sched.stop, n.sched.pruned = make(chan struct{}), make(chan struct{})
	go n.pruneDevLogs(cfg, log)
}

// startScheduler starts the scheduler with runner (nothing without one).
func (n *node) startScheduler(cfg config, runner kumo.ServerCodeRunner, log *slog.Logger) {
	if runner == nil {
		return
	}
	n.sched.scheduler = servercode.NewScheduler(servercode.SchedulerConfig{
		Configs: n.db.ServerCode, Executions: n.db.Schedules, Runner: runner, Logs: n.db.DevLogs,
		Interval: cfg.ServerCodeScheduleInterval, Log: log.With("component", "schedule"),
	})
	n.sched.scheduler.Start()
}

// pruneDevLogs deletes, every minute, the developer log records and the
// schedule executions older than --servercode-log-days, and the records
// of each app beyond --servercode-logs-per-app.
func (n *node) pruneDevLogs(cfg config, log *slog.Logger) {
	defer close(n.sched.pruned)
	t := time.NewTicker(cmp.Or(cfg.devLogPruneEvery, time.Minute))
	defer t.Stop()
	ctx := context.Background()
	for {
		before := int64(0)
		if cfg.ServerCodeLogDays > 0 {
			before = time.Now().AddDate(0, 0, -cfg.ServerCodeLogDays).UnixMilli()
		}
		if _, err := n.db.DevLogs.PruneDevLogs(ctx, before, cfg.ServerCodeLogsPerApp); err != nil {
			log.Warn("developer log: not pruned", "error", err)
		}
		if before > 0 {
			if _, err := n.db.Schedules.PruneScheduleExecutions(ctx, before); err != nil {
				log.Warn("schedule executions: not pruned", "error", err)
			}
		}
		select {
		case <-n.sched.stop:
			return
		case <-t.C:
		}
	}
}

// stopSched stops the scheduler (waiting for the jobs running, until ctx
// ends), the developer log's connections and its pruner; before the store.
func (n *node) stopSched(ctx context.Context) {
	if n.sched.scheduler != nil {
		n.sched.scheduler.Close(ctx)
	}
	if n.sched.socket != nil {
		n.sched.socket.Close()
	}
	if n.sched.stop != nil {
		close(n.sched.stop)
		<-n.sched.pruned
	}
}
