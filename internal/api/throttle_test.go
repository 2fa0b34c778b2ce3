package api

import (
	"fmt"
	"testing"
	"time"
)

func TestThrottle(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	th := newThrottle(3, time.Minute)
	fail := func(addr string, d time.Duration, n int) {
		for range n {
			th.fail(addr, at(d))
		}
	}

	fail("a", 0, 2)
	if w := th.wait("a", at(0)); w != 0 {
		t.Fatalf("after 2 failures of 3: wait %s", w)
	}
	fail("a", time.Second, 1)
	if w := th.wait("a", at(time.Second)); w != time.Minute {
		t.Fatalf("after 3 failures: wait %s, want 1m", w)
	}
	if w := th.wait("b", at(time.Second)); w != 0 {
		t.Fatalf("another address waits %s", w)
	}
	// Failures spread over more than a window do not add up.
	fail("b", 0, 2)
	fail("b", 2*time.Minute, 2)
	if w := th.wait("b", at(2*time.Minute)); w != 0 {
		t.Fatalf("2 failures a window apart: wait %s", w)
	}
	// The penalty grows when the address goes on failing after it.
	end := time.Second + time.Minute
	if w := th.wait("a", at(end)); w != 0 {
		t.Fatalf("after the penalty: wait %s", w)
	}
	fail("a", end, 3)
	if w := th.wait("a", at(end)); w != 2*time.Minute {
		t.Fatalf("second penalty: wait %s, want 2m", w)
	}
	// Long quiet: forgotten, the next penalty is the first again.
	later := end + 2*time.Minute + maxLoginPenalty
	fail("a", later, 3)
	if w := th.wait("a", at(later)); w != time.Minute {
		t.Fatalf("penalty after a long quiet: wait %s, want 1m", w)
	}
	// The penalty is capped.
	next := later
	for i := range 10 {
		next += th.wait("a", at(next))
		fail("a", next, 3)
		if w := th.wait("a", at(next)); w > maxLoginPenalty {
			t.Fatalf("penalty %d: %s, more than %s", i, w, maxLoginPenalty)
		}
	}
}

func TestThrottleMemoryBounded(t *testing.T) {
	th := newThrottle(3, time.Minute)
	th.max = 100
	now := time.Unix(1_700_000_000, 0)
	// An address in penalty, refused from then on, so failing no more.
	for range 3 {
		th.fail("192.0.2.1", now)
	}
	for i := range 1000 {
		th.fail(fmt.Sprintf("10.0.%d.%d", i/256, i%256), now.Add(time.Duration(i)*time.Millisecond))
	}
	if len(th.addrs) > th.max {
		t.Fatalf("%d addresses kept, max %d", len(th.addrs), th.max)
	}
	if th.addrs["10.0.3.231"] == nil { // the last one
		t.Fatalf("the most recent address was evicted")
	}
	if w := th.wait("192.0.2.1", now.Add(time.Second)); w == 0 {
		t.Fatalf("the address in penalty was evicted by 1000 others failing once each")
	}

	// Every address in penalty: still bounded, the newest kept.
	th = newThrottle(1, time.Minute)
	th.max = 100
	for i := range 1000 {
		th.fail(fmt.Sprintf("10.1.%d.%d", i/256, i%256), now.Add(time.Duration(i)*time.Millisecond))
	}
	if len(th.addrs) > th.max {
		t.Fatalf("all in penalty: %d addresses kept, max %d", len(th.addrs), th.max)
	}
	if w := th.wait("10.1.3.231", now.Add(time.Second)); w == 0 {
		t.Fatalf("all in penalty: the most recent address is not refused")
	}
}

func TestSourceAddr(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:5000":                       "127.0.0.1",
		"[::ffff:10.0.0.1]:5000":               "10.0.0.1", // IPv4-mapped: the IPv4 address
		"[::1]:80":                             "::/64",
		"[2001:db8:1:2:3:4:5:6]:443":           "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff:ffff:ffff:ffff]:1": "2001:db8:1:2::/64", // the same /64
		"[2001:db8:1:3::1]:1":                  "2001:db8:1:3::/64",
		"[fe80::1%eth0]:80":                    "fe80::/64",
		"weird":                                "weird",
	} {
		if got := sourceAddr(in); got != want {
			t.Errorf("sourceAddr(%q) = %q, want %q", in, got, want)
		}
	}

	// The addresses of one /64 are one source to the throttle.
	th := newThrottle(3, time.Minute)
	now := time.Unix(1_700_000_000, 0)
	for i := range 3 {
		th.fail(sourceAddr(fmt.Sprintf("[2001:db8:0:1::%x]:4000", i+1)), now)
	}
	if w := th.wait(sourceAddr("[2001:db8:0:1::ffff]:4000"), now); w == 0 {
		t.Fatalf("3 failures from 3 addresses of one /64: another address of it is not refused")
	}
	if w := th.wait(sourceAddr("[2001:db8:0:2::1]:4000"), now); w != 0 {
		t.Fatalf("another /64 is refused for %s", w)
	}
}
