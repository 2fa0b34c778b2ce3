package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"github.com/kumo-iot/kumo"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// connectSession connects an MQTT 3.1.1 client as d with the given clean
// session flag and subscribes it to its topic at qos.
func connectSession(t testing.TB, url string, d device, clean bool, qos byte) (paho.Client, *inbox) {
	t.Helper()
	in := newInbox()
	opts := paho.NewClientOptions().AddBroker(url).SetClientID(d.Endpoint.MQTTTopic).
		SetUsername(d.Endpoint.Username).SetPassword(d.Endpoint.Password).SetProtocolVersion(4).
		SetCleanSession(clean).SetAutoReconnect(false).SetConnectRetry(false).
		SetTLSConfig(&tls.Config{InsecureSkipVerify: true}).SetConnectTimeout(5 * time.Second)
	c := paho.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("mqtt connect %s: %v", url, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	tok := c.Subscribe(d.Endpoint.MQTTTopic, qos, in.handle)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("mqtt subscribe: %v", tok.Error())
	}
	return c, in
}

// disconnect disconnects a device's client once the server has seen it
// online, and returns once the server has seen it go offline (a push
// sent in the instant a QoS 0 connection closes may be lost).
func disconnect(t *testing.T, n *testNode, d device, c paho.Client) {
	t.Helper()
	waitThingOnline(t, n, d, true)
	c.Disconnect(100)
	waitThingOnline(t, n, d, false)
}

