package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/broker"
)

func TestDeliveryLedger(t *testing.T) { forEachStore(t, testDeliveryLedger) }

// testDeliveryLedger checks that the ledger records a push written to a
// connected device as sent, one to a device that is gone as dropped, a
// direct push under its pushMessageID, and that only the admin reads it.
func testDeliveryLedger(t *testing.T, cfg config) {
	f := newFixture(t, cfg)
	base := f.n.base + "/api/apps/" + f.n.app.AppID
	admin := []string{"Authorization", "Bearer " + f.adminToken}
	f.n.subscribe(f.thing, "ledger")
	c, in := connectDevice(t, f.n.mqttURL(broker.TCP), f.thing, 4)
	f.n.createObject(f.thing, "ledger", `{"n":1}`)
	in.waitFor(t, "the push", func(ms []paho.Message) bool { return len(ms) >= 1 })
	r := do(t, "POST", base+"/things/"+f.thing.ThingID+"/push/messages", `{"data":{"m":1},"mqtt":{"enabled":true},"gcm":{"enabled":false}}`, admin...)
	wantStatus(t, r, 201)
	msgID := r.Str(t, "pushMessageID")
	in.waitFor(t, "the direct push", func(ms []paho.Message) bool { return len(ms) >= 2 })
	c.Disconnect(100)
	// Pushes go out only to connected devices: wait until the broker saw
	// the disconnection, then push again.
	waitUntil(t, "the device gone", func() bool { return !f.n.broker.Subscribed(f.thing.Endpoint.MQTTTopic) })
	f.n.createObject(f.thing, "ledger", `{"n":2}`)

	records := func(query string) []map[string]any {
		r := do(t, "GET", base+"/push/deliveries"+query, "", admin...)
		wantStatus(t, r, 200)
		var out []map[string]any
		for _, d := range r.JSON(t)["deliveries"].([]any) {
			out = append(out, d.(map[string]any))
		}
		return out
	}
	var got []map[string]any
	waitUntil(t, "three ledger records", func() bool { got = records("?thingID=" + f.thing.ThingID); return len(got) >= 3 })
	want := []struct{ state, event string }{{"sent", "DATA_OBJECT_CREATED"}, {"sent", ""}, {"dropped", "DATA_OBJECT_CREATED"}}
	for i, w := range want {
		d := got[i]
		if d["state"] != w.state || (w.event != "" && d["eventType"] != w.event) || d["installationID"] != f.thing.InstallationID || d["deviceType"] != "MQTT" {
			t.Errorf("record %d = %v, want state %s, event %q, installation %s", i, d, w.state, w.event, f.thing.InstallationID)
		}
	}
	if got[1]["pushMessageID"] != msgID {
		t.Errorf("the direct push's record = %v, want pushMessageID %s", got[1], msgID)
	}
	if got[2]["reason"] != "the device is not connected" {
		t.Errorf("the dropped record's reason = %v", got[2]["reason"])
	}
	if byMsg := records("?messageID=" + msgID); len(byMsg) != 1 {
		t.Errorf("records of message %s: %v, want 1", msgID, byMsg)
	}
	page := records("?thingID=" + f.thing.ThingID + "&limit=1")
	if len(page) != 1 {
		t.Errorf("a page of 1: %v", page)
	}
	r = do(t, "GET", base+"/push/deliveries", "", "Authorization", "Bearer "+f.userToken)
	if r.Status != 401 {
		t.Errorf("a user reading the ledger: %d %s, want 401", r.Status, r.Body)
	}
	counts := f.n.db.Ledger.DeliveryCounts()
	if counts["sent"] < 2 || counts["dropped"] < 1 {
		t.Errorf("delivery counts = %v, want at least 2 sent and 1 dropped", counts)
	}
}

// TestMetrics checks the Prometheus text of --metrics-addr.
func TestMetrics(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.MetricsAddr = "127.0.0.1:0"
	n := mustStartNodeConfig(t, cfg)
	d := n.mustDevice("metrics-1")
	n.subscribe(d, "metrics")
	_, in := connectDevice(t, n.mqttURL(broker.TCP), d, 4)
	n.createObject(d, "metrics", `{}`)
	in.waitFor(t, "the push", func(ms []paho.Message) bool { return len(ms) >= 1 })
	url := "http://" + n.metrics.ln.Addr().String() + "/metrics"
	waitUntil(t, "a sent delivery counted", func() bool {
		r := do(t, "GET", url, "")
		return r.Status == 200 && strings.Contains(string(r.Body), `kumo_push_deliveries_total{node="`) &&
			strings.Contains(string(r.Body), `state="sent"} 1`)
	})
}

