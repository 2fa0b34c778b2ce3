package bench

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/push"
)

func TestPercentile(t *testing.T) {
	ms := func(n ...int) []time.Duration {
		out := make([]time.Duration, len(n))
		for i, v := range n {
			out[i] = time.Duration(v) * time.Millisecond
		}
		return out
	}
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	for _, tc := range []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one value p50", ms(7), 50, 7 * time.Millisecond},
		{"one value p99", ms(7), 99, 7 * time.Millisecond},
		{"even count p50 takes the lower middle", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"odd count p50 takes the middle", ms(1, 2, 3, 4, 5), 50, 3 * time.Millisecond},
		{"p100 is the max", ms(1, 2, 3, 4, 5), 100, 5 * time.Millisecond},
		{"p99 of 1..100", hundred, 99, 99 * time.Millisecond},
		{"p50 of 1..100", hundred, 50, 50 * time.Millisecond},
		{"p99 of 10 values is the max", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 99, 10 * time.Millisecond},
		{"tiny p is the min", ms(1, 2, 3), 0.001, time.Millisecond},
	} {
		if got := percentile(tc.sorted, tc.p); got != tc.want {
			t.Errorf("%s: percentile(%v, %v) = %v, want %v", tc.name, tc.sorted, tc.p, got, tc.want)
		}
	}
}

func TestScheduleDue(t *testing.T) {
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		rate float64
		i    int64
		want time.Duration // after start
	}{
		{0, 0, 0},
		{0, 12345, 0}, // unpaced: everything is due at once
		{1000, 0, 0},
		{1000, 1, time.Millisecond},
		{1000, 1000, time.Second},
		{1000, 10_000_000, 10_000 * time.Second}, // no drift over long runs
		{3, 1, 333_333_333 * time.Nanosecond},
		{3, 3, time.Second}, // rounding does not accumulate
		{3, 300_000, 100_000 * time.Second},
		{50_000, 50_000, time.Second},
		{50_000, 1, 20 * time.Microsecond},
		{0.5, 1, 2 * time.Second},
	} {
		s := schedule{start: start, rate: tc.rate}
		if got := s.due(tc.i).Sub(start); got != tc.want {
			t.Errorf("rate %v: due(%d) = start+%v, want start+%v", tc.rate, tc.i, got, tc.want)
		}
	}
}

func TestScheduleIsMonotonic(t *testing.T) {
	s := schedule{start: time.Now(), rate: 7777}
	prev := s.due(0)
	for i := int64(1); i < 100_000; i++ {
		d := s.due(i)
		if d.Before(prev) {
			t.Fatalf("due(%d) = %v is before due(%d) = %v", i, d, i-1, prev)
		}
		prev = d
	}
}