func waitThingOnline(t *testing.T, n *testNode, d device, want bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := do(t, "GET", n.base+"/api/apps/"+n.app.AppID+"/things/"+d.ThingID, "", "Authorization", "Bearer "+d.Token)
		wantStatus(t, r, 200)
		if r.JSON(t)["_online"] == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("thing %s: _online is not %v", d.VendorID, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// objectIDs returns the objectIDs of the pushes received, in order.
func objectIDs(t testing.TB, msgs []paho.Message) []string {
	var ids []string
	for _, m := range msgs {
		for id := range pushesByObject(t, []paho.Message{m}) {
			ids = append(ids, id)
		}
	}
	return ids
}

// offlineWriter writes objects that push to devices: create(n) writes n
// objects for d and returns their IDs in order.
type offlineWriter func(d device, n int, tag string) []string

func writerOf(n *testNode) offlineWriter {
	return func(d device, count int, tag string) []string {
		var ids []string
		for i := 0; i < count; i++ {
			ids = append(ids, n.createObject(d, "inbox", fmt.Sprintf(`{%q:%d}`, tag, i)))
		}
		return ids
	}
}

// wantPushes waits until in holds exactly want (in order), after a
// marker push sent last: what arrives before the marker is all there is.
func wantPushes(t *testing.T, in *inbox, write offlineWriter, d device, want []string) {
	t.Helper()
	// The pushes first: with a small --offline-max, the marker could
	// push one out of a queue still being replayed.
	in.waitFor(t, "the kept pushes", func(m []paho.Message) bool { return len(m) >= len(want) })
	marker := write(d, 1, "marker")[0]
	msgs := in.waitFor(t, "the marker push", func(m []paho.Message) bool { return slices.Contains(objectIDs(t, m), marker) })
	got := objectIDs(t, msgs)
	if !slices.Equal(got, append(slices.Clone(want), marker)) {
		t.Fatalf("device %s got %d pushes %v,\nwant %d then the marker: %v", d.VendorID, len(got), got, len(want), want)
	}
}

// waitDispatched waits until the node has dispatched every push written
// (its outbox is empty), so that what follows cannot race with them.
func waitDispatched(t *testing.T, n *testNode) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var pending int
		if err := n.db.ReadDB().QueryRow("SELECT COUNT(*) FROM outbox").Scan(&pending); err != nil {
			t.Fatal(err)
		}
		if pending == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events still in the outbox", pending)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestOfflineDelivery: a device that connected with clean session 0 gets,
// when it reconnects with clean session 0, the ten pushes sent while it
// was offline, in order; one that connects with clean session 1 (as Kii's
// SDKs) gets none of them, as in Kii, and its queue is gone.
func TestOfflineDelivery(t *testing.T) {
	forEachStore(t, func(t *testing.T, cfg config) {
		n := mustStartNodeConfig(t, cfg)
		write, url := writerOf(n), n.mqttURL("tcp")
		kept, live := n.mustDevice("kept"), n.mustDevice("live")
		for _, d := range []device{kept, live} {
			n.subscribe(d, "inbox")
		}
		c, _ := connectSession(t, url, kept, false, 0)
		disconnect(t, n, kept, c)
		c, _ = connectSession(t, url, live, true, 0)
		disconnect(t, n, live, c)

		sent := write(kept, 10, "offline")
		write(live, 10, "offline")
		waitDispatched(t, n)

		c, in := connectSession(t, url, kept, false, 0)
		wantPushes(t, in, write, kept, sent)
		_, in = connectSession(t, url, live, true, 0)
		wantPushes(t, in, write, live, nil)
		// The ledger tells both stories: kept then sent, and dropped.
		waitUntil(t, "the ledger's records of the offline pushes", func() bool {
			counts := map[string]map[kumo.DeliveryState]int{}
			rs, _, err := n.db.Ledger.Deliveries(context.Background(), kumo.Caller{AppID: n.app.AppID, Kind: kumo.Admin}, kumo.DeliveryFilter{})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rs {
				if counts[r.InstallationID] == nil {
					counts[r.InstallationID] = map[kumo.DeliveryState]int{}
				}
				counts[r.InstallationID][r.State]++
			}
			k, l := counts[kept.InstallationID], counts[live.InstallationID]
			return k[kumo.DeliveryQueued] >= 10 && k[kumo.DeliverySent] >= 10 && l[kumo.DeliveryDropped] >= 10
		})

		// The persistent device comes back with clean session 1: it gets
		// none of what was kept for it, and it is no longer kept.
		disconnect(t, n, kept, c)
		write(kept, 3, "lost")
		waitDispatched(t, n)
		c, in = connectSession(t, url, kept, true, 0)
		wantPushes(t, in, write, kept, nil)
		disconnect(t, n, kept, c)
		write(kept, 2, "lost-too")
		waitDispatched(t, n)
		_, in = connectSession(t, url, kept, false, 0)
		wantPushes(t, in, write, kept, nil)
	})
}

// TestOfflineDeliveryQoS1: a persistent device that subscribes at QoS 1
// gets its pushes at QoS 1, and they leave its queue once acknowledged.
func TestOfflineDeliveryQoS1(t *testing.T) {
	forEachStore(t, func(t *testing.T, cfg config) {
		n := mustStartNodeConfig(t, cfg)
		write, url := writerOf(n), n.mqttURL("tcp")
		d := n.mustDevice("qos1")
		n.subscribe(d, "inbox")
		c, _ := connectSession(t, url, d, false, 1)
		disconnect(t, n, d, c)
		sent := write(d, 10, "offline")
		waitDispatched(t, n)
		_, in := connectSession(t, url, d, false, 1)
		wantPushes(t, in, write, d, sent)
		for _, m := range in.Messages() {
			if m.Qos() != 1 {
				t.Fatalf("push at QoS %d, want 1", m.Qos())
			}
		}
		waitQueueEmpty(t, n, d)
	})
}

// waitQueueEmpty waits until d's queue is empty.
func waitQueueEmpty(t *testing.T, n *testNode, d device) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ps, err := n.db.Queue.Queued(context.Background(), d.Endpoint.MQTTTopic, nil, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d pushes still queued for %s", len(ps), d.VendorID)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestOfflineBounds: a queue keeps the newest --offline-max pushes, and
// drops those older than --offline-max-age.
func TestOfflineBounds(t *testing.T) {
	forEachStore(t, func(t *testing.T, cfg config) {
		cfg.OfflineMax = 3
		n := mustStartNodeConfig(t, cfg)
		write, url := writerOf(n), n.mqttURL("tcp")
		d := n.mustDevice("bounded")
		n.subscribe(d, "inbox")
		c, _ := connectSession(t, url, d, false, 0)
		disconnect(t, n, d, c)
		sent := write(d, 10, "offline")
		waitDispatched(t, n)
		c, in := connectSession(t, url, d, false, 0)
		wantPushes(t, in, write, d, sent[7:])
		c.Disconnect(100)
	})
	forEachStore(t, func(t *testing.T, cfg config) {
		cfg.OfflineMaxAge = time.Second
		n := mustStartNodeConfig(t, cfg)
		write, url := writerOf(n), n.mqttURL("tcp")
		d := n.mustDevice("aged")
		n.subscribe(d, "inbox")
		c, _ := connectSession(t, url, d, false, 0)
		disconnect(t, n, d, c)
		write(d, 3, "offline")
		waitDispatched(t, n)
		waitQueueEmpty(t, n, d) // the sweep drops them
		waitUntil(t, "three expired pushes in the ledger", func() bool { return n.db.Ledger.DeliveryCounts()[kumo.DeliveryExpired] >= 3 })
		_, in := connectSession(t, url, d, false, 0)
		wantPushes(t, in, write, d, nil)
	})
}

// TestOfflineDeliveryRestart: the same across a restart of the server.
// (A graceful one: after a SIGKILL, the pushes not yet dispatched reach
// clean-session devices that reconnect within a minute, see
// TestCrashRecovery.)
func TestOfflineDeliveryRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	forEachStore(t, func(t *testing.T, cfg config) {
		dir, db := cfg.DataDir, storeEnv(cfg)
		app := createAppCLI(t, dir, db)
		c1 := startChild(t, dir, db)
		n1 := childNode(t, c1, app)
		kept, live := n1.mustDevice("kept"), n1.mustDevice("live")
		for _, d := range []device{kept, live} {
			n1.subscribe(d, "inbox")
		}
		c, _ := connectSession(t, mqttURLOf(c1), kept, false, 0)
		disconnect(t, n1, kept, c)
		c, _ = connectSession(t, mqttURLOf(c1), live, true, 0)
		disconnect(t, n1, live, c)
		sent := writerOf(n1)(kept, 10, "offline")
		writerOf(n1)(live, 10, "offline")
		c1.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-c1.done:
			c1.done <- nil
			if err != nil {
				t.Fatalf("kumo serve exited with %v after SIGTERM\n%s", err, c1.Log())
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("kumo serve did not stop after SIGTERM\n%s", c1.Log())
		}

		c2 := startChild(t, dir, db)
		n2 := childNode(t, c2, app)
		_, in := connectSession(t, mqttURLOf(c2), kept, false, 0)
		wantPushes(t, in, writerOf(n2), kept, sent)
		_, in = connectSession(t, mqttURLOf(c2), live, true, 0)
		wantPushes(t, in, writerOf(n2), live, nil)
		if strings.Contains(c2.Log(), "level=ERROR") {
			t.Errorf("errors logged:\n%s", c2.Log())
		}
	})
}

// TestOfflineDeliveryCluster: a device's pushes kept while it was offline
// reach it on another node of the cluster, and its later pushes (queued,
// then a nudge over NATS) reach it where it is.
func TestOfflineDeliveryCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	nodes, a, _ := startCluster(t, 2)
	d := a.mustDevice("roamer")
	a.subscribe(d, "inbox")
	c, _ := connectSession(t, mqttURLOf(nodes[0]), d, false, 0)
	disconnect(t, a, d, c)
	b := childNode(t, nodes[1], a.app)
	sent := append(writerOf(a)(d, 5, "via-a"), writerOf(b)(d, 5, "via-b")...)
	_, in := connectSession(t, mqttURLOf(nodes[1]), d, false, 0)
	wantPushes(t, in, writerOf(a), d, sent)
}

// TestOfflineDeliveryCrash: pushes to a persistent device that were still
// in the outbox when the server was SIGKILLed are queued and replayed,
// in order, after the restart.
func TestOfflineDeliveryCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	forEachStore(t, func(t *testing.T, cfg config) {
		dir, db := cfg.DataDir, storeEnv(cfg)
		app := createAppCLI(t, dir, db)
		c1 := startChild(t, dir, db, "KUMO_FAULT_PAUSE_DISPATCH=1")
		n1 := childNode(t, c1, app)
		kept := n1.mustDevice("kept")
		n1.subscribe(kept, "inbox")
		c, _ := connectSession(t, mqttURLOf(c1), kept, false, 1)
		disconnect(t, n1, kept, c)
		sent := writerOf(n1)(kept, 10, "offline")
		c1.kill9(t)

		c2 := startChild(t, dir, db)
		n2 := childNode(t, c2, app)
		_, in := connectSession(t, mqttURLOf(c2), kept, false, 1)
		wantPushes(t, in, writerOf(n2), kept, sent)
	})
}
