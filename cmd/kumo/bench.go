package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/kumo-iot/kumo/internal/auth"
	"github.com/kumo-iot/kumo/internal/bench"
)

// benchIterations is the default PBKDF2 iteration count of the in-process
// node: registering a thousand things at the production count would take
// about a minute, and the password hash is not what is being measured.
const benchIterations = 1000

// runBench runs "kumo bench": it measures objects/s and POST-to-push
// latency against an in-process node (default) or the server at --url,
// prints progress on stderr and one line of JSON on stdout.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "topic" {
		return runBenchTopic(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "command" {
		return runBenchCommand(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "servercode" {
		return runBenchServerCode(ctx, args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("kumo bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := bench.Config{Progress: stderr}
	fs.IntVar(&cfg.Things, "things", 1000, "devices to register and connect over MQTT")
	fs.IntVar(&cfg.Concurrency, "concurrency", 64, "HTTP workers creating objects")
	fs.Float64Var(&cfg.Rate, "rate", 0, "objects/s to create, over all workers (0: as fast as possible)")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "length of the load phase")
	fs.DurationVar(&cfg.Baseline, "baseline", bench.DefaultBaseline, "length of the same-run baseline: no-op HTTP round trips with the same workers and pacing (0: skip)")
	var target benchTarget
	target.flags(fs, "base URL of the server to measure, such as http://host:8080, or the comma-separated URLs of a cluster's nodes (devices and writes are spread over them; default: start a server in this process)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	defer watchdog(stderr, benchLimit(cfg.Things, cfg.Duration+cfg.Baseline+bench.DefaultDrain))()
	stop, err := target.start(ctx, stderr)
	if err != nil {
		return err
	}
	defer stop()
	cfg.BaseURL, cfg.AppID, cfg.ClientID, cfg.ClientSecret = target.BaseURL, target.AppID, target.ClientID, target.ClientSecret
	cfg.MQTTHost, cfg.MQTTPort = target.MQTTHost, target.MQTTPort
	// With the server in this process, its RSS is included.
	rssNote := "VmRSS of the kumo bench process: the load generator only, not the server at --url"
	if target.node != nil {
		rssNote = "VmRSS of the kumo bench process: the in-process server and the load generator (HTTP workers and MQTT clients) together"
		if p := target.node.store.sqlitePath; p != "" {
			cfg.FsyncDir = filepath.Dir(p)
		}
	}

	res, err := bench.Run(ctx, cfg)
	if err != nil {
		return err
	}
	res.RSSNote = rssNote
	fmt.Fprintf(stderr, "bench: %.1f objects/s with their push; latency p50 %.3f ms, p99 %.3f ms, max %.3f ms; %d acked, %d lost, %d errors, %d duplicates\n",
		res.ObjectsPerS, res.P50, res.P99, res.Max, res.Acked, res.Lost, res.Errors, res.Duplicates)
	line, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("encode the result: %w", err)
	}
	_, err = fmt.Fprintf(stdout, "%s\n", line)
	return err
}

// startProfiles starts a CPU profile to the file cpu, and arranges an
// allocation profile to the file mem, when they are not empty. stop ends
// the CPU profile and writes the allocation profile.
func startProfiles(cpu, mem string) (stop func(), err error) {
	var f *os.File
	if cpu != "" {
		if f, err = os.Create(cpu); err != nil {
			return nil, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, err
		}
	}
	return func() {
		if f != nil {
			pprof.StopCPUProfile()
			f.Close()
		}
		if mem != "" {
			if f, err := os.Create(mem); err == nil {
				pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}
	}, nil
}

// startBenchNode starts a node in a temporary data directory, listening on
// loopback ports (HTTP and MQTT over TCP only). cleanup shuts it down and
// removes the directory.
func startBenchNode(ctx context.Context, iterations int, ledgerRetention time.Duration, restInFlight int, stderr io.Writer) (_ *node, cleanup func() error, err error) {
	dir, err := os.MkdirTemp("", "kumo-bench-*")
	if err != nil {
		return nil, nil, fmt.Errorf("bench data dir: %w", err)
	}
	cfg := config{
		DataDir:            dir,
		HTTPAddr:           "127.0.0.1:0",
		MQTTAddr:           "127.0.0.1:0",
		PasswordIterations: iterations,
		ShutdownTimeout:    30 * time.Second,
		LogLevel:           "warn",
		LedgerRetention:    ledgerRetention,
		MQTTRESTInFlight:   restInFlight,
	}
	fmt.Fprintf(stderr, "bench: starting an in-process server in %s; password hashes use %d PBKDF2 iterations instead of %d, to register things quickly\n",
		dir, iterations, auth.DefaultIterations)
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	n, err := startNode(ctx, cfg, log)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, fmt.Errorf("start the in-process server: %w", err)
	}
	cleanup = func() error {
		sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		return errors.Join(n.Close(sctx), os.RemoveAll(dir))
	}
	return n, cleanup, nil
}

// benchLimit is how long a benchmark of things devices whose measured
// phases last phases may run before the watchdog ends it: generous room
// for setting the devices up (registration, MQTT connections) and
// stopping.
func benchLimit(things int, phases time.Duration) time.Duration {
	return 3*time.Minute + time.Duration(things)*20*time.Millisecond + phases
}

// watchdog ends the process if it is still running after limit: a
// benchmark stops by itself, and one that hangs says where (its
// goroutines on stderr) and exits with status 3. The returned function
// disarms it.
func watchdog(stderr io.Writer, limit time.Duration) (disarm func()) {
	t := time.AfterFunc(limit, func() {
		fmt.Fprintf(stderr, "bench: still running after %v: stopping; goroutines:\n", limit)
		pprof.Lookup("goroutine").WriteTo(stderr, 2)
		os.Exit(3)
	})
	return func() { t.Stop() }
}
