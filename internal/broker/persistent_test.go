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
