package phone

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/kumo-iot/kumo"
)

// memQueue is a kumo.PhoneQueue in memory.
type memQueue struct {
	mu       sync.Mutex
	pushes   map[int64]kumo.PhonePush
	retries  map[int64]int64 // id -> retryAt
	finished []int64
	dropped  []string
	cfg      kumo.PushConfig
}

func (q *memQueue) PhoneRecipients(context.Context, kumo.Event) ([]kumo.PhoneRecipient, error) {
	return nil, nil
}
func (q *memQueue) QueuePhonePushes(context.Context, []kumo.PhonePush) error { return nil }
func (q *memQueue) ClaimPhonePushes(_ context.Context, _ string, max int, _ time.Duration) ([]kumo.PhonePush, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []kumo.PhonePush
	for id, p := range q.pushes {
		if len(out) == max {
			break
		}
		p.Attempts++
		out = append(out, p)
		delete(q.pushes, id)
	}
	return out, nil
}
func (q *memQueue) FinishPhonePush(_ context.Context, id int64, retryAt int64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if retryAt > 0 {
		q.retries[id] = retryAt
	} else {
		q.finished = append(q.finished, id)
	}
	return nil
}
func (q *memQueue) DropPhoneInstallation(_ context.Context, _, installationID string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.dropped = append(q.dropped, installationID)
	return nil
}
func (q *memQueue) PushConfigOf(context.Context, string) (kumo.PushConfig, error) { return q.cfg, nil }

// memLedger is a kumo.DeliveryLedger in memory.
type memLedger struct {
	mu sync.Mutex
	rs []kumo.DeliveryRecord
}

func (l *memLedger) RecordDeliveries(_ context.Context, rs []kumo.DeliveryRecord) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rs = append(l.rs, rs...)
	return nil
}
func (l *memLedger) Deliveries(context.Context, kumo.Caller, kumo.DeliveryFilter) ([]kumo.DeliveryRecord, int64, error) {
	return nil, 0, nil
}
func (l *memLedger) records() []kumo.DeliveryRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]kumo.DeliveryRecord(nil), l.rs...)
}

// TestWorker runs the worker over an in-memory queue and local FCM and
// APNs servers: a delivered Android push, an iOS alert, a token the
// provider says is gone, and a push to retry.
func TestWorker(t *testing.T) {
	fcm, apns := newFCMEnv(t), newAPNsEnv(t)
	_, p8file := p8(t)
	q := &memQueue{retries: map[int64]int64{}, cfg: kumo.PushConfig{
		FCM:  &kumo.FCMConfig{ServiceAccount: serviceAccount(t, testRSAKey(t), "https://token.invalid/token")},
		APNs: &kumo.APNsConfig{KeyID: "KEY1234567", TeamID: "TEAM123456", BundleID: "com.example.app", Key: p8file},
	}}
	payload := func(p kumo.PhonePayload) []byte { b, _ := json.Marshal(p); return b }
	bucketEvent := payload(kumo.PhonePayload{FCMEnabled: true, APNsEnabled: true,
		FCMData:  map[string]any{"type": "DATA_OBJECT_CREATED", "when": 17, "objectScopeType": "APP"},
		APNsData: map[string]any{"type": "DATA_OBJECT_CREATED", "when": 17, "objectScopeType": "APP"}})
	alert := payload(kumo.PhonePayload{APNsEnabled: true, APNsData: map[string]any{"greeting": "hi", "s": "u1"},
		APNs: map[string]any{"enabled": true, "alert": map[string]any{"body": "Hello"}, "badge": 3}})
	q.pushes = map[int64]kumo.PhonePush{
		1: {ID: 1, AppID: "app1", EventType: kumo.DataObjectCreated, PhoneRecipient: kumo.PhoneRecipient{InstallationID: "i-android", DeviceType: "ANDROID", RegistrationID: "reg-a"}, Payload: bucketEvent},
		2: {ID: 2, AppID: "app1", MessageID: "m1", EventType: kumo.PushMessageSent, PhoneRecipient: kumo.PhoneRecipient{InstallationID: "i-ios", DeviceType: "IOS", RegistrationID: "tok-i", Development: true}, Payload: alert},
		3: {ID: 3, AppID: "app1", EventType: kumo.DataObjectCreated, PhoneRecipient: kumo.PhoneRecipient{InstallationID: "i-gone", DeviceType: "ANDROID", RegistrationID: "reg-gone"}, Payload: bucketEvent},
	}
	// The FCM fake answers in order of the requests: push 1 or 3 may come
	// first, so both answers depend on the token in the request.
	fcm.send.check = nil
	ledger := &memLedger{}
	w := &Worker{Queue: q, Ledger: ledger, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Node: "n1", Poll: 10 * time.Millisecond,
		Configure: func(s *Senders) { s.FCM, s.APNs = fcm.fcm, apns.apns }}
	fcm.send.tokenAnswers = map[string]answer{"reg-gone": fcmErr(404, "NOT_FOUND", "UNREGISTERED", "gone")}
	w.Open()
	defer w.Close()
	deadline := time.Now().Add(10 * time.Second)
	for len(ledger.records()) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("ledger records: %+v", ledger.records())
		}
		time.Sleep(10 * time.Millisecond)
	}
	states := map[string]kumo.DeliveryState{}
	for _, r := range ledger.records() {
		states[r.InstallationID] = r.State
	}
	want := map[string]kumo.DeliveryState{"i-android": kumo.DeliverySent, "i-ios": kumo.DeliverySent, "i-gone": kumo.DeliveryDropped}
	for k, v := range want {
		if states[k] != v {
			t.Errorf("installation %s: %s, want %s (records %+v)", k, states[k], v, ledger.records())
		}
	}
	q.mu.Lock()
	if len(q.dropped) != 1 || q.dropped[0] != "i-gone" {
		t.Errorf("installations dropped: %v, want [i-gone]", q.dropped)
	}
	q.mu.Unlock()
	// What the providers received.
	ios := apns.sandbox.requests(t)
	if len(ios) != 1 {
		t.Fatalf("APNs sandbox requests: %d, want 1 (a development installation)", len(ios))
	}
	var body map[string]any
	json.Unmarshal(ios[0].body, &body)
	aps, _ := body["aps"].(map[string]any)
	if aps["badge"] != float64(3) || aps["alert"].(map[string]any)["body"] != "Hello" || body["greeting"] != "hi" || body["s"] != "u1" {
		t.Errorf("APNs body = %s", ios[0].body)
	}
}
