// Package servercode runs Kii server code: apps' JavaScript endpoints, on
// the goja engine, in a sandbox with Kii's limits, with Kumo's own
// implementation of the Kii JavaScript SDK (sdk/*.js) calling Kumo's REST
// API in process.
package servercode

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/dlclark/regexp2"
	"log/slog"
	"net/http"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dop251/goja"
	"github.com/kumo-iot/kumo"
)

// Versions loads a version of an app's server code to run it (st.ServerCode).
type Versions interface {
	LoadVersion(ctx context.Context, appID, version string) (kumo.ServerCodeVersion, string, error)
}

// Tokens issues the tokens server code holds (st.Tokens).
type Tokens interface {
	IssueServerCodeToken(ctx context.Context, c kumo.Caller, ttl time.Duration) (string, error)
	// Authenticate checks a token (a cached one is checked before reuse:
	// a rotated secret, a changed password or a deleted user revoke it).
	Authenticate(ctx context.Context, appID, token string) (kumo.Caller, error)
}

// Logs keeps developer log records (st.DevLogs).
type Logs interface {
	AppendDevLogs(ctx context.Context, logs []kumo.DevLog) error
}

// Apps finds an app, for context.getAppKey() (st.Apps).
type Apps interface {
	FindApp(ctx context.Context, idOrKey string) (kumo.App, error)
}

// Defaults of Config.
const (
	DefaultStepLimit   = 1000 // Kii: fewer than 1000 steps
	DefaultTimeLimit   = 20 * time.Second
	DefaultMemoryLimit = 1 << 30
	DefaultMaxArgs     = 100<<10 - 50 // Kii: 100 KB with ~50 B of metadata
	DefaultPoolSize    = 64
	DefaultMaxRuns     = 64
	DefaultMaxLogLines = 100
	DefaultTokenTTL    = time.Hour
	memoryCheck        = 100 * time.Millisecond
	maxLogLine         = 4 << 10
	maxCallStack       = 1000
)

// Codes of details.errorCode when a limit stops a run (Kumo's: Kii's are
// not documented, docs/compat.md), and of an exception.
const (
	CodeRuntimeError = "RUNTIME_ERROR"
	CodeStepLimit    = "STEP_LIMIT_EXCEEDED"
	CodeTimeout      = "TIMEOUT"
	CodeMemoryLimit  = "MEMORY_LIMIT_EXCEEDED"
	CodeCanceled     = "CANCELED"
)

// Config configures an Engine. Zero values take the defaults.
type Config struct {
	Versions Versions
	Tokens   Tokens
	Logs     Logs // nil: runs are not logged
	Apps     Apps
	// Handler is Kumo's API handler, which the SDK calls in process. It
	// may be set after New with SetHandler (the API needs the engine).
	Handler http.Handler
	// BaseURL returns what Kii.getBaseURL() returns: Kumo's API base,
	// e.g. "http://host:port/api". $.ajax to its host is served in process.
	BaseURL func() string
	// AllowHosts are the hosts $.ajax may call ("api.example.com",
	// "*.example.com", or "*" for any); none: $.ajax only reaches Kumo
	// itself. Loopback, private and link-local addresses are refused
	// whatever the name.
	AllowHosts []string
	// StepLimit stops a run when it reaches that many steps (it runs fewer).
	StepLimit int
	// TimeLimit is a run's wall clock.
	TimeLimit time.Duration
	// MemoryLimit is the Go heap in bytes above which the oldest running
	// script is stopped (MEMORY_LIMIT_EXCEEDED); negative: no check.
	MemoryLimit int64
	// MaxArgs is the largest params JSON in bytes.
	MaxArgs int
	// PoolSize is how many prepared runtimes are kept idle, over all
	// versions (least recently used dropped first).
	PoolSize int
	// MaxRuns is how many runs may run at once; more wait.
	MaxRuns int
	// StuckGrace is how long past TimeLimit a caller waits for a run
	// stuck in a native call before it is answered TIMEOUT (default 5 s).
	StuckGrace time.Duration
	// MaxRunsPerApp is how many of them one app's runs may take (default
	// a quarter of MaxRuns): one app's slow or flooded endpoints make its
	// own callers wait, not every app's.
	MaxRunsPerApp int
	// MaxLogLines caps the console lines kept per run.
	MaxLogLines int
	// TokenTTL is the lifetime of the tokens issued to server code (the
	// admin context's, a hook actor's); each is reused by later runs until
	// a quarter of it is left.
	TokenTTL time.Duration
	Log      *slog.Logger
}

