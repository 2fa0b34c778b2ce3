package api

import (
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"
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

// throttle counts failed logins per source address. An address that
// fails limit times within a window is refused for a penalty (429), the
// window at first, doubled each time it is refused again (up to
// maxLoginPenalty); the penalty is forgotten after maxLoginPenalty without
// a failure. A success changes nothing: it neither clears the failures
// counted nor ends a penalty (else one good account would let an address
// guess the others' passwords freely). Memory is bounded: at most
// maxThrottled addresses, the stale ones dropped first, then the least
// recently failed of those not in penalty (evict). An address is an IPv4
// address or an IPv6 /64 (sourceAddr).
type throttle struct {
	limit  int
	window time.Duration
	max    int // addresses kept (maxThrottled; tests set fewer)

	mu    sync.Mutex
	addrs map[string]*throttled
}

// throttled is what the throttle knows of one address.
type throttled struct {
	failures    int       // within the window that started at since
	since       time.Time // start of the current window
	strikes     int       // penalties so far: the next lasts window << strikes
	until       time.Time // end of the current penalty
	lastFailure time.Time
}

func newThrottle(limit int, window time.Duration) *throttle {
	return &throttle{limit: limit, window: window, max: maxThrottled, addrs: map[string]*throttled{}}
}

// sourceAddr is the source a request's connection comes from, as the
// throttle counts it (behind a proxy: the proxy's): an IPv4 address, or
// the /64 network of an IPv6 address (one host commonly holds a whole
// /64, so that counting its addresses one by one would let it try 2^64
// times as often), as the MQTT broker's throttle counts CONNECTs.
func sourceAddr(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// wait returns how long addr is still refused (0: not refused).
func (t *throttle) wait(addr string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.addrs[addr]; e != nil && now.Before(e.until) {
		return e.until.Sub(now)
	}
	return 0
}

// fail counts a failed login from addr. It returns the penalty that
// failure starts, 0 when it starts none.
func (t *throttle) fail(addr string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.addrs[addr]
	if e != nil && t.stale(e, now) {
		e = nil // forgotten: a new count, no strikes
	}
	if e == nil {
		if len(t.addrs) >= t.max {
			t.evict(now)
		}
		e = &throttled{since: now}
		t.addrs[addr] = e
	}
	e.lastFailure = now
	if now.Sub(e.since) >= t.window {
		e.failures, e.since = 0, now
	}
	if e.failures++; e.failures >= t.limit {
		penalty := min(t.window<<min(e.strikes, 20), maxLoginPenalty)
		e.until = now.Add(penalty)
		e.strikes++
		e.failures, e.since = 0, e.until // counting starts again after the penalty
		return penalty
	}
	return 0
}

// stale reports whether e may be forgotten: no penalty running and no
// failure for maxLoginPenalty.
func (t *throttle) stale(e *throttled, now time.Time) bool {
	return !now.Before(e.until) && now.Sub(e.lastFailure) >= max(maxLoginPenalty, t.window)
}

// evict makes room: the stale addresses go, or else, of those not in
// penalty, the one whose last failure is the oldest. An address in
// penalty fails no more (it is refused before its logins are checked),
// so that it would soon have the oldest failure of all: it goes only
// when every address kept is in penalty, the one whose penalty ends
// first, so that memory stays bounded.
func (t *throttle) evict(now time.Time) {
	var oldest, soonest string
	for a, e := range t.addrs {
		switch {
		case t.stale(e, now):
			delete(t.addrs, a)
		case now.Before(e.until):
			if soonest == "" || e.until.Before(t.addrs[soonest].until) {
				soonest = a
			}
		default:
			if oldest == "" || e.lastFailure.Before(t.addrs[oldest].lastFailure) {
				oldest = a
			}
		}
	}
	if len(t.addrs) < t.max {
		return
	}
	if oldest != "" {
		delete(t.addrs, oldest)
	} else if soonest != "" {
		delete(t.addrs, soonest)
	}
}

// retryAfter is a wait as a Retry-After value: whole seconds, rounded up.
func retryAfter(d time.Duration) string {
	return strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10)
}