func TestSleepUntil(t *testing.T) {
	if err := sleepUntil(context.Background(), time.Now().Add(-time.Hour)); err != nil {
		t.Errorf("sleepUntil(past) = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := sleepUntil(ctx, time.Now().Add(time.Hour)); err == nil {
		t.Error("sleepUntil with a cancelled context returned nil")
	}
}

func TestTrackerMatchesEitherOrder(t *testing.T) {
	tr := newTracker()
	t0 := tr.base.Add(time.Second)

	tr.ack("a", t0) // the usual order: answer, then push
	tr.push([]byte("a"), t0.Add(3*time.Millisecond))

	b := []byte("b")
	tr.push(b, t0.Add(5*time.Millisecond)) // push before the answer is read
	b[0] = 'x'                             // the tracker does not keep the pushed ID
	tr.ack("b", t0.Add(time.Millisecond))
	tr.ack("b", t0.Add(2*time.Millisecond)) // the same ID twice counts once

	tr.ack("c", t0) // never pushed: lost
	tr.push([]byte("b"), t0.Add(9*time.Millisecond))
	tr.push([]byte("z"), t0) // never acked

	c := tr.counts()
	want := counts{acked: 3, delivered: 2, pushes: 4, duplicates: 1}
	if c != want {
		t.Errorf("counts = %+v, want %+v", c, want)
	}
	if got := tr.unackedPushes(); got != 1 {
		t.Errorf("unackedPushes = %d, want 1", got)
	}
	got := tr.sortedLatencies()
	wantLat := []time.Duration{3 * time.Millisecond, 4 * time.Millisecond}
	if len(got) != len(wantLat) || got[0] != wantLat[0] || got[1] != wantLat[1] {
		t.Errorf("latencies = %v, want %v", got, wantLat)
	}
}

func TestCreatedObjectID(t *testing.T) {
	for _, tc := range []struct {
		payload string
		id      string
		ok      bool
	}{
		{`{"type":"DATA_OBJECT_CREATED","objectID":"o1","bucketID":"bench"}`, "o1", true},
		{`{"type":"DATA_OBJECT_UPDATED","objectID":"o1"}`, "", false},
		{`{"type":"DATA_OBJECT_CREATED"}`, "", false},
		{`{"type":"DATA_OBJECT_CREATED","objectID":""}`, "", false},
		{`not json`, "", false},
		// Not compact: decoded.
		{`{"type" : "DATA_OBJECT_CREATED", "objectID" : "o2"}`, "o2", true},
		{`{"type" : "DATA_OBJECT_DELETED", "objectID" : "o2"}`, "", false},
		// An escape in the ID: decoded.
		{`{"type":"DATA_OBJECT_CREATED","objectID":"o\u00e9"}`, "oé", true},
		// A key inside a string value is no key.
		{`{"type":"DATA_OBJECT_CREATED","sourceURI":"x\"objectID\":\"no","objectID":"o3"}`, "o3", true},
	} {
		id, ok := createdObjectID([]byte(tc.payload))
		if string(id) != tc.id || ok != tc.ok {
			t.Errorf("createdObjectID(%s) = %q, %v; want %q, %v", tc.payload, id, ok, tc.id, tc.ok)
		}
	}
}

func TestObjectBodyIsJSON(t *testing.T) {
	var m struct {
		Seq     int64  `json:"seq"`
		Payload string `json:"payload"`
	}
	for _, seq := range []int64{0, 123, math.MinInt64, math.MaxInt64} {
		b := appendObject(nil, seq)
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		if m.Seq != seq || m.Payload != payload {
			t.Errorf("appendObject(%d) = %+v", seq, m)
		}
	}
}

func TestParseVmRSS(t *testing.T) {
	status := "Name:\tkumo\nVmPeak:\t  999999 kB\nVmRSS:\t   51200 kB\nThreads:\t12\n"
	got, err := parseVmRSS(strings.NewReader(status))
	if err != nil || got != 50 {
		t.Errorf("parseVmRSS = %v, %v; want 50", got, err)
	}
	if _, err := parseVmRSS(strings.NewReader("Name:\tkumo\n")); err == nil {
		t.Error("parseVmRSS without a VmRSS line succeeded")
	}
}

func TestResultJSON(t *testing.T) {
	b, err := json.Marshal(Result{ObjectsPerS: 12.5, P50: 1.5, P99: ms(2500 * time.Microsecond), Max: 3})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"objects_per_s":12.5,"p50_ms":1.500,"p99_ms":2.500,"max_ms":3.000,"lost":0,"rss_mib":0,`
	if !strings.HasPrefix(string(b), want) {
		t.Errorf("JSON = %s\nwant a prefix %s", b, want)
	}
}

func TestConfigCheck(t *testing.T) {
	good := Config{BaseURL: "http://x", AppID: "a", ClientID: "c", ClientSecret: "s", Things: 1, Concurrency: 1, Duration: time.Second}
	if err := good.check(); err != nil {
		t.Fatalf("check(%+v) = %v", good, err)
	}
	for name, mutate := range map[string]func(*Config){
		"no URL":          func(c *Config) { c.BaseURL = "" },
		"no secret":       func(c *Config) { c.ClientSecret = "" },
		"no things":       func(c *Config) { c.Things = 0 },
		"no concurrency":  func(c *Config) { c.Concurrency = 0 },
		"negative rate":   func(c *Config) { c.Rate = -1 },
		"no duration":     func(c *Config) { c.Duration = 0 },
		"negative length": func(c *Config) { c.Duration = -time.Second },
	} {
		c := good
		mutate(&c)
		if err := c.check(); err == nil {
			t.Errorf("%s: check succeeded", name)
		}
	}
}

// TestCreatedObjectIDOfKumoPushes reads the pushes Kumo renders with the
// byte searches, not the JSON decoder they fall back to.
func TestCreatedObjectIDOfKumoPushes(t *testing.T) {
	for _, typ := range []kumo.EventType{kumo.DataObjectCreated, kumo.DataObjectUpdated, kumo.DataObjectDeleted} {
		p := push.EventPayload(kumo.Event{
			Type:     typ,
			Bucket:   kumo.BucketRef{AppID: "app1", Scope: kumo.Scope{Kind: kumo.ScopeThing, ID: "th.1"}, Name: bucketName},
			ObjectID: "obj-42", Sender: kumo.Principal{Kind: kumo.ThingCaller, ID: "th.1"},
			When: 1, ModifiedAt: 1,
		})
		gotType, ok := stringField(p, typeKey)
		if !ok || string(gotType) != string(typ) {
			t.Errorf("stringField(%s, type) = %q, %v", p, gotType, ok)
		}
		if id, ok := stringField(p, objectIDKey); !ok || string(id) != "obj-42" {
			t.Errorf("stringField(%s, objectID) = %q, %v", p, id, ok)
		}
		id, ok := createdObjectID(p)
		if want := typ == kumo.DataObjectCreated; ok != want || (ok && string(id) != "obj-42") {
			t.Errorf("createdObjectID(%s) = %q, %v", p, id, ok)
		}
	}
}

func TestBaseline(t *testing.T) {
	for _, rate := range []float64{0, 200} {
		r := &runner{cfg: Config{Concurrency: 2, Rate: rate}, progress: &progress{}}
		b, err := r.baseline(t.Context(), 300*time.Millisecond)
		if err != nil {
			t.Fatalf("rate %v: %v", rate, err)
		}
		if b.PerS <= 0 || b.P50 <= 0 || b.P99 < b.P50 {
			t.Errorf("rate %v: baseline = %+v", rate, b)
		}
	}
}
