package broker

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/auth"
	mqtt "github.com/mochi-mqtt/server/v2"
)

// installations is a kumo.InstallationService whose MQTTInstallation
// knows the usernames in known and counts its lookups.
type installations struct {
	kumo.InstallationService
	known   map[string]kumo.Installation
	lookups atomic.Int64
}

func (s *installations) MQTTInstallation(_ context.Context, username string) (kumo.Installation, error) {
	s.lookups.Add(1)
	if in, ok := s.known[username]; ok {
		return in, nil
	}
	return kumo.Installation{}, kumo.InstallationNotFound("app1", username)
}

var testPasswords = auth.MQTTPasswords{Secret: []byte("test secret")}

// openBroker starts a broker on every listener of 127.0.0.1, with the
// MQTT installations of usernames user-{name} (client ID topic-{name})
// for the names 1, 2 and the listener IDs.
func openBroker(t *testing.T, configure func(*Broker)) (*Broker, *installations) {
	t.Helper()
	ins := &installations{known: map[string]kumo.Installation{}}
	for _, name := range []string{"1", "2", TCP, TLS, WS, WSS} {
		ins.known["user-"+name] = kumo.Installation{ID: "in-" + name, AppID: "app1", MQTTUsername: "user-" + name, MQTTTopic: "topic-" + name}
	}
	b := &Broker{
		Installations: ins, Passwords: testPasswords,
		Log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		TCPAddr: "127.0.0.1:0", TLSAddr: "127.0.0.1:0", WSAddr: "127.0.0.1:0", WSSAddr: "127.0.0.1:0",
		TLSConfig: selfSigned(t),
	}
	if configure != nil {
		configure(b)
	}
	if err := b.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, ins
}

