package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestBench runs a short bench against an in-process node: every acked
// object must get its push.
func TestBench(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node and 20 MQTT clients")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := runBench(ctx, []string{"--things", "20", "--duration", "1s", "--concurrency", "4"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("runBench: %v\nstderr:\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	last := lines[len(lines)-1]
	var res struct {
		ObjectsPerS *float64 `json:"objects_per_s"`
		P50         *float64 `json:"p50_ms"`
		P99         *float64 `json:"p99_ms"`
		Max         *float64 `json:"max_ms"`
		Lost        *int64   `json:"lost"`
		RSSMiB      *float64 `json:"rss_mib"`
		Acked       int64    `json:"acked"`
		Things      int      `json:"things"`
		Baseline    struct {
			PerS  float64 `json:"http_per_s"`
			Fsync *struct {
				PerS float64 `json:"per_s"`
				P99  float64 `json:"p99_ms"`
			} `json:"fsync"`
		} `json:"baseline"`
	}
	if err := json.Unmarshal([]byte(last), &res); err != nil {
		t.Fatalf("last stdout line is not JSON: %v\n%s", err, last)
	}
	if res.ObjectsPerS == nil || res.P50 == nil || res.P99 == nil || res.Max == nil || res.Lost == nil || res.RSSMiB == nil {
		t.Fatalf("a required key is missing: %s", last)
	}
	if *res.Lost != 0 {
		t.Errorf("lost = %d, want 0: %s", *res.Lost, last)
	}
	if *res.ObjectsPerS <= 0 || res.Acked <= 0 {
		t.Errorf("objects_per_s = %v, acked = %d; want both > 0: %s", *res.ObjectsPerS, res.Acked, last)
	}
	if res.Things != 20 {
		t.Errorf("things = %d, want 20", res.Things)
	}
	if b := res.Baseline; b.PerS <= 0 || b.Fsync == nil || b.Fsync.PerS <= 0 || b.Fsync.P99 <= 0 {
		t.Errorf("baseline = %+v; want HTTP round trips and the disk's fsyncs timed: %s", b, last)
	}
	if !strings.Contains(stderr.String(), "PBKDF2") {
		t.Errorf("stderr does not say the in-process server uses fewer PBKDF2 iterations:\n%s", stderr.String())
	}
}

func TestBenchFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--app-id", "x"},               // needs --url
		{"--url", "http://127.0.0.1:1"}, // needs the app credentials
	} {
		var stdout, stderr bytes.Buffer
		if err := runBench(context.Background(), args, &stdout, &stderr); err == nil {
			t.Errorf("runBench(%q) succeeded", args)
		}
	}
}

