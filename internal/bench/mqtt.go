package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"time"
)

// This file is a minimal MQTT 3.1.1 client for the simulated devices: it
// connects, subscribes to one topic at QoS 0 and receives publications.
// A general-purpose client (paho) costs about five goroutines and several
// allocations per connection and message; with a thousand devices in the
// same process as the server, their stacks and garbage made the
// collector, not the server, set the tail latency. This client runs one
// goroutine per device and reads packets into a buffer it reuses.

// MQTT 3.1.1 control packet types (the high nibble of the first byte).
const (
	mqttConnect     = 1
	mqttConnack     = 2
	mqttPublish     = 3
	mqttPuback      = 4
	mqttSubscribe   = 8
	mqttSuback      = 9
	mqttPingreq     = 12
	mqttPingresp    = 13
	mqttDisconnect  = 14
	mqttMaxRemLen   = 268_435_455 // the largest remaining length of the protocol
	mqttMaxIncoming = 1 << 20     // the largest packet a device accepts
)

// mqttKeepAlive is the keep-alive announced in CONNECT, in seconds.
const mqttKeepAlive = 60

// mqttPingEvery is how often a device sends PINGREQ: half the keep-alive,
// whatever else arrives, since a device sends nothing else. A variable so
// that tests can shorten it.
var mqttPingEvery = mqttKeepAlive * time.Second / 2

// mqttDevice is the MQTT connection of one device, subscribed to its topic.
// One goroutine reads its packets; it also sends the PINGREQs, when the
// connection's read deadline passes (see Read).
type mqttDevice struct {
	conn   net.Conn
	r      *bufio.Reader // reads from the device itself (see Read)
	buf    []byte        // the body of the packet being handled; reused
	onPush func(topic, payload []byte) (replyTopic, reply []byte)
	onLost func(error)
	ping   bool // Read sends PINGREQ at the read deadline; set before the reader starts
	closed atomic.Bool
	done   chan struct{} // closed when the reader goroutine returns
}

// dialDevice connects to the MQTT server at addr (host:port) as clientID
// with a clean session, subscribes to the topic clientID at QoS 0 and
// starts reading: onPush receives the payload of every PUBLISH, in order,
// from the device's one reader goroutine. The payload is only valid
// during the call: the device reuses its memory for the next packet, so
// onPush must copy what it keeps. onLost, when not nil, receives the
// error that ended the connection unless Close ended it.
//
// The connection and handshake together take at most mqttTimeout, and
// stop when ctx is done; ctx does not matter once dialDevice returns.
func dialDevice(ctx context.Context, addr, clientID, username, password string, onPush func(payload []byte), onLost func(error)) (*mqttDevice, error) {
	handle := func(_, payload []byte) (_, _ []byte) {
		onPush(payload)
		return nil, nil
	}
	return dialDeviceTopics(ctx, addr, clientID, username, password, handle, onLost)
}

// dialDeviceTopics is dialDevice whose handler also receives the topic of
// each PUBLISH (the device's own topic, or the topic of a REST-over-MQTT
// request it published, on which the server answers; topic and payload
// are only valid during the call) and may answer it: when it returns a
// replyTopic, the device publishes reply there at QoS 0 before it reads
// on. The handler may reuse the memory of reply in its next call.
func dialDeviceTopics(ctx context.Context, addr, clientID, username, password string, onPush func(topic, payload []byte) (replyTopic, reply []byte), onLost func(error)) (*mqttDevice, error) {
	connect, err := connectPacket(clientID, username, password, mqttKeepAlive)
	if err != nil {
		return nil, err
	}
	subscribe, err := subscribePacket(1, clientID)
	if err != nil {
		return nil, err
	}
	dialer := net.Dialer{Timeout: mqttTimeout}
	conn, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("mqtt connect to %s: %w", addr, err)
	}
	d := &mqttDevice{conn: conn, onPush: onPush, onLost: onLost, done: make(chan struct{})}
	d.r = bufio.NewReader(d)
	if err := d.handshake(ctx, connect, subscribe); err != nil {
		conn.Close()
		if ctx.Err() != nil {
			err = context.Cause(ctx)
		}
		return nil, fmt.Errorf("mqtt %s at %s: %w", clientID, addr, err)
	}
	d.ping = true
	conn.SetWriteDeadline(time.Time{})
	conn.SetReadDeadline(time.Now().Add(mqttPingEvery))
	go d.readLoop()
	return d, nil
}

