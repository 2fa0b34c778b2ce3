package nats

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/kumo-iot/kumo"
	natsserver "github.com/nats-io/nats-server/v2/server"
)

// TestRecoveredRelayed checks that a recovered delivery, which goes to
// every node, reaches the node that published it unmarked and the others
// marked Relayed (they record nothing when it expires held).
func TestRecoveredRelayed(t *testing.T) {
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	defer ns.Shutdown()

	var mu sync.Mutex
	got := map[string]kumo.Delivery{} // node -> what it received
	open := func(name string) *Bus {
		b := &Bus{URL: ns.ClientURL(), Name: name}
		b.Handle(func(d kumo.Delivery) {
			mu.Lock()
			got[name] = d
			mu.Unlock()
		})
		if err := b.Open(); err != nil {
			t.Fatal(err)
		}
		if err := b.nc.Flush(); err != nil { // its subscriptions are on the server
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	}
	a, _ := open("node-a"), open("node-b")
	d := kumo.Delivery{Topic: "topic-1", Payload: []byte(`{}`), Recovered: true, ID: "7", AppID: "app1", EventType: kumo.PushMessageSent, MessageID: "m1"}
	if err := a.Publish(context.Background(), []kumo.Delivery{d}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries received: %+v; want one on each node", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	for node, wantRelayed := range map[string]bool{"node-a": false, "node-b": true} {
		r := got[node]
		if r.Relayed != wantRelayed || !r.Recovered || r.Topic != d.Topic || r.MessageID != d.MessageID || r.EventType != d.EventType {
			t.Errorf("%s received %+v; want the delivery, Relayed %v", node, r, wantRelayed)
		}
	}
}
