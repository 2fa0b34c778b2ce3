package push

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kumo-iot/kumo"
)

// fakePhones is a kumo.PhoneQueue that records what is queued.
type fakePhones struct {
	mu         sync.Mutex
	recipients []kumo.PhoneRecipient
	queued     []kumo.PhonePush
}

func (f *fakePhones) PhoneRecipients(context.Context, kumo.Event) ([]kumo.PhoneRecipient, error) {
	return f.recipients, nil
}
func (f *fakePhones) QueuePhonePushes(_ context.Context, ps []kumo.PhonePush) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queued = append(f.queued, ps...)
	return nil
}
func (f *fakePhones) ClaimPhonePushes(context.Context, string, int, time.Duration) ([]kumo.PhonePush, error) {
	return nil, nil
}
func (f *fakePhones) FinishPhonePush(context.Context, int64, int64) error         { return nil }
func (f *fakePhones) DropPhoneInstallation(context.Context, string, string) error { return nil }
func (f *fakePhones) PushConfigOf(context.Context, string) (kumo.PushConfig, error) {
	return kumo.PushConfig{}, nil
}

// TestQueuePhones checks which phones get an event's push: a bucket event
// goes to every phone recipient; a message to those of the channels it
// enabled and of its development flags.
func TestQueuePhones(t *testing.T) {
	android := kumo.PhoneRecipient{InstallationID: "a", DeviceType: "ANDROID", RegistrationID: "ra"}
	iosDev := kumo.PhoneRecipient{InstallationID: "i", DeviceType: "IOS", RegistrationID: "ri", Development: true}
	msg := func(d kumo.MessageDelivery) []byte { b, _ := json.Marshal(d); return b }
	bucket := kumo.BucketRef{AppID: "app1", Scope: kumo.AppScope, Name: "b"}
	tests := []struct {
		name  string
		event kumo.Event
		want  []string
	}{
		{"bucket event", kumo.Event{Type: kumo.DataObjectCreated, Bucket: bucket, ObjectID: "o"}, []string{"a", "i"}},
		{"message for FCM only", kumo.Event{Type: kumo.PushMessageSent, Bucket: bucket, ObjectID: "m1",
			Message: msg(kumo.MessageDelivery{ToDevelopment: true, ToProduction: true, Phone: &kumo.PhonePayload{FCMEnabled: true}})}, []string{"a"}},
		{"message to production only", kumo.Event{Type: kumo.PushMessageSent, Bucket: bucket, ObjectID: "m2",
			Message: msg(kumo.MessageDelivery{ToProduction: true, Phone: &kumo.PhonePayload{FCMEnabled: true, APNsEnabled: true}})}, []string{"a"}},
		{"message without phones", kumo.Event{Type: kumo.PushMessageSent, Bucket: bucket, ObjectID: "m3",
			Message: msg(kumo.MessageDelivery{ToDevelopment: true, ToProduction: true})}, nil},
	}
	for _, tt := range tests {
		phones := &fakePhones{recipients: []kumo.PhoneRecipient{android, iosDev}}
		d := &Dispatcher{Phones: phones}
		if err := d.queuePhones(context.Background(), []kumo.Event{tt.event}); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var got []string
		for _, p := range phones.queued {
			got = append(got, p.InstallationID)
			if p.AppID != "app1" || len(p.Payload) == 0 {
				t.Errorf("%s: push %+v", tt.name, p)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: queued for %v, want %v", tt.name, got, tt.want)
		}
	}
}
