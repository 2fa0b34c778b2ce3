package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/api"
	"github.com/kumo-iot/kumo/internal/auth"
	"github.com/kumo-iot/kumo/internal/broker"
	"github.com/kumo-iot/kumo/internal/inmem"
	natsbus "github.com/kumo-iot/kumo/internal/nats"
	"github.com/kumo-iot/kumo/internal/phone"
	"github.com/kumo-iot/kumo/internal/push"
	"github.com/kumo-iot/kumo/internal/servercode"
	"github.com/kumo-iot/kumo/internal/sqlstore"
	"github.com/kumo-iot/kumo/internal/sqlstore/postgres"
	"github.com/kumo-iot/kumo/internal/sqlstore/sqlite"
)

// config is everything "kumo serve" can be told.
type config struct {
	DataDir  string
	Database string // a postgres:// URL, or empty for SQLite in DataDir
	NATS     string // NATS URL of a cluster; empty on a single node
	NodeID   string // this node's name; default host:http-port
	Lease    time.Duration
	// LedgerRetention is how long delivery ledger records are kept.
	LedgerRetention time.Duration
	// StateHistoryDays is how many days the Thing-IF state history is
	// kept (0: forever); statePruneEvery how often it is pruned (every
	// minute when 0).
	StateHistoryDays int
	statePruneEvery  time.Duration
	// MetricsAddr is the address of the metrics listener ("": off).
	MetricsAddr string
	HTTPAddr    string
	MQTTAddr    string
	MQTTTLSAddr string
	MQTTWSAddr  string
	MQTTWSSAddr string
	TLSCert     string
	TLSKey      string

	// The MQTT CONNECT deadline and the throttle of failed CONNECTs (see
	// broker.Broker).
	MQTTConnectTimeout  time.Duration
	MQTTConnectThrottle int
	MQTTConnectPenalty  time.Duration

	// The limits of REST over MQTT (broker.Broker.RESTInFlight,
	// RESTPerConnection).
	MQTTRESTInFlight, MQTTRESTPerConnection, MQTTRESTQueue int

	PublicHost                                             string
	PublicPort, PublicTLSPort, PublicWSPort, PublicWSSPort int

	PasswordIterations int
	MaxBodySize        int64
	ShutdownTimeout    time.Duration
	LogLevel           string

	// Offline delivery (clean session 0): the bounds of an installation's
	// queue and the pace of its replay.
	OfflineMax        int
	OfflineMaxAge     time.Duration
	OfflineReplayRate int

	// PauseDispatch is a failpoint for crash tests: pushes stay in the
	// outbox (KUMO_FAULT_PAUSE_DISPATCH=1).
	PauseDispatch bool

	// HTTP deadlines (api.Server's fields; 0: its defaults). No flags:
	// tests set small ones.
	BodyReadWindow time.Duration
	BodyMinBytes   int64
	IdleTimeout    time.Duration
	// LoginThrottle is the failed logins a source address may make per
	// minute before it is refused with 429 (0: off).
	LoginThrottle int

	// TriggerInterval is how often the trigger scheduler looks for due
	// schedule triggers (--trigger-interval).
	TriggerInterval time.Duration

	// serverCode, when set, is the server code runtime given to the API
	// (tests of the deployment CLI; server code: scapi).
	serverCode kumo.ServerCodeRunner

	schedConfig // server code: sched (servercodesched.go)
	// server code: engine (issue 13) — the runtime's limits (--servercode-*).
	ServerCodeAllowHosts string // comma-separated hosts $.ajax may call
	ServerCodeStepLimit  int
	ServerCodeTimeLimit  time.Duration
	ServerCodeMemoryMB   int64
	ServerCodePool       int
	ServerCodeRunsPerApp int // how many runs at once one app may take

	// server code: hooks: the hook worker's runs at a time, attempts and
	// longest backoff (--servercode-hook-*); hookRetryMin and hookLease
	// (no flags: tests set small ones) are its first backoff and claims.
	HookWorkers, HookAttempts int
	HookRetryMax              time.Duration
	hookRetryMin, hookLease   time.Duration
	// PauseHooks is a failpoint for crash tests: queued server code runs
	// stay queued (KUMO_FAULT_PAUSE_HOOKS=1).
	PauseHooks bool
}

