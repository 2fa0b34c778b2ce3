package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRemainingLength(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want []byte
	}{
		{0, []byte{0x00}},
		{1, []byte{0x01}},
		{127, []byte{0x7f}},
		{128, []byte{0x80, 0x01}},
		{321, []byte{0xc1, 0x02}},
		{16383, []byte{0xff, 0x7f}},
		{16384, []byte{0x80, 0x80, 0x01}},
		{2097151, []byte{0xff, 0xff, 0x7f}},
		{2097152, []byte{0x80, 0x80, 0x80, 0x01}},
		{mqttMaxRemLen, []byte{0xff, 0xff, 0xff, 0x7f}},
	} {
		got := appendRemainingLength([]byte{0xaa}, tc.n)
		if !bytes.Equal(got[1:], tc.want) || got[0] != 0xaa {
			t.Errorf("appendRemainingLength(%d) = % x, want aa % x", tc.n, got, tc.want)
		}
		n, err := readRemainingLength(bytes.NewReader(append(tc.want, 0x33)))
		if n != tc.n || err != nil {
			t.Errorf("readRemainingLength(% x) = %d, %v; want %d", tc.want, n, err, tc.n)
		}
	}
	if _, err := readRemainingLength(bytes.NewReader([]byte{0xff, 0xff, 0xff, 0xff, 0x01})); err == nil {
		t.Error("readRemainingLength of five bytes succeeded")
	}
	if _, err := readRemainingLength(bytes.NewReader([]byte{0x80})); err != io.EOF {
		t.Errorf("readRemainingLength of a cut length = %v, want EOF", err)
	}
}

func TestConnectPacket(t *testing.T) {
	got, err := connectPacket("c1", "user", "pw", 60)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{
		0x10, 24, // CONNECT, remaining length
		0, 4, 'M', 'Q', 'T', 'T', // protocol name
		4,     // level: 3.1.1
		0xc2,  // username, password, clean session
		0, 60, // keep-alive
		0, 2, 'c', '1',
		0, 4, 'u', 's', 'e', 'r',
		0, 2, 'p', 'w',
	}
	if !bytes.Equal(got, want) {
		t.Errorf("connectPacket =\n% x\nwant\n% x", got, want)
	}

	long := strings.Repeat("x", 200)
	got, err = connectPacket(long, "u", "p", 60)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := readRemainingLength(bytes.NewReader(got[1:])); err != nil || n != len(got)-3 || n != 10+2+200+3+3 {
		t.Errorf("connectPacket with a 200-byte ID: remaining length %d, %v; packet of %d bytes", n, err, len(got))
	}
	if _, err := connectPacket(strings.Repeat("x", 70000), "u", "p", 60); err == nil {
		t.Error("connectPacket with a client ID of 70000 bytes succeeded")
	}
}

func TestSubscribePacket(t *testing.T) {
	got, err := subscribePacket(1, "a/b")
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{
		0x82, 8, // SUBSCRIBE with its reserved flags, remaining length
		0, 1, // packet identifier
		0, 3, 'a', '/', 'b',
		0, // QoS 0
	}
	if !bytes.Equal(got, want) {
		t.Errorf("subscribePacket = % x, want % x", got, want)
	}
}

func TestParsePublish(t *testing.T) {
	for _, tc := range []struct {
		name    string
		first   byte
		body    []byte
		topic   string
		payload string
		id      uint16
		bad     bool
	}{
		{"QoS 0", 0x30, []byte("\x00\x03a/b{\"x\":1}"), "a/b", `{"x":1}`, 0, false},
		{"QoS 0 retained dup", 0x39, []byte("\x00\x01tp"), "t", "p", 0, false},
		{"empty payload", 0x30, []byte("\x00\x01t"), "t", "", 0, false},
		{"empty topic", 0x30, []byte("\x00\x00p"), "", "p", 0, false},
		{"QoS 1", 0x32, []byte("\x00\x01t\x12\x34p"), "t", "p", 0x1234, false},
		{"QoS 2", 0x34, []byte("\x00\x01t\x00\x07p"), "t", "p", 7, false},
		{"no topic length", 0x30, []byte("\x00"), "", "", 0, true},
		{"topic longer than the body", 0x30, []byte("\x00\x05abc"), "", "", 0, true},
		{"QoS 1 without identifier", 0x32, []byte("\x00\x01t\x00"), "", "", 0, true},
		{"QoS 3", 0x36, []byte("\x00\x01tp"), "", "", 0, true},
	} {
		topic, payload, id, err := parsePublish(tc.first, tc.body)
		if tc.bad {
			if err == nil {
				t.Errorf("%s: parsePublish succeeded", tc.name)
			}
			continue
		}
		if err != nil || string(topic) != tc.topic || string(payload) != tc.payload || id != tc.id {
			t.Errorf("%s: parsePublish = %q, %q, %d, %v; want %q, %q, %d", tc.name, topic, payload, id, err, tc.topic, tc.payload, tc.id)
		}
	}
}

