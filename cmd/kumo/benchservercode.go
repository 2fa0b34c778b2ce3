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

// runBenchServerCode runs "kumo bench servercode": calls of a server-code
// endpoint that reads one object through the SDK surface, beside plain
// REST GETs of the same object in the same run; then object writes
// without and with a server hook that does nothing. It prints both side by
// side on stderr, one line of JSON on stdout.
func runBenchServerCode(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("kumo bench servercode", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := bench.ServerCodeConfig{Progress: stderr}
	fs.IntVar(&cfg.Concurrency, "concurrency", 16, "HTTP workers calling at once")
	fs.DurationVar(&cfg.Duration, "duration", 3*time.Second, "length of each measured phase")
	fs.IntVar(&cfg.Rounds, "rounds", 3, "rounds of the four phases (GET, endpoint, writes, writes with a hook); figures are medians")
	fs.BoolVar(&cfg.NoHooks, "no-hooks", false, "measure the endpoint only (skip the object writes with and without a hook)")
	var target benchTarget
	target.flags(fs, "base URL of the server to measure, such as http://host:8080 (default: start a server in this process)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	defer watchdog(stderr, time.Duration(cfg.Rounds)*(4*cfg.Duration+time.Minute)+3*time.Minute)()
	stop, err := target.start(ctx, stderr)
	if err != nil {
		return err
	}
	defer stop()
	cfg.BaseURL, cfg.AppID, cfg.ClientID, cfg.ClientSecret = target.BaseURL, target.AppID, target.ClientID, target.ClientSecret

	res, err := bench.RunServerCode(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "bench: %-34s %12s %10s %10s\n", "", "per s", "p50 ms", "p99 ms")
	fmt.Fprintf(stderr, "bench: %-34s %12.1f %10.3f %10.3f\n", "GET object (REST)", res.GetPerS, res.GetP50, res.GetP99)
	fmt.Fprintf(stderr, "bench: %-34s %12.1f %10.3f %10.3f\n", "endpoint reading it (server code)", res.EndpointPerS, res.EndpointP50, res.EndpointP99)
	fmt.Fprintf(stderr, "bench: %-34s %12.1f\n", "object writes", res.WritesPerS)
	fmt.Fprintf(stderr, "bench: %-34s %12.1f\n", "object writes with a no-op hook", res.WritesWithHookPerS)
	fmt.Fprintf(stderr, "bench: endpoint/GET %.3f (target ≥ 0.5); with hook/without %.3f (target ≥ 0.9); %d hook runs for %d objects; %d errors\n",
		res.EndpointVsGet, res.HookVsNone, res.HookRuns, res.HookObjects, res.Errors)
	fmt.Fprintf(stderr, "bench: by this process's CPU per call (steadier on a loaded machine): GET %.0f µs, endpoint %.0f µs (%.3f×); write %.0f µs, with the hook %.0f µs (%.3f×)\n",
		res.GetCPUus, res.EndpointCPUus, res.EndpointVsGetCPU, res.WriteCPUus, res.WriteWithHookCPUus, res.HookVsNoneCPU)
	line, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("encode the result: %w", err)
	}
	_, err = fmt.Fprintf(stdout, "%s\n", line)
	return err
}
