package sqlstore

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// DefaultSchedulerInterval is how often a TriggerScheduler looks for due
// schedule triggers when its Interval is zero. Cron schedules are whole
// minutes; a one-time schedule fires within this much of its time.
const DefaultSchedulerInterval = time.Second

// schedulerBatch bounds the triggers one pass of the scheduler fires;
// the next pass, right away, fires the rest.
const schedulerBatch = 256

// TriggerScheduler fires the schedule triggers (SCHEDULE and
// SCHEDULE_ONCE) that are due, every Interval. Every node of a cluster
// runs one over the shared database: each due time fires once in the
// cluster (TriggerService.FireDue claims it with a conditional UPDATE),
// and a time that passed while no node ran fires once when one starts.
type TriggerScheduler struct {
	Triggers *TriggerService
	// Interval between two looks for due triggers
	// (DefaultSchedulerInterval when 0).
	Interval time.Duration
	Log      *slog.Logger

	stop context.CancelFunc
	done chan struct{}
	once sync.Once
}

// Start starts the scheduler's goroutine.
func (s *TriggerScheduler) Start() {
	if s.Interval <= 0 {
		s.Interval = DefaultSchedulerInterval
	}
	if s.Log == nil {
		s.Log = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stop, s.done = cancel, make(chan struct{})
	go s.run(ctx)
}

func (s *TriggerScheduler) run(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(s.Interval)
	defer t.Stop()
	for {
		for {
			n, err := s.Triggers.FireDue(ctx, schedulerBatch)
			if err != nil && ctx.Err() == nil {
				s.Log.Warn("trigger scheduler: firing due triggers failed", "error", err)
			}
			if err != nil || n < schedulerBatch {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Stop stops the scheduler and waits for its fire in progress to end
// (before the store closes).
func (s *TriggerScheduler) Stop() {
	s.once.Do(func() {
		if s.stop != nil {
			s.stop()
			<-s.done
		}
	})
}
