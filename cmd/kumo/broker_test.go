package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/kumo-iot/kumo/internal/broker"
)

// mqttString encodes a length-prefixed MQTT string.
func mqttString(s string) []byte { return append([]byte{byte(len(s) >> 8), byte(len(s))}, s...) }

// mqttPacket frames a packet: type byte, remaining length, body.
func mqttPacket(typ byte, body []byte) []byte {
	out := []byte{typ}
	n := len(body)
	for {
		b := byte(n % 128)
		n /= 128
		if n > 0 {
			b |= 0x80
		}
		out = append(out, b)
		if n == 0 {
			break
		}
	}
	return append(out, body...)
}

// connect31 is a CONNECT as the Kii C SDKs hand-write it: MQTT 3.1
// (MQIsdp, level 3), flags 0xC2 (username, password, clean session).
func connect31(clientID, user, pass string) []byte {
	body := append(mqttString("MQIsdp"), 3, 0xC2, 0, 60)
	body = append(body, mqttString(clientID)...)
	body = append(body, mqttString(user)...)
	body = append(body, mqttString(pass)...)
	return mqttPacket(0x10, body)
}

func subscribePacket(id uint16, topic string) []byte {
	body := append([]byte{byte(id >> 8), byte(id)}, mqttString(topic)...)
	return mqttPacket(0x82, append(body, 0))
}

// rawMQTT dials the node's plain MQTT listener.
func rawMQTT(t *testing.T, n *testNode) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", n.broker.Port(broker.TCP)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// readExactly reads n bytes in one or more reads.
func readExactly(t *testing.T, c net.Conn, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("read %d bytes: %v", n, err)
	}
	return b
}

// TestBrokerWireBytes checks the exact CONNACK and SUBACK bytes that
// KiiThingSDK-Embedded compares, and that nothing follows them.
func TestBrokerWireBytes(t *testing.T) {
	n := mustStartNode(t)
	d := n.mustDevice("wire")
	ep := d.Endpoint

	t.Run("connack and suback of MQTT 3.1", func(t *testing.T) {
		c := rawMQTT(t, n)
		c.Write(connect31(ep.MQTTTopic, ep.Username, ep.Password))
		if got := readExactly(t, c, 4); !bytes.Equal(got, []byte{0x20, 0x02, 0x00, 0x00}) {
			t.Fatalf("CONNACK = % x, want 20 02 00 00", got)
		}
		c.Write(subscribePacket(1, ep.MQTTTopic))
		if got := readExactly(t, c, 5); !bytes.Equal(got, []byte{0x90, 0x03, 0x00, 0x01, 0x00}) {
			t.Fatalf("SUBACK = % x, want 90 03 00 01 00", got)
		}
		// Nothing else is sent until a push: the next bytes are a push.
		id := n.createObject(d, "wirebucket", `{}`)
		n.subscribe(d, "wirebucket2")
		id = n.createObject(d, "wirebucket2", `{}`)
		hdr := readExactly(t, c, 1)
		if hdr[0] != 0x30 {
			t.Fatalf("first byte after SUBACK = %x, want a QoS 0 PUBLISH (30)", hdr[0])
		}
		rest := readPacketBody(t, c)
		topicLen := int(rest[0])<<8 | int(rest[1])
		if got := string(rest[2 : 2+topicLen]); got != ep.MQTTTopic {
			t.Errorf("PUBLISH topic = %q, want %q", got, ep.MQTTTopic)
		}
		payload := rest[2+topicLen:] // QoS 0: no packet identifier
		if payload[0] != '{' || !bytes.Contains(payload, []byte(id)) {
			t.Errorf("payload = %s", payload)
		}
	})

	t.Run("bad password gets return code 4", func(t *testing.T) {
		c := rawMQTT(t, n)
		c.Write(connect31(ep.MQTTTopic, ep.Username, "wrong"))
		if got := readExactly(t, c, 4); !bytes.Equal(got, []byte{0x20, 0x02, 0x00, 0x04}) {
			t.Fatalf("CONNACK = % x, want 20 02 00 04 (bad user name or password)", got)
		}
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Error("connection still open after a refused CONNECT")
		}
	})

	t.Run("unknown username", func(t *testing.T) {
		c := rawMQTT(t, n)
		c.Write(connect31(ep.MQTTTopic, "nobody", ep.Password))
		if got := readExactly(t, c, 4); got[3] != 0x04 {
			t.Fatalf("CONNACK = % x, want return code 4", got)
		}
	})

	t.Run("client ID other than the mqttTopic", func(t *testing.T) {
		c := rawMQTT(t, n)
		c.Write(connect31("someoneelse", ep.Username, ep.Password))
		if got := readExactly(t, c, 4); got[3] != 0x04 {
			t.Fatalf("CONNACK = % x, want return code 4", got)
		}
	})

	for _, filter := range []string{"#", "+", "other-topic", ep.MQTTTopic + "/#", "$SYS/#"} {
		t.Run("subscribe to "+filter+" fails in the SUBACK", func(t *testing.T) {
			c := rawMQTT(t, n)
			c.Write(connect31(ep.MQTTTopic, ep.Username, ep.Password))
			readExactly(t, c, 4)
			c.Write(subscribePacket(7, filter))
			if got := readExactly(t, c, 5); !bytes.Equal(got, []byte{0x90, 0x03, 0x00, 0x07, 0x80}) {
				t.Fatalf("SUBACK = % x, want 90 03 00 07 80", got)
			}
		})
	}
}

