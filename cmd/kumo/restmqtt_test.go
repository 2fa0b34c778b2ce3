package main

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/broker"
)

// REST over MQTT (push-mqtt §6) and the anonymous onboarding broker
// (§3.2), with real paho clients over TCP.

// mqttDial connects an MQTT client that collects every PUBLISH it gets,
// subscribed or not (REST-over-MQTT answers come without a subscription).
func mqttDial(t testing.TB, url, clientID, user, pass string, protocol uint, options ...func(*paho.ClientOptions)) (paho.Client, *inbox, error) {
	t.Helper()
	in := newInbox()
	opts := paho.NewClientOptions().AddBroker(url).SetClientID(clientID).
		SetUsername(user).SetPassword(pass).SetProtocolVersion(protocol).
		SetCleanSession(true).SetAutoReconnect(false).SetConnectRetry(false).
		SetTLSConfig(&tls.Config{InsecureSkipVerify: true}).SetConnectTimeout(5 * time.Second).
		SetDefaultPublishHandler(in.handle)
	for _, o := range options {
		o(opts)
	}
	c := paho.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		if tok.Error() == nil {
			t.Fatalf("mqtt connect %s: no CONNACK", url)
		}
		return nil, nil, tok.Error()
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c, in, nil
}

// mustMQTT is mqttDial that fails the test when the CONNECT is refused.
func mustMQTT(t testing.TB, url, clientID, user, pass string, protocol uint) (paho.Client, *inbox) {
	t.Helper()
	c, in, err := mqttDial(t, url, clientID, user, pass, protocol)
	if err != nil {
		t.Fatalf("mqtt connect %s as %s: %v", url, clientID, err)
	}
	return c, in
}

// deviceMQTT connects as the device (client ID its mqttTopic), without
// subscribing to anything.
func deviceMQTT(t testing.TB, url string, ep kumo.MQTTEndpoint, protocol uint) (paho.Client, *inbox) {
	t.Helper()
	return mustMQTT(t, url, ep.MQTTTopic, ep.Username, ep.Password, protocol)
}

// anonymousMQTT connects to the onboarding broker with the app's ID and key.
func anonymousMQTT(t testing.TB, url string, app kumo.AppCredentials, protocol uint) (paho.Client, *inbox) {
	t.Helper()
	return mustMQTT(t, url, "anonymous", "type=oauth2&client_id="+app.AppID, "client_secret="+app.AppKey, protocol)
}

// answer is a REST-over-MQTT answer frame.
type answer struct {
	Raw    []byte
	Status int
	Head   []string          // the header lines, as sent
	Header map[string]string // by name as sent
	Body   []byte
}

// parseAnswer reads an answer frame: every line ends in CRLF, the first
// holds only the status.
func parseAnswer(t testing.TB, p []byte) answer {
	t.Helper()
	a := answer{Raw: p, Header: map[string]string{}}
	head, body, ok := bytes.Cut(p, []byte("\r\n\r\n"))
	if !ok {
		t.Fatalf("answer frame has no CRLF CRLF: %q", p)
	}
	a.Body = body
	lines := strings.Split(string(head), "\r\n")
	st, err := strconv.Atoi(lines[0])
	if err != nil || len(lines[0]) != 3 {
		t.Fatalf("answer frame's first line %q is not a bare status", lines[0])
	}
	a.Status = st
	for _, l := range lines[1:] {
		if strings.Contains(l, "\n") {
			t.Fatalf("answer header line %q has a bare LF", l)
		}
		name, value, ok := strings.Cut(l, ":")
		if !ok {
			t.Fatalf("answer header line %q has no colon", l)
		}
		a.Head = append(a.Head, l)
		a.Header[name] = value
	}
	return a
}

// JSON decodes the body.
func (a answer) JSON(t testing.TB) map[string]any {
	t.Helper()
	return response{Status: a.Status, Body: a.Body}.JSON(t)
}

// onTopic returns the messages of msgs on topic.
func onTopic(msgs []paho.Message, topic string) []paho.Message {
	var out []paho.Message
	for _, m := range msgs {
		if m.Topic() == topic {
			out = append(out, m)
		}
	}
	return out
}

