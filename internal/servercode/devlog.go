package servercode

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
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

// logRun appends the run's console lines and one servercode.invoke
// record to the developer log. A failure to log is logged, never the
// run's failure.
func (e *Engine) logRun(r *run, res kumo.ServerCodeResult) {
	if e.cfg.Logs == nil {
		return
	}
	logs := r.lines
	if r.dropped > 0 {
		logs = append(logs, kumo.DevLog{Key: "servercode.log", Time: time.Now().UnixMilli(), Level: "WARN", AppID: r.call.AppID,
			Description: fmt.Sprintf("%d more console lines of this run were dropped (at most %d are kept)", r.dropped, e.cfg.MaxLogLines),
			UserID:      userID(r.call), Fields: map[string]any{"entry-name": r.call.Endpoint}})
	}
	fields := map[string]any{
		"versionID": res.VersionID, "endpoint": r.call.Endpoint, "responseStep": res.Steps,
		"durationMs": res.DurationMs, "status": "success", "trigger": string(kumoTrigger(r.call)),
	}
	if len(r.call.Params) > 0 && len(r.call.Params) <= 1024 {
		fields["args"] = json.RawMessage(r.call.Params)
	}
	level, desc := "INFO", "Executed endpoint "+r.call.Endpoint
	if res.Err != nil {
		level, desc = "ERROR", fmt.Sprintf("Endpoint %s failed: %s: %s", r.call.Endpoint, res.Err.Details.ErrorCode, res.Err.Details.Message)
		fields["status"] = "error"
		fields["error"] = res.Err.Details
	}
	logs = append(logs, kumo.DevLog{Key: "servercode.invoke", Time: time.Now().UnixMilli(), Level: level, AppID: r.call.AppID,
		Description: desc, UserID: userID(r.call), Fields: fields})
	for i := range logs {
		if logs[i].ID == "" {
			logs[i].ID = devLogID()
		}
	}
	e.logs.add(logs)
}

// devLogPrefix and devLogSeq make the IDs of developer log records: a
// record's ID only has to be unique (it is no secret), so a random
// prefix drawn once per process (48 bits: nodes sharing a database do
// not collide) and a counter replace a crypto/rand draw per record.
var (
	devLogPrefix = kumo.RandomHex(6)
	devLogSeq    atomic.Uint64
)

// devLogID returns a new developer log record ID: 24 hex digits, as
// kumo.RandomHex(12).
func devLogID() string {
	var b [24]byte
	copy(b[:], devLogPrefix)
	n := devLogSeq.Add(1)
	const hexDigits = "0123456789abcdef"
	for i := 23; i >= 12; i-- {
		b[i] = hexDigits[n&15]
		n >>= 4
	}
	return string(b[:])
}

func kumoTrigger(c kumo.ServerCodeCall) kumo.ServerCodeTrigger {
	if c.Trigger == "" {
		return kumo.RunManual
	}
	return c.Trigger
}
