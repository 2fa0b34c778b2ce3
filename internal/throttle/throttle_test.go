package throttle

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// TestLoginPenalties checks the arithmetic with the REST API's settings:
// the penalty is the window, doubled each time, capped, and forgotten
// after a long quiet.
func TestLoginPenalties(t *testing.T) {
	const maxPenalty = 15 * time.Minute
	t0 := time.Unix(1_700_000_000, 0)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	th := &Throttle{Limit: 3, Window: time.Minute, Penalty: time.Minute, MaxPenalty: maxPenalty}
	a, b := addr("192.0.2.1"), addr("192.0.2.2")
	fail := func(ad netip.Addr, d time.Duration, n int) {
		for range n {
			th.Fail(ad, at(d))
		}
	}

	fail(a, 0, 2)
	if w := th.Wait(a, at(0)); w != 0 {
		t.Fatalf("after 2 failures of 3: wait %s", w)
	}
	fail(a, time.Second, 1)
	if w := th.Wait(a, at(time.Second)); w != time.Minute {
		t.Fatalf("after 3 failures: wait %s, want 1m", w)
	}
	if w := th.Wait(b, at(time.Second)); w != 0 {
		t.Fatalf("another address waits %s", w)
	}
	// Failures spread over more than a window do not add up.
	fail(b, 0, 2)
	fail(b, 2*time.Minute, 2)
	if w := th.Wait(b, at(2*time.Minute)); w != 0 {
		t.Fatalf("2 failures a window apart: wait %s", w)
	}
	// The penalty grows when the address goes on failing after it.
	end := time.Second + time.Minute
	if w := th.Wait(a, at(end)); w != 0 {
		t.Fatalf("after the penalty: wait %s", w)
	}
	fail(a, end, 3)
	if w := th.Wait(a, at(end)); w != 2*time.Minute {
		t.Fatalf("second penalty: wait %s, want 2m", w)
	}
	// Long quiet: forgotten, the next penalty is the first again.
	later := end + 2*time.Minute + maxPenalty
	fail(a, later, 3)
	if w := th.Wait(a, at(later)); w != time.Minute {
		t.Fatalf("penalty after a long quiet: wait %s, want 1m", w)
	}
	// The penalty is capped.
	next := later
	for i := range 40 {
		next += th.Wait(a, at(next))
		fail(a, next, 3)
		if w := th.Wait(a, at(next)); w > maxPenalty || w <= 0 {
			t.Fatalf("penalty %d: %s, want (0, %s]", i, w, maxPenalty)
		}
	}
}

// TestConnectPenalties checks the arithmetic with the MQTT broker's
// settings: the limit within a minute starts a penalty, failures spread
// wider do not, a penalty that follows another doubles up to 16 times the
// first, and a quiet address starts over.
func TestConnectPenalties(t *testing.T) {
	th := &Throttle{Limit: 3, Window: time.Minute, Penalty: time.Minute, MaxPenalty: 16 * time.Minute}
	a := addr("192.0.2.1")
	now := time.Unix(1_000_000, 0)
	// fail counts n failures of a, a second apart, and returns the
	// penalty started by the last one.
	fail := func(n int) time.Duration {
		var p time.Duration
		for range n {
			now = now.Add(time.Second)
			p = th.Fail(a, now)
		}
		return p
	}
	if p := fail(2); p != 0 || th.Wait(a, now) != 0 {
		t.Fatalf("2 failures of 3: penalty %v", p)
	}
	now = now.Add(time.Minute) // the window passes
	if p := fail(2); p != 0 {
		t.Fatalf("2 + 2 failures a minute apart: penalty %v; want none", p)
	}
	if p := fail(1); p != time.Minute || th.Wait(a, now) == 0 {
		t.Fatalf("3 failures in a minute: penalty %v; want 1m", p)
	}
	if th.Wait(addr("192.0.2.2"), now) != 0 {
		t.Fatal("another address is in penalty")
	}
	if p := th.Fail(a, now.Add(time.Second)); p != 0 {
		t.Fatalf("a failure during the penalty started another: %v", p)
	}
	for _, want := range []time.Duration{2, 4, 8, 16, 16} {
		now = now.Add(th.MaxPenalty) // the penalty ends, quiet for less than 16m
		if p := fail(3); p != want*time.Minute {
			t.Fatalf("penalty %v; want %v", p, want*time.Minute)
		}
	}
	now = now.Add(3*th.MaxPenalty + time.Second) // quiet long after
	if p := fail(3); p != time.Minute {
		t.Fatalf("penalty after a quiet spell %v; want 1m", p)
	}
}