// server code: engine (issue 13). serverCodeConfig is the engine's
// configuration from the flags; the wiring adds Versions, Tokens, Logs,
// Apps, BaseURL and the API handler.
func (c *config) serverCodeConfig(log *slog.Logger) servercode.Config {
	var hosts []string
	for _, h := range strings.Split(c.ServerCodeAllowHosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			hosts = append(hosts, h)
		}
	}
	mem := c.ServerCodeMemoryMB << 20
	if c.ServerCodeMemoryMB <= 0 {
		mem = -1 // no check
	}
	return servercode.Config{AllowHosts: hosts, StepLimit: c.ServerCodeStepLimit, TimeLimit: c.ServerCodeTimeLimit,
		MemoryLimit: mem, PoolSize: c.ServerCodePool, MaxRunsPerApp: c.ServerCodeRunsPerApp, Log: log.With("component", "servercode")}
}

func (c *config) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.NATS, "nats", "", "NATS URL: join a cluster of nodes sharing one PostgreSQL --database (empty: a single node)")
	fs.DurationVar(&c.LedgerRetention, "ledger-retention", defaultLedgerRetention, "how long the delivery ledger (GET /api/apps/{appID}/push/deliveries) keeps its records (0: no ledger)")
	fs.IntVar(&c.StateHistoryDays, "state-history-days", defaultStateHistoryDays, "how many days the Thing-IF state history (POST …/states/aliases/{alias}/query) keeps each state (0: forever)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", "", "address of the Prometheus metrics listener, GET /metrics (empty: off)")
	fs.DurationVar(&c.Lease, "outbox-lease", sqlstore.DefaultLease, "in a cluster: how long a node's claim on an event lasts; a dead node's pushes are taken over after it")
	fs.StringVar(&c.NodeID, "node-id", "", "this node's name in logs and outbox claims, unique in a cluster (default: host name and HTTP port)")
	fs.StringVar(&c.DataDir, "data-dir", "./kumo-data", "directory of the embedded SQLite database and generated TLS certificate")
	fs.StringVar(&c.Database, "database", "", databaseUsage)
	fs.StringVar(&c.HTTPAddr, "http-addr", ":8080", "address of the Kii REST API")
	fs.StringVar(&c.MQTTAddr, "mqtt-addr", ":1883", "address of the MQTT listener (empty: off)")
	fs.StringVar(&c.MQTTTLSAddr, "mqtt-tls-addr", ":8883", "address of the MQTT over TLS listener (empty: off)")
	fs.StringVar(&c.MQTTWSAddr, "mqtt-ws-addr", ":12470", "address of the MQTT over WebSocket listener (empty: off)")
	fs.StringVar(&c.MQTTWSSAddr, "mqtt-wss-addr", ":12473", "address of the MQTT over secure WebSocket listener (empty: off)")
	fs.DurationVar(&c.MQTTConnectTimeout, "mqtt-connect-timeout", broker.DefaultConnectTimeout, "time an MQTT connection has from its TCP accept to deliver its CONNECT, TLS handshake and WebSocket upgrade included")
	fs.IntVar(&c.MQTTConnectThrottle, "mqtt-connect-throttle", broker.DefaultConnectThrottle, "failed MQTT CONNECTs (refused credentials) one source address may make per minute before its CONNECTs are refused unchecked for --mqtt-connect-penalty (0: no throttle)")
	fs.DurationVar(&c.MQTTConnectPenalty, "mqtt-connect-penalty", broker.DefaultConnectPenalty, "first penalty of an address throttled by --mqtt-connect-throttle; doubled for each penalty that follows another, up to 16 times")
	fs.IntVar(&c.MQTTRESTInFlight, "mqtt-rest-inflight", broker.DefaultRESTInFlight, "REST-over-MQTT requests this node handles at a time, all devices together (beyond: they wait their turn, up to the request timeout of 30 s, then are answered 503)")
	fs.IntVar(&c.MQTTRESTPerConnection, "mqtt-rest-per-connection", broker.DefaultRESTPerConnection, "REST-over-MQTT requests one MQTT connection may have handled at a time (beyond: they wait their turn)")
	fs.IntVar(&c.MQTTRESTQueue, "mqtt-rest-queue", broker.DefaultRESTQueue, "REST-over-MQTT requests of one MQTT connection that may wait for their turn beyond --mqtt-rest-per-connection (beyond: answered 429 at once)")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "PEM certificate of the TLS listeners (default: self-signed, kept in the data dir)")
	fs.StringVar(&c.TLSKey, "tls-key", "", "PEM private key of --tls-cert")
	fs.StringVar(&c.PublicHost, "mqtt-public-host", "", "MQTT host given to devices (default: the host the client used to reach the API)")
	fs.IntVar(&c.PublicPort, "mqtt-public-port", 0, "MQTT port given to devices (default: the port of --mqtt-addr)")
	fs.IntVar(&c.PublicTLSPort, "mqtt-public-tls-port", 0, "MQTT over TLS port given to devices (default: the port of --mqtt-tls-addr)")
	fs.IntVar(&c.PublicWSPort, "mqtt-public-ws-port", 0, "WebSocket port given to devices (default: the port of --mqtt-ws-addr)")
	fs.IntVar(&c.PublicWSSPort, "mqtt-public-wss-port", 0, "secure WebSocket port given to devices (default: the port of --mqtt-wss-addr)")
	fs.Int64Var(&c.MaxBodySize, "max-body-size", kumo.DefaultMaxBodySize, "largest object body accepted, in bytes")
	fs.IntVar(&c.PasswordIterations, "password-iterations", auth.DefaultIterations, "PBKDF2-SHA256 iterations for new password hashes")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "how long a graceful shutdown may take")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.IntVar(&c.LoginThrottle, "login-throttle", api.DefaultLoginThrottle, "failed logins (POST …/oauth2/token; wrong passwords to …/ownership and …/users/{user}/password) one source address may make per minute; beyond, its logins get 429 with Retry-After for a growing time (0: off)")
	fs.IntVar(&c.OfflineMax, "offline-max", kumo.DefaultQueueMax, "pushes kept for each device that connects with clean session 0 while it is offline; beyond it the oldest are dropped")
	fs.DurationVar(&c.OfflineMaxAge, "offline-max-age", kumo.DefaultQueueMaxAge, "age from which a push kept for an offline device is dropped")
	fs.DurationVar(&c.TriggerInterval, "trigger-interval", sqlstore.DefaultSchedulerInterval, "how often each node looks for Thing-IF schedule triggers that are due (each due time fires once in a cluster)")
	c.schedFlags(fs) // server code: sched
	// server code: hooks
	fs.IntVar(&c.HookWorkers, "servercode-hook-workers", servercode.DefaultHookWorkers, "server hook and Thing-IF SERVER_CODE runs this node makes at a time")
	fs.IntVar(&c.HookAttempts, "servercode-hook-attempts", servercode.DefaultHookMaxAttempts, "attempts of a server hook or Thing-IF SERVER_CODE run that cannot complete (the store or the runtime failing, the node dying) before it is given up")
	fs.DurationVar(&c.HookRetryMax, "servercode-hook-retry-max", servercode.DefaultHookRetryMax, "longest wait between two attempts of such a run (the first waits 1s, each next twice as long)")
	fs.IntVar(&c.OfflineReplayRate, "offline-replay-rate", broker.DefaultReplayRate, "kept pushes this node publishes per second to the devices that (re)connect with clean session 0")

	// server code: engine (issue 13)
	fs.StringVar(&c.ServerCodeAllowHosts, "servercode-allow-hosts", "", "comma-separated hosts server code's $.ajax may call (name, *.domain, or * for any); empty: none but Kumo itself. Loopback, private and link-local addresses are refused whatever the name")
	fs.IntVar(&c.ServerCodeStepLimit, "servercode-step-limit", servercode.DefaultStepLimit, "a server-code run is stopped when it reaches this many steps (statements); Kii's limit is 1000")
	fs.DurationVar(&c.ServerCodeTimeLimit, "servercode-time-limit", servercode.DefaultTimeLimit, "wall-clock limit of one server-code run")
	fs.Int64Var(&c.ServerCodeMemoryMB, "servercode-memory", servercode.DefaultMemoryLimit>>20, "Go heap in MB above which the oldest running server-code run is stopped (0: no check)")
	fs.IntVar(&c.ServerCodeRunsPerApp, "servercode-runs-per-app", servercode.DefaultMaxRuns/4, "server-code runs one app may have at once (of the node's 64); beyond, its callers wait, not other apps'")
	fs.IntVar(&c.ServerCodePool, "servercode-pool", servercode.DefaultPoolSize, "prepared server-code runtimes kept idle (and versions kept compiled), least recently used dropped first")
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg config
	fs := flag.NewFlagSet("kumo serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.flags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg.PauseDispatch = os.Getenv("KUMO_FAULT_PAUSE_DISPATCH") == "1"
	cfg.PauseHooks = os.Getenv("KUMO_FAULT_PAUSE_HOOKS") == "1" // server code: hooks
	tuneGC()
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	n, err := startNode(ctx, cfg, log)
	if err != nil {
		return err
	}
	if err := n.firstApp(ctx, stdout); err != nil {
		n.Close(context.Background())
		return err
	}
	log.Info("kumo is ready", "node", n.nodeID, "http", n.api.ListenAddr().String(),
		"mqtt", n.broker.Port(broker.TCP), "mqtt_tls", n.broker.Port(broker.TLS),
		"mqtt_ws", n.broker.Port(broker.WS), "mqtt_wss", n.broker.Port(broker.WSS), "store", n.store, "data_dir", cfg.DataDir)
	<-ctx.Done()
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := n.Close(sctx); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// node is one running Kumo: store, broker, dispatcher and API.
type node struct {
	log        *slog.Logger
	store      storeTarget
	db         *sqlstore.Store
	broker     *broker.Broker
	dispatcher *push.Dispatcher
	scheduler  *sqlstore.TriggerScheduler // fires schedule triggers
	stopHooks  func()                     // server code: hooks: stops the hook worker (nil: none)
	engine     *servercode.Engine         // the server code runtime (nil when a test gave its own)
	api        *api.Server
	nats       *natsbus.Bus // nil on a single node
	nodeID     string
	baseURL    string
	phones     *phone.Worker
	ledgerDB   *sqlstore.LedgerStore // the embedded mode's delivery ledger (nil on PostgreSQL)
	metrics    *metricsServer
	lock       *dataDirLock         // the SQLite data directory's (nil on PostgreSQL)
	pgLock     *postgres.ServerLock // the PostgreSQL database's (nil on SQLite)
	stopPrune  chan struct{}        // stops pruneLedger and pruneStates
	pruned     chan struct{}        // closed when pruneLedger returns
	// statesPruned is closed when pruneStates returns.
	statesPruned chan struct{}
	sched        schedParts // server code: sched (servercodesched.go)
}

// pruneLedger deletes ledger records older than retention, every minute,
// until stop closes.
func (n *node) pruneLedger(retention time.Duration) {
	defer close(n.pruned)
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if deleted, err := n.db.Ledger.PruneDeliveries(ctx, time.Now().Add(-retention).UnixMilli()); err != nil {
			n.log.Warn("delivery ledger: pruning failed", "error", err)
		} else if deleted > 0 {
			n.log.Debug("delivery ledger: pruned", "records", deleted)
		}
		cancel()
		select {
		case <-t.C:
		case <-n.stopPrune:
			return
		}
	}
}