// RegexpMatchTimeout bounds one regular expression match (see New).
const RegexpMatchTimeout = 2 * time.Second

// Engine runs server code. It implements kumo.ServerCodeRunner.
type Engine struct {
	cfg     Config
	handler atomic.Pointer[http.Handler]
	runs    chan struct{}
	ajax    *http.Client

	testNatives map[string]func(goja.FunctionCall) goja.Value // tests' own natives (export_test.go)

	appMu   sync.Mutex
	appRuns map[string]chan struct{} // each app's share of runs (MaxRunsPerApp)

	mu       sync.Mutex
	programs map[string]*program // by app and version ID
	idle     int                 // idle runtimes over all programs
	tick     int64               // use counter, for LRU
	active   map[*run]bool
	watching bool
	tokens   map[string]issuedToken // tokens issued to server code, by app and principal

	compiles atomic.Int64 // scripts compiled, for tests
	base     atomic.Pointer[parsedBase]
	logs     *logWriter
}

type issuedToken struct {
	token   string
	expires time.Time
}

// program is a compiled version and its idle runtimes.
type program struct {
	key     string
	prog    *goja.Program
	names   map[string]bool // declared at the script's top level: the endpoints
	err     error           // why it does not compile
	ready   chan struct{}   // closed once compiled (prog, names, err set)
	idle    []*vm
	lastUse int64
}

var _ kumo.ServerCodeRunner = (*Engine)(nil)

// New returns an engine.
func New(cfg Config) *Engine {
	// One regular expression match is one native call, which no interrupt
	// stops: goja's backtracking engine (regexp2) gives up a match after
	// this long (it then does not match) rather than spin past the run's
	// time limit (catastrophic backtracking, ReDoS).
	regexp2.DefaultMatchTimeout = RegexpMatchTimeout
	cfg.StepLimit = cmp.Or(cfg.StepLimit, DefaultStepLimit)
	cfg.TimeLimit = cmp.Or(cfg.TimeLimit, DefaultTimeLimit)
	cfg.MemoryLimit = cmp.Or(cfg.MemoryLimit, DefaultMemoryLimit)
	cfg.MaxArgs = cmp.Or(cfg.MaxArgs, DefaultMaxArgs)
	cfg.PoolSize = cmp.Or(cfg.PoolSize, DefaultPoolSize)
	cfg.MaxRuns = cmp.Or(cfg.MaxRuns, DefaultMaxRuns)
	cfg.StuckGrace = cmp.Or(cfg.StuckGrace, 5*time.Second)
	cfg.MaxRunsPerApp = min(cmp.Or(cfg.MaxRunsPerApp, max(1, cfg.MaxRuns/4)), cfg.MaxRuns)
	cfg.MaxLogLines = cmp.Or(cfg.MaxLogLines, DefaultMaxLogLines)
	cfg.TokenTTL = cmp.Or(cfg.TokenTTL, DefaultTokenTTL)
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.BaseURL == nil {
		cfg.BaseURL = func() string { return "http://localhost/api" }
	}
	e := &Engine{
		cfg: cfg, runs: make(chan struct{}, cfg.MaxRuns), appRuns: map[string]chan struct{}{},
		programs: map[string]*program{}, active: map[*run]bool{}, tokens: map[string]issuedToken{},
	}
	e.ajax = newAjaxClient(cfg.AllowHosts)
	e.logs = newLogWriter(cfg.Logs, cfg.Log)
	if cfg.Handler != nil {
		e.SetHandler(cfg.Handler)
	}
	return e
}

// Close writes the developer log records still queued, until ctx ends.
// Runs after Close are not logged.
func (e *Engine) Close(ctx context.Context) error { return e.logs.close(ctx) }

