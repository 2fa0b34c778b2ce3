package devlog

import (
	"context"
	"time"

	"github.com/kumo-iot/kumo"
)

// Tail exposes tail to the tests.
type Tail struct{ t *tail }

// NewTail returns a tail from floor.
func NewTail(floor int64, settle time.Duration) Tail {
	return Tail{&tail{floor: floor, seen: map[int64]time.Time{}, settle: settle}}
}

// Poll polls once at now.
func (t Tail) Poll(ctx context.Context, logs kumo.DevLogReader, appID string, f kumo.DevLogFilter, now time.Time) ([]kumo.DevLogEntry, error) {
	return t.t.poll(ctx, logs, appID, f, now)
}