// pruneStates deletes the Thing-IF state history older than days, every
// interval, until stop closes.
func (n *node) pruneStates(days int, interval time.Duration) {
	defer close(n.statesPruned)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		before := time.Now().AddDate(0, 0, -days).UnixMilli()
		if deleted, err := n.db.States.PruneStateHistory(ctx, before); err != nil {
			n.log.Warn("state history: pruning failed", "error", err)
		} else if deleted > 0 {
			n.log.Debug("state history: pruned", "states", deleted)
		}
		cancel()
		select {
		case <-t.C:
		case <-n.stopPrune:
			return
		}
	}
}

// startNode opens every part of a node, in dependency order. On failure
// it closes what it opened.
func startNode(ctx context.Context, cfg config, log *slog.Logger) (_ *node, err error) {
	n := &node{log: log}
	defer func() {
		if err != nil {
			n.Close(context.Background())
		}
	}()
	if n.store, err = chooseStore(cfg.DataDir, cfg.Database); err != nil {
		return nil, err
	}
	if cfg.NodeID == "" {
		cfg.NodeID = defaultNodeID(cfg.HTTPAddr)
	}
	n.nodeID, n.store.nodeID, n.store.lease = cfg.NodeID, cfg.NodeID, cfg.Lease
	n.store.serving = true
	if n.store.postgresURL == "" {
		// One server per data directory: a second one would write where
		// the first's devices never hear of it.
		dir := filepath.Dir(n.store.sqlitePath)
		if err := checkDataDir(dir); err != nil {
			return nil, err
		}
		if n.lock, err = lockDataDir(dir); err != nil {
			return nil, err
		}
	}
	if cfg.NATS != "" {
		log = log.With("node", cfg.NodeID) // in a cluster, every line says which node
		n.log = log
	}
	if n.store.postgresURL != "" {
		// One node per database, unless the nodes are a cluster: a node
		// alone would never push what another writes.
		if n.pgLock, err = postgres.LockServer(ctx, n.store.postgresURL, cfg.NodeID, cfg.NATS != ""); err != nil {
			return nil, fmt.Errorf("database %s: %w", n.store, err)
		}
	}
	n.db, err = n.store.open(ctx, auth.Hasher{Iterations: cfg.PasswordIterations})
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", n.store, err)
	}
	n.db.Log = log.With("component", "store")
	if n.store.postgresURL == "" && cfg.LedgerRetention > 0 {
		// The embedded mode keeps the delivery ledger in a file of its own
		// (ledger.db), so that recording pushes never waits on, nor slows,
		// the writes that cause them.
		if n.ledgerDB, err = openLedger(ctx, filepath.Join(filepath.Dir(n.store.sqlitePath), "ledger.db")); err != nil {
			return nil, fmt.Errorf("open the delivery ledger: %w", err)
		}
		n.ledgerDB.Log = log.With("component", "ledger")
		n.db.Ledger.Store = n.ledgerDB
	}
	n.db.Ledger.On = cfg.LedgerRetention > 0
	n.db.MaxBodySize = cfg.MaxBodySize
	n.db.QueueMax = cfg.OfflineMax
	secret, err := n.db.Secret(ctx, "mqtt-password-secret")
	if err != nil {
		return nil, err
	}
	passwords := auth.MQTTPasswords{Secret: secret}

	n.broker = &broker.Broker{
		Installations: n.db.Installations, Apps: n.db.Apps, Presence: n.db.Things, Ledger: n.ledger(cfg), Passwords: passwords, Log: log.With("component", "broker"),
		Queue: n.db.Queue, ReplayRate: cfg.OfflineReplayRate, QueueMaxAge: cfg.OfflineMaxAge,
		TCPAddr: cfg.MQTTAddr, TLSAddr: cfg.MQTTTLSAddr, WSAddr: cfg.MQTTWSAddr, WSSAddr: cfg.MQTTWSSAddr,
		ConnectTimeout: cfg.MQTTConnectTimeout, ConnectThrottle: cfg.MQTTConnectThrottle, ConnectPenalty: cfg.MQTTConnectPenalty,
		RESTInFlight: cfg.MQTTRESTInFlight, RESTPerConnection: cfg.MQTTRESTPerConnection, RESTQueue: cfg.MQTTRESTQueue,
	}
	if cfg.MQTTTLSAddr != "" || cfg.MQTTWSSAddr != "" {
		n.broker.TLSConfig, err = loadTLS(log, cfg.TLSCert, cfg.TLSKey, cfg.DataDir, []string{cfg.PublicHost})
		if err != nil {
			return nil, err
		}
	}
	// In a cluster, the bus opens first: the broker tells it of each
	// device's first subscription from its very first connection.
	var bus push.Bus
	if cfg.NATS != "" {
		nb := &natsbus.Bus{URL: cfg.NATS, Name: cfg.NodeID, Log: log.With("component", "nats")}
		if n.broker.Ledger != nil {
			nb.Unheard = n.broker.NotConnected
		}
		if err := nb.Open(); err != nil {
			return nil, err
		}
		n.nats, bus = nb, nb
		n.broker.Listen, n.broker.Unlisten = nb.Listen, nb.Unlisten
	}
	if err := n.broker.Open(); err != nil {
		return nil, err
	}
	if n.nats != nil {
		n.nats.Handle(n.broker.Deliver) // what came before (recovered pushes for devices not connected here yet) is dropped
	} else {
		ib := &inmem.Bus{}
		ib.Handle(n.broker.Deliver)
		bus = ib
	}
	n.dispatcher = &push.Dispatcher{Outbox: n.db.Outbox, Queue: n.db.Queue, Phones: n.db.Phones, Bus: bus, Log: log.With("component", "push"), Paused: cfg.PauseDispatch}
	if cfg.PauseDispatch {
		log.Warn("KUMO_FAULT_PAUSE_DISPATCH is set: pushes are not dispatched")
	}
	if err := n.dispatcher.Open(); err != nil {
		return nil, err
	}
	n.scheduler = &sqlstore.TriggerScheduler{Triggers: n.db.Triggers, Interval: cfg.TriggerInterval, Log: log.With("component", "triggers")}
	n.scheduler.Start()
	// Server code: the runtime (unless a test gave its own) with the
	// limits of the flags, over the versions, tokens and developer log of
	// the store; it calls the API in process once the API is open.
	if cfg.serverCode == nil {
		sc := cfg.serverCodeConfig(log)
		sc.Versions, sc.Tokens, sc.Apps, sc.Logs = n.db.ServerCode, n.db.Tokens, n.db.Apps, n.db.DevLogs
		sc.BaseURL = func() string { return n.baseURL + "/api" }
		n.engine = servercode.New(sc)
		cfg.serverCode = n.engine
	}
	n.stopPrune, n.pruned, n.statesPruned = make(chan struct{}), make(chan struct{}), make(chan struct{})
	if cfg.LedgerRetention > 0 {
		go n.pruneLedger(cfg.LedgerRetention)
	} else {
		close(n.pruned)
	}
	if cfg.StateHistoryDays > 0 {
		go n.pruneStates(cfg.StateHistoryDays, cmp.Or(cfg.statePruneEvery, time.Minute))
	} else {
		close(n.statesPruned)
	}
	n.phones = &phone.Worker{Queue: n.db.Phones, Ledger: n.ledger(cfg), Log: log.With("component", "phone"), Node: n.nodeID, Configure: phoneEndpoints}
	n.phones.Open()
	if cfg.MetricsAddr != "" {
		if n.metrics, err = startMetrics(cfg.MetricsAddr, n.nodeID, n.db, log); err != nil {
			return nil, err
		}
	}

	n.startDevLog(cfg, log) // server code: sched

	port := func(public int, id string) int {
		if public != 0 {
			return public
		}
		return n.broker.Port(id)
	}
	n.api = &api.Server{
		Apps: n.db.Apps, Tokens: n.db.Tokens, Things: n.db.Things, Users: n.db.Users, Groups: n.db.Groups,
		Objects: n.db.Objects, Buckets: n.db.Buckets, Installations: n.db.Installations,
		Subscriptions: n.db.Subscriptions, AppParams: n.db.Apps, PushConfigs: n.db.PushConfigs, ACLs: n.db.ACLs,
		ThingQueries: n.db.Things, UserQueries: n.db.Users, Messages: n.db.Messages, Bodies: n.db.Bodies,
		Topics: n.db.Topics, Ledger: n.ledger(cfg),
		Onboardings: n.db.Onboardings, Gateways: n.db.Gateways,
		States: n.db.States, ThingTypes: n.db.ThingTypes, Traits: n.db.Traits,
		Triggers: n.db.Triggers,
		Commands: n.db.Commands, // Thing-IF commands (issue 12, item 3)
		// server code: the versions, and the runtime (above)
		ServerCodeVersions: n.db.ServerCode, ServerCode: cfg.serverCode,
		// server code: sched
		ScheduleExecutions: n.db.Schedules, DevLogs: n.db.DevLogs, LogSocket: n.sched.socket,
		MQTT: api.MQTTSettings{
			PublicHost: cfg.PublicHost, Passwords: passwords,
			PortTCP: port(cfg.PublicPort, broker.TCP), PortSSL: port(cfg.PublicTLSPort, broker.TLS),
			PortWS: port(cfg.PublicWSPort, broker.WS), PortWSS: port(cfg.PublicWSSPort, broker.WSS),
		},
		Log: log.With("component", "api"), Addr: cfg.HTTPAddr,
		BodyReadWindow: cfg.BodyReadWindow, BodyMinBytes: cfg.BodyMinBytes, IdleTimeout: cfg.IdleTimeout,
		LoginThrottle: cfg.LoginThrottle,
	}
	// The developer log's logins with client credentials count in the
	// API's failed-login throttle; a bad WebSocket handshake answers
	// Kii's format.
	n.sched.socket.Login = n.api.ThrottledLogin
	n.sched.socket.HTTPError = func(w http.ResponseWriter, r *http.Request, reason error) {
		n.api.WriteError(w, r, kumo.Errorf(kumo.ErrInvalidInputData, "The developer log is a WebSocket: %v", reason))
	}
	if err := n.api.Open(); err != nil {
		return nil, fmt.Errorf("http listener: %w", err)
	}
	// REST over MQTT: devices call the same handler (and login throttle)
	// through the broker, which cannot import the API.
	n.broker.ServeREST(n.api.Handler(), n.api.WriteError)
	n.baseURL = "http://" + loopback(n.api.ListenAddr())
	n.startScheduler(cfg, cfg.serverCode, log) // server code: sched (the runtime given to the API; none: no scheduler)
	// server code: hooks: the engine calls the API in process; the worker
	// runs the server hooks and Thing-IF SERVER_CODE triggers the writes
	// queued (st.Hooks).
	if n.engine != nil {
		n.engine.SetHandler(n.api.Handler())
	}
	hooks := servercode.NewHookWorker(servercode.HookWorkerConfig{Jobs: n.db.Hooks, Runner: cfg.serverCode, Logs: n.db.DevLogs,
		Log: log.With("component", "hooks"), Workers: cfg.HookWorkers, MaxAttempts: cfg.HookAttempts,
		RetryMin: cfg.hookRetryMin, RetryMax: cfg.HookRetryMax, Lease: cfg.hookLease})
	hooksCtx, stopHooks := context.WithCancel(context.Background())
	hooksDone := make(chan struct{})
	go func() {
		defer close(hooksDone)
		if cfg.PauseHooks {
			// The jobs committed here are claimed by this node, as with a
			// worker, and never run: as if it died before running them.
			log.Warn("KUMO_FAULT_PAUSE_HOOKS is set: server hooks and Thing-IF SERVER_CODE triggers are not run")
			n.db.Hooks.Subscribe(hooksCtx, cmp.Or(cfg.hookLease, servercode.DefaultHookLease).Milliseconds())
			<-hooksCtx.Done()
			return
		}
		hooks.Run(hooksCtx)
	}()
	n.stopHooks = func() { stopHooks(); <-hooksDone }
	return n, nil
}

