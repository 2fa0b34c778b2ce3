package phone

import (
	"testing"
	"time"

	"github.com/kumo-iot/kumo"
)

// TestFCMTimeToLive checks a message's timeToLive as FCM receives it: a
// time beyond FCM's four weeks (one beyond a Duration's range too, which
// used to overflow into a negative TTL that FCM refused) is four weeks.
func TestFCMTimeToLive(t *testing.T) {
	for _, tt := range []struct {
		ttl  any
		want time.Duration
	}{
		{60.0, time.Minute},
		{float64(28 * 24 * 3600), 28 * 24 * time.Hour},
		{float64(28*24*3600 + 1), 28 * 24 * time.Hour},
		{1e12, 28 * 24 * time.Hour},
		{1e300, 28 * 24 * time.Hour},
		{0.0, 0},
		{-5.0, 0},
	} {
		m, err := fcmMessageOf(kumo.PhonePush{}, kumo.PhonePayload{FCMEnabled: true, FCM: map[string]any{"timeToLive": tt.ttl}})
		if err != nil {
			t.Fatal(err)
		}
		var got time.Duration
		if m.Android != nil {
			got = m.Android.TTL
		}
		if got != tt.want {
			t.Errorf("timeToLive %v: TTL %v; want %v", tt.ttl, got, tt.want)
		}
	}
}