// SetHandler sets the API handler the SDK calls in process.
func (e *Engine) SetHandler(h http.Handler) { e.handler.Store(&h) }

// Compiles returns how many scripts the engine has compiled.
func (e *Engine) Compiles() int64 { return e.compiles.Load() }

// Check implements kumo.ServerCodeRunner: the script must parse and keep
// Kii's static restrictions.
func (e *Engine) Check(script string) error {
	_, err := instrument(script)
	return err
}

// Run implements kumo.ServerCodeRunner.
func (e *Engine) Run(ctx context.Context, call kumo.ServerCodeCall) (kumo.ServerCodeResult, error) {
	if !kumo.ValidEndpointName(call.Endpoint) {
		return kumo.ServerCodeResult{}, kumo.Errorf(kumo.ErrInvalidInputData, "%q is not an endpoint name (^[a-zA-Z][_a-zA-Z0-9]*$)", call.Endpoint)
	}
	if len(call.Params) > e.cfg.MaxArgs {
		return kumo.ServerCodeResult{}, kumo.Errorf(kumo.ErrBodyTooLarge, "The arguments are %d bytes; at most %d are allowed", len(call.Params), e.cfg.MaxArgs)
	}
	params := string(call.Params)
	if len(call.Params) == 0 || string(call.Params) == "null" {
		params = "{}"
	} else if !json.Valid(call.Params) || firstByte(call.Params) != '{' {
		return kumo.ServerCodeResult{}, kumo.Errorf(kumo.ErrInvalidInputData, "The arguments of an endpoint are a JSON object")
	}
	ver, script, err := e.cfg.Versions.LoadVersion(ctx, call.AppID, call.Version)
	if err != nil {
		return kumo.ServerCodeResult{}, err
	}
	appRuns := e.appSlots(call.AppID)
	select {
	case appRuns <- struct{}{}:
	case <-ctx.Done():
		return kumo.ServerCodeResult{}, kumo.Errorf(kumo.ErrUnavailable, "Server code is busy; try again")
	}
	select {
	case e.runs <- struct{}{}:
	case <-ctx.Done():
		<-appRuns
		return kumo.ServerCodeResult{}, kumo.Errorf(kumo.ErrUnavailable, "Server code is busy; try again")
	}
	res := kumo.ServerCodeResult{VersionID: ver.ID, Environment: cmp.Or(call.Environment, ver.EnvironmentVersion, kumo.EnvironmentV0)}
	p, err := e.program(call.AppID, ver.ID, script)
	if err != nil {
		<-e.runs
		<-appRuns
		return res, err
	}
	// The run goes on its own goroutine, which holds the run's slots until
	// it ends. Interrupts stop a script between two instructions only: a
	// native call that never returns in time (a 100,000-deep
	// JSON.stringify) would keep the caller waiting past the time limit,
	// so past it and a grace the caller gets TIMEOUT, and the run's
	// runtime is thrown away when it ends (it was interrupted).
	done := make(chan kumo.ServerCodeResult, 1)
	go func() {
		defer func() { <-e.runs; <-appRuns }()
		done <- e.execute(ctx, call, p, params, res)
	}()
	hard := time.NewTimer(e.cfg.TimeLimit + e.cfg.StuckGrace)
	defer hard.Stop()
	select {
	case res = <-done:
		return res, nil
	case <-hard.C:
		e.cfg.Log.Warn("server code: a run did not end at its time limit (a native call that cannot be interrupted); its caller is answered, the run is abandoned",
			"app", call.AppID, "version", ver.ID, "endpoint", call.Endpoint)
		res.Err = &kumo.ServerCodeError{ErrorMessage: kumo.ServerCodeErrorMessage, Details: kumo.ServerCodeErrorDetails{ErrorCode: CodeTimeout,
			Message: fmt.Sprintf("The code did not end within %v: a built-in call that cannot be interrupted was still running", e.cfg.TimeLimit)}}
		res.DurationMs = (e.cfg.TimeLimit + e.cfg.StuckGrace).Milliseconds()
		return res, nil
	}
}

