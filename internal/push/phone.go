package push

import (
	"context"
	"encoding/json"

	"github.com/kumo-iot/kumo"
)

// queuePhones queues the pushes of events to phone installations (ANDROID:
// FCM, IOS: APNs), durably, before the events are completed: a bucket
// event's payload, or a message's phone payload, to each phone recipient
// its channels and development flags select. Apps without a push
// configuration have no phone recipients. Each push carries its event's
// seq: the queue takes an event's pushes once, so that a batch dispatched
// again (its completion failed, the node restarted or died) queues none
// twice.
func (d *Dispatcher) queuePhones(ctx context.Context, events []kumo.Event) error {
	if d.Phones == nil {
		return nil
	}
	var ps []kumo.PhonePush
	for _, e := range events {
		rs, err := d.Phones.PhoneRecipients(ctx, e)
		if err != nil {
			return err
		}
		if len(rs) == 0 {
			continue
		}
		payload, wants, messageID := phonePayload(e)
		if payload == nil {
			continue
		}
		body, err := json.Marshal(payload)
		if err != nil {
			return err
		}
		for _, r := range rs {
			if !wants(r.Development) || r.DeviceType == "ANDROID" && !payload.FCMEnabled || r.DeviceType == "IOS" && !payload.APNsEnabled {
				continue
			}
			ps = append(ps, kumo.PhonePush{AppID: e.Bucket.AppID, Seq: e.Seq, MessageID: messageID, EventType: e.Type, PhoneRecipient: r, Payload: body})
		}
	}
	return d.Phones.QueuePhonePushes(ctx, ps)
}

// phonePayload returns what a phone receives of e, which development
// flags it is for, and its message ID: a bucket event's payload (long
// keys for FCM; the worker renames them for APNs) to every phone, or a
// message's phone payload (nil when it enabled neither FCM nor APNs).
func phonePayload(e kumo.Event) (*kumo.PhonePayload, func(bool) bool, string) {
	if e.Type == kumo.PushMessageSent {
		var md kumo.MessageDelivery
		if err := json.Unmarshal(e.Message, &md); err != nil || md.Phone == nil {
			return nil, nil, ""
		}
		return md.Phone, md.Wants, e.ObjectID
	}
	var data map[string]any
	json.Unmarshal(EventPayload(e), &data) // our own rendering of a struct: always an object
	return &kumo.PhonePayload{FCMEnabled: true, APNsEnabled: true, FCMData: data, APNsData: data},
		func(bool) bool { return true }, ""
}
