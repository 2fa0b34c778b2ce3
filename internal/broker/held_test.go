package broker

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/auth"
)

// records is a kumo.DeliveryLedger that keeps what it is given.
type records struct {
	kumo.DeliveryLedger // Deliveries: not called
	mu                  sync.Mutex
	rs                  []kumo.DeliveryRecord
}

func (r *records) RecordDeliveries(_ context.Context, rs []kumo.DeliveryRecord) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rs = append(r.rs, rs...)
	return nil
}

// of returns the records of the push with message ID id.
func (r *records) of(id string) []kumo.DeliveryRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.DeleteFunc(slices.Clone(r.rs), func(rec kumo.DeliveryRecord) bool { return rec.MessageID != id })
}

// waitFor polls until push id has a record, or fails the test after 10 s.
func (r *records) waitFor(t *testing.T, id string) []kumo.DeliveryRecord {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if rs := r.of(id); len(rs) > 0 {
			return rs
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ledger record of push %s", id)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// oneInstallation is a kumo.InstallationService that knows one MQTT
// installation.
type oneInstallation struct {
	kumo.InstallationService // nothing else is called
	in                       kumo.Installation
}

func (o oneInstallation) MQTTInstallation(_ context.Context, username string) (kumo.Installation, error) {
	if username != o.in.MQTTUsername {
		return kumo.Installation{}, kumo.Errorf(kumo.ErrInstallationNotFound, "no installation")
	}
	return o.in, nil
}

// TestHeldDeliveriesRecorded checks the ledger records of deliveries
// recovered after a restart and held for devices not yet subscribed: one
// released after its device's SUBACK is sent, one whose device never
// comes is expired, with the message ID and event type of the push; a
// copy another node of a cluster published expires without a record
// (that node records it); one still held when the broker stops is
// expired too.
func TestHeldDeliveriesRecorded(t *testing.T) {
	pw := auth.MQTTPasswords{Secret: []byte("secret")}
	in := kumo.Installation{ID: "inst-1", AppID: "app1", MQTTUsername: "app1-user", MQTTTopic: "topic-1", DeviceType: "MQTT"}
	ledger := &records{}
	b := &Broker{Installations: oneInstallation{in: in}, Passwords: pw, Ledger: ledger, TCPAddr: "127.0.0.1:0",
		HoldRecovered: 200 * time.Millisecond, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := b.Open(); err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			b.Close()
		}
	}()
	push := func(topic, id string, relayed bool) kumo.Delivery {
		return kumo.Delivery{Topic: topic, Payload: []byte(`{"m":"` + id + `"}`), Recovered: true, Relayed: relayed, ID: id,
			AppID: "app1", EventType: kumo.PushMessageSent, MessageID: id}
	}
	check := func(id string, rs []kumo.DeliveryRecord, state kumo.DeliveryState) {
		t.Helper()
		if len(rs) != 1 || rs[0].State != state || rs[0].EventType != kumo.PushMessageSent || rs[0].AppID != "app1" {
			t.Errorf("records of push %s = %+v; want one %s record with its app and event type", id, rs, state)
		}
	}

	// A device that never comes back; the relayed copy goes first, in
	// the same topic's hold: both expire at once.
	b.Deliver(push("topic-gone", "relayed", true))
	b.Deliver(push("topic-gone", "gone", false))
	b.HoldRecovered = time.Hour // the device below has all the time it needs (the sweep keeps its pace)
	b.Deliver(push("topic-1", "released", false))

	received := make(chan string, 1)
	opts := paho.NewClientOptions().AddBroker(fmt.Sprintf("tcp://127.0.0.1:%d", b.Port(TCP))).
		SetClientID(in.MQTTTopic).SetUsername(in.MQTTUsername).SetPassword(pw.Password(in.MQTTUsername)).SetAutoReconnect(false)
	cl := paho.NewClient(opts)
	if tok := cl.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer cl.Disconnect(0)
	if tok := cl.Subscribe(in.MQTTTopic, 0, func(_ paho.Client, m paho.Message) { received <- string(m.Payload()) }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	select {
	case p := <-received:
		if p != `{"m":"released"}` {
			t.Errorf("the device received %s", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the held push was not released after the SUBACK")
	}
	check("released", ledger.waitFor(t, "released"), kumo.DeliverySent)
	check("gone", ledger.waitFor(t, "gone"), kumo.DeliveryExpired)
	if rs := ledger.of("relayed"); len(rs) != 0 {
		t.Errorf("records of a copy another node published = %+v; want none", rs)
	}

	b.Deliver(push("topic-later", "at-close", false))
	closed = true
	b.Close()
	check("at-close", ledger.of("at-close"), kumo.DeliveryExpired)
}
