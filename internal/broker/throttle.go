package broker

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/kumo-iot/kumo/internal/throttle"
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
)

// newThrottle returns the failed-CONNECT throttle (package throttle): an
// address that fails limit times within a minute is refused for penalty,
// doubled with each penalty that follows another, up to
// 2^maxPenaltyDoublings times.
func newThrottle(limit int, penalty time.Duration) *throttle.Throttle {
	return &throttle.Throttle{Limit: limit, Window: throttleWindow, Penalty: penalty, MaxPenalty: penalty << maxPenaltyDoublings}
}

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
	if h.b.throttle.Wait(sourceOf(cl), time.Now()) == 0 {
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
	if penalty := b.throttle.Fail(addr, time.Now()); penalty > 0 {
		b.Log.Warn("mqtt connects throttled: too many failed CONNECTs from one address",
			"address", addr, "failures", b.throttle.Limit, "per", throttleWindow, "penalty", penalty)
	}
}

// sourceOf is the address a client's failures are counted against
// (throttle.Source: its IPv4 address, or its IPv6 /64).
func sourceOf(cl *mqtt.Client) netip.Addr { return throttle.Source(cl.Net.Remote) }

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
