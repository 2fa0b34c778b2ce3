package servercode

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/kumo-iot/kumo"
)

// logQueue is how many runs' records may wait for the developer log;
// beyond, records are dropped (and counted in Kumo's log) rather than
// slow down runs.
const logQueue = 4096

// logWriter appends the records of runs to the developer log in the
// background, in batches, so that a run does not wait for a write.
type logWriter struct {
	logs Logs
	log  *slog.Logger
	ch   chan []kumo.DevLog

	mu      sync.Mutex
	started bool
	closed  bool
	dropped int
	done    chan struct{}
}

func newLogWriter(logs Logs, log *slog.Logger) *logWriter {
	return &logWriter{logs: logs, log: log, ch: make(chan []kumo.DevLog, logQueue), done: make(chan struct{})}
}

// add queues the records of one run.
func (w *logWriter) add(recs []kumo.DevLog) {
	if w.logs == nil || len(recs) == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	if !w.started {
		w.started = true
		go w.loop()
	}
	select {
	case w.ch <- recs:
	default:
		w.dropped++
		if w.dropped == 1 || w.dropped%1000 == 0 {
			w.log.Warn("server code: developer log records dropped (the log is too slow)", "runs", w.dropped)
		}
	}
}

func (w *logWriter) loop() {
	defer close(w.done)
	for recs := range w.ch {
		batch := recs
	more:
		for len(batch) < 1000 {
			select {
			case r, ok := <-w.ch:
				if !ok {
					break more
				}
				batch = append(batch, r...)
			default:
				break more
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := w.logs.AppendDevLogs(ctx, batch); err != nil {
			w.log.Warn("server code: the developer log could not be written", "records", len(batch), "error", err)
		}
		cancel()
	}
}

// close writes what is queued, until ctx ends.
func (w *logWriter) close(ctx context.Context) error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	started := w.started
	close(w.ch)
	w.mu.Unlock()
	if !started {
		return nil
	}
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
