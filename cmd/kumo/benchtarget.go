package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/broker"
)

// benchTarget is the server a benchmark measures, as its flags name it:
// a server at --url with an app's credentials, or (by default) a node
// started in this process with an app of its own. kumo bench and kumo
// bench topic share it.
type benchTarget struct {
	BaseURL, AppID, ClientID, ClientSecret, MQTTHost string
	MQTTPort                                         int // in-process only
	iterations                                       int
	ledgerRetention                                  time.Duration // in-process only
	restInFlight                                     int           // in-process only
	cpuProfile, memProfile                           string

	node *node // the in-process node; nil with --url
}

// flags registers the target's flags; urlHelp describes --url.
func (t *benchTarget) flags(fs *flag.FlagSet, urlHelp string) {
	fs.StringVar(&t.BaseURL, "url", "", urlHelp)
	fs.StringVar(&t.AppID, "app-id", "", "with --url: the app ID")
	fs.StringVar(&t.ClientID, "client-id", "", "with --url: the app's client ID")
	fs.StringVar(&t.ClientSecret, "client-secret", "", "with --url: the app's client secret")
	fs.StringVar(&t.MQTTHost, "mqtt-host", "", "with --url: MQTT host to connect to instead of the one of the mqtt-endpoint answers")
	fs.IntVar(&t.iterations, "password-iterations", benchIterations, "without --url: PBKDF2 iterations of the in-process server")
	fs.DurationVar(&t.ledgerRetention, "ledger-retention", defaultLedgerRetention, "without --url: the in-process server's --ledger-retention (0: no delivery ledger)")
	fs.IntVar(&t.restInFlight, "mqtt-rest-inflight", broker.DefaultRESTInFlight, "without --url: the in-process server's --mqtt-rest-inflight (REST-over-MQTT requests handled at a time; beyond, they wait their turn)")
	fs.StringVar(&t.cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file")
	fs.StringVar(&t.memProfile, "memprofile", "", "write an allocation profile of the run to this file")
}

// stopDeadline bounds the in-process server's shutdown (its own timeout is
// 30 s): past it, the goroutines are dumped and the benchmark ends anyway.
const stopDeadline = time.Minute

// start checks the flags, starts the profiles and, without --url, the
// in-process node with an app; stop undoes it all.
func (t *benchTarget) start(ctx context.Context, stderr io.Writer) (stop func(), err error) {
	stopProfiles, err := startProfiles(t.cpuProfile, t.memProfile)
	if err != nil {
		return nil, err
	}
	if t.BaseURL != "" {
		if t.AppID == "" || t.ClientID == "" || t.ClientSecret == "" {
			stopProfiles()
			return nil, errors.New("--url needs --app-id, --client-id and --client-secret")
		}
		return stopProfiles, nil
	}
	if t.AppID != "" || t.ClientID != "" || t.ClientSecret != "" || t.MQTTHost != "" {
		stopProfiles()
		return nil, errors.New("--app-id, --client-id, --client-secret and --mqtt-host need --url")
	}
	tuneGC() // as kumo serve does
	shareProcess()
	n, cleanup, err := startBenchNode(ctx, t.iterations, t.ledgerRetention, t.restInFlight, stderr)
	if err != nil {
		stopProfiles()
		return nil, err
	}
	stop = func() {
		fmt.Fprintln(stderr, "bench: stopping the in-process server")
		done := make(chan error, 1)
		go func() { done <- cleanup() }()
		select {
		case err := <-done:
			if err != nil {
				fmt.Fprintln(stderr, "bench: stopping the in-process server:", err)
			}
		case <-time.After(stopDeadline):
			// A benchmark stops by itself: show where the server hangs, and go.
			fmt.Fprintf(stderr, "bench: the in-process server did not stop within %v; its goroutines:\n", stopDeadline)
			pprof.Lookup("goroutine").WriteTo(stderr, 2)
		}
		stopProfiles()
	}
	creds, err := n.db.Apps.CreateApp(ctx, kumo.AppCreate{Name: "bench"})
	if err != nil {
		stop()
		return nil, fmt.Errorf("create the bench app: %w", err)
	}
	t.node = n
	t.BaseURL, t.AppID, t.ClientID, t.ClientSecret = n.baseURL, creds.AppID, creds.ClientID, creds.ClientSecret
	if u, err := url.Parse(n.baseURL); err == nil {
		t.MQTTHost = u.Hostname()
	}
	t.MQTTPort = n.broker.Port(broker.TCP)
	return stop, nil
}

// shareProcess gives the process twice Go's default GOMAXPROCS (the CPUs
// it may use), unless GOMAXPROCS is set, when the server runs in it: the
// process then hosts two programs, the server and the load generator,
// which as separate processes would each have the default. With the
// default alone, the SQLite writer, back from a system call (log frames,
// fsync), finds no free P and waits behind the load generator's
// goroutines while every request's write waits behind it: 10,992 and
// 10,852 objects/s at 2 Ps against 12,364 and 12,435 at 4 on 2 cores
// (docs/performance.md); kumo serve as its own process did 12,362 and
// 12,464 at its default of 2. It acts once per process.
var shareProcess = sync.OnceFunc(func() {
	if _, set := os.LookupEnv("GOMAXPROCS"); !set {
		runtime.GOMAXPROCS(2 * runtime.GOMAXPROCS(0))
	}
})