// handshake sends CONNECT and SUBSCRIBE and reads their answers, within
// mqttTimeout and while ctx is not done.
func (d *mqttDevice) handshake(ctx context.Context, connect, subscribe []byte) error {
	deadline := time.Now().Add(mqttTimeout)
	if t, ok := ctx.Deadline(); ok && t.Before(deadline) {
		deadline = t
	}
	d.conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { d.conn.SetDeadline(time.Unix(1, 0)) })
	err := d.exchange(connect, subscribe)
	if !stop() && err == nil {
		err = context.Cause(ctx) // the deadline may be in the past now
	}
	return err
}

// exchange sends CONNECT and SUBSCRIBE and reads their answers.
func (d *mqttDevice) exchange(connect, subscribe []byte) error {
	if _, err := d.conn.Write(connect); err != nil {
		return fmt.Errorf("send CONNECT: %w", err)
	}
	first, body, err := d.readPacket()
	if err != nil {
		return fmt.Errorf("read CONNACK: %w", err)
	}
	if first != mqttConnack<<4 || len(body) != 2 {
		return fmt.Errorf("expected CONNACK, got packet 0x%02x of %d bytes", first, len(body))
	}
	if body[0] != 0 || body[1] != 0 {
		return fmt.Errorf("connection refused: CONNACK flags 0x%02x, return code %d", body[0], body[1])
	}

	if _, err := d.conn.Write(subscribe); err != nil {
		return fmt.Errorf("send SUBSCRIBE: %w", err)
	}
	for {
		first, body, err := d.readPacket()
		if err != nil {
			return fmt.Errorf("read SUBACK: %w", err)
		}
		switch first >> 4 {
		case mqttSuback:
			if first != mqttSuback<<4 || len(body) != 3 || body[0] != 0 || body[1] != 1 {
				return fmt.Errorf("unexpected SUBACK % x", body)
			}
			if body[2] == 0x80 {
				return errors.New("the server refused the subscription (SUBACK 0x80)")
			}
			return nil
		case mqttPublish: // a server may publish before its SUBACK
			if err := d.handle(first, body); err != nil {
				return err
			}
		}
	}
}

// readLoop reads and handles packets until the connection fails or Close
// closes it.
func (d *mqttDevice) readLoop() {
	defer close(d.done)
	for {
		first, body, err := d.readPacket()
		if err == nil {
			err = d.handle(first, body)
		}
		if err != nil {
			d.conn.Close()
			if !d.closed.Load() && d.onLost != nil {
				d.onLost(err)
			}
			return
		}
	}
}

// handle handles a packet the server sent: a PUBLISH goes to onPush
// (after its PUBACK, at QoS 1); PINGRESP and the rest are ignored.
func (d *mqttDevice) handle(first byte, body []byte) error {
	if first>>4 != mqttPublish {
		return nil
	}
	topic, payload, id, err := parsePublish(first, body)
	if err != nil {
		return err
	}
	qos := (first >> 1) & 3
	if qos == 2 {
		return errors.New("unexpected PUBLISH at QoS 2 on a QoS 0 subscription")
	}
	// The PUBACK goes first: onPush may lead the device's owner to Close,
	// whose DISCONNECT must not overtake it.
	if qos == 1 {
		if _, err := d.conn.Write([]byte{mqttPuback << 4, 2, byte(id >> 8), byte(id)}); err != nil {
			return fmt.Errorf("send PUBACK: %w", err)
		}
	}
	if rt, rp := d.onPush(topic, payload); rt != nil {
		return d.publish(rt, rp)
	}
	return nil
}