// TestMemoryBounded checks that the addresses remembered stay within Max,
// that an address in penalty outlives addresses failing once, and that
// the most recent address is kept.
func TestMemoryBounded(t *testing.T) {
	th := &Throttle{Limit: 3, Window: time.Minute, Penalty: time.Minute, MaxPenalty: 15 * time.Minute, Max: 100}
	now := time.Unix(1_700_000_000, 0)
	penalized := addr("192.0.2.1")
	for range 3 {
		th.Fail(penalized, now)
	}
	var last netip.Addr
	for i := range 1000 {
		last = addr(fmt.Sprintf("10.0.%d.%d", i/256, i%256))
		th.Fail(last, now.Add(time.Duration(i)*time.Millisecond))
	}
	if n := th.Len(); n > th.Max {
		t.Fatalf("%d addresses kept, max %d", n, th.Max)
	}
	if _, ok := th.addrs[last]; !ok {
		t.Fatalf("the most recent address was evicted")
	}
	if w := th.Wait(penalized, now.Add(time.Second)); w == 0 {
		t.Fatalf("the address in penalty was evicted by 1000 others failing once each")
	}

	// Every address in penalty: still bounded, the newest kept.
	th = &Throttle{Limit: 1, Window: time.Minute, Penalty: time.Minute, MaxPenalty: 15 * time.Minute, Max: 100}
	for i := range 1000 {
		last = addr(fmt.Sprintf("10.1.%d.%d", i/256, i%256))
		th.Fail(last, now.Add(time.Duration(i)*time.Millisecond))
	}
	if n := th.Len(); n > th.Max || len(th.addrs) != n {
		t.Fatalf("all in penalty: %d addresses kept (map %d), max %d", n, len(th.addrs), th.Max)
	}
	if w := th.Wait(last, now.Add(time.Second)); w == 0 {
		t.Fatalf("all in penalty: the most recent address is not refused")
	}

	// The default bound.
	th = &Throttle{Limit: 3, Window: time.Minute, Penalty: time.Minute, MaxPenalty: time.Minute}
	for i := range DefaultMax + 10 {
		th.Fail(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), now)
	}
	if n := th.Len(); n != DefaultMax {
		t.Errorf("%d addresses remembered; want %d", n, DefaultMax)
	}
}

func TestSource(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:5000":                       "127.0.0.1",
		"192.0.2.1":                            "192.0.2.1",
		"[::ffff:10.0.0.1]:5000":               "10.0.0.1", // IPv4-mapped: the IPv4 address
		"[::1]:80":                             "::",
		"[2001:db8:1:2:3:4:5:6]:443":           "2001:db8:1:2::",
		"[2001:db8:1:2:ffff:ffff:ffff:ffff]:1": "2001:db8:1:2::", // the same /64
		"[2001:db8:1:3::1]:1":                  "2001:db8:1:3::",
		"[fe80::1%eth0]:80":                    "fe80::",
		"weird":                                "invalid IP",
	} {
		if got := Source(in).String(); got != want {
			t.Errorf("Source(%q) = %q, want %q", in, got, want)
		}
	}

	// The addresses of one /64 are one source to the throttle.
	th := &Throttle{Limit: 3, Window: time.Minute, Penalty: time.Minute, MaxPenalty: time.Hour}
	now := time.Unix(1_700_000_000, 0)
	for i := range 3 {
		th.Fail(Source(fmt.Sprintf("[2001:db8:0:1::%x]:4000", i+1)), now)
	}
	if w := th.Wait(Source("[2001:db8:0:1::ffff]:4000"), now); w == 0 {
		t.Fatalf("3 failures from 3 addresses of one /64: another address of it is not refused")
	}
	if w := th.Wait(Source("[2001:db8:0:2::1]:4000"), now); w != 0 {
		t.Fatalf("another /64 is refused for %s", w)
	}
}

// TestNil checks that a nil Throttle refuses nobody (a throttle turned off).
func TestNil(t *testing.T) {
	var th *Throttle
	if w := th.Wait(addr("192.0.2.1"), time.Now()); w != 0 {
		t.Fatalf("nil throttle: wait %s", w)
	}
}