// call publishes a request frame at qos and returns the answer that comes
// back on the same topic.
func call(t testing.TB, c paho.Client, in *inbox, topic, frame string, qos byte) answer {
	t.Helper()
	before := len(onTopic(in.Messages(), topic))
	if tok := c.Publish(topic, qos, false, frame); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
	msgs := in.waitFor(t, "the answer on "+topic, func(m []paho.Message) bool { return len(onTopic(m, topic)) > before })
	return parseAnswer(t, onTopic(msgs, topic)[before].Payload())
}

// onboardFrame is an onboarding request frame by vendor thing ID.
func onboardFrame(eol, requestID, vendorID, password string) string {
	return "POST" + eol +
		"Content-Type: application/vnd.kii.OnboardingWithVendorThingIDByThing+json" + eol +
		"X-Kii-RequestID: " + requestID + eol + eol +
		fmt.Sprintf(`{"vendorThingID":%q,"thingPassword":%q}`, vendorID, password)
}

// checkFrameGolden compares an answer frame with
// testdata/golden/mqtt-{name}.txt (or writes it with -update): the status
// and header lines exactly (CRLF shown as ⏎), then the body with the volatile values
// replaced as TestResponseShapes does.
func checkFrameGolden(t *testing.T, name string, a answer, seen map[string]string) {
	t.Helper()
	var out bytes.Buffer
	out.WriteString(strconv.Itoa(a.Status) + "⏎\n")
	for _, l := range a.Head {
		if n, _, _ := strings.Cut(l, ":"); n == "Location" || n == "ETag" {
			l = n + ":<" + strings.ToLower(n) + ">"
		} else {
			l = replaceSeen(l, seen).(string)
		}
		out.WriteString(l + "⏎\n")
	}
	out.WriteString("⏎\n")
	if len(a.Body) > 0 {
		d := json.NewDecoder(bytes.NewReader(a.Body))
		d.UseNumber()
		var body any
		if err := d.Decode(&body); err != nil {
			t.Fatalf("%s: the answer's body is not JSON: %v", name, err)
		}
		enc := json.NewEncoder(&out)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(replaceSeen(placeholders(body, "", seen), seen)); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join("testdata", "golden", "mqtt-"+name+".txt")
	if *updateGolden {
		if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: %v (run with -update to create it)", name, err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("%s: the answer frame changed\n--- got\n%s--- want (%s)\n%s", name, out.Bytes(), path, want)
	}
}

// TestAnonymousOnboarding: several devices connect at once to the
// onboarding broker with the same client ID "anonymous" (MQTT 3.1 and
// 3.1.1), none kicking another; each onboards by publishing to
// p/anonymous/thing-if/apps/{appID}/onboardings and gets its own answer
// only, on that topic, without subscribing; each then reconnects with the
// mqttEndpoint it got (client ID = mqttTopic) and calls the API over MQTT.
func TestAnonymousOnboarding(t *testing.T) { forEachStore(t, testAnonymousOnboarding) }

func testAnonymousOnboarding(t *testing.T, cfg config) {
	n := mustStartNodeConfig(t, cfg)
	url := n.mqttURL(broker.TCP)
	topic := "p/anonymous/thing-if/apps/" + n.app.AppID + "/onboardings"
	const devices = 6
	clients := make([]paho.Client, devices)
	inboxes := make([]*inbox, devices)
	for i := range clients {
		clients[i], inboxes[i] = anonymousMQTT(t, url, n.app, uint(3+i%2))
	}
	for i, c := range clients {
		if !c.IsConnectionOpen() {
			t.Fatalf("anonymous client %d was disconnected by a later one", i)
		}
	}
	var wg sync.WaitGroup
	for i, c := range clients {
		eol := "\n"
		if i%2 == 1 {
			eol = "\r\n"
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Publish(topic, byte(i%2), false, onboardFrame(eol, fmt.Sprintf("dev-%d onboardings", i), fmt.Sprintf("anon-dev-%d", i), "pass-1234")).WaitTimeout(10 * time.Second)
		}()
	}
	wg.Wait()
	eps := make([]kumo.MQTTEndpoint, devices)
	tokens := make([]string, devices)
	things := map[string]bool{}
	seen := map[string]string{n.app.AppID: "<app>"}
	for i, in := range inboxes {
		msgs := in.waitFor(t, fmt.Sprintf("device %d's answer", i), func(m []paho.Message) bool { return len(m) > 0 })
		if msgs[0].Topic() != topic {
			t.Fatalf("device %d: answer on %q, want the request topic %q", i, msgs[0].Topic(), topic)
		}
		a := parseAnswer(t, msgs[0].Payload())
		if a.Status != 200 {
			t.Fatalf("device %d: status %d: %s", i, a.Status, a.Body)
		}
		if got, want := a.Header["X-Kii-RequestID"], fmt.Sprintf("dev-%d onboardings", i); got != want {
			t.Fatalf("device %d got the answer of %q (another device's answer, or the ID not echoed verbatim)", i, got)
		}
		var body struct {
			ThingID, AccessToken string
			MQTTEndpoint         kumo.MQTTEndpoint `json:"mqttEndpoint"`
		}
		if err := json.Unmarshal(a.Body, &body); err != nil {
			t.Fatal(err)
		}
		if body.MQTTEndpoint.Host != "127.0.0.1" || body.MQTTEndpoint.PortTCP != n.broker.Port(broker.TCP) || body.MQTTEndpoint.MQTTTopic == "" {
			t.Fatalf("device %d: mqttEndpoint %+v does not name this broker", i, body.MQTTEndpoint)
		}
		things[body.ThingID] = true
		eps[i], tokens[i] = body.MQTTEndpoint, body.AccessToken
		if i == 0 {
			checkFrameGolden(t, "anonymous-onboarding", a, seen)
		}
	}
	if len(things) != devices {
		t.Fatalf("%d devices onboarded as %d things", devices, len(things))
	}
	for i, in := range inboxes {
		if m := in.Messages(); len(m) != 1 {
			t.Fatalf("anonymous device %d got %d messages, want its own answer only", i, len(m))
		}
	}

	// Each reconnects with its endpoint and calls the API over MQTT.
	for i, ep := range eps {
		c, in := deviceMQTT(t, fmt.Sprintf("tcp://%s:%d", ep.Host, ep.PortTCP), ep, uint(3+i%2))
		a := call(t, c, in, "p/"+ep.MQTTTopic+"/api/apps/"+n.app.AppID+"/things/VENDOR_THING_ID:"+fmt.Sprintf("anon-dev-%d", i),
			"GET\nAuthorization: Bearer "+tokens[i]+"\nX-Kii-RequestID: get-"+strconv.Itoa(i)+"\n\n", 0)
		if a.Status != 200 || a.JSON(t)["_vendorThingID"] != fmt.Sprintf("anon-dev-%d", i) {
			t.Fatalf("device %d: GET its thing over MQTT: %d %s", i, a.Status, a.Body)
		}
	}
}

// TestAnonymousBrokerRules: the onboarding broker checks the app's ID and
// key, refuses every subscription, and serves onboarding only, to the
// app of the connection's username.
func TestAnonymousBrokerRules(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.MQTTRESTInFlight, cfg.MQTTRESTPerConnection, cfg.MQTTRESTQueue = 9, 3, 5
	n := mustStartNodeConfig(t, cfg)
	if n.broker.RESTInFlight != 9 || n.broker.RESTPerConnection != 3 || n.broker.RESTQueue != 5 {
		t.Fatalf("--mqtt-rest-inflight, --mqtt-rest-per-connection and --mqtt-rest-queue do not reach the broker: %d, %d, %d",
			n.broker.RESTInFlight, n.broker.RESTPerConnection, n.broker.RESTQueue)
	}
	url := n.mqttURL(broker.TCP)
	for _, tc := range []struct{ name, user, pass string }{
		{"wrong key", "type=oauth2&client_id=" + n.app.AppID, "client_secret=wrong-key-0000"},
		{"unknown app", "type=oauth2&client_id=nosuchapp", "client_secret=" + n.app.AppKey},
		{"key as app ID", "type=oauth2&client_id=" + n.app.AppKey, "client_secret=" + n.app.AppKey},
		{"not oauth2", "client_id=" + n.app.AppID, "client_secret=" + n.app.AppKey},
		{"an installation's credentials", n.mustDevice("rules-dev").Endpoint.Username, n.mustDevice("rules-dev2").Endpoint.Password},
	} {
		for _, proto := range []uint{3, 4} {
			if _, _, err := mqttDial(t, url, "anonymous", tc.user, tc.pass, proto); err == nil || !strings.Contains(err.Error(), "bad user name or password") {
				t.Errorf("%s (MQTT level %d): connect error %v, want bad user name or password", tc.name, proto, err)
			}
		}
	}

	other, err := n.db.Apps.CreateApp(t.Context(), kumo.AppCreate{Name: "other"})
	if err != nil {
		t.Fatal(err)
	}
	dev := n.mustDevice("rules-bystander")
	_, devIn := connectDevice(t, url, dev, 4)
	for _, proto := range []uint{3, 4} {
		c, in := anonymousMQTT(t, url, n.app, proto)
		tok := c.Subscribe("anonymous", 0, nil)
		if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("subscribe: %v", tok.Error())
		}
		if code := tok.(*paho.SubscribeToken).Result()["anonymous"]; code != 0x80 {
			t.Errorf("MQTT level %d: anonymous SUBSCRIBE granted (code %#x)", proto, code)
		}
		for _, topic := range []string{
			"p/anonymous/thing-if/apps/" + n.app.AppID + "/targets/thing:x/states",
			"p/anonymous/api/apps/" + n.app.AppID + "/things/" + dev.ThingID,
			"p/anonymous/thing-if/apps/" + other.AppID + "/onboardings",
		} {
			a := call(t, c, in, topic, "GET\n\n", 1)
			if a.Status != 403 || a.JSON(t)["errorCode"] != "OPERATION_NOT_SUPPORTED" {
				t.Errorf("MQTT level %d, %s: %d %s, want 403 OPERATION_NOT_SUPPORTED", proto, topic, a.Status, a.Body)
			}
		}
		// Outside its prefix: dropped; the device whose topic it is sees nothing.
		for _, topic := range []string{dev.Endpoint.MQTTTopic, "p/" + dev.Endpoint.MQTTTopic + "/api/apps/" + n.app.AppID + "/things/" + dev.ThingID} {
			if tok := c.Publish(topic, 1, false, "GET\n\n"); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
				t.Fatalf("publish: %v", tok.Error())
			}
		}
		if !c.IsConnectionOpen() {
			t.Fatalf("MQTT level %d: a forbidden publish disconnected the anonymous client", proto)
		}
		// An onboarding after them is answered; nothing else came.
		a := call(t, c, in, "p/anonymous/thing-if/apps/"+n.app.AppID+"/onboardings", onboardFrame("\n", "r", fmt.Sprintf("rules-%d", proto), "pw-1234"), 0)
		if a.Status != 200 {
			t.Fatalf("onboarding after forbidden publishes: %d %s", a.Status, a.Body)
		}
		if got := len(in.Messages()); got != 4 {
			t.Errorf("MQTT level %d: the anonymous client got %d messages, want 4 answers", proto, got)
		}
	}
	if m := devIn.Messages(); len(m) != 0 {
		t.Errorf("the device got %d messages published by anonymous clients", len(m))
	}
}