// execute runs a call of program p on a runtime of the pool (or a new
// one), and records the run in the developer log.
func (e *Engine) execute(ctx context.Context, call kumo.ServerCodeCall, p *program, params string, res kumo.ServerCodeResult) kumo.ServerCodeResult {
	var err error
	start := time.Now()
	r := e.newRun(ctx, call)
	defer r.finish()
	v := e.get(p)
	reuse := false
	if v == nil {
		v, err = e.newVM(r, p)
		if err != nil {
			res.Err = r.failure(err)
		}
	}
	if res.Err == nil {
		v.run = r
		res.ReturnedValue, res.Err = r.exec(v, params)
		res.Steps = r.steps
		v.run = nil
		clean := r.stop()
		reuse = clean && (res.Err == nil || res.Err.Details.ErrorCode == CodeRuntimeError)
	}
	res.DurationMs = time.Since(start).Milliseconds()
	if reuse {
		v.rt.ClearInterrupt()
		e.put(p, v)
	}
	e.logRun(r, res)
	return res
}

// appSlots returns the semaphore of an app's share of runs.
func (e *Engine) appSlots(appID string) chan struct{} {
	e.appMu.Lock()
	defer e.appMu.Unlock()
	s := e.appRuns[appID]
	if s == nil {
		s = make(chan struct{}, e.cfg.MaxRunsPerApp)
		e.appRuns[appID] = s
	}
	return s
}

func firstByte(b []byte) byte {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
		default:
			return c
		}
	}
	return 0
}

// program returns the compiled program of a version, compiling it once.
func (e *Engine) program(appID, versionID, script string) (*program, error) {
	key := appID + "\x00" + versionID
	e.mu.Lock()
	p := e.programs[key]
	e.tick++
	if p != nil {
		p.lastUse = e.tick
		e.mu.Unlock()
		<-p.ready // compiled by the call that made the entry
		if p.err != nil {
			return nil, p.err
		}
		return p, nil
	}
	p = &program{key: key, lastUse: e.tick, ready: make(chan struct{})}
	e.programs[key] = p
	for len(e.programs) > e.cfg.PoolSize { // drop the least recently used version
		var old *program
		for _, q := range e.programs {
			if q != p && (old == nil || q.lastUse < old.lastUse) {
				old = q
			}
		}
		e.idle -= len(old.idle)
		delete(e.programs, old.key)
	}
	e.mu.Unlock()

	src, names, err := instrumentNames(script)
	if err == nil {
		p.prog, err = goja.Compile("server-code.js", src, false)
		if err != nil {
			err = kumo.Errorf(kumo.ErrInvalidInputData, "The server code does not compile: %v", err)
		}
	}
	p.names, p.err = names, err
	e.compiles.Add(1)
	close(p.ready)
	if err != nil {
		e.mu.Lock()
		if e.programs[key] == p {
			delete(e.programs, key)
		}
		e.mu.Unlock()
		return nil, err
	}
	return p, nil
}

// get takes an idle runtime of p, or nil.
func (e *Engine) get(p *program) *vm {
	e.mu.Lock()
	defer e.mu.Unlock()
	if n := len(p.idle); n > 0 {
		v := p.idle[n-1]
		p.idle = p.idle[:n-1]
		e.idle--
		return v
	}
	return nil
}

// put keeps v idle for the next run of p, dropping the least recently
// used idle runtime when the pool is full.
func (e *Engine) put(p *program, v *vm) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.programs[p.key] != p {
		return // the version was dropped meanwhile
	}
	p.idle = append(p.idle, v)
	e.idle++
	for e.idle > e.cfg.PoolSize {
		var old *program
		for _, q := range e.programs {
			if len(q.idle) > 0 && (old == nil || q.lastUse < old.lastUse) {
				old = q
			}
		}
		old.idle = old.idle[1:]
		e.idle--
	}
}

// run is the state of one run: the runtime's natives read it.
type run struct {
	e      *Engine
	ctx    context.Context // the API calls' context (server code marked)
	cancel context.CancelFunc
	call   kumo.ServerCodeCall
	start  time.Time
	steps  int
	limit  int

	vm     *vm
	tasks  []goja.Callable
	done   bool
	result goja.Value

	token    *string // the caller's token, once asked for
	lines    []kumo.DevLog
	dropped  int
	stopWake func() bool

	mu       sync.Mutex
	finished bool
	stopped  *limitError // why it was interrupted
}

