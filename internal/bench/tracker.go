package bench

import (
	"math"
	"slices"
	"sync"
	"time"
)

// tracker matches created objects with their pushes. The push of an object
// may arrive before the HTTP answer that names the object is read, so both
// sides record what they saw under the objectID, and whichever comes
// second computes the latency.
//
// The entries live in a slice that the map indexes, so that a push can
// update the entry of an acked object in place, looking it up by a byte
// slice without allocating a string.
type tracker struct {
	base time.Time // times are kept as offsets from base, to keep entries small

	mu         sync.Mutex
	index      map[string]int // objectID → entries index
	entries    []entry
	latencies  []time.Duration
	acked      int64 // objects created (HTTP 201)
	delivered  int64 // acked objects whose push arrived
	pushes     int64 // pushes received, duplicates included
	duplicates int64 // pushes beyond the first of an object
}

// entry is what is known of one objectID.
type entry struct {
	sent    time.Duration // when its POST was sent; valid when acked
	arrived time.Duration // when its first push arrived; valid when pushes > 0
	acked   bool
	pushes  int32
}

func newTracker() *tracker {
	return &tracker{base: time.Now(), index: map[string]int{}}
}

// ack records that the POST sent at sent created object id.
func (t *tracker) ack(id string, sent time.Time) {
	off := sent.Sub(t.base)
	t.mu.Lock()
	defer t.mu.Unlock()
	i, ok := t.index[id]
	if !ok {
		i = len(t.entries)
		t.index[id] = i
		t.entries = append(t.entries, entry{})
	}
	e := &t.entries[i]
	if e.acked {
		return // the server gave the same ID twice; count it once
	}
	e.acked, e.sent = true, off
	t.acked++
	if e.pushes > 0 {
		t.deliver(e)
	}
}

// push records that the push of object id arrived at at. It does not
// keep id.
func (t *tracker) push(id []byte, at time.Time) {
	off := at.Sub(t.base)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pushes++
	i, ok := t.index[string(id)] // no allocation: the compiler looks up by the bytes
	if !ok {
		i = len(t.entries)
		t.index[string(id)] = i
		t.entries = append(t.entries, entry{})
	}
	e := &t.entries[i]
	e.pushes++
	if e.pushes > 1 {
		t.duplicates++
		return
	}
	e.arrived = off
	if e.acked {
		t.deliver(e)
	}
}

// deliver records the latency of an acked object whose push arrived.
// t.mu must be held.
func (t *tracker) deliver(e *entry) {
	t.delivered++
	t.latencies = append(t.latencies, e.arrived-e.sent)
}

// counts is a snapshot of the tracker's counters.
type counts struct {
	acked, delivered, pushes, duplicates int64
}

func (t *tracker) counts() counts {
	t.mu.Lock()
	defer t.mu.Unlock()
	return counts{acked: t.acked, delivered: t.delivered, pushes: t.pushes, duplicates: t.duplicates}
}

// unackedPushes returns how many objects were pushed but never acked: a
// POST that failed on the client side after the server committed it, or a
// push of an object the driver did not create.
func (t *tracker) unackedPushes() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	var n int64
	for _, e := range t.entries {
		if !e.acked && e.pushes > 0 {
			n++
		}
	}
	return n
}

// latenciesSince returns a copy of the latencies recorded after the first
// n (in arrival order).
func (t *tracker) latenciesSince(n int) []time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n >= len(t.latencies) {
		return nil
	}
	return slices.Clone(t.latencies[n:])
}

// sortedLatencies returns a sorted copy of the latencies recorded so far.
func (t *tracker) sortedLatencies() []time.Duration {
	t.mu.Lock()
	l := slices.Clone(t.latencies)
	t.mu.Unlock()
	slices.Sort(l)
	return l
}

// percentile returns the p-th percentile (0 < p <= 100) of sorted by the
// nearest-rank method: the smallest value such that at least p% of the
// values are less than or equal to it. It returns 0 for no values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}