// publishPacket is a QoS 0 PUBLISH of payload to topic.
func publishPacket(topic string, payload []byte) []byte {
	b := []byte{mqttPublish << 4}
	b = appendRemainingLength(b, 2+len(topic)+len(payload))
	b = appendString(b, topic)
	return append(b, payload...)
}

func TestReadPacket(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789"), 1000) // longer than the bufio buffer
	var stream []byte
	stream = append(stream, publishPacket("t", []byte("small"))...)
	stream = append(stream, 0xd0, 0x00) // PINGRESP
	stream = append(stream, publishPacket("t", big)...)
	stream = append(stream, publishPacket("t", []byte("again"))...)
	r := bufio.NewReader(bytes.NewReader(stream))

	var buf []byte
	next := func() (byte, []byte) {
		t.Helper()
		first, body, err := readPacket(r, buf)
		if err != nil {
			t.Fatalf("readPacket: %v", err)
		}
		buf = body
		return first, body
	}
	if first, body := next(); first != 0x30 || string(body) != "\x00\x01tsmall" {
		t.Errorf("packet 1 = %02x % x", first, body)
	}
	if first, body := next(); first != 0xd0 || len(body) != 0 {
		t.Errorf("packet 2 = %02x % x", first, body)
	}
	if first, body := next(); first != 0x30 || !bytes.Equal(body[3:], big) {
		t.Errorf("packet 3 = %02x of %d bytes", first, len(body))
	}
	bigBuf := &buf[:1][0]
	if first, body := next(); first != 0x30 || string(body) != "\x00\x01tagain" || &body[0] != bigBuf {
		t.Errorf("packet 4 = %02x % x, or not read into the buffer of packet 3", first, body)
	}
	if _, _, err := readPacket(r, buf); err != io.EOF {
		t.Errorf("readPacket at the end = %v, want EOF", err)
	}

	cut := publishPacket("t", []byte("payload"))
	if _, _, err := readPacket(bufio.NewReader(bytes.NewReader(cut[:len(cut)-2])), nil); err != io.ErrUnexpectedEOF {
		t.Errorf("readPacket of a cut packet = %v, want ErrUnexpectedEOF", err)
	}
	if _, _, err := readPacket(bufio.NewReader(bytes.NewReader([]byte{0x30})), nil); err != io.ErrUnexpectedEOF {
		t.Errorf("readPacket of a packet without length = %v, want ErrUnexpectedEOF", err)
	}
	huge := appendRemainingLength([]byte{0x30}, mqttMaxIncoming+1)
	if _, _, err := readPacket(bufio.NewReader(bytes.NewReader(huge)), nil); err == nil {
		t.Error("readPacket of a packet larger than mqttMaxIncoming succeeded")
	}
}

// fakeBroker accepts one connection on a loopback port and runs serve on
// it; the test waits for serve to return.
func fakeBroker(t *testing.T, serve func(c *brokerConn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		conn, err := ln.Accept()
		if err != nil {
			t.Errorf("accept: %v", err)
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		serve(&brokerConn{t: t, conn: conn, r: bufio.NewReader(conn)})
	})
	return ln.Addr().String()
}

// brokerConn is the broker's side of a connection.
type brokerConn struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

// expect reads a packet and checks that it is exactly want.
func (c *brokerConn) expect(what string, want []byte) bool {
	c.t.Helper()
	first, body, err := readPacket(c.r, nil)
	if err != nil {
		c.t.Errorf("broker: read %s: %v", what, err)
		return false
	}
	got := appendRemainingLength([]byte{first}, len(body))
	got = append(got, body...)
	if !bytes.Equal(got, want) {
		c.t.Errorf("broker: %s =\n% x\nwant\n% x", what, got, want)
		return false
	}
	return true
}

// skip reads a packet.
func (c *brokerConn) skip() {
	if _, _, err := readPacket(c.r, nil); err != nil {
		c.t.Errorf("broker: read: %v", err)
	}
}

func (c *brokerConn) send(b ...byte) {
	c.t.Helper()
	if _, err := c.conn.Write(b); err != nil {
		c.t.Errorf("broker: write: %v", err)
	}
}