// publish sends payload to topic at QoS 0, from the reader goroutine.
func (d *mqttDevice) publish(topic, payload []byte) error {
	if len(topic) > 0xffff {
		return fmt.Errorf("mqtt: topic of %d bytes is longer than 65535", len(topic))
	}
	n := 2 + len(topic) + len(payload)
	b := make([]byte, 0, 5+n)
	b = append(b, mqttPublish<<4)
	b = appendRemainingLength(b, n)
	b = append(b, byte(len(topic)>>8), byte(len(topic)))
	b = append(b, topic...)
	b = append(b, payload...)
	if _, err := d.conn.Write(b); err != nil {
		return fmt.Errorf("send PUBLISH: %w", err)
	}
	return nil
}

// readPacket reads the next packet into d.buf and returns its first byte
// and its body (variable header and payload), valid until the next call.
func (d *mqttDevice) readPacket() (first byte, body []byte, err error) {
	first, body, err = readPacket(d.r, d.buf)
	if body != nil {
		d.buf = body
	}
	return first, body, err
}

// Read reads from the connection for d.r. Once the device is subscribed,
// the connection's read deadline is when the next PINGREQ is due: Read
// then sends it, moves the deadline mqttPingEvery later and reads on. So
// the packet parser never sees the deadline, and keep-alive costs neither
// a goroutine nor a timer beyond the connection's own.
func (d *mqttDevice) Read(p []byte) (int, error) {
	for {
		n, err := d.conn.Read(p)
		if err == nil || !d.ping || !isTimeout(err) {
			return n, err
		}
		if n > 0 {
			return n, nil // the next Read meets the deadline again
		}
		if _, err := d.conn.Write([]byte{mqttPingreq << 4, 0}); err != nil {
			return 0, fmt.Errorf("send PINGREQ: %w", err)
		}
		if err := d.conn.SetReadDeadline(time.Now().Add(mqttPingEvery)); err != nil {
			return 0, err
		}
	}
}

// isTimeout reports whether err is a deadline expiry.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Close sends DISCONNECT, closes the connection and waits for the reader
// goroutine to return. onLost is not called for what Close does.
func (d *mqttDevice) Close() error {
	if d.closed.Swap(true) {
		<-d.done
		return nil
	}
	d.conn.SetWriteDeadline(time.Now().Add(time.Second))
	_, err := d.conn.Write([]byte{mqttDisconnect << 4, 0})
	if cerr := d.conn.Close(); err == nil && !errors.Is(cerr, net.ErrClosed) {
		err = cerr
	}
	<-d.done
	if errors.Is(err, net.ErrClosed) {
		err = nil // the connection had already failed
	}
	return err
}

// readPacket reads a packet from r: its first byte, then the remaining
// length, then that many bytes of body into buf, which it grows when it is
// too small. body is buf[:length], or a larger buffer's; it is nil when
// the error came before the body.
func readPacket(r *bufio.Reader, buf []byte) (first byte, body []byte, err error) {
	first, err = r.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	n, err := readRemainingLength(r)
	if err != nil {
		return first, nil, noEOF(err)
	}
	if n > mqttMaxIncoming {
		return first, nil, fmt.Errorf("packet 0x%02x of %d bytes is larger than %d", first, n, mqttMaxIncoming)
	}
	if cap(buf) < n {
		buf = make([]byte, n, max(n, 2*cap(buf)))
	}
	body = buf[:n]
	if _, err := io.ReadFull(r, body); err != nil {
		return first, body, noEOF(err)
	}
	return first, body, nil
}