// readPacketBody reads a remaining length and the body after it.
func readPacketBody(t *testing.T, c net.Conn) []byte {
	t.Helper()
	n, mult := 0, 1
	for {
		b := readExactly(t, c, 1)[0]
		n += int(b&0x7f) * mult
		if b&0x80 == 0 {
			break
		}
		mult *= 128
	}
	return readExactly(t, c, n)
}

// TestBrokerIsolation: a device's PUBLISH never reaches another device,
// whatever the topic, while pushes still do.
func TestBrokerIsolation(t *testing.T) { forEachStore(t, testBrokerIsolation) }

func testBrokerIsolation(t *testing.T, cfg config) {
	n := mustStartNodeConfig(t, cfg)
	alice, bob := n.mustDevice("alice"), n.mustDevice("bob")
	n.subscribe(bob, "inbox")
	aliceClient, _ := connectDevice(t, n.mqttURL(broker.TCP), alice, 4)
	_, bobInbox := connectDevice(t, n.mqttURL(broker.TCP), bob, 4)

	for _, topic := range []string{bob.Endpoint.MQTTTopic, "p/" + alice.Endpoint.MQTTTopic + "/thing-if/apps/x/onboardings", "any/topic"} {
		for _, qos := range []byte{0, 1} {
			tok := aliceClient.Publish(topic, qos, false, `{"forged":true}`)
			if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
				t.Fatalf("publish qos %d to %q: %v (a QoS 1 publish must be acknowledged)", qos, topic, tok.Error())
			}
		}
	}
	if !aliceClient.IsConnectionOpen() {
		t.Fatal("publishing disconnected the device")
	}
	// A real push to bob, sent after the forged ones, arrives alone.
	id := n.createObject(bob, "inbox", `{}`)
	msgs := bobInbox.waitFor(t, "bob's push", func(m []paho.Message) bool { return len(m) > 0 })
	if p := pushesByObject(t, msgs); len(msgs) != 1 || p[id] == nil {
		for _, m := range msgs {
			t.Logf("bob received on %s: %s", m.Topic(), m.Payload())
		}
		t.Fatalf("bob received %d messages, want only the push for %s", len(msgs), id)
	}
}

// TestPushFanOut: an object in a bucket reaches every subscriber's device,
// and only those.
func TestPushFanOut(t *testing.T) { forEachStore(t, testPushFanOut) }

func testPushFanOut(t *testing.T, cfg config) {
	n := mustStartNodeConfig(t, cfg)
	writer := n.mustDevice("writer")
	subs := []device{n.mustDevice("s1"), n.mustDevice("s2"), n.mustDevice("s3")}
	outsider := n.mustDevice("outsider")
	inboxes := make([]*inbox, len(subs))
	for i, d := range subs {
		r := do(t, "PUT", n.base+"/api/apps/"+n.app.AppID+"/buckets/shared/filters/all/push/subscriptions/things/"+d.ThingID, "",
			"Authorization", "Bearer "+d.Token)
		wantStatus(t, r, 204)
		_, inboxes[i] = connectDevice(t, n.mqttURL(broker.TCP), d, 4)
	}
	_, outsiderInbox := connectDevice(t, n.mqttURL(broker.TCP), outsider, 4)
	var ids []string
	for i := 0; i < 5; i++ {
		r := do(t, "POST", n.base+"/api/apps/"+n.app.AppID+"/buckets/shared/objects", fmt.Sprintf(`{"i":%d}`, i),
			"Authorization", "Bearer "+writer.Token)
		wantStatus(t, r, 201)
		ids = append(ids, r.Str(t, "objectID"))
	}
	for i, in := range inboxes {
		msgs := in.waitFor(t, fmt.Sprintf("subscriber %d's pushes", i), func(m []paho.Message) bool { return len(m) >= len(ids) })
		got := pushesByObject(t, msgs)
		for _, id := range ids {
			p := got[id]
			if p == nil {
				t.Fatalf("subscriber %d missed %s", i, id)
			}
			if p["objectScopeType"] != "APP" || p["bucketID"] != "shared" || p["sender"] != writer.ThingID {
				t.Errorf("push = %v", p)
			}
		}
		if len(msgs) != len(ids) {
			t.Errorf("subscriber %d got %d pushes, want %d", i, len(msgs), len(ids))
		}
	}
	if m := outsiderInbox.Messages(); len(m) != 0 {
		t.Errorf("a device not subscribed got %d pushes", len(m))
	}
}

// TestBrokerConnectLimits checks that kumo serve's --mqtt-connect-timeout
// and --mqtt-connect-throttle reach the broker: a socket that sends
// nothing is closed, and after the limit of failed CONNECTs even a good
// one from the same address is answered 3, "server unavailable".
func TestBrokerConnectLimits(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.MQTTConnectTimeout, cfg.MQTTConnectThrottle = 200*time.Millisecond, 2
	n := mustStartNodeConfig(t, cfg)
	ep := n.mustDevice("limits").Endpoint

	silent := rawMQTT(t, n)
	if _, err := io.ReadAll(silent); err != nil {
		t.Fatalf("a socket that sent no CONNECT: %v; want closed by the server", err)
	}
	for i, pass := range []string{"wrong", "wrong", ep.Password} {
		want := byte(0x04)
		if i == 2 {
			want = 0x03
		}
		c := rawMQTT(t, n)
		c.Write(connect31(ep.MQTTTopic, ep.Username, pass))
		if got := readExactly(t, c, 4); got[3] != want {
			t.Fatalf("CONNECT %d: CONNACK = % x, want return code %d", i+1, got, want)
		}
	}
}