// limitError stops a run (runtime.Interrupt): details of its failure.
type limitError struct {
	code, message string
}

func (l *limitError) Error() string { return l.code + ": " + l.message }

func (e *Engine) newRun(ctx context.Context, call kumo.ServerCodeCall) *run {
	trigger := cmp.Or(call.Trigger, kumo.RunManual)
	rctx := kumo.WithServerCode(context.WithoutCancel(ctx), trigger)
	rctx, cancel := context.WithTimeout(rctx, e.cfg.TimeLimit)
	r := &run{e: e, ctx: rctx, cancel: cancel, call: call, start: time.Now(), limit: e.cfg.StepLimit}
	stopParent := context.AfterFunc(ctx, func() {
		r.interrupt(&limitError{CodeCanceled, "The call was canceled"})
		cancel()
	})
	stopTimer := context.AfterFunc(rctx, func() {
		r.interrupt(&limitError{CodeTimeout, fmt.Sprintf("The code ran longer than %s", e.cfg.TimeLimit)})
	})
	r.stopWake = func() bool { a := stopParent(); b := stopTimer(); return a && b }
	e.mu.Lock()
	e.active[r] = true
	if !e.watching && e.cfg.MemoryLimit > 0 {
		e.watching = true
		go e.watchMemory()
	}
	e.mu.Unlock()
	return r
}

// interrupt stops the run with why, unless it has ended.
func (r *run) interrupt(why *limitError) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finished || r.stopped != nil {
		return
	}
	r.stopped = why
	if r.vm != nil {
		r.vm.rt.Interrupt(why)
	}
	r.cancel() // ends the API calls in flight
}

// stop ends the run's interruptions; it reports whether the runtime was
// never interrupted (and can be reused).
func (r *run) stop() bool {
	r.stopWake()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.finished = true
	return r.stopped == nil
}

func (r *run) finish() {
	r.stop()
	r.cancel()
	r.e.mu.Lock()
	delete(r.e.active, r)
	r.e.mu.Unlock()
}

// watchMemory stops the oldest run while the heap is over the limit; it
// ends when no run is active.
func (e *Engine) watchMemory() {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	t := time.NewTicker(memoryCheck)
	defer t.Stop()
	for range t.C {
		metrics.Read(sample) // outside e.mu, which runs, the pool and the tokens share
		over := sample[0].Value.Kind() == metrics.KindUint64 && int64(sample[0].Value.Uint64()) > e.cfg.MemoryLimit
		e.mu.Lock()
		if len(e.active) == 0 {
			e.watching = false
			e.mu.Unlock()
			return
		}
		var victim *run
		if over {
			for r := range e.active {
				if victim == nil || r.start.Before(victim.start) {
					victim = r
				}
			}
		}
		e.mu.Unlock()
		if victim != nil {
			victim.interrupt(&limitError{CodeMemoryLimit, fmt.Sprintf("Kumo's heap went over %d MB while the code ran", e.cfg.MemoryLimit>>20)})
			runtime.GC()
		}
	}
}