// handshake expects the CONNECT and SUBSCRIBE of client "dev" and accepts
// them.
func (c *brokerConn) handshake() bool {
	c.t.Helper()
	connect, _ := connectPacket("dev", "user", "pass", mqttKeepAlive)
	if !c.expect("CONNECT", connect) {
		return false
	}
	c.send(0x20, 0x02, 0x00, 0x00)
	subscribe, _ := subscribePacket(1, "dev")
	if !c.expect("SUBSCRIBE", subscribe) {
		return false
	}
	c.send(0x90, 0x03, 0x00, 0x01, 0x00)
	return true
}

// inbox collects what a device receives.
type inbox struct {
	mu       sync.Mutex
	payloads []string
	lost     []error
	changed  chan struct{}
}

func newInbox() *inbox { return &inbox{changed: make(chan struct{}, 100)} }

func (in *inbox) push(p []byte) {
	in.mu.Lock()
	in.payloads = append(in.payloads, string(p))
	in.mu.Unlock()
	in.changed <- struct{}{}
}

func (in *inbox) onLost(err error) {
	in.mu.Lock()
	in.lost = append(in.lost, err)
	in.mu.Unlock()
	in.changed <- struct{}{}
}

// wait waits until cond holds.
func (in *inbox) wait(t *testing.T, what string, cond func(payloads []string, lost []error) bool) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		in.mu.Lock()
		ok := cond(in.payloads, in.lost)
		in.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-in.changed:
		case <-timeout:
			in.mu.Lock()
			defer in.mu.Unlock()
			t.Fatalf("timed out waiting for %s; payloads %q, lost %v", what, in.payloads, in.lost)
		}
	}
}

func TestDialDevice(t *testing.T) {
	big := strings.Repeat("0123456789", 1000) // longer than the bufio buffer
	disconnected := make(chan struct{})
	addr := fakeBroker(t, func(c *brokerConn) {
		if !c.handshake() {
			return
		}
		c.send(publishPacket("dev", []byte(`{"n":1}`))...)
		c.send(publishPacket("dev", []byte(big))...)
		c.send(0xd0, 0x00) // PINGRESP
		c.send(0x32, 0x08, 0x00, 0x03, 'd', 'e', 'v', 0x12, 0x34, 'q')
		if c.expect("PUBACK", []byte{0x40, 0x02, 0x12, 0x34}) && c.expect("DISCONNECT", []byte{0xe0, 0x00}) {
			if _, err := c.r.ReadByte(); err != io.EOF {
				c.t.Errorf("broker: after DISCONNECT: %v, want EOF", err)
			}
		}
		close(disconnected)
	})
	in := newInbox()
	d, err := dialDevice(context.Background(), addr, "dev", "user", "pass", in.push, in.onLost)
	if err != nil {
		t.Fatal(err)
	}
	in.wait(t, "three payloads", func(p []string, _ []error) bool { return len(p) == 3 })
	if err := d.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	select {
	case <-disconnected:
	case <-time.After(5 * time.Second):
		t.Fatal("the broker did not see the DISCONNECT")
	}
	if got := in.payloads; got[0] != `{"n":1}` || got[1] != big || got[2] != "q" {
		t.Errorf("payloads = %.40q", got)
	}
	if len(in.lost) != 0 {
		t.Errorf("onLost was called after Close: %v", in.lost)
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestDialDeviceKeepAlive(t *testing.T) {
	defer func(d time.Duration) { mqttPingEvery = d }(mqttPingEvery)
	mqttPingEvery = 50 * time.Millisecond
	addr := fakeBroker(t, func(c *brokerConn) {
		if !c.handshake() {
			return
		}
		start := time.Now()
		for i := range 3 {
			if i == 1 {
				// Traffic does not delay the pings: the device sends nothing else.
				c.send(publishPacket("dev", []byte("p"))...)
			}
			if !c.expect("PINGREQ", []byte{0xc0, 0x00}) {
				return
			}
			c.send(0xd0, 0x00)
		}
		if d := time.Since(start); d < 100*time.Millisecond {
			c.t.Errorf("broker: three PINGREQs in %v, want one every 50ms", d)
		}
		for { // more PINGREQs until the DISCONNECT
			first, body, err := readPacket(c.r, nil)
			switch {
			case err != nil:
				c.t.Errorf("broker: waiting for DISCONNECT: %v", err)
				return
			case first == 0xe0 && len(body) == 0:
				return
			case first != 0xc0 || len(body) != 0:
				c.t.Errorf("broker: got packet %02x % x, want PINGREQ or DISCONNECT", first, body)
				return
			}
			c.send(0xd0, 0x00)
		}
	})
	in := newInbox()
	d, err := dialDevice(context.Background(), addr, "dev", "user", "pass", in.push, in.onLost)
	if err != nil {
		t.Fatal(err)
	}
	in.wait(t, "the payload", func(p []string, _ []error) bool { return len(p) == 1 })
	time.Sleep(200 * time.Millisecond)
	d.Close()
	if len(in.lost) != 0 {
		t.Errorf("onLost: %v", in.lost)
	}
}

func TestDialDeviceLost(t *testing.T) {
	addr := fakeBroker(t, func(c *brokerConn) {
		if c.handshake() {
			c.send(publishPacket("dev", []byte("p"))...)
			c.send(0x30, 0x10, 0x00) // cut
		}
	})
	in := newInbox()
	d, err := dialDevice(context.Background(), addr, "dev", "user", "pass", in.push, in.onLost)
	if err != nil {
		t.Fatal(err)
	}
	in.wait(t, "the lost connection", func(_ []string, lost []error) bool { return len(lost) == 1 })
	if !errors.Is(in.lost[0], io.ErrUnexpectedEOF) || len(in.payloads) != 1 {
		t.Errorf("lost = %v, payloads = %q; want ErrUnexpectedEOF after one payload", in.lost, in.payloads)
	}
	if err := d.Close(); err != nil {
		t.Errorf("Close after a lost connection: %v", err)
	}
	if len(in.lost) != 1 {
		t.Errorf("onLost called %d times", len(in.lost))
	}
}

func TestDialDeviceRefused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		serve func(c *brokerConn)
		want  string
	}{
		{"bad credentials", func(c *brokerConn) {
			c.skip()
			c.send(0x20, 0x02, 0x00, 0x05)
		}, "return code 5"},
		{"session present", func(c *brokerConn) {
			c.skip()
			c.send(0x20, 0x02, 0x01, 0x00)
		}, "CONNACK flags 0x01"},
		{"not a CONNACK", func(c *brokerConn) {
			c.skip()
			c.send(0xd0, 0x00)
		}, "expected CONNACK"},
		{"subscription refused", func(c *brokerConn) {
			c.skip()
			c.send(0x20, 0x02, 0x00, 0x00)
			c.skip()
			c.send(0x90, 0x03, 0x00, 0x01, 0x80)
		}, "refused the subscription"},
		{"SUBACK of another packet", func(c *brokerConn) {
			c.skip()
			c.send(0x20, 0x02, 0x00, 0x00)
			c.skip()
			c.send(0x90, 0x03, 0x00, 0x02, 0x00)
		}, "unexpected SUBACK"},
		{"closed", func(c *brokerConn) {}, "read CONNACK"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := fakeBroker(t, tc.serve)
			d, err := dialDevice(context.Background(), addr, "dev", "user", "pass", func([]byte) {}, nil)
			if err == nil {
				d.Close()
				t.Fatal("dialDevice succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("dialDevice: %v; want an error with %q", err, tc.want)
			}
		})
	}
}