// Close shuts the node down gracefully: no new requests, in-flight ones
// finished, committed events dispatched, then the broker and the store.
// When ctx ends before the in-flight requests do, their clients are cut
// off, and the rest of the node has stopGrace of its own to stop.
func (n *node) Close(ctx context.Context) error {
	var errs []error
	if n.api != nil {
		errs = append(errs, n.api.Close(ctx))
	}
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), stopGrace)
		defer cancel()
	}
	if n.scheduler != nil {
		n.scheduler.Stop() // before the dispatcher: the commands it fired are sent
	}
	n.stopSched(ctx)        // server code: sched
	if n.stopHooks != nil { // server code: hooks: before the store closes
		n.stopHooks()
	}
	if n.engine != nil { // after every run: writes the developer log records still queued
		errs = append(errs, n.engine.Close(ctx))
	}
	if n.dispatcher != nil {
		errs = append(errs, n.dispatcher.Close(ctx))
	}
	if n.broker != nil {
		errs = append(errs, n.broker.Close())
	}
	if n.nats != nil {
		errs = append(errs, n.nats.Close())
	}
	if n.metrics != nil {
		errs = append(errs, n.metrics.Close())
	}
	if n.phones != nil {
		n.phones.Close()
	}
	if n.stopPrune != nil {
		close(n.stopPrune)
		<-n.pruned
		<-n.statesPruned
	}
	if n.db != nil {
		errs = append(errs, n.db.Close())
	}
	if n.ledgerDB != nil {
		errs = append(errs, n.ledgerDB.Close())
	}
	errs = append(errs, n.lock.Release(), n.pgLock.Close())
	return errors.Join(errs...)
}