// exec runs the endpoint and its callbacks until it ends (spec §3.1).
func (r *run) exec(v *vm, params string) (json.RawMessage, *kumo.ServerCodeError) {
	if err := r.attach(v); err != nil {
		return nil, r.failure(err)
	}
	rt := v.rt
	fn, ok := goja.AssertFunction(rt.Get(r.call.Endpoint))
	if !ok || !v.names[r.call.Endpoint] { // the SDK's globals are no endpoints
		return nil, scError(CodeRuntimeError, r.call.Endpoint+" is not a function")
	}
	var out goja.Value
	err := r.guard(func() error {
		if _, err := v.begin(goja.Undefined()); err != nil {
			return err
		}
		p, ok := v.parseJSON([]byte(params))
		var err error
		if !ok {
			if p, err = v.parse(goja.Undefined(), rt.ToValue(params)); err != nil {
				return err
			}
		}
		async := rt.Get(r.call.Endpoint).ToObject(rt).Get("length").ToInteger() >= 3
		if async {
			_, err = fn(goja.Undefined(), p, v.context, v.done)
			if err == nil && !r.done {
				err = r.loop(func() bool { return r.done })
			}
			if r.done { // done's value is the answer, whatever came after
				out = r.result
				return nil
			}
			if err != nil {
				return err
			}
			return &limitError{CodeTimeout, "The endpoint ended without calling done"}
		}
		out, err = fn(goja.Undefined(), p, v.context)
		if err != nil {
			return err
		}
		if pr, ok := exportPromise(out); ok { // a returned Promise: its value
			if err := r.loop(func() bool { return pr.State() != goja.PromiseStatePending }); err != nil {
				return err
			}
			switch pr.State() {
			case goja.PromiseStatePending:
				return &limitError{CodeTimeout, "The promise the endpoint returned never settled"}
			case goja.PromiseStateRejected:
				return &limitError{CodeRuntimeError, errorMessage(pr.Result())}
			}
			out = pr.Result()
		}
		return nil
	})
	if err != nil {
		return nil, r.failure(err)
	}
	if out == nil || goja.IsUndefined(out) {
		return nil, nil
	}
	s, err := v.stringify(goja.Undefined(), out)
	if err != nil {
		return nil, r.failure(err)
	}
	if goja.IsUndefined(s) {
		return nil, nil
	}
	return json.RawMessage(s.String()), nil
}

func exportPromise(v goja.Value) (*goja.Promise, bool) {
	if v == nil {
		return nil, false
	}
	p, ok := v.Export().(*goja.Promise)
	return p, ok
}

// attach makes v the run's runtime (for interruptions); a run stopped
// before it got a runtime fails at once.
func (r *run) attach(v *vm) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.vm = v
	if r.stopped != nil {
		return r.stopped
	}
	return nil
}

// loop runs the deferred tasks (SDK requests and their callbacks) in
// order until until() holds or none is left.
func (r *run) loop(until func() bool) error {
	for !until() && len(r.tasks) > 0 {
		t := r.tasks[0]
		r.tasks = r.tasks[1:]
		if _, err := t(goja.Undefined()); err != nil {
			return err
		}
	}
	return nil
}

// guard runs f, turning a Go panic in the runtime into an error.
func (r *run) guard(f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("internal error: %v", p)
			r.e.cfg.Log.Error("server code panicked", "app", r.call.AppID, "endpoint", r.call.Endpoint, "panic", p)
		}
	}()
	return f()
}

// failure is the ServerCodeError of err.
func (r *run) failure(err error) *kumo.ServerCodeError {
	var (
		ie *goja.InterruptedError
		le *limitError
		ex *goja.Exception
		so *goja.StackOverflowError
	)
	switch {
	case errors.As(err, &ie):
		if l, ok := ie.Value().(*limitError); ok {
			return scError(l.code, l.message)
		}
		return scError(CodeRuntimeError, fmt.Sprint(ie.Value()))
	case errors.As(err, &le):
		return scError(le.code, le.message)
	case errors.As(err, &so):
		return scError(CodeRuntimeError, "Maximum call stack size exceeded")
	case errors.As(err, &ex):
		if ex.Value() == nil {
			return scError(CodeRuntimeError, ex.Error())
		}
		return scError(CodeRuntimeError, errorMessage(ex.Value()))
	}
	if r.stopped != nil {
		return scError(r.stopped.code, r.stopped.message)
	}
	return scError(CodeRuntimeError, err.Error())
}

// errorMessage is what a thrown value says: an Error's message, or the
// value as a string.
func errorMessage(v goja.Value) string {
	if o, ok := v.(*goja.Object); ok {
		if m := o.Get("message"); m != nil && !goja.IsUndefined(m) {
			return m.String()
		}
	}
	if v == nil {
		return "undefined"
	}
	return v.String()
}

func scError(code, msg string) *kumo.ServerCodeError {
	return &kumo.ServerCodeError{ErrorMessage: kumo.ServerCodeErrorMessage, Details: kumo.ServerCodeErrorDetails{ErrorCode: code, Message: msg}}
}
