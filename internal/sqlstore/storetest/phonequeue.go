package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/kumo-iot/kumo"
)

// testPhoneQueue checks kumo.PhoneQueue's queue: a claim holds a push for
// its lease and counts the send it is for, a retry comes back when due, a
// finished push is gone, and a token reported gone takes its pushes along.
func testPhoneQueue(t *testing.T, s suite) {
	f := newFixture(t, s)
	f.db.Ledger.On = true
	_, c := f.mustThing("vt-phone")
	in := f.mustInstall(c, kumo.InstallationCreate{DeviceType: kumo.DeviceAndroid, RegistrationID: "tok-1"})
	push := kumo.PhonePush{AppID: f.app.AppID, EventType: kumo.DataObjectCreated, Payload: []byte(`{"a":1}`),
		PhoneRecipient: kumo.PhoneRecipient{InstallationID: in.ID, DeviceType: kumo.DeviceAndroid, RegistrationID: "tok-1"}}
	if err := f.db.Phones.QueuePhonePushes(f.ctx, []kumo.PhonePush{push, push}); err != nil {
		t.Fatalf("QueuePhonePushes: %v", err)
	}
	claim := func(node string) []kumo.PhonePush {
		t.Helper()
		ps, err := f.db.Phones.ClaimPhonePushes(f.ctx, node, 10, time.Minute)
		if err != nil {
			t.Fatalf("ClaimPhonePushes: %v", err)
		}
		return ps
	}

	ps := claim("n1")
	if len(ps) != 2 || ps[0].Attempts != 1 || ps[1].Attempts != 1 || string(ps[0].Payload) != `{"a":1}` || ps[0].RegistrationID != "tok-1" {
		t.Fatalf("first claim = %+v; want both pushes, each at its first attempt", ps)
	}
	if again := claim("n2"); len(again) != 0 {
		t.Errorf("a claim during the lease = %d pushes; want none", len(again))
	}
	if err := f.db.Phones.FinishPhonePush(f.ctx, ps[0].ID, f.clock.Millis()+30_000); err != nil { // retry in 30 s
		t.Fatal(err)
	}
	if err := f.db.Phones.FinishPhonePush(f.ctx, ps[1].ID, 0); err != nil { // sent
		t.Fatal(err)
	}
	if early := claim("n2"); len(early) != 0 {
		t.Errorf("a claim before the retry is due = %d pushes; want none", len(early))
	}
	f.clock.Advance(30 * time.Second)
	retry := claim("n2")
	if len(retry) != 1 || retry[0].ID != ps[0].ID || retry[0].Attempts != 2 {
		t.Fatalf("claim of the retry = %+v; want push %d at its second attempt", retry, ps[0].ID)
	}

	f.clock.Advance(2 * time.Minute) // the lease of n2 ends: the push is claimable again
	if err := f.db.Phones.DropPhoneInstallation(f.ctx, f.app.AppID, in.ID); err != nil {
		t.Fatalf("DropPhoneInstallation: %v", err)
	}
	if left := claim("n3"); len(left) != 0 {
		t.Errorf("pushes after the installation was dropped = %+v; want none", left)
	}
	_, err := f.db.Installations.GetInstallation(f.ctx, f.admin, in.ID)
	wantCode(t, "GetInstallation after the drop", err, kumo.ErrInstallationNotFound)
	// The ledger: both pushes queued, and the one that was waiting
	// (its claim over) dropped with the installation.
	rs, _, err := f.db.Ledger.Deliveries(f.ctx, f.admin, kumo.DeliveryFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var states []kumo.DeliveryState
	for _, r := range rs {
		states = append(states, r.State)
		if r.InstallationID != in.ID || r.EventType != kumo.DataObjectCreated {
			t.Errorf("record %+v: want installation %s, event type %s", r, in.ID, kumo.DataObjectCreated)
		}
	}
	if want := []kumo.DeliveryState{kumo.DeliveryQueued, kumo.DeliveryQueued, kumo.DeliveryDropped}; !slices.Equal(states, want) {
		t.Errorf("ledger states = %v, want %v", states, want)
	}
}

// testPhoneQueueOnce checks that the pushes of an event are queued once,
// however often its batch is dispatched: queued again while waiting, after
// they were sent and removed, after a restart, after the event was
// completed. A second event's pushes are queued as usual, and the ledger
// has one "queued" record per push.
func testPhoneQueueOnce(t *testing.T, s suite) {
	f := newFixture(t, s)
	f.db.Ledger.On = true
	_, c := f.mustThing("vt-once")
	android := f.mustInstall(c, kumo.InstallationCreate{DeviceType: kumo.DeviceAndroid, RegistrationID: "tok-a"})
	ios := f.mustInstall(c, kumo.InstallationCreate{DeviceType: kumo.DeviceIOS, RegistrationID: "tok-i"})
	b := f.bucket(kumo.AppScope, "once")
	f.mustObject(f.admin, b, map[string]any{"n": 1})
	f.mustObject(f.admin, b, map[string]any{"n": 2})
	events, err := f.db.Outbox.ClaimEvents(f.ctx, 10)
	if err != nil || len(events) != 2 {
		t.Fatalf("ClaimEvents = %+v, %v; want the 2 events", events, err)
	}
	pushes := func(e kumo.Event) []kumo.PhonePush {
		var ps []kumo.PhonePush
		for _, in := range []kumo.Installation{android, ios} {
			ps = append(ps, kumo.PhonePush{AppID: f.app.AppID, Seq: e.Seq, EventType: e.Type, Payload: []byte(`{}`),
				PhoneRecipient: kumo.PhoneRecipient{InstallationID: in.ID, DeviceType: in.DeviceType, RegistrationID: in.RegistrationID}})
		}
		return ps
	}
	queue := func(what string, e kumo.Event) {
		t.Helper()
		if err := f.db.Phones.QueuePhonePushes(f.ctx, pushes(e)); err != nil {
			t.Fatalf("QueuePhonePushes (%s): %v", what, err)
		}
	}
	// claim claims what is waiting, and settles it as sent (removed).
	claim := func(what string, want int) {
		t.Helper()
		ps, err := f.db.Phones.ClaimPhonePushes(f.ctx, "n1", 100, time.Minute)
		if err != nil {
			t.Fatalf("ClaimPhonePushes (%s): %v", what, err)
		}
		if len(ps) != want {
			t.Errorf("%s: %d pushes waiting (%+v), want %d", what, len(ps), ps, want)
		}
		for _, p := range ps {
			if err := f.db.Phones.FinishPhonePush(f.ctx, p.ID, 0); err != nil {
				t.Fatal(err)
			}
		}
	}

	queue("first dispatch", events[0])
	queue("the batch dispatched again", events[0])
	claim("after queueing an event twice", 2)
	queue("dispatched again after the pushes were sent", events[0])
	claim("after the pushes were sent", 0)
	queue("a second event", events[1])
	claim("a second event", 2)

	f.reopen() // the events were not completed: a restart hands them out again
	again, err := f.db.Outbox.ClaimEvents(f.ctx, 10)
	if err != nil || len(again) != 2 {
		t.Fatalf("after a restart, ClaimEvents = %+v, %v; want the 2 events again", again, err)
	}
	queue("after a restart", again[0])
	queue("after a restart", again[1])
	claim("after a restart", 0)
	if err := f.db.Outbox.CompleteEvents(f.ctx, again); err != nil {
		t.Fatal(err)
	}
	f.mustObject(f.admin, f.bucket(kumo.AppScope, "other"), map[string]any{}) // a write: the completed events are deleted
	queue("after completion", again[0])
	claim("after completion", 0)

	rs, _, err := f.db.Ledger.Deliveries(f.ctx, f.admin, kumo.DeliveryFilter{Limit: 1000})
	if err != nil {
		t.Fatalf("Deliveries: %v", err)
	}
	queued := map[string]int{} // seq/installation -> queued records
	for _, r := range rs {
		if r.State == kumo.DeliveryQueued {
			queued[fmt.Sprintf("%s/%s", r.EventType, r.InstallationID)]++
		}
	}
	if len(rs) != 4 || len(queued) != 2 || queued[string(kumo.DataObjectCreated)+"/"+android.ID] != 2 {
		t.Errorf("ledger = %+v; want one queued record per push (2 events × 2 phones)", rs)
	}
}

// testPushesOfDeletedOwners checks that deleting an installation, a thing
// or a user takes the pushes waiting for their installations along (the
// MQTT offline queue, the queued phone pushes), each recorded dropped in
// the ledger with its installation: none is sent to a device that is
// gone, none ends without a record.
func testPushesOfDeletedOwners(t *testing.T, s suite) {
	f := withEvents(newFixture(t, s), 10) // the offline pushes' events (seq 1, 3, 5)
	f.db.Ledger.On = true
	_, thing := f.mustThing("vt-gone")
	user, userC := f.mustUser("gone")
	_, keeper := f.mustThing("vt-stays") // its pushes stay
	type device struct {
		owner        kumo.Caller
		mqtt, phone  kumo.Installation
		deleteTarget string // "installation": only the phone installation is deleted
	}
	devices := []device{{owner: thing}, {owner: userC}, {owner: keeper}, {owner: keeper, deleteTarget: "installation"}}
	msg := 0
	for i := range devices {
		d := &devices[i]
		if d.deleteTarget == "" {
			d.mqtt = f.mustInstall(d.owner, kumo.InstallationCreate{DeviceType: kumo.DeviceMQTT})
			if err := f.db.Queue.SetPersistent(f.ctx, d.mqtt.MQTTTopic, true); err != nil {
				t.Fatal(err)
			}
			msg++
			if err := f.db.Queue.Enqueue(f.ctx, []kumo.Delivery{{Topic: d.mqtt.MQTTTopic, ID: fmt.Sprint(msg), Payload: []byte(`{}`),
				AppID: f.app.AppID, EventType: kumo.PushMessageSent, MessageID: fmt.Sprintf("m%d", msg)}}); err != nil {
				t.Fatal(err)
			}
		}
		d.phone = f.mustInstall(d.owner, kumo.InstallationCreate{DeviceType: kumo.DeviceAndroid, RegistrationID: fmt.Sprintf("tok-%d", i)})
		msg++
		if err := f.db.Phones.QueuePhonePushes(f.ctx, []kumo.PhonePush{{AppID: f.app.AppID, MessageID: fmt.Sprintf("m%d", msg), EventType: kumo.PushMessageSent,
			Payload: []byte(`{}`), PhoneRecipient: kumo.PhoneRecipient{InstallationID: d.phone.ID, DeviceType: kumo.DeviceAndroid, RegistrationID: d.phone.RegistrationID}}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.db.Things.DeleteThing(f.ctx, f.admin, thing.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.db.Users.DeleteUser(f.ctx, f.admin, user.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.db.Installations.DeleteInstallation(f.ctx, f.admin, devices[3].phone.ID); err != nil {
		t.Fatal(err)
	}

	rs, _, err := f.db.Ledger.Deliveries(f.ctx, f.admin, kumo.DeliveryFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	dropped := map[string]bool{} // installation IDs with a dropped record
	for _, r := range rs {
		if r.State == kumo.DeliveryDropped {
			if r.MessageID == "" || r.EventType != kumo.PushMessageSent {
				t.Errorf("dropped record %+v: want its message ID and event type", r)
			}
			dropped[r.InstallationID] = true
		}
	}
	for i, d := range devices {
		gone := d.owner != keeper || d.deleteTarget == "installation"
		for _, in := range []kumo.Installation{d.mqtt, d.phone} {
			if in.ID == "" || d.deleteTarget == "installation" && in.ID != d.phone.ID {
				continue
			}
			if dropped[in.ID] != gone {
				t.Errorf("device %d, %s installation: dropped record %v, want %v", i, in.DeviceType, dropped[in.ID], gone)
			}
		}
	}
	// What stays is the keeper's: one offline push, one phone push.
	ps, err := f.db.Phones.ClaimPhonePushes(f.ctx, "n1", 100, time.Minute)
	if err != nil || len(ps) != 1 || ps[0].InstallationID != devices[2].phone.ID {
		t.Errorf("ClaimPhonePushes = %+v, %v; want the remaining thing's push only", ps, err)
	}
	if q, err := f.db.Queue.Queued(f.ctx, devices[2].mqtt.MQTTTopic, nil, 10); err != nil || len(q) != 1 {
		t.Errorf("the remaining thing's offline queue = %+v, %v; want its push", q, err)
	}
}