// TestRESTOverMQTT: a device calls the REST API (/api and /thing-if) by
// publishing request frames to p/{its client ID}/...: LF and CRLF frames,
// header variants, request IDs echoed verbatim, errors in the same frame,
// MQTT 3.1 and 3.1.1, QoS 0 and 1; the answers' frames are golden.
func TestRESTOverMQTT(t *testing.T) { forEachStore(t, testRESTOverMQTT) }

func testRESTOverMQTT(t *testing.T, cfg config) {
	n := mustStartNodeConfig(t, cfg)
	dev := n.mustDevice("rom-dev")
	other := n.mustDevice("rom-other")
	app := n.app.AppID
	seen := map[string]string{app: "<app>", dev.ThingID: "<thing>", dev.Token: "<token>", dev.Endpoint.MQTTTopic: "<topic>"}
	// online is recorded off the connection's path: wait for it, so that
	// the golden thing says _online true.
	online := func(want bool) {
		waitUntil(t, fmt.Sprintf("the thing's _online %v", want), func() bool {
			r := do(t, "GET", n.base+"/api/apps/"+app+"/things/"+dev.ThingID, "", "Authorization", "Bearer "+dev.Token)
			return r.JSON(t)["_online"] == want
		})
	}
	for _, proto := range []uint{3, 4} {
		c, in := deviceMQTT(t, n.mqttURL(broker.TCP), dev.Endpoint, proto)
		online(true)
		p := "p/" + dev.Endpoint.MQTTTopic
		thing := p + "/api/apps/" + app + "/things/" + dev.ThingID
		objects := p + "/api/apps/" + app + "/things/" + dev.ThingID + "/buckets/rom/objects"
		var objectID string
		for _, tc := range []struct {
			name, topic, frame string
			qos                byte
			status             int
			code               string // errorCode, for errors
			golden             string
		}{
			{"GET thing, LF", thing, "GET\nAuthorization: Bearer " + dev.Token + "\nX-Kii-RequestID: req-1\n\n", 0, 200, "", "thing-get"},
			{"GET thing, CRLF, Name:value, lower case", thing, "GET\r\nauthorization:bearer " + dev.Token + "\r\nx-kii-requestid:req-2\r\n\r\n", 1, 200, "", ""},
			{"POST object, trailing CRLF, Content-type", objects, "POST\r\nAuthorization: Bearer " + dev.Token + "\r\nContent-type: application/json\r\nX-Kii-RequestID: abc onboardings 42\r\n\r\n{\"n\":1}\r\n", 1, 201, "", "object-create"},
			{"no request ID", thing, "GET\nAuthorization: Bearer " + dev.Token + "\n\n", 0, 200, "", ""},
			{"thing-if onboarding with its own credentials", p + "/thing-if/apps/" + app + "/onboardings",
				onboardFrame("\r\n", "onb 1", dev.VendorID, "pass-1234"), 0, 200, "", ""},
			{"wrong token: 403", thing, "GET\nAuthorization: Bearer nope\nX-Kii-RequestID: e1\n\n", 0, 403, "WRONG_TOKEN", "wrong-token"},
			{"another thing's: 401", p + "/api/apps/" + app + "/things/" + other.ThingID + "/buckets/xx/objects", "POST\nAuthorization: Bearer " + dev.Token + "\nContent-Type: application/json\nX-Kii-RequestID: e2\n\n{}", 0, 401, "UNAUTHORIZED", "unauthorized"},
			{"no such API: 404", p + "/api/apps/" + app + "/nowhere", "GET\nX-Kii-RequestID: e3\n\n", 0, 404, "NOT_FOUND", "not-found"},
			{"no such object: 404", objects + "/nope", "GET\nAuthorization: Bearer " + dev.Token + "\n\n", 0, 404, "OBJECT_NOT_FOUND", ""},
			{"outside /api and /thing-if: 404", p + "/elsewhere", "GET\n\n", 0, 404, "NOT_FOUND", ""},
			{"malformed: request line", thing, "GET /api/apps/x HTTP/1.1\nX-Kii-RequestID: e4\n\n", 0, 400, "INVALID_INPUT_DATA", "malformed"},
			{"malformed: empty", thing, "", 0, 400, "INVALID_INPUT_DATA", ""},
			{"malformed: header without colon", thing, "GET\r\nX-Kii-RequestID: e5\r\nnot a header\r\n\r\n", 1, 400, "INVALID_INPUT_DATA", ""},
			{"bad JSON body", objects, "POST\nAuthorization: Bearer " + dev.Token + "\nContent-Type: application/json\n\n{\"n\":", 0, 400, "", ""},
		} {
			a := call(t, c, in, tc.topic, tc.frame, tc.qos)
			if a.Status != tc.status {
				t.Fatalf("level %d, %s: status %d, want %d: %s", proto, tc.name, a.Status, tc.status, a.Raw)
			}
			if tc.code != "" && a.JSON(t)["errorCode"] != tc.code {
				t.Errorf("level %d, %s: errorCode %v, want %s", proto, tc.name, a.JSON(t)["errorCode"], tc.code)
			}
			if ct := a.Header["Content-Type"]; (len(a.Body) > 0) != (ct != "") {
				t.Errorf("level %d, %s: Content-Type %q with a body of %d bytes", proto, tc.name, ct, len(a.Body))
			}
			if strings.Contains(strings.ToLower(tc.frame), "x-kii-requestid") != (a.Header["X-Kii-RequestID"] != "") {
				t.Errorf("level %d, %s: request ID echoed wrongly: %q", proto, tc.name, a.Raw)
			}
			if a.Status == 201 {
				objectID = a.JSON(t)["objectID"].(string)
			}
			if tc.golden != "" && proto == 4 {
				checkFrameGolden(t, tc.golden, a, seen)
			}
		}
		// The request ID goes back verbatim, spaces kept, after a colon
		// without a space.
		a := call(t, c, in, thing, "GET\nAuthorization: Bearer "+dev.Token+"\nX-Kii-RequestID:  dev-1 onboardings  x\n\n", 0)
		if !bytes.HasPrefix(a.Raw, []byte("200\r\nX-Kii-RequestID:dev-1 onboardings  x\r\n")) {
			t.Errorf("level %d: answer head %q", proto, a.Raw)
		}
		// A 204 has no body and no Content-Type.
		a = call(t, c, in, objects+"/"+objectID, "DELETE\nAuthorization: Bearer "+dev.Token+"\nX-Kii-RequestID: del\n\n", 0)
		if a.Status != 204 || string(a.Raw) != "204\r\nX-Kii-RequestID:del\r\n\r\n" {
			t.Errorf("level %d: DELETE answer %q", proto, a.Raw)
		}
		if !c.IsConnectionOpen() {
			t.Fatalf("level %d: the device was disconnected", proto)
		}
		c.Disconnect(100)
		online(false)
	}
	// Every listener serves it.
	for _, kind := range []string{broker.TLS, broker.WS, broker.WSS} {
		c, in := deviceMQTT(t, n.mqttURL(kind), dev.Endpoint, 4)
		a := call(t, c, in, "p/"+dev.Endpoint.MQTTTopic+"/api/apps/"+app+"/things/"+dev.ThingID, "GET\nAuthorization: Bearer "+dev.Token+"\n\n", 0)
		if a.Status != 200 {
			t.Errorf("over %s: %q", kind, a.Raw)
		}
		c.Disconnect(100)
	}
}