// noEOF turns io.EOF, met inside a packet, into io.ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readRemainingLength reads the variable-length remaining length of a
// fixed header: up to four bytes of seven bits each, least significant
// first, the high bit set on all but the last.
func readRemainingLength(r io.ByteReader) (int, error) {
	n := 0
	for i := range 4 {
		b, err := r.ReadByte()
		if err != nil {
			return 0, err
		}
		n |= int(b&0x7f) << (7 * i)
		if b&0x80 == 0 {
			return n, nil
		}
	}
	return 0, errors.New("malformed remaining length: more than four bytes")
}

// appendRemainingLength appends the encoding of n, 0 <= n <=
// mqttMaxRemLen, as a remaining length.
func appendRemainingLength(b []byte, n int) []byte {
	for {
		c := byte(n & 0x7f)
		n >>= 7
		if n == 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// appendString appends s as an MQTT UTF-8 string: a two-byte length, then
// the bytes.
func appendString(b []byte, s string) []byte {
	b = append(b, byte(len(s)>>8), byte(len(s)))
	return append(b, s...)
}

// checkString fails when s is too long for an MQTT string.
func checkString(what, s string) error {
	if len(s) > 0xffff {
		return fmt.Errorf("mqtt: %s of %d bytes is longer than 65535", what, len(s))
	}
	return nil
}

// connectPacket is a CONNECT packet of MQTT 3.1.1 ("MQTT", level 4) with a
// clean session, the keep-alive in seconds, a username and a password.
func connectPacket(clientID, username, password string, keepAlive uint16) ([]byte, error) {
	if err := errors.Join(checkString("client ID", clientID), checkString("username", username), checkString("password", password)); err != nil {
		return nil, err
	}
	const flags = 0x80 | 0x40 | 0x02 // username, password, clean session
	n := 10 + 2 + len(clientID) + 2 + len(username) + 2 + len(password)
	b := make([]byte, 0, 5+n)
	b = append(b, mqttConnect<<4)
	b = appendRemainingLength(b, n)
	b = appendString(b, "MQTT")
	b = append(b, 4, flags, byte(keepAlive>>8), byte(keepAlive))
	b = appendString(b, clientID)
	b = appendString(b, username)
	return appendString(b, password), nil
}

// subscribePacket is a SUBSCRIBE packet with packet identifier id and one
// topic filter at QoS 0.
func subscribePacket(id uint16, topic string) ([]byte, error) {
	if err := checkString("topic", topic); err != nil {
		return nil, err
	}
	n := 2 + 2 + len(topic) + 1
	b := make([]byte, 0, 5+n)
	b = append(b, mqttSubscribe<<4|0x02) // the reserved flags of SUBSCRIBE are 0010
	b = appendRemainingLength(b, n)
	b = append(b, byte(id>>8), byte(id))
	b = appendString(b, topic)
	return append(b, 0), nil
}

// parsePublish splits the body of a PUBLISH packet whose first byte is
// first into its topic, payload and, at QoS 1 and 2, packet identifier.
// topic and payload alias body.
func parsePublish(first byte, body []byte) (topic, payload []byte, id uint16, err error) {
	qos := (first >> 1) & 3
	if qos == 3 {
		return nil, nil, 0, errors.New("malformed PUBLISH: QoS 3")
	}
	if len(body) < 2 {
		return nil, nil, 0, errors.New("malformed PUBLISH: no topic length")
	}
	tl := int(body[0])<<8 | int(body[1])
	rest := body[2:]
	if len(rest) < tl {
		return nil, nil, 0, fmt.Errorf("malformed PUBLISH: topic of %d bytes in a body of %d", tl, len(body))
	}
	topic, rest = rest[:tl], rest[tl:]
	if qos > 0 {
		if len(rest) < 2 {
			return nil, nil, 0, errors.New("malformed PUBLISH: no packet identifier")
		}
		id, rest = uint16(rest[0])<<8|uint16(rest[1]), rest[2:]
	}
	return topic, rest, id, nil
}