// runBenchJSON runs kumo bench with args (a minute at most), reads its
// last stdout line (the JSON result) into res and returns that line and
// stderr.
func runBenchJSON(t *testing.T, res any, args ...string) (last, stderrText string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	if err := runBench(ctx, args, &stdout, &stderr); err != nil {
		t.Fatalf("runBench %s: %v\nstderr:\n%s", args[0], err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	last = lines[len(lines)-1]
	if err := json.Unmarshal([]byte(last), res); err != nil {
		t.Fatalf("last stdout line is not JSON: %v\n%s", err, last)
	}
	return last, stderr.String()
}

// TestBenchTopic runs a small topic fan-out bench against an in-process
// node: every send and every baseline fan-out reaches every device once.
func TestBenchTopic(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node and 50 MQTT clients")
	}
	var res struct {
		DeliveriesPerS *float64 `json:"deliveries_per_s"`
		FanoutMs       *float64 `json:"fanout_ms"`
		Lost           *int64   `json:"lost"`
		Duplicates     *int64   `json:"duplicates"`
		BaselinePerS   float64  `json:"baseline_deliveries_per_s"`
		BaselineLost   int64    `json:"baseline_lost"`
		VsBaseline     float64  `json:"topic_vs_baseline"`
		PayloadBytes   int      `json:"payload_bytes"`
		Things         int      `json:"things"`
		Rounds         []struct {
			Kind string `json:"kind"`
			Lost int64  `json:"lost"`
		} `json:"rounds"`
	}
	last, _ := runBenchJSON(t, &res, "topic", "--things", "50", "--sends", "1", "--deadline", "20s")
	if res.DeliveriesPerS == nil || res.FanoutMs == nil || res.Lost == nil || res.Duplicates == nil {
		t.Fatalf("a required key is missing: %s", last)
	}
	if *res.Lost != 0 || res.BaselineLost != 0 || *res.Duplicates != 0 {
		t.Errorf("lost %d, baseline lost %d, duplicates %d; want 0: %s", *res.Lost, res.BaselineLost, *res.Duplicates, last)
	}
	if res.BaselinePerS <= 0 || res.VsBaseline <= 0 || res.PayloadBytes <= 0 {
		t.Errorf("baseline %v deliveries/s, ratio %v, payload %d bytes; want all > 0: %s", res.BaselinePerS, res.VsBaseline, res.PayloadBytes, last)
	}
	if res.Things != 50 || len(res.Rounds) != 2 || res.Rounds[0].Kind != "baseline" || res.Rounds[1].Kind != "topic" {
		t.Errorf("things %d, rounds %+v; want 50 things, a baseline round then a topic round", res.Things, res.Rounds)
	}
}

// TestBenchCommand runs a small command bench against an in-process node:
// objects, then commands each pushed to its thing and answered with
// action results over REST over MQTT; every created command completes its
// round trip once, and both figures are there side by side.
func TestBenchCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node and 10 MQTT clients")
	}
	var res struct {
		CommandsPerS *float64 `json:"commands_per_s"`
		P50          *float64 `json:"p50_ms"`
		P99          *float64 `json:"p99_ms"`
		Lost         *int64   `json:"lost"`
		PushLost     *int64   `json:"push_lost"`
		PushP99      float64  `json:"push_p99_ms"`
		Created      int64    `json:"created"`
		Errors       int64    `json:"errors"`
		ResultErrors int64    `json:"result_errors"`
		Duplicates   int64    `json:"duplicates"`
		Things       int      `json:"things"`
		VsObjects    float64  `json:"commands_vs_objects"`
		Objects      struct {
			ObjectsPerS float64 `json:"objects_per_s"`
			Acked       int64   `json:"acked"`
			Lost        int64   `json:"lost"`
		} `json:"objects"`
	}
	last, stderr := runBenchJSON(t, &res, "command", "--things", "10", "--duration", "1s", "--concurrency", "4")
	if res.CommandsPerS == nil || res.P50 == nil || res.P99 == nil || res.Lost == nil || res.PushLost == nil {
		t.Fatalf("a required key is missing: %s", last)
	}
	if *res.Lost != 0 || *res.PushLost != 0 || res.Errors != 0 || res.ResultErrors != 0 || res.Duplicates != 0 {
		t.Errorf("lost %d, push lost %d, errors %d, result errors %d, duplicates %d; want 0: %s",
			*res.Lost, *res.PushLost, res.Errors, res.ResultErrors, res.Duplicates, last)
	}
	if *res.CommandsPerS <= 0 || res.Created <= 0 || *res.P99 <= 0 || res.PushP99 <= 0 {
		t.Errorf("commands_per_s %v, created %d, p99 %v, push p99 %v; want all > 0: %s", *res.CommandsPerS, res.Created, *res.P99, res.PushP99, last)
	}
	if res.Objects.ObjectsPerS <= 0 || res.Objects.Acked <= 0 || res.Objects.Lost != 0 || res.VsObjects <= 0 {
		t.Errorf("objects %+v, ratio %v; want objects pushed, none lost, and the ratio: %s", res.Objects, res.VsObjects, last)
	}
	if res.Things != 10 {
		t.Errorf("things = %d, want 10", res.Things)
	}
	if !strings.Contains(stderr, "object → push") || !strings.Contains(stderr, "command → push → results") {
		t.Errorf("stderr does not show the two figures side by side:\n%s", stderr)
	}
}