// TestRESTOverMQTTIsolation: a device may call the API only on its own
// p/{clientID}/ prefix: a request on another device's prefix is
// acknowledged and dropped (neither device sees anything), and answers
// reach the requesting connection alone, never a subscriber.
func TestRESTOverMQTTIsolation(t *testing.T) {
	n := mustStartNode(t)
	alice, bob := n.mustDevice("iso-alice"), n.mustDevice("iso-bob")
	url := n.mqttURL(broker.TCP)
	aliceClient, aliceIn := deviceMQTT(t, url, alice.Endpoint, 4)
	_, bobIn := connectDevice(t, url, bob, 3)
	bobTopic := "p/" + bob.Endpoint.MQTTTopic + "/api/apps/" + n.app.AppID + "/things/" + bob.ThingID + "/buckets/stolen/objects"
	for _, qos := range []byte{0, 1} {
		tok := aliceClient.Publish(bobTopic, qos, false, "POST\nAuthorization: Bearer "+alice.Token+"\nContent-Type: application/json\n\n{}")
		if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}
	// Alice's own request after them is answered, to her only.
	own := "p/" + alice.Endpoint.MQTTTopic + "/api/apps/" + n.app.AppID + "/things/" + alice.ThingID
	if a := call(t, aliceClient, aliceIn, own, "GET\nAuthorization: Bearer "+alice.Token+"\n\n", 0); a.Status != 200 {
		t.Fatalf("own request: %d %s", a.Status, a.Body)
	}
	if m := aliceIn.Messages(); len(m) != 1 {
		t.Errorf("alice got %d messages, want her one answer", len(m))
	}
	if m := bobIn.Messages(); len(m) != 0 {
		t.Errorf("bob got %d messages from alice's publishes", len(m))
	}
	// No request on bob's prefix ran: his bucket was never created.
	r := do(t, "GET", n.base+"/api/apps/"+n.app.AppID+"/things/"+bob.ThingID+"/buckets/stolen", "", "Authorization", "Bearer "+bob.Token)
	if r.Status != 404 {
		t.Errorf("bob's bucket: %d %s, want 404", r.Status, r.Body)
	}
}

