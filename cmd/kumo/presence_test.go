package main

import (
	"testing"
	"time"
)

// TestThingOnline checks that a thing's _online follows its MQTT
// connection: true once connected, false once it disconnects, with
// _onlineStatusModifiedAt set.
func TestThingOnline(t *testing.T) { forEachStore(t, testThingOnline) }

func testThingOnline(t *testing.T, cfg config) {
	n := mustStartNodeConfig(t, cfg)
	d := n.mustDevice("presence-1")
	url := n.base + "/api/apps/" + n.app.AppID + "/things/" + d.ThingID
	online := func() map[string]any {
		r := do(t, "GET", url, "", "Authorization", "Bearer "+d.Token)
		wantStatus(t, r, 200)
		return r.JSON(t)
	}
	if m := online(); m["_online"] != false {
		t.Fatalf("a new thing: _online = %v, want false", m["_online"])
	}
	waitOnline := func(want bool) map[string]any {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			m := online()
			if m["_online"] == want {
				return m
			}
			if time.Now().After(deadline) {
				t.Fatalf("_online = %v, want %v", m["_online"], want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	c, _ := connectDevice(t, n.mqttURL("tcp"), d, 4)
	m := waitOnline(true)
	if _, ok := m["_onlineStatusModifiedAt"]; !ok {
		t.Errorf("no _onlineStatusModifiedAt once online: %v", m)
	}
	c.Disconnect(100)
	waitOnline(false)
}
