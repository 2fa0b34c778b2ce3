package broker

import (
	"context"
	"testing"

	"github.com/kumo-iot/kumo"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// TestPersistentByClientID checks that the connections asking for a
// persistent session are kept by client ID: one that never disconnects
// (its CONNACK failed) is replaced by the next connection of the same
// device, not kept beside it, and a later clean-session connection clears
// it.
func TestPersistentByClientID(t *testing.T) {
	b := &Broker{Queue: sessionKinds{}}
	b.persistent = map[string]*mqtt.Client{}
	in := kumo.Installation{MQTTTopic: "topic-1", Persistent: true}
	connect := func(clean bool) *mqtt.Client {
		cl := &mqtt.Client{ID: "topic-1"}
		b.connecting(cl, packets.Packet{Connect: packets.ConnectParams{Clean: clean}}, in)
		return cl
	}
	connect(false) // its CONNACK fails: no disconnect follows
	second := connect(false)
	if len(b.persistent) != 1 || b.persistent["topic-1"] != second {
		t.Fatalf("persistent = %v after two connections of one device; want the second only", b.persistent)
	}
	connect(true)
	if len(b.persistent) != 0 {
		t.Errorf("persistent = %v after a clean-session connection; want none", b.persistent)
	}
}

// sessionKinds is a kumo.PushQueue whose SetPersistent succeeds; nothing
// else of it is called.
type sessionKinds struct{ kumo.PushQueue }

func (sessionKinds) SetPersistent(context.Context, string, bool) error { return nil }

// TestPublishDropped checks that a push mochi dropped (its client's
// outbound buffer full) is taken back from the session, to be read from
// the queue again: a QoS 0 push no longer waits to be written, a QoS 1
// push no longer holds a place in flight.
func TestPublishDropped(t *testing.T) {
	cl := &mqtt.Client{ID: "topic-1"}
	newBroker := func(qos byte) (*Broker, *session) {
		b := &Broker{}
		s := &session{cl: cl, qos: qos, sent: map[int64]bool{}, inflight: map[uint16]int64{}, wake: make(chan struct{}, 1)}
		b.sessions = map[string]*session{cl.ID: s}
		b.nSessions.Store(1)
		return b, s
	}

	b, s := newBroker(0)
	s.sent[1], s.sent[2] = true, true
	s.unsent = []unsentPush{{1, []byte("one")}, {2, []byte("two")}} // in publication order
	b.publishDropped(cl, packets.Packet{Payload: []byte("two")})
	if len(s.unsent) != 1 || s.unsent[0].seq != 1 || s.sent[2] || !s.sent[1] {
		t.Errorf("QoS 0: after push 2 was dropped, unsent %v, sent %v; want push 1 alone", s.unsent, s.sent)
	}
	b.publishDropped(cl, packets.Packet{Payload: []byte("other")}) // not the last published: kept
	if len(s.unsent) != 1 {
		t.Errorf("QoS 0: a drop of another payload took back %v", s.unsent)
	}

	b, s = newBroker(1)
	s.sent[7] = true
	s.current = 7
	b.qosPublished(cl, packets.Packet{PacketID: 42})
	b.publishDropped(cl, packets.Packet{Payload: []byte("seven")})
	if len(s.inflight) != 0 || s.sent[7] {
		t.Errorf("QoS 1: after the push was dropped, inflight %v, sent %v; want neither", s.inflight, s.sent)
	}
}