// TestClusterRESTOverMQTT: each node serves its own connections over the
// shared database. A device onboards through node B's anonymous broker
// (the answer names node B's broker), reconnects there with its
// endpoint, subscribes its bucket and writes an object over MQTT; node A
// reads the object, and an object written through node A is pushed to the
// device on node B.
func TestClusterRESTOverMQTT(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	nodes, a, _ := startCluster(t, 2)
	nodeB := nodes[1]
	c, in := anonymousMQTT(t, mqttURLOf(nodeB), a.app, 3)
	ans := call(t, c, in, "p/anonymous/thing-if/apps/"+a.app.AppID+"/onboardings", onboardFrame("\n", "cl-1 onboardings", "cluster-dev", "pass-1234"), 0)
	if ans.Status != 200 || ans.Header["X-Kii-RequestID"] != "cl-1 onboardings" {
		t.Fatalf("onboarding on node B: %q", ans.Raw)
	}
	var onb struct {
		ThingID, AccessToken string
		MQTTEndpoint         kumo.MQTTEndpoint `json:"mqttEndpoint"`
	}
	if err := json.Unmarshal(ans.Body, &onb); err != nil {
		t.Fatal(err)
	}
	ep := onb.MQTTEndpoint
	if ep.PortTCP != nodeB.mqttPort {
		t.Fatalf("the onboarding answer names port %d, want node B's %d", ep.PortTCP, nodeB.mqttPort)
	}
	c.Disconnect(100)

	dev, devIn := deviceMQTT(t, fmt.Sprintf("tcp://%s:%d", ep.Host, ep.PortTCP), ep, 4)
	if tok := dev.Subscribe(ep.MQTTTopic, 0, nil); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	p := "p/" + ep.MQTTTopic + "/api/apps/" + a.app.AppID + "/things/" + onb.ThingID + "/buckets/inbox"
	auth := "Authorization: Bearer " + onb.AccessToken + "\n"
	if r := call(t, dev, devIn, p+"/filters/all/push/subscriptions/things/"+onb.ThingID, "PUT\n"+auth+"\n", 1); r.Status != 204 {
		t.Fatalf("subscribe over MQTT: %q", r.Raw)
	}
	r := call(t, dev, devIn, p+"/objects", "POST\n"+auth+"Content-Type: application/json\n\n{\"from\":\"mqtt\"}", 1)
	if r.Status != 201 {
		t.Fatalf("object over MQTT: %q", r.Raw)
	}
	id := r.JSON(t)["objectID"].(string)
	got := do(t, "GET", a.base+"/api/apps/"+a.app.AppID+"/things/"+onb.ThingID+"/buckets/inbox/objects/"+id, "", "Authorization", "Bearer "+onb.AccessToken)
	wantStatus(t, got, 200)
	if got.JSON(t)["from"] != "mqtt" {
		t.Fatalf("node A reads %s", got.Body)
	}
	// A push of an object written through node A reaches the device on node B.
	w := do(t, "POST", a.base+"/api/apps/"+a.app.AppID+"/things/"+onb.ThingID+"/buckets/inbox/objects", `{"from":"http"}`,
		"Authorization", "Bearer "+onb.AccessToken, "Content-Type", "application/json")
	wantStatus(t, w, 201)
	pushed := w.Str(t, "objectID")
	devIn.waitFor(t, "the push on node B", func(m []paho.Message) bool { return pushesByObject(t, onTopic(m, ep.MQTTTopic))[pushed] != nil })
}