// firstApp creates an app when the store has none, and prints how to use it.
func (n *node) firstApp(ctx context.Context, out io.Writer) error {
	apps, err := n.db.Apps.ListApps(ctx)
	if err != nil || len(apps) > 0 {
		return err
	}
	c, err := n.db.Apps.CreateApp(ctx, kumo.AppCreate{Name: "default"})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, `
Kumo created your first app. Keep these credentials:

  App ID:        %s
  App key:       %s
  Client ID:     %s
  Client secret: %s

Register a thing and get its token (the walkthrough in README.md goes on
from here; jq reads the answer):

%s
`, c.AppID, c.AppKey, c.ClientID, c.ClientSecret, indent(firstThing(c.AppID, n.baseURL), "  "))
	return nil
}

// firstThing is the first step of README.md's walkthrough, which the
// first-start message prints with the app's ID and the server's URL.
func firstThing(appID, baseURL string) string {
	return `APP_ID=` + appID + `
HOST=` + baseURL + `

curl -s -X POST "$HOST/api/apps/$APP_ID/things" \
  -H "Content-Type: application/vnd.kii.ThingRegistrationAndAuthorizationRequest+json" \
  -d '{"_vendorThingID":"my-thing","_password":"my-password"}' | tee thing.json
THING_ID=$(jq -r ._thingID thing.json)
ACCESS_TOKEN=$(jq -r ._accessToken thing.json)
`
}

