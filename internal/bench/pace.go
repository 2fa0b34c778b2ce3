package bench

import (
	"context"
	"math"
	"time"
)

// schedule paces sends globally: send i (0, 1, 2, …) is due at
// start + i/rate. Each due time is computed from the start, not from the
// previous send, so late wake-ups do not accumulate into drift, and any
// number of workers can share one schedule through an atomic counter.
type schedule struct {
	start time.Time
	rate  float64 // sends per second; 0 or less: every send is due at start
}

// due returns when send i is due.
func (s schedule) due(i int64) time.Time {
	if s.rate <= 0 {
		return s.start
	}
	return s.start.Add(time.Duration(math.Round(float64(i) * float64(time.Second) / s.rate)))
}

// sleepUntil waits until t, or until ctx is done (then it returns ctx's
// error).
func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
