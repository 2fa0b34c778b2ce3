package broker

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/kumo-iot/kumo"
)

func TestParseFrame(t *testing.T) {
	for _, tc := range []struct {
		name, in  string
		method    string
		header    map[string]string
		requestID string
		body      string
		bad       bool
	}{
		{name: "CRLF", in: "PUT\r\nAuthorization: Bearer t\r\nContent-Type: application/json\r\nX-Kii-RequestID: req-0001\r\n\r\n{\"a\":1}",
			method: "PUT", header: map[string]string{"Authorization": "Bearer t", "Content-Type": "application/json"}, requestID: "req-0001", body: `{"a":1}`},
		{name: "LF, Name:value, any case", in: "post\nauthorization:Bearer t\ncontent-type:application/json\nx-kii-requestid:a b c\n\n{}\n",
			method: "POST", header: map[string]string{"Authorization": "Bearer t", "Content-Type": "application/json"}, requestID: "a b c", body: "{}\n"},
		{name: "verb alone", in: "GET", method: "GET"},
		{name: "verb and headers, no blank line", in: "GET\nX-Kii-RequestID: r", method: "GET", requestID: "r"},
		{name: "no body", in: "DELETE\r\nX-Kii-RequestID: r\r\n\r\n", method: "DELETE", requestID: "r"},
		{name: "empty", in: "", bad: true},
		{name: "HTTP request line", in: "GET /api HTTP/1.1\nX-Kii-RequestID: r\n\n", bad: true, requestID: "r"},
		{name: "header without colon", in: "GET\nX-Kii-RequestID: r\nnope\n\n", bad: true, method: "GET", requestID: "r"},
		{name: "header name with a space", in: "GET\nBad Name: v\n\n", bad: true, method: "GET"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := parseFrame([]byte(tc.in))
			if (err != nil) != tc.bad {
				t.Fatalf("error %v, want bad=%v", err, tc.bad)
			}
			if err != nil && kumo.ErrorCode(err) != kumo.ErrInvalidInputData {
				t.Errorf("error code %s", kumo.ErrorCode(err))
			}
			if f.method != tc.method || f.requestID != tc.requestID || string(f.body) != tc.body {
				t.Errorf("got method %q requestID %q body %q", f.method, f.requestID, f.body)
			}
			for k, v := range tc.header {
				if got := f.header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestAnswerFrame(t *testing.T) {
	w := newFrameWriter()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("ETag", `"1"`)
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.WriteHeader(201)
	w.Write([]byte(`{"a":1}`))
	if got, want := string(w.frame("x y")), "201\r\nX-Kii-RequestID:x y\r\nContent-Type:application/json\r\nETag:\"1\"\r\n\r\n{\"a\":1}"; got != want {
		t.Errorf("frame %q, want %q", got, want)
	}
	w = newFrameWriter()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(204)
	if got, want := string(w.frame("")), "204\r\n\r\n"; got != want {
		t.Errorf("frame %q, want %q", got, want)
	}
}

// blockingAPI is a REST API whose requests wait until released; it
// records them.
type blockingAPI struct {
	mu        sync.Mutex
	started   int
	cancelled int
	release   chan struct{}
}

func (a *blockingAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.started++
	a.mu.Unlock()
	select {
	case <-a.release:
	case <-r.Context().Done():
		a.mu.Lock()
		a.cancelled++
		a.mu.Unlock()
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"path":%q,"host":%q,"remote":%q,"auth":%q}`, r.URL.Path, r.Host, r.RemoteAddr, r.Header.Get("Authorization"))
}

func (a *blockingAPI) counts() (started, cancelled int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.started, a.cancelled
}

// testWriteError writes a Kii-like error: the status of the few codes the
// bridge uses.
func testWriteError(w http.ResponseWriter, _ *http.Request, err error) {
	status := map[kumo.Code]int{kumo.ErrInvalidInputData: 400, kumo.ErrNotSupported: 403, kumo.ErrBodyTooLarge: 413,
		kumo.ErrTooManyRequests: 429, kumo.ErrUnavailable: 503}[kumo.ErrorCode(err)]
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"errorCode": string(kumo.ErrorCode(err))})
}

// pahoInbox collects what a paho client receives, subscribed or not.
type pahoInbox struct {
	mu   sync.Mutex
	msgs []paho.Message
}

func (in *pahoInbox) handle(_ paho.Client, m paho.Message) {
	in.mu.Lock()
	in.msgs = append(in.msgs, m)
	in.mu.Unlock()
}

func (in *pahoInbox) statuses() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	var out []string
	for _, m := range in.msgs {
		line, _, _ := strings.Cut(string(m.Payload()), "\r\n")
		out = append(out, line)
	}
	return out
}

// waitStatuses waits until in got n answers and returns their statuses.
func (in *pahoInbox) waitStatuses(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if s := in.statuses(); len(s) >= n {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("got answers %v, want %d", in.statuses(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func pahoConnect(t *testing.T, b *Broker, name string, protocol uint) (paho.Client, *pahoInbox) {
	t.Helper()
	in := &pahoInbox{}
	opts := paho.NewClientOptions().AddBroker(fmt.Sprintf("tcp://127.0.0.1:%d", b.Port(TCP))).
		SetClientID("topic-" + name).SetUsername("user-" + name).SetPassword(testPasswords.Password("user-" + name)).
		SetProtocolVersion(protocol).SetAutoReconnect(false).SetDefaultPublishHandler(in.handle)
	c := paho.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(10) })
	return c, in
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRESTLimits: requests run off the read loop, at most
// RESTPerConnection per connection and RESTInFlight on the node; the
// requests beyond wait their turn and are all answered (none refused
// because the node or the connection is momentarily busy), up to
// RESTQueue waiting per connection (beyond: 429 at once); a frame over
// RESTMaxPayload gets 413; the request carries the device's address and
// the broker's.
func TestRESTLimits(t *testing.T) {
	api := &blockingAPI{release: make(chan struct{})}
	b, _ := openBroker(t, func(b *Broker) {
		b.RESTPerConnection, b.RESTInFlight, b.RESTQueue, b.RESTMaxPayload = 2, 3, 1, 64
		b.ServeREST(api, testWriteError)
	})
	c1, in1 := pahoConnect(t, b, "1", 3)
	c2, in2 := pahoConnect(t, b, "2", 4)
	p1, p2 := "p/topic-1/api/apps/app1/things/t1", "p/topic-2/api/apps/app1/things/t2"
	pub := func(c paho.Client, topic, payload string) {
		t.Helper()
		if tok := c.Publish(topic, 1, false, payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}
	admitted := func(n int) func() bool {
		return func() bool {
			b.restMu.Lock()
			defer b.restMu.Unlock()
			return b.restAdmitted == n
		}
	}
	pub(c1, p1, "GET\nAuthorization: Bearer a\n\n")
	pub(c1, p1, "GET\n\n")
	waitFor(t, "two requests running", func() bool { s, _ := api.counts(); return s == 2 })
	// The connection's third waits for one of its places, its fourth is
	// beyond what it may queue.
	pub(c1, p1, "GET\nX-Kii-RequestID: third\n\n")
	waitFor(t, "the third request waiting", admitted(3))
	pub(c1, p1, "GET\nX-Kii-RequestID: fourth\n\n")
	if s := in1.waitStatuses(t, 1); s[0] != "429" {
		t.Fatalf("the connection's fourth request: %v, want 429", s)
	}
	// The node's fourth request waits for a place on the node.
	pub(c2, p2, "GET\n\n")
	waitFor(t, "three requests running", func() bool { s, _ := api.counts(); return s == 3 })
	pub(c2, p2, "GET\n\n")
	waitFor(t, "the node's fourth request waiting", admitted(5))
	pub(c2, p2, "GET\n\n"+strings.Repeat("x", 64))
	if s := in2.waitStatuses(t, 1); s[0] != "413" {
		t.Fatalf("a frame over the limit: %v, want 413", s)
	}
	if s, _ := api.counts(); s != 3 {
		t.Fatalf("%d requests started, want 3 (the others waiting)", s)
	}
	close(api.release)
	s1, s2 := in1.waitStatuses(t, 4), in2.waitStatuses(t, 3)
	if strings.Join(s1[1:], ",") != "200,200,200" || strings.Join(s2[1:], ",") != "200,200" {
		t.Fatalf("answers %v and %v, want every request that waited answered 200", s1, s2)
	}
	waitFor(t, "the places given back", admitted(0))
	var got map[string]string
	in1.mu.Lock()
	for _, m := range in1.msgs {
		if _, body, _ := strings.Cut(string(m.Payload()), "\r\n\r\n"); strings.Contains(body, `"auth":"Bearer a"`) {
			json.Unmarshal([]byte(body), &got)
		}
		if m.Topic() != p1 {
			t.Errorf("answer on %q, want the request topic", m.Topic())
		}
	}
	in1.mu.Unlock()
	if got["path"] != "/api/apps/app1/things/t1" || got["host"] != fmt.Sprintf("127.0.0.1:%d", b.Port(TCP)) ||
		!strings.HasPrefix(got["remote"], "127.0.0.1:") {
		t.Errorf("the handler saw %v", got)
	}
}

// TestRESTNodeQueueFull: beyond RESTInFlight running and RESTNodeQueue
// waiting on the node, a request is answered 503 at once; those admitted
// are all answered.
func TestRESTNodeQueueFull(t *testing.T) {
	api := &blockingAPI{release: make(chan struct{})}
	b, _ := openBroker(t, func(b *Broker) {
		b.RESTPerConnection, b.RESTInFlight, b.RESTNodeQueue = 1, 1, 1
		b.ServeREST(api, testWriteError)
	})
	c1, in1 := pahoConnect(t, b, "1", 4)
	c2, in2 := pahoConnect(t, b, "2", 4)
	c1.Publish("p/topic-1/api/x", 0, false, "GET\n\n").WaitTimeout(5 * time.Second)
	waitFor(t, "one request running", func() bool { s, _ := api.counts(); return s == 1 })
	c1.Publish("p/topic-1/api/x", 0, false, "GET\n\n").WaitTimeout(5 * time.Second)
	waitFor(t, "one request waiting", func() bool {
		b.restMu.Lock()
		defer b.restMu.Unlock()
		return b.restAdmitted == 2
	})
	c2.Publish("p/topic-2/api/x", 0, false, "GET\nX-Kii-RequestID: over\n\n").WaitTimeout(5 * time.Second)
	if s := in2.waitStatuses(t, 1); s[0] != "503" {
		t.Fatalf("a request beyond the node's queue: %v, want 503", s)
	}
	close(api.release)
	if s := in1.waitStatuses(t, 2); strings.Join(s, ",") != "200,200" {
		t.Fatalf("the admitted requests: %v, want both answered 200", s)
	}
}

// TestRESTWaitTimeout: a request that waits for a place longer than
// RESTTimeout is answered 503, never run, and gives back its place on its
// connection.
func TestRESTWaitTimeout(t *testing.T) {
	// The first request holds the node's one place, its own timeout
	// notwithstanding, until the test ends.
	hold := make(chan struct{})
	defer close(hold)
	var mu sync.Mutex
	started := 0
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		started++
		mu.Unlock()
		<-hold
	})
	counts := func() int {
		mu.Lock()
		defer mu.Unlock()
		return started
	}
	b, _ := openBroker(t, func(b *Broker) {
		b.RESTPerConnection, b.RESTInFlight, b.RESTTimeout = 2, 1, 200*time.Millisecond
		b.ServeREST(api, testWriteError)
	})
	c1, _ := pahoConnect(t, b, "1", 4)
	c2, in2 := pahoConnect(t, b, "2", 4)
	c1.Publish("p/topic-1/api/x", 0, false, "GET\n\n").WaitTimeout(5 * time.Second)
	waitFor(t, "one request running", func() bool { return counts() == 1 })
	c2.Publish("p/topic-2/api/x", 0, false, "GET\nX-Kii-RequestID: late\n\n").WaitTimeout(5 * time.Second)
	if s := in2.waitStatuses(t, 1); s[0] != "503" {
		t.Fatalf("a request that waited past the timeout: %v, want 503", s)
	}
	waitFor(t, "the places given back", func() bool {
		b.restMu.Lock()
		defer b.restMu.Unlock()
		return b.restAdmitted == 1 && len(b.restSlots) == 1
	})
	if s := counts(); s != 1 {
		t.Errorf("%d requests reached the API, want 1", s)
	}
}

// TestRESTConnectionGone: the requests of a connection that goes, running
// or waiting for a place, are cancelled and their answers dropped; its
// places are given back.
func TestRESTConnectionGone(t *testing.T) {
	api := &blockingAPI{release: make(chan struct{})}
	b, _ := openBroker(t, func(b *Broker) {
		b.RESTPerConnection, b.RESTInFlight = 2, 2
		b.ServeREST(api, testWriteError)
	})
	c1, _ := pahoConnect(t, b, "1", 4)
	for i := 0; i < 3; i++ {
		c1.Publish("p/topic-1/api/x", 0, false, "GET\n\n").WaitTimeout(5 * time.Second)
	}
	waitFor(t, "two requests running, one waiting", func() bool {
		s, _ := api.counts()
		b.restMu.Lock()
		defer b.restMu.Unlock()
		return s == 2 && b.restAdmitted == 3
	})
	c1.Disconnect(10)
	waitFor(t, "both requests cancelled", func() bool { _, c := api.counts(); return c == 2 })
	waitFor(t, "the places given back", func() bool {
		b.restMu.Lock()
		defer b.restMu.Unlock()
		return b.restAdmitted == 0 && len(b.restSlots) == 0 && len(b.restConns) == 0
	})
	// The node's places are free again: another device is served.
	c2, in2 := pahoConnect(t, b, "2", 4)
	close(api.release)
	c2.Publish("p/topic-2/api/x", 0, false, "GET\n\n").WaitTimeout(5 * time.Second)
	if s := in2.waitStatuses(t, 1); s[0] != "200" {
		t.Fatalf("after the connection went: %v", s)
	}
}

// TestRESTOff: without ServeREST, a device's publishes are dropped
// (acknowledged, unanswered), as before REST over MQTT, and anonymous
// CONNECTs are refused.
func TestRESTOff(t *testing.T) {
	b, _ := openBroker(t, nil)
	c, in := pahoConnect(t, b, "1", 4)
	if tok := c.Publish("p/topic-1/api/x", 1, false, "GET\n\n"); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	// A round trip after it: had an answer been sent, it came first.
	if tok := c.Subscribe("topic-1", 0, nil); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	if s := in.statuses(); len(s) != 0 {
		t.Errorf("answers %v with REST over MQTT off", s)
	}
	raw := dialRaw(t, b, TCP, "")
	if code := connack(t, raw, connectPacket(4, 30, "anonymous", "type=oauth2&client_id=app1", "client_secret=key")); code != 4 {
		t.Errorf("anonymous CONNECT with the bridge off: return code %d, want 4", code)
	}
}

// apps is an AppFinder of one app.
type apps struct{ app kumo.App }

func (a apps) FindApp(_ context.Context, idOrKey string) (kumo.App, error) {
	if idOrKey == a.app.ID || idOrKey == a.app.Key {
		return a.app, nil
	}
	return kumo.App{}, kumo.Errorf(kumo.ErrAppNotFound, "no app %s", idOrKey)
}

// TestAnonymousConnect: anonymous CONNECTs with the app's ID and key are
// accepted, many at once without taking each other over (3.1.1 and 3.1,
// raw packets); a wrong key is refused with return code 4 and counted by
// the CONNECT throttle.
func TestAnonymousConnect(t *testing.T) {
	const limit = 3
	b, _ := openBroker(t, func(b *Broker) {
		b.ConnectThrottle = limit
		b.Apps = apps{kumo.App{ID: "app1", Key: "key-app1-0000"}}
		b.ServeREST(http.NotFoundHandler(), testWriteError)
	})
	good := connectPacket(4, 60, "anonymous", "type=oauth2&client_id=app1", "client_secret=key-app1-0000")
	var conns []net.Conn
	for i := 0; i < 4; i++ {
		c := dial(t, b, TCP, "127.0.0.1")
		if code := connack(t, c, good); code != 0 {
			t.Fatalf("anonymous CONNECT %d: CONNACK %d, want 0", i+1, code)
		}
		conns = append(conns, c)
	}
	c31 := dial(t, b, TCP, "127.0.0.1")
	body := append(mqttString("MQIsdp"), 3, 0xC2, 0, 60)
	for _, s := range []string{"anonymous", "type=oauth2&client_id=app1", "client_secret=key-app1-0000"} {
		body = append(body, mqttString(s)...)
	}
	if code := connack(t, c31, mqttPacket(0x10, body)); code != 0 {
		t.Fatalf("anonymous MQTT 3.1 CONNECT: CONNACK %d, want 0", code)
	}
	conns = append(conns, c31)
	// None was taken over: each still answers a PINGREQ.
	for i, c := range conns {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte{0xC0, 0}); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		resp := make([]byte, 2)
		if _, err := io.ReadFull(c, resp); err != nil || resp[0] != 0xD0 {
			t.Fatalf("connection %d was closed (taken over?): % x %v", i, resp, err)
		}
	}
	for i, pass := range []string{"client_secret=wrong", "client_secret=key-app1-0000"} {
		user := "type=oauth2&client_id=app1"
		if i == 1 {
			user = "type=oauth2&client_id=app2"
		}
		if code := connack(t, dial(t, b, TCP, "127.0.0.1"), connectPacket(4, 60, "anonymous", user, pass)); code != 4 {
			t.Fatalf("bad anonymous CONNECT %d: CONNACK %d, want 4", i+1, code)
		}
	}
	if code := connack(t, dial(t, b, TCP, "127.0.0.1"), connectPacket(4, 60, "anonymous", "type=oauth2&client_id=app1", "nope")); code != 4 {
		t.Fatalf("third bad anonymous CONNECT: CONNACK %d, want 4", code)
	}
	if code := connack(t, dial(t, b, TCP, "127.0.0.1"), good); code != 3 {
		t.Fatalf("good anonymous CONNECT after %d bad ones: CONNACK %d, want 3 (throttled)", limit, code)
	}
}