// indent puts prefix before every non-empty line of s.
func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

// defaultNodeID names a node after its host and HTTP port.
func defaultNodeID(httpAddr string) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "kumo"
	}
	_, port, _ := net.SplitHostPort(httpAddr)
	return host + ":" + port
}

// tuneGC makes the garbage collector run less often than Go's default
// (GOGC=400 instead of 100) unless GOGC is set: a push server trades some
// memory for fewer collections, which are what lengthens its tail latency.
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(400)
	}
}

// loopback turns a listen address such as [::]:8080 into one a local
// client can dial (localhost:8080).
func loopback(a net.Addr) string {
	_, port, _ := net.SplitHostPort(a.String())
	host, _, _ := net.SplitHostPort(a.String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// phoneEndpoints points the phone senders at other FCM and APNs servers
// when KUMO_FCM_URL, KUMO_FCM_TOKEN_URL or KUMO_APNS_URL are set (tests,
// or a proxy); by default they talk to Google's and Apple's.
func phoneEndpoints(s *phone.Senders) {
	if s.FCM != nil {
		if u := os.Getenv("KUMO_FCM_URL"); u != "" {
			s.FCM.BaseURL = u
		}
		if u := os.Getenv("KUMO_FCM_TOKEN_URL"); u != "" {
			s.FCM.TokenURL = u
		}
	}
	if s.APNs != nil {
		if u := os.Getenv("KUMO_APNS_URL"); u != "" {
			s.APNs.ProductionURL, s.APNs.DevelopmentURL = u, u
		}
	}
}

// openLedger opens the embedded mode's ledger database at path.
func openLedger(ctx context.Context, path string) (*sqlstore.LedgerStore, error) {
	l, err := sqlite.OpenLedger(ctx, path)
	if err != nil {
		return nil, err
	}
	if err := l.Open(); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// ledger returns the delivery ledger, nil when --ledger-retention is 0.
func (n *node) ledger(cfg config) kumo.DeliveryLedger {
	if cfg.LedgerRetention <= 0 {
		return nil
	}
	return n.db.Ledger
}

// stopGrace is how long the rest of a node may take to stop once the
// shutdown timeout has gone to slow clients (cut off at its end).
const stopGrace = 10 * time.Second

// defaultStateHistoryDays is --state-history-days' default.
const defaultStateHistoryDays = 30

// defaultLedgerRetention is --ledger-retention's default.
const defaultLedgerRetention = 24 * time.Hour