// waitUntil polls cond until it holds, or fails the test after 20 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestUnsubscribedDevice checks that a device that unsubscribed from its
// topic, though still connected, counts as not subscribed: its pushes are
// recorded dropped, not sent.
func TestUnsubscribedDevice(t *testing.T) {
	f := newFixture(t, testConfig(t.TempDir()))
	topic := f.thing.Endpoint.MQTTTopic
	f.n.subscribe(f.thing, "unsub")
	c, _ := connectDevice(t, f.n.mqttURL(broker.TCP), f.thing, 4)
	defer c.Disconnect(100)
	waitUntil(t, "the device subscribed", func() bool { return f.n.broker.Subscribed(topic) })
	if tok := c.Unsubscribe(topic); !tok.WaitTimeout(20*time.Second) || tok.Error() != nil {
		t.Fatalf("UNSUBSCRIBE: %v", tok.Error())
	}
	waitUntil(t, "the device unsubscribed", func() bool { return !f.n.broker.Subscribed(topic) })
	f.n.createObject(f.thing, "unsub", `{"n":1}`)
	waitUntil(t, "the push recorded dropped", func() bool { return f.n.db.Ledger.DeliveryCounts()["dropped"] >= 1 })
	if sent := f.n.db.Ledger.DeliveryCounts()["sent"]; sent != 0 {
		t.Errorf("%d pushes recorded sent to a device that unsubscribed; want none", sent)
	}
}

// TestOfflineLedger checks the ledger's records of a persistent device's
// pushes, end to end: a direct push and a bucket event queued while the
// device is offline and replayed when it reconnects (queued, then sent),
// a direct push queued and dropped when it reconnects with clean session
// 1 (queued, then dropped); every record carries the push's message ID
// (a message: the API shows no event type for it) or event type, and its
// installation.
func TestOfflineLedger(t *testing.T) { forEachStore(t, testOfflineLedger) }

func testOfflineLedger(t *testing.T, cfg config) {
	f := newFixture(t, cfg)
	n, d := f.n, f.thing
	base := n.base + "/api/apps/" + n.app.AppID
	admin := []string{"Authorization", "Bearer " + f.adminToken}
	url := n.mqttURL(broker.TCP)
	n.subscribe(d, "offline-ledger")
	c, _ := connectSession(t, url, d, false, 0)
	disconnect(t, n, d, c)
	push := func() string {
		t.Helper()
		r := do(t, "POST", base+"/things/"+d.ThingID+"/push/messages", `{"data":{"m":1},"mqtt":{"enabled":true},"gcm":{"enabled":false}}`, admin...)
		wantStatus(t, r, 201)
		return r.Str(t, "pushMessageID")
	}
	records := func(query string) []map[string]any {
		r := do(t, "GET", base+"/push/deliveries?"+query, "", admin...)
		wantStatus(t, r, 200)
		var out []map[string]any
		for _, rec := range r.JSON(t)["deliveries"].([]any) {
			out = append(out, rec.(map[string]any))
		}
		return out
	}
	// check waits for the records query selects, and checks their states
	// and what each says of its push.
	check := func(what, query string, push map[string]any, states ...string) {
		t.Helper()
		var got []map[string]any
		waitUntil(t, fmt.Sprintf("%d ledger records of %s", len(states), what), func() bool {
			got = records(query)
			return len(got) >= len(states)
		})
		for i, want := range states {
			rec := got[i]
			ok := rec["state"] == want && rec["installationID"] == d.InstallationID
			for k, v := range push {
				ok = ok && rec[k] == v
			}
			if !ok {
				t.Errorf("record %d of %s = %v; want state %s, installation %s and %v", i, what, rec, want, d.InstallationID, push)
			}
		}
	}

	replayed := push()
	n.createObject(d, "offline-ledger", `{"n":1}`)
	waitDispatched(t, n)
	c, in := connectSession(t, url, d, false, 0)
	in.waitFor(t, "the replayed pushes", func(ms []paho.Message) bool { return len(ms) >= 2 })
	check("the replayed message", "messageID="+replayed, map[string]any{"pushMessageID": replayed}, "queued", "sent")
	check("the device", "thingID="+d.ThingID, nil, "queued", "queued", "sent", "sent")
	for _, rec := range records("thingID=" + d.ThingID) {
		if rec["pushMessageID"] == nil && rec["eventType"] != string(kumo.DataObjectCreated) {
			t.Errorf("record %v of the bucket event: want event type %s", rec, kumo.DataObjectCreated)
		}
	}

	disconnect(t, n, d, c)
	dropped := push()
	waitDispatched(t, n)
	connectSession(t, url, d, true, 0)
	check("the dropped message", "messageID="+dropped, map[string]any{"pushMessageID": dropped}, "queued", "dropped")
}
