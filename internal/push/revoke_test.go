package push

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/kumo-iot/kumo"
)

// TestDispatchRevocations: an MQTT_REVOKED event becomes one revocation
// per credential on the bus, ahead of the batch's pushes, and is
// completed with them; it is never a push (no subscriber lookup for it).
func TestDispatchRevocations(t *testing.T) {
	o := newFakeOutbox()
	o.topics[bucket("a")] = []string{"topicA"}
	revs, _ := json.Marshal([]kumo.MQTTRevocation{{Topic: "topicA", Username: "app-old1"}, {Topic: "topicB", Username: "app-old2"}})
	es := o.commit(false, created(bucket("a"), "o1"),
		kumo.Event{Type: kumo.MQTTRevoked, Bucket: kumo.BucketRef{AppID: appID}, Message: revs},
		kumo.Event{Type: kumo.MQTTRevoked, Bucket: kumo.BucketRef{AppID: appID}, Message: []byte("not json")})
	bus := &recordingBus{}
	openDispatcher(t, o, bus)

	waitFor(t, func() error {
		if n := o.pending(); n > 0 {
			return fmt.Errorf("%d events not completed", n)
		}
		return nil
	})
	got := bus.deliveries()
	want := []kumo.Delivery{
		{Topic: "topicA", Username: "app-old1", Revoked: true, AppID: appID},
		{Topic: "topicB", Username: "app-old2", Revoked: true, AppID: appID},
		{Topic: "topicA", Payload: EventPayload(es[0]), ID: "1", AppID: appID, EventType: kumo.DataObjectCreated},
	}
	if len(got) != len(want) {
		t.Fatalf("%d deliveries, want %d:\n%s", len(got), len(want), formatDeliveries(got))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Topic != w.Topic || g.Username != w.Username || g.Revoked != w.Revoked || g.AppID != w.AppID || string(g.Payload) != string(w.Payload) {
			t.Errorf("delivery %d = %+v, want %+v", i, g, w)
		}
	}
	if got, want := o.completedSeqs(), []int64{1, 2, 3}; !slices.Equal(got, want) {
		t.Errorf("completed events %v, want %v", got, want)
	}
}
