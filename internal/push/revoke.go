package push

import (
	"encoding/json"
	"slices"

	"github.com/kumo-iot/kumo"
)

// revocations separates the MQTTRevoked events of a batch from the others
// (rest, in order) and returns the revocations they carry, one per
// revoked credential, for the bus: every node's broker ends the sessions
// that logged in with them. They go on the bus before the batch's pushes.
func (d *Dispatcher) revocations(events []kumo.Event) (revs []kumo.Delivery, rest []kumo.Event) {
	if !slices.ContainsFunc(events, func(e kumo.Event) bool { return e.Type == kumo.MQTTRevoked }) {
		return nil, events // the usual batch: no copy on the push path
	}
	for _, e := range events {
		if e.Type != kumo.MQTTRevoked {
			rest = append(rest, e)
			continue
		}
		var rs []kumo.MQTTRevocation
		if err := json.Unmarshal(e.Message, &rs); err != nil {
			d.Log.Error("MQTT revocation dropped: its stored form does not parse", "seq", e.Seq, "error", err)
			continue
		}
		for _, r := range rs {
			revs = append(revs, kumo.Delivery{Topic: r.Topic, Username: r.Username, Revoked: true, AppID: e.Bucket.AppID})
		}
	}
	return revs, rest
}
