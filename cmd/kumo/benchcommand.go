package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/kumo-iot/kumo/internal/bench"
)

// runBenchCommand runs "kumo bench command": N onboarded things connected
// over MQTT; first objects and their pushes, as "kumo bench" measures
// them, then an owner's Thing-IF commands, each pushed to its thing,
// which answers with its action results over REST over MQTT. It prints
// both side by side on stderr, one line of JSON on stdout.
func runBenchCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("kumo bench command", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := bench.Config{Progress: stderr}
	fs.IntVar(&cfg.Things, "things", 1000, "things to onboard and connect over MQTT")
	fs.IntVar(&cfg.Concurrency, "concurrency", 64, "HTTP workers creating objects, then commands")
	fs.Float64Var(&cfg.Rate, "rate", 0, "objects/s, then commands/s, to create over all workers (0: as fast as possible)")
	fs.DurationVar(&cfg.Duration, "duration", 5*time.Second, "length of each load phase: objects, then commands")
	var target benchTarget
	target.flags(fs, "base URL of the server to measure, such as http://host:8080, or the comma-separated URLs of a cluster's nodes (default: start a server in this process)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	defer watchdog(stderr, benchLimit(cfg.Things, 2*(cfg.Duration+bench.DefaultDrain)))()
	stop, err := target.start(ctx, stderr)
	if err != nil {
		return err
	}
	defer stop()
	cfg.BaseURL, cfg.AppID, cfg.ClientID, cfg.ClientSecret = target.BaseURL, target.AppID, target.ClientID, target.ClientSecret
	cfg.MQTTHost, cfg.MQTTPort = target.MQTTHost, target.MQTTPort
	rssNote := "VmRSS of the kumo bench process: the load generator only, not the server at --url"
	if target.node != nil {
		rssNote = "VmRSS of the kumo bench process: the in-process server and the load generator (HTTP workers and MQTT clients) together"
	}

	res, err := bench.RunCommand(ctx, cfg)
	if err != nil {
		return err
	}
	res.RSSNote = rssNote
	o := res.Objects
	fmt.Fprintf(stderr, "bench: %-30s %12s %10s %10s %10s %6s\n", "", "per s", "p50 ms", "p99 ms", "max ms", "lost")
	fmt.Fprintf(stderr, "bench: %-30s %12.1f %10.3f %10.3f %10.3f %6d\n", "object → push", o.ObjectsPerS, o.P50, o.P99, o.Max, o.Lost)
	fmt.Fprintf(stderr, "bench: %-30s %12.1f %10.3f %10.3f %10.3f %6d\n", "command → push → results", res.CommandsPerS, res.P50, res.P99, res.Max, res.Lost)
	fmt.Fprintf(stderr, "bench: commands/objects %.3f; command push p50 %.3f ms, p99 %.3f ms; %d created, %d errors, %d result errors, %d duplicates\n",
		res.VsObjects, res.PushP50, res.PushP99, res.Created, res.Errors, res.ResultErrors, res.Duplicates)
	line, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("encode the result: %w", err)
	}
	_, err = fmt.Fprintf(stdout, "%s\n", line)
	return err
}
