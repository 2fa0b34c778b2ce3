package storetest

import (
	"testing"
	"time"

	"github.com/kumo-iot/kumo"
)

// testPhoneQueue checks kumo.PhoneQueue's queue: a claim holds a push for
// its lease and counts the send it is for, a retry comes back when due, a
// finished push is gone, and a token reported gone takes its pushes along.
func testPhoneQueue(t *testing.T, s suite) {
	f := newFixture(t, s)
	_, c := f.mustThing("vt-phone")
	in := f.mustInstall(c, kumo.InstallationCreate{DeviceType: kumo.DeviceAndroid, RegistrationID: "tok-1"})
	push := kumo.PhonePush{AppID: f.app.AppID, EventType: kumo.DataObjectCreated, Payload: []byte(`{"a":1}`),
		PhoneRecipient: kumo.PhoneRecipient{InstallationID: in.ID, DeviceType: kumo.DeviceAndroid, RegistrationID: "tok-1"}}
	if err := f.db.QueuePhonePushes(f.ctx, []kumo.PhonePush{push, push}); err != nil {
		t.Fatalf("QueuePhonePushes: %v", err)
	}
	claim := func(node string) []kumo.PhonePush {
		t.Helper()
		ps, err := f.db.ClaimPhonePushes(f.ctx, node, 10, time.Minute)
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
	if err := f.db.FinishPhonePush(f.ctx, ps[0].ID, f.clock.Millis()+30_000); err != nil { // retry in 30 s
		t.Fatal(err)
	}
	if err := f.db.FinishPhonePush(f.ctx, ps[1].ID, 0); err != nil { // sent
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
	if err := f.db.DropPhoneInstallation(f.ctx, f.app.AppID, in.ID); err != nil {
		t.Fatalf("DropPhoneInstallation: %v", err)
	}
	if left := claim("n3"); len(left) != 0 {
		t.Errorf("pushes after the installation was dropped = %+v; want none", left)
	}
	_, err := f.db.GetInstallation(f.ctx, f.admin, in.ID)
	wantCode(t, "GetInstallation after the drop", err, kumo.ErrInstallationNotFound)
}
