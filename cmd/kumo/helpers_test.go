package main

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/broker"
	"github.com/kumo-iot/kumo/internal/sqlstore/postgres/pgtest"
)

// TestMain lets the test binary stand in for the kumo binary: the crash
// and shutdown tests start it as a child process with KUMO_TEST_MAIN=1.
func TestMain(m *testing.M) {
	if os.Getenv("KUMO_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// testNode is an in-process Kumo on random loopback ports.
type testNode struct {
	*node
	t    *testing.T
	app  kumo.AppCredentials
	base string
}

// testConfig is a node configuration on random loopback ports with every
// listener on, in dir.
func testConfig(dir string) config {
	return config{
		DataDir: dir, HTTPAddr: "127.0.0.1:0",
		MQTTAddr: "127.0.0.1:0", MQTTTLSAddr: "127.0.0.1:0", MQTTWSAddr: "127.0.0.1:0", MQTTWSSAddr: "127.0.0.1:0",
		PasswordIterations: 1000, ShutdownTimeout: 10 * time.Second, LedgerRetention: defaultLedgerRetention,
	}
}

// forEachStore runs fn as a subtest per store, each with a node
// configuration over a new, empty store: "sqlite" (a file in a temporary
// directory) and "postgres" (a new database on the server of
// KUMO_TEST_POSTGRES; skipped without one, failed without one when
// KUMO_REQUIRE_POSTGRES=1).
func forEachStore(t *testing.T, fn func(t *testing.T, cfg config)) {
	t.Helper()
	for _, store := range []string{"sqlite", "postgres"} {
		t.Run(store, func(t *testing.T) {
			cfg := testConfig(t.TempDir())
			if store == "postgres" {
				cfg.Database = withPassword(t, pgtest.NewDatabase(t))
			}
			fn(t, cfg)
		})
	}
}

// newStoreLike returns a configuration like cfg over a new, empty store of
// the same kind, for a second node of a test.
func newStoreLike(t *testing.T, cfg config) config {
	t.Helper()
	cfg.DataDir = t.TempDir()
	if cfg.Database != "" {
		cfg.Database = withPassword(t, pgtest.NewDatabase(t))
	}
	return cfg
}

// testPassword is the password put in the test databases' URLs that have
// none, so that tests can check it never shows (the test server trusts
// local connections and never asks for it).
const testPassword = "kumo-test-password"

// withPassword returns the database URL u with a password: its own, or
// testPassword.
func withPassword(t *testing.T, u string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatalf("test database URL: %v", err)
	}
	if _, ok := p.User.Password(); !ok {
		p.User = url.UserPassword(p.User.Username(), testPassword)
	}
	return p.String()
}

// databasePassword returns the password of cfg's database URL ("" for
// SQLite), which no output may show.
func databasePassword(t *testing.T, cfg config) string {
	t.Helper()
	if cfg.Database == "" {
		return ""
	}
	p, err := url.Parse(cfg.Database)
	if err != nil {
		t.Fatalf("test database URL: %v", err)
	}
	pw, _ := p.User.Password()
	return pw
}

// storeEnv is the environment that gives a child process cfg's store
// (KUMO_DATABASE; empty for SQLite in --data-dir, whatever the test's own
// environment says).
func storeEnv(cfg config) string { return "KUMO_DATABASE=" + cfg.Database }

// testLogger writes the node's log into the test's log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tlogWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tlogWriter struct{ t testing.TB }

func (w tlogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// mustStartNode starts a node with one app and stops it when the test ends.
func mustStartNode(t *testing.T) *testNode {
	t.Helper()
	return mustStartNodeConfig(t, testConfig(t.TempDir()))
}

func mustStartNodeConfig(t *testing.T, cfg config) *testNode {
	t.Helper()
	return mustStartNodeLog(t, cfg, testLogger(t))
}

// response is an HTTP response read whole.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body as a JSON object (numbers as json.Number).
func (r response) JSON(t testing.TB) map[string]any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(r.Body))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("response body is not a JSON object: %v\n%s", err, r.Body)
	}
	return m
}

// Str returns a string field of the JSON body.
func (r response) Str(t testing.TB, key string) string {
	t.Helper()
	s, ok := r.JSON(t)[key].(string)
	if !ok {
		t.Fatalf("response has no string %q: %s", key, r.Body)
	}
	return s
}

// do sends a request; headers alternate name, value.
func do(t testing.TB, method, url, body string, headers ...string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := testHTTP.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// wantStatus fails the test unless r has the status.
func wantStatus(t testing.TB, r response, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d; body: %s", r.Status, status, r.Body)
	}
}

// device is a registered thing with an MQTT installation and endpoint.
type device struct {
	ThingID, VendorID, Token, InstallationID string
	Endpoint                                 kumo.MQTTEndpoint
}

