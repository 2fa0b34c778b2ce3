// Package throttle counts failures (wrong passwords) per source address
// and refuses, for a growing penalty, an address that makes too many: the
// failed-login throttle of the REST API and the failed-CONNECT throttle
// of the MQTT broker are both a Throttle.
package throttle

import (
	"container/list"
	"net"
	"net/netip"
	"sync"
	"time"
)

// DefaultMax is how many addresses a Throttle remembers unless told
// otherwise.
const DefaultMax = 1 << 14

// evictScan bounds how many of the least recently failed addresses an
// eviction looks at for one not in penalty.
const evictScan = 64

// Throttle counts failures by source address. An address that fails
// Limit times within Window is refused for Penalty, doubled with each
// penalty that follows another, up to MaxPenalty; an address quiet for
// MaxPenalty (no failure, no penalty running) is forgotten, so that its
// next penalty is the first again. A success changes nothing: it neither
// clears the failures counted nor ends a penalty (else one good account
// would let an address guess the others' passwords freely). Memory is
// bounded: at most Max addresses; beyond it the least recently failed
// address not in penalty goes (an address in penalty fails no more, being
// refused unchecked, and must not be forgotten for that), or, when the
// oldest are all in penalty, the least recently failed of all.
//
// Set the fields before first use; a Throttle must not be copied.
type Throttle struct {
	Limit      int           // failures within Window that start a penalty
	Window     time.Duration // the period over which failures are counted
	Penalty    time.Duration // the first penalty
	MaxPenalty time.Duration // the longest penalty, and the quiet that forgets an address
	Max        int           // addresses remembered (DefaultMax when 0)

	mu    sync.Mutex                   // guards the fields below
	addrs map[netip.Addr]*list.Element // of *entry
	lru   list.List                    // *entry, most recently failed first
}

// entry is what the throttle knows of one address.
type entry struct {
	addr        netip.Addr
	since       time.Time // start of the current counting window
	failures    int       // failures since then
	until       time.Time // end of the current (or last) penalty
	strikes     int       // penalties in a row: the next lasts Penalty << strikes
	lastFailure time.Time
}

// Wait returns how long addr is still refused at now (0: not refused).
func (t *Throttle) Wait(addr netip.Addr, now time.Time) time.Duration {
	if t == nil {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if e, ok := t.addrs[addr]; ok {
		if until := e.Value.(*entry).until; now.Before(until) {
			return until.Sub(now)
		}
	}
	return 0
}

// Fail counts a failure of addr at now and returns the penalty it
// starts, if it is the one that reaches the limit (0 otherwise).
func (t *Throttle) Fail(addr netip.Addr, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.addrs == nil {
		t.addrs = map[netip.Addr]*list.Element{}
	}
	var e *entry
	if el, ok := t.addrs[addr]; ok {
		e = el.Value.(*entry)
		if t.stale(e, now) {
			*e = entry{addr: addr, since: now} // forgotten: a new count, no strikes
		}
		t.lru.MoveToFront(el)
	} else {
		limit := t.Max
		if limit <= 0 {
			limit = DefaultMax
		}
		if t.lru.Len() >= limit {
			t.evict(now)
		}
		e = &entry{addr: addr, since: now}
		t.addrs[addr] = t.lru.PushFront(e)
	}
	if now.Before(e.until) {
		return 0 // refused unchecked already: a failure that raced the penalty
	}
	e.lastFailure = now
	if now.Sub(e.since) >= t.Window {
		e.since, e.failures = now, 0
	}
	if e.failures++; e.failures < t.Limit {
		return 0
	}
	penalty := t.Penalty
	for i := 0; i < e.strikes && penalty < t.MaxPenalty; i++ {
		penalty *= 2
	}
	penalty = min(penalty, t.MaxPenalty)
	e.strikes++
	e.until, e.since, e.failures = now.Add(penalty), now.Add(penalty), 0 // counting starts again after the penalty
	return penalty
}

// stale reports whether e may be forgotten: no penalty running, and quiet
// (no failure, no penalty) for MaxPenalty.
func (t *Throttle) stale(e *entry, now time.Time) bool {
	last := e.lastFailure
	if e.until.After(last) {
		last = e.until
	}
	return !now.Before(e.until) && now.Sub(last) >= max(t.MaxPenalty, t.Window)
}

// evict makes room for one address (see Throttle).
func (t *Throttle) evict(now time.Time) {
	victim := t.lru.Back()
	for el, n := t.lru.Back(), 0; el != nil && n < evictScan; el, n = el.Prev(), n+1 {
		if !now.Before(el.Value.(*entry).until) {
			victim = el
			break
		}
	}
	if victim != nil {
		delete(t.addrs, t.lru.Remove(victim).(*entry).addr)
	}
}

// Len returns how many addresses the throttle remembers.
func (t *Throttle) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lru.Len()
}

// Source is the address a connection's failures are counted against:
// its IPv4 address, or the /64 network of its IPv6 address (one host
// commonly holds a whole /64, so that counting its addresses one by one
// would let it try 2^64 times as often). remote is "host:port" or a bare
// host; what is not an IP address is the zero Addr (one source for all).
func Source(remote string) netip.Addr {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		a = p.Addr()
	}
	return a
}