// TestOnboardingHostOverMQTT: the mqttEndpoint of an onboarding over MQTT
// names the host the device reached the broker by: the server name it
// asked for over TLS (SNI), the Host of its WebSocket upgrade, else the
// broker's address; --mqtt-public-host when set.
func TestOnboardingHostOverMQTT(t *testing.T) {
	n := mustStartNode(t)
	cfg := testConfig(t.TempDir())
	cfg.PublicHost = "mqtt.public.test"
	public := mustStartNodeConfig(t, cfg)
	for _, tc := range []struct {
		name string
		n    *testNode
		kind string
		opt  func(*paho.ClientOptions)
		want string
	}{
		{"tcp", n, broker.TCP, nil, "127.0.0.1"},
		{"tls with SNI", n, broker.TLS, func(o *paho.ClientOptions) {
			o.SetTLSConfig(&tls.Config{InsecureSkipVerify: true, ServerName: "mqtt.sni.test"})
		}, "mqtt.sni.test"},
		{"tls without SNI", n, broker.TLS, nil, "127.0.0.1"},
		{"ws with a Host", n, broker.WS, func(o *paho.ClientOptions) { o.SetHTTPHeaders(http.Header{"Host": {"ws.host.test:12470"}}) }, "ws.host.test"},
		{"wss", n, broker.WSS, nil, "127.0.0.1"},
		{"public host", public, broker.TCP, nil, "mqtt.public.test"},
	} {
		var opts []func(*paho.ClientOptions)
		if tc.opt != nil {
			opts = append(opts, tc.opt)
		}
		c, in, err := mqttDial(t, tc.n.mqttURL(tc.kind), "anonymous", "type=oauth2&client_id="+tc.n.app.AppID, "client_secret="+tc.n.app.AppKey, 4, opts...)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		a := call(t, c, in, "p/anonymous/thing-if/apps/"+tc.n.app.AppID+"/onboardings", onboardFrame("\n", "h", "host-"+strings.ReplaceAll(tc.name, " ", "-"), "pw-1234"), 0)
		if a.Status != 200 {
			t.Fatalf("%s: %q", tc.name, a.Raw)
		}
		if host := a.JSON(t)["mqttEndpoint"].(map[string]any)["host"]; host != tc.want {
			t.Errorf("%s: mqttEndpoint host %v, want %s", tc.name, host, tc.want)
		}
		c.Disconnect(100)
	}
}

