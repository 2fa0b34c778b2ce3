package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"runtime/pprof"
	"time"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/auth"
	"github.com/kumo-iot/kumo/internal/bench"
	"github.com/kumo-iot/kumo/internal/broker"
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
	fs := flag.NewFlagSet("kumo bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := bench.Config{Progress: stderr}
	fs.IntVar(&cfg.Things, "things", 1000, "devices to register and connect over MQTT")
	fs.IntVar(&cfg.Concurrency, "concurrency", 64, "HTTP workers creating objects")
	fs.Float64Var(&cfg.Rate, "rate", 0, "objects/s to create, over all workers (0: as fast as possible)")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "length of the load phase")
	fs.DurationVar(&cfg.Baseline, "baseline", bench.DefaultBaseline, "length of the same-run baseline: no-op HTTP round trips with the same workers and pacing (0: skip)")
	fs.StringVar(&cfg.BaseURL, "url", "", "base URL of the server to measure, such as http://host:8080, or the comma-separated URLs of a cluster's nodes (devices and writes are spread over them; default: start a server in this process)")
	fs.StringVar(&cfg.AppID, "app-id", "", "with --url: the app ID")
	fs.StringVar(&cfg.ClientID, "client-id", "", "with --url: the app's client ID")
	fs.StringVar(&cfg.ClientSecret, "client-secret", "", "with --url: the app's client secret")
	fs.StringVar(&cfg.MQTTHost, "mqtt-host", "", "with --url: MQTT host to connect to instead of the one of the mqtt-endpoint answers")
	iterations := fs.Int("password-iterations", benchIterations, "without --url: PBKDF2 iterations of the in-process server")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file")
	memProfile := fs.String("memprofile", "", "write an allocation profile of the run to this file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	stopProfiles, err := startProfiles(*cpuProfile, *memProfile)
	if err != nil {
		return err
	}
	defer stopProfiles()

	var rssNote string
	if cfg.BaseURL == "" {
		if cfg.AppID != "" || cfg.ClientID != "" || cfg.ClientSecret != "" || cfg.MQTTHost != "" {
			return errors.New("--app-id, --client-id, --client-secret and --mqtt-host need --url")
		}
		tuneGC() // as kumo serve does
		n, cleanup, err := startBenchNode(ctx, *iterations, stderr)
		if err != nil {
			return err
		}
		defer func() {
			fmt.Fprintln(stderr, "bench: stopping the in-process server")
			if err := cleanup(); err != nil {
				fmt.Fprintln(stderr, "bench: stopping the in-process server:", err)
			}
		}()
		creds, err := n.db.CreateApp(ctx, kumo.AppCreate{Name: "bench"})
		if err != nil {
			return fmt.Errorf("create the bench app: %w", err)
		}
		cfg.BaseURL, cfg.AppID, cfg.ClientID, cfg.ClientSecret = n.baseURL, creds.AppID, creds.ClientID, creds.ClientSecret
		if u, err := url.Parse(n.baseURL); err == nil {
			cfg.MQTTHost = u.Hostname()
		}
		cfg.MQTTPort = n.broker.Port(broker.TCP)
		// The server shares this process: its RSS is included.
		rssNote = "VmRSS of the kumo bench process: the in-process server and the load generator (HTTP workers and MQTT clients) together"
	} else {
		if cfg.AppID == "" || cfg.ClientID == "" || cfg.ClientSecret == "" {
			return errors.New("--url needs --app-id, --client-id and --client-secret")
		}
		rssNote = "VmRSS of the kumo bench process: the load generator only, not the server at --url"
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
func startBenchNode(ctx context.Context, iterations int, stderr io.Writer) (_ *node, cleanup func() error, err error) {
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
		LedgerRetention:    defaultLedgerRetention, // measured as it runs by default
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
