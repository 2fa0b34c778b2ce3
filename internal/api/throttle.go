package api

import (
	"strconv"
	"time"

	"github.com/kumo-iot/kumo/internal/throttle"
)

// Defaults of the failed-login throttle.
const (
	// DefaultLoginThrottle is the default of Server.LoginThrottle.
	DefaultLoginThrottle = 30
	// DefaultLoginThrottleWindow is the default of
	// Server.LoginThrottleWindow.
	DefaultLoginThrottleWindow = time.Minute
	// maxLoginPenalty caps the growing penalty of an address.
	maxLoginPenalty = 15 * time.Minute
	// maxThrottled bounds the addresses the throttle remembers.
	maxThrottled = 10000
)

// newThrottle returns the failed-login throttle (package throttle): an
// address that fails limit times within window is refused for the window,
// doubled each time it is refused again, up to maxLoginPenalty.
func newThrottle(limit int, window time.Duration) *throttle.Throttle {
	return &throttle.Throttle{Limit: limit, Window: window, Penalty: window, MaxPenalty: maxLoginPenalty, Max: maxThrottled}
}

// retryAfter is a wait as a Retry-After value: whole seconds, rounded up.
func retryAfter(d time.Duration) string {
	return strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10)
}