func TestDialDeviceCancelled(t *testing.T) {
	release := make(chan struct{})
	addr := fakeBroker(t, func(c *brokerConn) { <-release }) // never answers
	defer close(release)
	ctx, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("stop now")
	time.AfterFunc(50*time.Millisecond, func() { cancel(cause) })
	start := time.Now()
	_, err := dialDevice(ctx, addr, "dev", "user", "pass", func([]byte) {}, nil)
	if !errors.Is(err, cause) {
		t.Errorf("dialDevice = %v, want the context's cause", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("dialDevice took %v after the cancellation", d)
	}
}

func TestStringField(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{`{"createdAt":1,"dataType":"application/json","objectID":"abc-123"}`, "abc-123", true},
		{"{\n  \"createdAt\" : 1,\n  \"objectID\" : \"abc-123\"\n}", "abc-123", true}, // Kii's style
		{"{\"objectID\"\t:\r\n\"x\"}", "x", true},
		{`{"objectID":""}`, "", true},
		{`{"objectID":"a\"b"}`, "", false},    // escapes
		{`{"objectID":"a\u0062"}`, "", false}, // escapes
		{`{"objectID":12}`, "", false},
		{`{"objectID":"abc`, "", false},
		{`{"objectID"`, "", false},
		{`{"other":"\"objectID\":\"no","objectID":"yes"}`, "yes", true}, // a key in a string is none
		{`{"other":"objectID","objectID":"yes"}`, "yes", true},          // nor is a value
		{`{"parentobjectID":"no","objectID":"yes"}`, "yes", true},
		{`{"other":"no"}`, "", false},
	} {
		got, ok := stringField([]byte(tc.in), objectIDKey)
		if string(got) != tc.want || ok != tc.ok {
			t.Errorf("stringField(%s) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestAnswerObjectID(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		bad      bool
	}{
		{`{"createdAt":1,"dataType":"application/json","objectID":"abc-123"}`, "abc-123", false},
		{`{ "objectID" : "spaced" }`, "spaced", false},
		{`{"objectID":"a\u0062"}`, "ab", false},
		{`{"objectID":""}`, "", true},
		{`{}`, "", true},
		{`<html>`, "", true},
	} {
		got, err := answerObjectID([]byte(tc.in))
		if got != tc.want || (err != nil) != tc.bad {
			t.Errorf("answerObjectID(%s) = %q, %v; want %q (error: %v)", tc.in, got, err, tc.want, tc.bad)
		}
	}
}

func TestKeep(t *testing.T) {
	long := strings.Repeat("x", 3000)
	buf := make([]byte, 0, 16)
	got, err := keep(buf, strings.NewReader(long), -1)
	if err != nil || string(got) != long {
		t.Errorf("keep to the end = %d bytes, %v", len(got), err)
	}
	got, err = keep(got[:0], strings.NewReader(long), 10)
	if err != nil || string(got) != long[:10] {
		t.Errorf("keep 10 = %q, %v", got, err)
	}
	got, err = keep(got[:0], strings.NewReader("short"), 10)
	if err != io.ErrUnexpectedEOF || string(got) != "short" {
		t.Errorf("keep 10 of 5 bytes = %q, %v; want io.ErrUnexpectedEOF", got, err)
	}
	r := io.LimitReader(zeros{}, 2*maxAnswer+1)
	got, err = keep(got[:0], r, 2*maxAnswer)
	if err != nil || len(got) != maxAnswer {
		t.Errorf("keep of a long answer = %d bytes, %v; want %d", len(got), err, maxAnswer)
	}
	if rest, _ := io.ReadAll(r); len(rest) != 1 {
		t.Errorf("keep of a long answer left %d bytes unread; want 1", len(rest))
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestParseAnswer(t *testing.T) {
	for _, tc := range []struct {
		in     string
		status int
		id     string
	}{
		{"204\r\nX-Kii-RequestID:abc\r\n\r\n", 204, "abc"},
		{"204\r\nContent-Type: application/json\r\nx-kii-requestid: abc def\r\n\r\n{}", 204, "abc def"},
		{"404\nX-Kii-RequestID:c-1\n\n{\"errorCode\":\"NOT_FOUND\"}", 404, "c-1"},
		{"200\r\n\r\n{\"X-Kii-RequestID:\":\"no\"}", 200, ""},
		{"HTTP/1.1 200\r\n\r\n", 0, ""},
		{"", 0, ""},
	} {
		status, id := parseAnswer([]byte(tc.in))
		if status != tc.status || string(id) != tc.id {
			t.Errorf("parseAnswer(%q) = %d, %q; want %d, %q", tc.in, status, id, tc.status, tc.id)
		}
	}
}

// TestDialDeviceTopicsReply checks that the handler sees each PUBLISH's
// topic and that the reply it returns is published, as a device answers
// a command with its action results over REST over MQTT.
func TestDialDeviceTopicsReply(t *testing.T) {
	addr := fakeBroker(t, func(c *brokerConn) {
		if !c.handshake() {
			return
		}
		c.send(publishPacket("dev", []byte(`{"commandID":"c-1"}`))...)
		if !c.expect("the reply", publishPacket("p/dev/reply/c-1", []byte("PUT\r\n\r\n{}"))) {
			return
		}
		c.send(publishPacket("p/dev/reply/c-1", []byte("204\r\n\r\n"))...)
		c.skip() // DISCONNECT
	})
	in := newInbox()
	handle := func(topic, payload []byte) ([]byte, []byte) {
		in.push([]byte(string(topic) + " " + string(payload)))
		if string(topic) == "dev" {
			return []byte("p/dev/reply/c-1"), []byte("PUT\r\n\r\n{}")
		}
		return nil, nil
	}
	d, err := dialDeviceTopics(context.Background(), addr, "dev", "user", "pass", handle, in.onLost)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	in.wait(t, "the push and the answer", func(p []string, _ []error) bool { return len(p) == 2 })
	in.mu.Lock()
	defer in.mu.Unlock()
	if want := []string{`dev {"commandID":"c-1"}`, "p/dev/reply/c-1 204\r\n\r\n"}; !slices.Equal(in.payloads, want) {
		t.Errorf("received %q, want %q", in.payloads, want)
	}
}