// TestThingIFStatesOverMQTT: a device that onboarded over MQTT uploads its
// state over MQTT as push-mqtt §9.7 shows (201 the first time, then 204,
// to the byte), the target in either case, and the owner side reads it
// over HTTP.
func TestThingIFStatesOverMQTT(t *testing.T) { forEachStore(t, testThingIFStatesOverMQTT) }

func testThingIFStatesOverMQTT(t *testing.T, cfg config) {
	n := mustStartNodeConfig(t, cfg)
	app := n.app.AppID
	c, in := anonymousMQTT(t, n.mqttURL(broker.TCP), n.app, 3)
	a := call(t, c, in, "p/anonymous/thing-if/apps/"+app+"/onboardings", onboardFrame("\r\n", "st onboardings", "state-dev", "pass-1234"), 0)
	if a.Status != 200 {
		t.Fatalf("onboarding: %q", a.Raw)
	}
	var onb struct {
		ThingID, AccessToken string
		MQTTEndpoint         kumo.MQTTEndpoint `json:"mqttEndpoint"`
	}
	if err := json.Unmarshal(a.Body, &onb); err != nil {
		t.Fatal(err)
	}
	c.Disconnect(100)
	for i, proto := range []uint{3, 4} {
		dev, devIn := deviceMQTT(t, n.mqttURL(broker.TCP), onb.MQTTEndpoint, proto)
		target := []string{"thing:", "THING:"}[i]
		topic := "p/" + onb.MQTTEndpoint.MQTTTopic + "/thing-if/apps/" + app + "/targets/" + target + onb.ThingID + "/states"
		frame := func(power bool) string {
			return "PUT\r\nAuthorization: Bearer " + onb.AccessToken + "\r\nContent-Type: application/json\r\nX-Kii-RequestID: req-000" + strconv.Itoa(i) + "\r\n\r\n" +
				fmt.Sprintf(`{"power":%v,"currentTemperature":28}`, power)
		}
		a := call(t, dev, devIn, topic, frame(i == 0), 1)
		want := []int{201, 204}[i]
		if a.Status != want {
			t.Fatalf("level %d: state PUT over MQTT: %q, want %d", proto, a.Raw, want)
		}
		a = call(t, dev, devIn, topic, frame(true), 0)
		if want := "204\r\nX-Kii-RequestID:req-000" + strconv.Itoa(i) + "\r\n\r\n"; string(a.Raw) != want {
			t.Errorf("level %d: answer %q, want %q (push-mqtt §9.7)", proto, a.Raw, want)
		}
		dev.Disconnect(100)
	}
	r := do(t, "GET", n.base+"/thing-if/apps/"+app+"/targets/thing:"+onb.ThingID+"/states", "", "Authorization", "Bearer "+onb.AccessToken)
	wantStatus(t, r, 200)
	if m := r.JSON(t); m["power"] != true || fmt.Sprint(m["currentTemperature"]) != "28" {
		t.Errorf("state read over HTTP: %s", r.Body)
	}
}
