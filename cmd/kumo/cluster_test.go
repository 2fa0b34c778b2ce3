package main

import (
	"fmt"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/kumo-iot/kumo/internal/sqlstore/postgres/pgtest"
)

// startNATS runs a NATS server in the test process, on a random port.
func startNATS(t *testing.T) *natsserver.Server {
	t.Helper()
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(ns.Shutdown)
	return ns
}

// cluster is several kumo serve processes sharing one PostgreSQL database
// and one NATS server.

func startCluster(t *testing.T, n int) ([]*child, *testNode) {
	t.Helper()
	db := withPassword(t, pgtest.NewDatabase(t))
	ns := startNATS(t)
	app := createAppCLI(t, t.TempDir(), storeEnv(config{Database: db}))
	var nodes []*child
	for i := 0; i < n; i++ {
		nodes = append(nodes, startChild(t, t.TempDir(), storeEnv(config{Database: db}),
			"KUMO_NATS="+ns.ClientURL(), fmt.Sprintf("KUMO_NODE_ID=node-%c", 'a'+i)))
	}
	return nodes, childNode(t, nodes[0], app)
}

// TestCluster: three nodes on one PostgreSQL and one NATS. A device
// connected to node C receives the push of an object written through node
// A; a device on node B receives its own pushes and nothing else.
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	nodes, a := startCluster(t, 3)
	b := childNode(t, nodes[1], a.app)
	c := childNode(t, nodes[2], a.app)
	mqtt := func(ch *child) string { return fmt.Sprintf("tcp://127.0.0.1:%d", ch.mqttPort) }

	devC := a.mustDevice("dev-c")
	a.subscribe(devC, "inbox")
	_, inboxC := connectDevice(t, mqtt(nodes[2]), devC, 3)

	devB := b.mustDevice("dev-b")
	b.subscribe(devB, "inbox")
	_, inboxB := connectDevice(t, mqtt(nodes[1]), devB, 4)

	var forC, forB []string
	for i := 0; i < 5; i++ {
		forC = append(forC, a.createObject(devC, "inbox", fmt.Sprintf(`{"i":%d}`, i))) // written through A
		forB = append(forB, b.createObject(devB, "inbox", fmt.Sprintf(`{"i":%d}`, i))) // written through B
	}
	_ = c
	for _, tc := range []struct {
		name string
		in   *inbox
		want []string
	}{{"device on C", inboxC, forC}, {"device on B", inboxB, forB}} {
		msgs := tc.in.waitFor(t, tc.name+"'s pushes", func(m []paho.Message) bool { return len(pushesByObject(t, m)) >= len(tc.want) })
		got := pushesByObject(t, msgs)
		for _, id := range tc.want {
			if got[id] == nil {
				t.Errorf("%s missed the push of %s", tc.name, id)
			}
		}
		if len(msgs) != len(tc.want) {
			t.Errorf("%s got %d pushes, want exactly %d (no duplicates, nothing of others)", tc.name, len(msgs), len(tc.want))
		}
	}
}