// mustDevice registers a thing, installs it for MQTT and reads its endpoint.
func (n *testNode) mustDevice(vendorID string) device {
	t := n.t
	t.Helper()
	r := do(t, "POST", n.base+"/api/apps/"+n.app.AppID+"/things",
		fmt.Sprintf(`{"_vendorThingID":%q,"_password":"pass-1234"}`, vendorID),
		"Content-Type", "application/vnd.kii.ThingRegistrationAndAuthorizationRequest+json")
	wantStatus(t, r, 201)
	d := device{ThingID: r.Str(t, "_thingID"), VendorID: vendorID, Token: r.Str(t, "_accessToken")}
	r = do(t, "POST", n.base+"/api/apps/"+n.app.AppID+"/installations", `{"deviceType":"MQTT","development":true}`,
		"Authorization", "Bearer "+d.Token, "Content-Type", "application/vnd.kii.InstallationCreationRequest+json")
	wantStatus(t, r, 201)
	d.InstallationID = r.Str(t, "installationID")
	r = do(t, "GET", n.base+"/api/apps/"+n.app.AppID+"/installations/"+d.InstallationID+"/mqtt-endpoint", "",
		"Authorization", "Bearer "+d.Token)
	wantStatus(t, r, 200)
	if err := json.Unmarshal(r.Body, &d.Endpoint); err != nil {
		t.Fatal(err)
	}
	return d
}

// subscribe subscribes the device's thing to a bucket of its own scope.
func (n *testNode) subscribe(d device, bucket string) {
	n.t.Helper()
	r := do(n.t, "PUT", n.base+"/api/apps/"+n.app.AppID+"/things/"+d.ThingID+"/buckets/"+bucket+
		"/filters/all/push/subscriptions/things/"+d.ThingID, "", "Authorization", "Bearer "+d.Token)
	wantStatus(n.t, r, 204)
}

// createObject posts an object into the device's thing-scope bucket and
// returns its ID.
func (n *testNode) createObject(d device, bucket, body string) string {
	n.t.Helper()
	r := do(n.t, "POST", n.base+"/api/apps/"+n.app.AppID+"/things/"+d.ThingID+"/buckets/"+bucket+"/objects", body,
		"Authorization", "Bearer "+d.Token, "Content-Type", "application/json")
	wantStatus(n.t, r, 201)
	return r.Str(n.t, "objectID")
}

// inbox collects the messages an MQTT client receives.
type inbox struct {
	mu   sync.Mutex
	msgs []paho.Message
	ch   chan struct{}
}

func newInbox() *inbox { return &inbox{ch: make(chan struct{}, 1)} }

func (in *inbox) handle(_ paho.Client, m paho.Message) {
	in.mu.Lock()
	in.msgs = append(in.msgs, m)
	in.mu.Unlock()
	select {
	case in.ch <- struct{}{}:
	default:
	}
}

// Messages returns what arrived so far.
func (in *inbox) Messages() []paho.Message {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]paho.Message(nil), in.msgs...)
}

// waitFor waits until cond holds for the messages received, or fails the
// test after the deadline.
func (in *inbox) waitFor(t testing.TB, what string, cond func([]paho.Message) bool) []paho.Message {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		msgs := in.Messages()
		if cond(msgs) {
			return msgs
		}
		select {
		case <-in.ch:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("timed out waiting for %s; got %d messages", what, len(msgs))
		}
	}
}

// pushesByObject returns the push payloads received, by objectID.
func pushesByObject(t testing.TB, msgs []paho.Message) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, m := range msgs {
		var p map[string]any
		if err := json.Unmarshal(m.Payload(), &p); err != nil {
			t.Fatalf("push payload is not JSON: %v: %s", err, m.Payload())
		}
		id, _ := p["objectID"].(string)
		out[id] = p
	}
	return out
}

// mqttURL returns a broker URL of the node for a listener kind.
func (n *testNode) mqttURL(kind string) string {
	switch kind {
	case broker.TLS:
		return fmt.Sprintf("ssl://127.0.0.1:%d", n.broker.Port(broker.TLS))
	case broker.WS:
		return fmt.Sprintf("ws://127.0.0.1:%d/mqtt", n.broker.Port(broker.WS))
	case broker.WSS:
		return fmt.Sprintf("wss://127.0.0.1:%d/mqtt", n.broker.Port(broker.WSS))
	}
	return fmt.Sprintf("tcp://127.0.0.1:%d", n.broker.Port(broker.TCP))
}

// connectDevice connects an MQTT client as d and subscribes it to its
// topic; protocol is 3 (MQIsdp) or 4 (3.1.1).
func connectDevice(t testing.TB, url string, d device, protocol uint) (paho.Client, *inbox) {
	t.Helper()
	in := newInbox()
	opts := paho.NewClientOptions().AddBroker(url).SetClientID(d.Endpoint.MQTTTopic).
		SetUsername(d.Endpoint.Username).SetPassword(d.Endpoint.Password).SetProtocolVersion(protocol).
		SetCleanSession(true).SetAutoReconnect(false).SetConnectRetry(false).
		SetTLSConfig(&tls.Config{InsecureSkipVerify: true}).SetConnectTimeout(5 * time.Second)
	c := paho.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("mqtt connect %s: %v", url, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	tok := c.Subscribe(d.Endpoint.MQTTTopic, 0, in.handle)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("mqtt subscribe: %v", tok.Error())
	}
	if codes := tok.(*paho.SubscribeToken).Result(); codes[d.Endpoint.MQTTTopic] == 0x80 {
		t.Fatalf("subscription to own topic refused")
	}
	return c, in
}

type jsonNumber = json.Number

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

func kumoAppCreate(name string) kumo.AppCreate { return kumo.AppCreate{Name: name} }

func newRequest(method, url, body string) (*http.Request, error) {
	return http.NewRequest(method, url, strings.NewReader(body))
}

func httpDo(req *http.Request) (*http.Response, error) { return testHTTP.Do(req) }

// testHTTP is the tests' HTTP client: a server that stops answering fails
// the test after a minute instead of stalling it.
var testHTTP = &http.Client{Timeout: time.Minute}
