package broker

import (
	"container/list"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Defaults of the CONNECT deadline and throttle (see Broker).
const (
	// DefaultConnectTimeout is how long a connection has, from its TCP
	// accept, to deliver its CONNECT: enough for a TLS handshake over a
	// slow cellular link, short enough that silent sockets cannot pile up.
	DefaultConnectTimeout = 10 * time.Second
	// DefaultConnectThrottle is the failed CONNECTs one source address may
	// make per minute before its CONNECTs are refused unchecked.
	DefaultConnectThrottle = 60
	// DefaultConnectPenalty is an address's first penalty.
	DefaultConnectPenalty = time.Minute
)

const (
	// throttleWindow is the period over which an address's failed
	// CONNECTs are counted.
	throttleWindow = time.Minute
	// maxPenaltyDoublings bounds the growth of an address's penalty: it
	// doubles with each penalty that follows another, up to 16 times the
	// first.
	maxPenaltyDoublings = 4
	// maxThrottled is how many source addresses the throttle remembers;
	// beyond it the least recently seen are forgotten.
	maxThrottled = 1 << 14
)

// errThrottled ends a CONNECT from an address in penalty.
var errThrottled = errors.New("mqtt connect throttled: too many failed CONNECTs from this address")

// throttleHook refuses, before any credential check, the CONNECTs of an
// address in penalty for failed CONNECTs. They are answered "server
// unavailable" (MQTT 3 return code 3; MQTT 5 "connection rate
// exceeded"), which devices take as an outage and retry later, rather
// than "bad user name or password", which some take as final.
type throttleHook struct {
	mqtt.HookBase
	b *Broker
}

func (h *throttleHook) ID() string { return "kumo-throttle" }

func (h *throttleHook) Provides(x byte) bool { return x == mqtt.OnConnect }

// OnConnect answers a CONNECT from an address in penalty and ends it.
func (h *throttleHook) OnConnect(cl *mqtt.Client, _ packets.Packet) error {
	if !h.b.throttle.penalized(sourceOf(cl), time.Now()) {
		return nil
	}
	code := packets.ErrConnectionRateExceeded
	if cl.Properties.ProtocolVersion < 5 {
		code = packets.ErrServerUnavailable // sent as 0x03
	}
	h.b.server.SendConnack(cl, code, false, nil)
	return errThrottled
}

// connectFailed counts a CONNECT refused for its credentials against its
// source address, and logs the start of a penalty.
func (b *Broker) connectFailed(cl *mqtt.Client) {
	if b.throttle == nil {
		return
	}
	addr := sourceOf(cl)
	if penalty := b.throttle.failed(addr, time.Now()); penalty > 0 {
		b.Log.Warn("mqtt connects throttled: too many failed CONNECTs from one address",
			"address", addr, "failures", b.throttle.limit, "per", throttleWindow, "penalty", penalty)
	}
}

// sourceOf is the address a client's failures are counted against: its
// IPv4 address, or the /64 network of its IPv6 address (one host's
// usual allocation).
func sourceOf(cl *mqtt.Client) netip.Addr {
	host, _, err := net.SplitHostPort(cl.Net.Remote)
	if err != nil {
		host = cl.Net.Remote
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

// throttle counts failed CONNECTs by source address and puts an address
// that made limit of them within throttleWindow in penalty: its CONNECTs
// are refused unchecked for penalty, doubled with each penalty that
// follows another (up to 2^maxPenaltyDoublings times). An address's
// successes change nothing, for it or for others.
type throttle struct {
	limit   int
	penalty time.Duration

	mu    sync.Mutex
	addrs map[netip.Addr]*list.Element // of *failures
	lru   list.List                    // *failures, most recently failed first
}

// failures is what the throttle knows of one address.
type failures struct {
	addr    netip.Addr
	since   time.Time // start of the current counting window
	count   int       // failures since then
	until   time.Time // end of the current (or last) penalty
	strikes int       // penalties in a row: the next lasts penalty << strikes
}

func newThrottle(limit int, penalty time.Duration) *throttle {
	return &throttle{limit: limit, penalty: penalty, addrs: map[netip.Addr]*list.Element{}}
}

// penalized reports whether addr is in penalty at now.
func (t *throttle) penalized(addr netip.Addr, now time.Time) bool {
	if t == nil {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.addrs[addr]
	return ok && now.Before(e.Value.(*failures).until)
}

// failed counts a failure of addr at now and returns the penalty that it
// starts, if it is the one that reaches the limit (0 otherwise).
func (t *throttle) failed(addr netip.Addr, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	var f *failures
	if e, ok := t.addrs[addr]; ok {
		t.lru.MoveToFront(e)
		f = e.Value.(*failures)
	} else {
		if t.lru.Len() >= maxThrottled {
			old := t.lru.Remove(t.lru.Back()).(*failures)
			delete(t.addrs, old.addr)
		}
		f = &failures{addr: addr}
		t.addrs[addr] = t.lru.PushFront(f)
	}
	if now.Before(f.until) {
		return 0 // refused unchecked already; a failure that raced the penalty
	}
	if now.Sub(f.since) >= throttleWindow {
		f.since, f.count = now, 0
	}
	f.count++
	if f.count < t.limit {
		return 0
	}
	longest := t.penalty << maxPenaltyDoublings
	if !f.until.IsZero() && now.Sub(f.until) > longest {
		f.strikes = 0 // quiet long enough since its last penalty: start over
	}
	penalty := t.penalty << min(f.strikes, maxPenaltyDoublings)
	f.strikes++
	f.until, f.since, f.count = now.Add(penalty), now, 0
	return penalty
}

// quietConnects is mochi's log handler. It turns mochi's warning about a
// CONNECT's short keep-alive, which it writes for every such CONNECT
// before any check (those of a throttled address included), into a debug
// line: anyone could otherwise write a warning per connection.
type quietConnects struct{ slog.Handler }

func (h quietConnects) Handle(ctx context.Context, r slog.Record) error {
	if r.Level > slog.LevelDebug && r.Message == mqtt.ErrMinimumKeepalive.Error() {
		if !h.Handler.Enabled(ctx, slog.LevelDebug) {
			return nil
		}
		r.Level = slog.LevelDebug
	}
	return h.Handler.Handle(ctx, r)
}

func (h quietConnects) WithAttrs(as []slog.Attr) slog.Handler {
	return quietConnects{h.Handler.WithAttrs(as)}
}

func (h quietConnects) WithGroup(name string) slog.Handler {
	return quietConnects{h.Handler.WithGroup(name)}
}
