package api

import (
	"net/netip"
	"testing"
	"time"
)

// TestLoginThrottleSettings checks the penalties the API's throttle gives
// (package throttle tests the arithmetic): the window first, doubled
// after, never more than maxLoginPenalty.
func TestLoginThrottleSettings(t *testing.T) {
	th := newThrottle(3, time.Minute)
	a := netip.MustParseAddr("192.0.2.1")
	now := time.Unix(1_700_000_000, 0)
	var got []time.Duration
	for range 8 {
		var p time.Duration
		for range 3 {
			p = th.Fail(a, now)
		}
		got = append(got, p)
		now = now.Add(p)
	}
	want := []time.Duration{1, 2, 4, 8, 15, 15, 15, 15}
	for i := range want {
		if got[i] != want[i]*time.Minute {
			t.Fatalf("penalties %v; want %v minutes", got, want)
		}
	}
	if th.Max != maxThrottled {
		t.Errorf("Max %d; want %d", th.Max, maxThrottled)
	}
}