func selfSigned(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

// dialRaw opens a TCP connection to a listener from the local address
// from (127.0.0.1 when empty), and sends nothing.
func dialRaw(t *testing.T, b *Broker, id, from string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	c, err := d.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", b.Port(id)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// dial opens a connection to a listener ready to carry MQTT packets: TLS
// handshaken, WebSocket upgraded (as a net.Conn of binary messages).
func dial(t *testing.T, b *Broker, id, from string) net.Conn {
	t.Helper()
	clientTLS := &tls.Config{InsecureSkipVerify: true}
	switch id {
	case TLS:
		c := tls.Client(dialRaw(t, b, id, from), clientTLS)
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if err := c.Handshake(); err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Time{})
		return c
	case WS, WSS:
		scheme := "ws"
		if id == WSS {
			scheme = "wss"
		}
		d := websocket.Dialer{
			Subprotocols: []string{"mqtt"}, TLSClientConfig: clientTLS, HandshakeTimeout: 5 * time.Second,
			NetDial: func(string, string) (net.Conn, error) { return dialRaw(t, b, id, from), nil },
		}
		c, _, err := d.Dial(fmt.Sprintf("%s://127.0.0.1:%d/mqtt", scheme, b.Port(id)), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return &wsConn{Conn: c.UnderlyingConn(), c: c}
	}
	return dialRaw(t, b, id, from)
}

// mqttPacket frames an MQTT packet.
func mqttPacket(typ byte, body []byte) []byte {
	out := []byte{typ}
	for n := len(body); ; {
		d := byte(n % 128)
		n /= 128
		if n > 0 {
			d |= 0x80
		}
		out = append(out, d)
		if n == 0 {
			break
		}
	}
	return append(out, body...)
}

func mqttString(s string) []byte { return append([]byte{byte(len(s) >> 8), byte(len(s))}, s...) }

// connectPacket is an MQTT 3.1.1 CONNECT (protocol level 4) or an MQTT 5
// one (level 5), with a clean session, username and password.
func connectPacket(level byte, keepAlive uint16, clientID, user, pass string) []byte {
	body := append(mqttString("MQTT"), level, 0xC2, byte(keepAlive>>8), byte(keepAlive))
	if level == 5 {
		body = append(body, 0) // no properties
	}
	body = append(body, mqttString(clientID)...)
	body = append(body, mqttString(user)...)
	body = append(body, mqttString(pass)...)
	return mqttPacket(0x10, body)
}

// connack sends a CONNECT on c and returns the CONNACK's return (reason)
// code, or -1 when the server closed the connection without one.
func connack(t *testing.T, c net.Conn, connect []byte) int {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write(connect); err != nil {
		t.Fatalf("write CONNECT: %v", err)
	}
	head := make([]byte, 2)
	if _, err := io.ReadFull(c, head); err != nil {
		if isTimeout(err) {
			t.Fatal("no CONNACK nor close")
		}
		return -1
	}
	if head[0] != 0x20 || head[1] < 2 || head[1] > 127 {
		t.Fatalf("not a CONNACK: % x", head)
	}
	rest := make([]byte, head[1])
	if _, err := io.ReadFull(c, rest); err != nil {
		t.Fatalf("read CONNACK: %v", err)
	}
	return int(rest[1])
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// closedByServer waits (10 s at most) for the server to close c, and
// fails if it is still open then.
func closedByServer(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := io.ReadAll(c)
	if isTimeout(err) {
		t.Fatal("the server left the connection open")
	}
}

// TestConnectTimeout checks that a connection that delivers no CONNECT is
// closed by the server, on every listener and at every stage (before the
// TLS handshake, before the WebSocket upgrade, after either, in the
// middle of the CONNECT).
func TestConnectTimeout(t *testing.T) {
	b, _ := openBroker(t, func(b *Broker) { b.ConnectTimeout = 200 * time.Millisecond })
	for _, tc := range []struct {
		name     string
		listener string
		open     func(*testing.T) net.Conn
	}{
		{"tcp, nothing sent", TCP, func(t *testing.T) net.Conn { return dialRaw(t, b, TCP, "") }},
		{"tcp, half a CONNECT", TCP, func(t *testing.T) net.Conn {
			c := dialRaw(t, b, TCP, "")
			c.Write(connectPacket(4, 60, "topic-1", "user-1", testPasswords.Password("user-1"))[:9])
			return c
		}},
		{"tls, no handshake", TLS, func(t *testing.T) net.Conn { return dialRaw(t, b, TLS, "") }},
		{"tls, handshake then nothing", TLS, func(t *testing.T) net.Conn { return dial(t, b, TLS, "") }},
		{"ws, no upgrade request", WS, func(t *testing.T) net.Conn { return dialRaw(t, b, WS, "") }},
		{"ws, a plain HTTP request then nothing", WS, func(t *testing.T) net.Conn {
			c := dialRaw(t, b, WS, "")
			c.Write([]byte("GET /mqtt HTTP/1.1\r\nHost: kumo\r\n\r\n")) // answered 400, then kept alive
			return c
		}},
		{"ws, upgraded then nothing", WS, func(t *testing.T) net.Conn { return dial(t, b, WS, "") }},
		{"wss, no handshake", WSS, func(t *testing.T) net.Conn { return dialRaw(t, b, WSS, "") }},
		{"wss, upgraded then nothing", WSS, func(t *testing.T) net.Conn { return dial(t, b, WSS, "") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			closedByServer(t, tc.open(t))
		})
	}
}

// TestConnectTimeoutSpareClients checks that the CONNECT deadline ends
// with the CONNECT: a client that connected promptly and stays idle
// within its keep-alive is not closed, and still answered; the
// keep-alive (1.5 times it, by mochi) still closes one that goes silent.
func TestConnectTimeoutSpareClients(t *testing.T) {
	b, _ := openBroker(t, func(b *Broker) { b.ConnectTimeout = 200 * time.Millisecond })
	for _, id := range []string{TCP, TLS, WS, WSS} {
		t.Run(id, func(t *testing.T) {
			t.Parallel()
			c := dial(t, b, id, "") // each its own device: no session takeover
			if code := connack(t, c, connectPacket(4, 60, "topic-"+id, "user-"+id, testPasswords.Password("user-"+id))); code != 0 {
				t.Fatalf("CONNACK %d; want 0", code)
			}
			// Idle for five connect timeouts: still open. (A WebSocket
			// connection is probed beneath gorilla, for which a read
			// deadline is fatal; nothing is sent to be missed.)
			probe := c
			if w, ok := c.(*wsConn); ok {
				probe = w.Conn
			}
			one := make([]byte, 1)
			probe.SetReadDeadline(time.Now().Add(5 * b.ConnectTimeout))
			if n, err := probe.Read(one); !isTimeout(err) {
				t.Fatalf("idle client within its keep-alive: read %d bytes (% x), %v; want nothing (still open)", n, one, err)
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := c.Write([]byte{0xC0, 0}); err != nil { // PINGREQ
				t.Fatalf("PINGREQ: %v", err)
			}
			resp := make([]byte, 2)
			if _, err := io.ReadFull(c, resp); err != nil || resp[0] != 0xD0 {
				t.Fatalf("PINGRESP: % x, %v", resp, err)
			}
		})
	}
	t.Run("keep-alive", func(t *testing.T) {
		c := dial(t, b, TCP, "")
		if code := connack(t, c, connectPacket(4, 1, "topic-1", "user-1", testPasswords.Password("user-1"))); code != 0 {
			t.Fatalf("CONNACK %d; want 0", code)
		}
		closedByServer(t, c)
	})
}

// TestConnectThrottle checks that a burst of CONNECTs with a wrong
// password from one address ends in a penalty (refused credentials the
// server issued do not count): its CONNECTs, good ones included, are then
// answered "server unavailable" (3; MQTT 5: connection rate exceeded)
// without a credential check or an installation lookup, while another
// address still connects, and its success lifts nothing.
func TestConnectThrottle(t *testing.T) {
	const limit = 5
	for _, id := range []string{TCP, TLS, WS, WSS} {
		t.Run(id, func(t *testing.T) {
			log := &logRecords{}
			b, ins := openBroker(t, func(b *Broker) { b.ConnectThrottle, b.Log = limit, slog.New(log) })
			ghost := connectPacket(4, 60, "topic-ghost", "user-ghost", testPasswords.Password("user-ghost")) // no such installation
			wrong := connectPacket(4, 60, "topic-1", "user-1", "wrong password")
			good := connectPacket(4, 60, "topic-1", "user-1", testPasswords.Password("user-1"))
			// Credentials the server issued and revoked since (the
			// installation is gone; the password, an HMAC of the
			// username, is right) are no guesses: they never count.
			for i := 0; i < 2*limit; i++ {
				if code := connack(t, dial(t, b, id, "127.0.0.1"), ghost); code != 4 {
					t.Fatalf("CONNECT %d of a deleted installation: CONNACK %d; want 4 (bad user name or password)", i+1, code)
				}
			}
			if code := connack(t, dial(t, b, id, "127.0.0.1"), good); code != 0 {
				t.Fatalf("good CONNECT after %d of a deleted installation: CONNACK %d; want 0 (not throttled)", 2*limit, code)
			}
			for i := 0; i < limit; i++ {
				if code := connack(t, dial(t, b, id, "127.0.0.1"), wrong); code != 4 {
					t.Fatalf("failed CONNECT %d: CONNACK %d; want 4 (bad user name or password)", i+1, code)
				}
			}
			lookups := ins.lookups.Load()
			noKeepAlive := connectPacket(4, 0, "topic-1", "user-1", "wrong password") // mochi warns of it
			for i, packet := range [][]byte{ghost, wrong, ghost, good, noKeepAlive} {
				if code := connack(t, dial(t, b, id, "127.0.0.1"), packet); code != 3 {
					t.Errorf("CONNECT %d in penalty: CONNACK %d; want 3 (server unavailable)", i+1, code)
				}
			}
			if n := ins.lookups.Load(); n != lookups {
				t.Errorf("installation lookups went from %d to %d in penalty; want none", lookups, n)
			}
			v5 := connectPacket(5, 60, "topic-1", "user-1", testPasswords.Password("user-1"))
			if code := connack(t, dial(t, b, id, "127.0.0.1"), v5); code != 0x9F {
				t.Errorf("MQTT 5 CONNECT in penalty: reason code %#x; want 0x9f (connection rate exceeded)", code)
			}

			other := connectPacket(4, 60, "topic-2", "user-2", testPasswords.Password("user-2"))
			if code := connack(t, dial(t, b, id, "127.0.0.2"), other); code != 0 {
				t.Errorf("CONNECT from another address: CONNACK %d; want 0", code)
			}
			if code := connack(t, dial(t, b, id, "127.0.0.1"), good); code != 3 {
				t.Errorf("CONNECT in penalty after another address's success: CONNACK %d; want 3", code)
			}
			if n := log.count(slog.LevelWarn, "mqtt connects throttled"); n != 1 {
				t.Errorf("%d warnings of the penalty; want 1, at its start", n)
			}
			if n := log.count(slog.LevelWarn, "keepalive"); n != 0 {
				t.Errorf("%d warnings of short keep-alives; want none (debug lines)", n)
			}
		})
	}
}

// TestThrottleSettings checks the penalties the broker's throttle gives
// (package throttle tests the arithmetic): the limit within a minute
// starts the first penalty, each penalty that follows another doubles it,
// up to 16 times the first.
func TestThrottleSettings(t *testing.T) {
	th := newThrottle(3, time.Minute)
	a := netip.MustParseAddr("192.0.2.1")
	now := time.Unix(1_000_000, 0)
	var got []time.Duration
	for range 7 {
		var p time.Duration
		for range 3 {
			now = now.Add(time.Second)
			p = th.Fail(a, now)
		}
		got = append(got, p)
		now = now.Add(p)
	}
	want := []time.Duration{1, 2, 4, 8, 16, 16, 16}
	for i := range want {
		if got[i] != want[i]*time.Minute {
			t.Fatalf("penalties %v; want %v minutes", got, want)
		}
	}
	if th.Window != time.Minute {
		t.Errorf("window %v; want 1m", th.Window)
	}
}

// TestSourceOf checks the addresses failures are counted against.
func TestSourceOf(t *testing.T) {
	for _, tc := range []struct{ remote, want string }{
		{"192.0.2.1:1234", "192.0.2.1"},
		{"[::ffff:192.0.2.1]:1234", "192.0.2.1"},
		{"[2001:db8:1:2:3:4:5:6]:1234", "2001:db8:1:2::"},
		{"[2001:db8:1:2:ffff::1]:99", "2001:db8:1:2::"},
	} {
		cl := &mqtt.Client{}
		cl.Net.Remote = tc.remote
		if got := sourceOf(cl); got.String() != tc.want {
			t.Errorf("sourceOf(%s) = %s; want %s", tc.remote, got, tc.want)
		}
	}
}

// logRecords is a slog handler that keeps what is logged.
type logRecords struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecords) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *logRecords) WithGroup(string) slog.Handler            { return h }
func (h *logRecords) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r)
	return nil
}

// count returns how many records at level or above have a message
// containing text.
func (h *logRecords) count(level slog.Level, text string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, r := range h.recs {
		if r.Level >= level && strings.Contains(r.Message, text) {
			n++
		}
	}
	return n
}
