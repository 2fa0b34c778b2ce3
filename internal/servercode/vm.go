package servercode

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/dop251/goja"
	"github.com/kumo-iot/kumo"
)

// The SDK: Kumo's own JavaScript, run in every runtime before the script
// (sdk/README.md is the bridge contract its files are written against).
//
//go:embed sdk/*.js
var sdkFiles embed.FS

var (
	sdkOnce     sync.Once
	sdkPrograms []*goja.Program
	sdkErr      error
)

// sdk returns the SDK's files compiled, in name order (core.js first).
func sdk() ([]*goja.Program, error) {
	sdkOnce.Do(func() {
		names, err := fs.Glob(sdkFiles, "sdk/*.js")
		if err != nil {
			sdkErr = err
			return
		}
		sort.Slice(names, func(i, k int) bool {
			if (names[i] == "sdk/core.js") != (names[k] == "sdk/core.js") {
				return names[i] == "sdk/core.js"
			}
			return names[i] < names[k]
		})
		for _, n := range names {
			src, _ := sdkFiles.ReadFile(n)
			p, err := goja.Compile(n, string(src), false)
			if err != nil {
				sdkErr = fmt.Errorf("servercode: %s: %w", n, err)
				return
			}
			sdkPrograms = append(sdkPrograms, p)
		}
	})
	return sdkPrograms, sdkErr
}

// vm is a prepared runtime: the SDK loaded and a version's script run.
type vm struct {
	rt    *goja.Runtime
	run   *run            // the run using it, nil while idle
	names map[string]bool // the script's top-level names (program.names)

	begin, parse, stringify goja.Callable
	context, done           goja.Value
}

// newVM prepares a runtime for p within run r (its limits apply to the
// script's top level).
func (e *Engine) newVM(r *run, p *program) (*vm, error) {
	progs, err := sdk()
	if err != nil {
		return nil, err
	}
	rt := goja.New()
	rt.SetMaxCallStackSize(maxCallStack)
	v := &vm{rt: rt, run: r, names: p.names}
	if err := r.attach(v); err != nil {
		return nil, err
	}
	g := rt.GlobalObject()
	natives := map[string]func(goja.FunctionCall) goja.Value{
		stepFunc:             v.step,
		"__kii_http":         v.http,
		"__kii_ajax":         v.ajaxCall,
		"__kii_defer":        v.deferTask,
		"__kii_log":          v.log,
		"__kii_appID":        func(goja.FunctionCall) goja.Value { return rt.ToValue(v.run.call.AppID) },
		"__kii_appKey":       v.appKey,
		"__kii_baseURL":      func(goja.FunctionCall) goja.Value { return rt.ToValue(e.cfg.BaseURL()) },
		"__kii_accessToken":  v.accessToken,
		"__kii_adminToken":   v.adminToken,
		"__kii_endpointName": func(goja.FunctionCall) goja.Value { return rt.ToValue(v.run.call.Endpoint) },
	}
	for name, f := range e.testNatives {
		natives[name] = f
	}
	for name, f := range natives {
		if err := rt.Set(name, f); err != nil {
			return nil, err
		}
	}
	v.done = rt.ToValue(func(c goja.FunctionCall) goja.Value {
		if r := v.run; r != nil && !r.done {
			r.done, r.result = true, c.Argument(0)
		}
		return goja.Undefined()
	})
	err = r.guard(func() error {
		for _, sp := range progs {
			if _, err := rt.RunProgram(sp); err != nil {
				return err
			}
		}
		g.Delete("eval") // after the SDK, which uses it to probe the engine's syntax
		// The natives and the SDK's entry points can be neither replaced
		// nor deleted by the script (computed names get past the static
		// check of __kii_ identifiers): one replacing the step function
		// would run without a step limit, in this runtime's later runs too.
		for _, name := range g.Keys() {
			if !strings.HasPrefix(name, "__kii_") {
				continue
			}
			if _, isFunc := goja.AssertFunction(g.Get(name)); isFunc {
				if err := g.DefineDataProperty(name, g.Get(name), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_NOT_SET); err != nil {
					return err
				}
			}
		}
		var ok bool
		if v.begin, ok = goja.AssertFunction(rt.Get("__kii_begin")); !ok {
			return fmt.Errorf("servercode: the SDK defines no __kii_begin")
		}
		json := rt.Get("JSON").ToObject(rt)
		v.parse, _ = goja.AssertFunction(json.Get("parse"))
		v.stringify, _ = goja.AssertFunction(json.Get("stringify"))
		makeContext, ok := goja.AssertFunction(rt.Get("__kii_makeContext"))
		if !ok {
			return fmt.Errorf("servercode: the SDK defines no __kii_makeContext")
		}
		if v.context, err = makeContext(goja.Undefined()); err != nil {
			return err
		}
		_, err := rt.RunProgram(p.prog)
		return err
	})
	r.steps = 0 // the top level is not the endpoint's
	return v, err
}

func (v *vm) step(goja.FunctionCall) goja.Value {
	r := v.run
	r.steps++
	if r.steps >= r.limit {
		r.interrupt(&limitError{CodeStepLimit, fmt.Sprintf("The code executed %d steps; fewer than %d are allowed", r.steps, r.limit)})
	}
	return goja.Undefined()
}

func (v *vm) deferTask(c goja.FunctionCall) goja.Value {
	if f, ok := goja.AssertFunction(c.Argument(0)); ok {
		v.run.tasks = append(v.run.tasks, f)
	}
	return goja.Undefined()
}

// log keeps a console line: __kii_log(level, text).
func (v *vm) log(c goja.FunctionCall) goja.Value {
	r := v.run
	if len(r.lines) >= r.e.cfg.MaxLogLines {
		r.dropped++
		return goja.Undefined()
	}
	text := c.Argument(1).String()
	if len(text) > maxLogLine {
		text = text[:maxLogLine] + "…"
	}
	r.lines = append(r.lines, kumo.DevLog{
		Key: "servercode.log", Time: time.Now().UnixMilli(), Level: c.Argument(0).String(), AppID: r.call.AppID,
		Description: text, UserID: userID(r.call), Fields: map[string]any{"entry-name": r.call.Endpoint},
	})
	return goja.Undefined()
}

func (v *vm) appKey(goja.FunctionCall) goja.Value {
	r := v.run
	if r.e.cfg.Apps == nil {
		return goja.Null()
	}
	app, err := r.e.cfg.Apps.FindApp(r.ctx, r.call.AppID)
	if err != nil {
		panic(v.rt.NewGoError(err))
	}
	return v.rt.ToValue(app.Key)
}

// accessToken is context.getAccessToken(): the caller's token, or a
// token of the user or thing a hook runs for, issued when first asked.
func (v *vm) accessToken(goja.FunctionCall) goja.Value {
	r := v.run
	if r.token == nil {
		tok := r.call.Token
		if a := r.call.Actor; tok == "" && (a.Kind == kumo.UserCaller || a.Kind == kumo.ThingCaller) && a.ID != "" {
			t, err := r.e.token(r.ctx, kumo.Caller{AppID: r.call.AppID, Kind: a.Kind, ID: a.ID})
			if err != nil {
				panic(v.rt.NewGoError(err))
			}
			tok = t
		}
		r.token = &tok
	}
	if *r.token == "" {
		return goja.Null()
	}
	return v.rt.ToValue(*r.token)
}

// adminToken is the token of the admin context: a real app-admin token.
func (v *vm) adminToken(goja.FunctionCall) goja.Value {
	t, err := v.run.e.token(v.run.ctx, kumo.Caller{AppID: v.run.call.AppID, Kind: kumo.Admin})
	if err != nil {
		panic(v.rt.NewGoError(err))
	}
	return v.rt.ToValue(t)
}

// maxTokens bounds the tokens the engine keeps for reuse.
const maxTokens = 10_000

// token returns a token of c issued for server code, shared by the runs
// until it nears its expiry (TokenTTL), so that runs do not each store one.
func (e *Engine) token(ctx context.Context, c kumo.Caller) (string, error) {
	if e.cfg.Tokens == nil {
		return "", fmt.Errorf("server code gets no tokens here")
	}
	key := c.AppID + "\x00" + c.Kind.String() + "\x00" + c.ID
	e.mu.Lock()
	t, ok := e.tokens[key]
	e.mu.Unlock()
	if ok && time.Until(t.expires) >= max(2*e.cfg.TimeLimit, e.cfg.TokenTTL/4) {
		// Still valid? Revocations (a rotated secret, a password changed,
		// the principal deleted) end it before its expiry.
		if _, err := e.cfg.Tokens.Authenticate(ctx, c.AppID, t.token); err == nil {
			return t.token, nil
		}
	}
	tok, err := e.cfg.Tokens.IssueServerCodeToken(ctx, c, e.cfg.TokenTTL)
	if err != nil {
		return "", err
	}
	e.mu.Lock()
	if len(e.tokens) >= maxTokens {
		clear(e.tokens)
	}
	e.tokens[key] = issuedToken{token: tok, expires: time.Now().Add(e.cfg.TokenTTL)}
	e.mu.Unlock()
	return tok, nil
}

// http is the bridge: __kii_http(method, path, headers, body) calls
// Kumo's API in process and returns {status, headers, body}.
func (v *vm) http(c goja.FunctionCall) goja.Value {
	method, path := c.Argument(0).String(), c.Argument(1).String()
	headers := stringMap(c.Argument(2))
	var body *string
	if b := c.Argument(3); !goja.IsUndefined(b) && !goja.IsNull(b) {
		s := b.String()
		body = &s
	}
	status, h, out, err := v.run.e.inProcess(v.run.ctx, v.run.call.RemoteAddr, method, path, headers, body)
	if err != nil {
		panic(v.rt.NewGoError(err))
	}
	res := v.response(status, h, out)
	// The body parsed here (parseJSON) spares the SDK its JSON.parse;
	// without "json" (not JSON, or not parsed here) the SDK parses it.
	if len(out) > 0 {
		if j, ok := v.parseJSON(out); ok {
			res.(*goja.Object).Set("json", j)
		}
	}
	return res
}

func (v *vm) response(status int, h http.Header, body []byte) goja.Value {
	o := v.rt.NewObject()
	o.Set("status", status)
	// The headers are read from h when asked for (the SDK reads one or
	// two of them), not copied into a runtime object each time.
	o.Set("headers", v.rt.NewDynamicObject(&headerObject{rt: v.rt, h: h}))
	o.Set("body", string(body))
	return o
}

// headerObject is a response's headers as the script sees them: lower-case
// names, values joined with ", ".
type headerObject struct {
	rt *goja.Runtime
	h  http.Header
}

func (o *headerObject) find(key string) (string, bool) {
	for k := range o.h {
		if lowerHeader(k) == key {
			return k, true
		}
	}
	return "", false
}

func (o *headerObject) Get(key string) goja.Value {
	k, ok := o.find(key)
	if !ok {
		return nil
	}
	if vals := o.h[k]; len(vals) == 1 {
		return o.rt.ToValue(vals[0])
	}
	return o.rt.ToValue(strings.Join(o.h[k], ", "))
}

func (o *headerObject) Set(key string, val goja.Value) bool {
	if k, ok := o.find(key); ok {
		delete(o.h, k)
	}
	o.h[key] = []string{val.String()}
	return true
}

func (o *headerObject) Has(key string) bool {
	_, ok := o.find(key)
	return ok
}

func (o *headerObject) Delete(key string) bool {
	if k, ok := o.find(key); ok {
		delete(o.h, k)
	}
	return true
}

func (o *headerObject) Keys() []string {
	keys := make([]string, 0, len(o.h))
	for k := range o.h {
		keys = append(keys, lowerHeader(k))
	}
	sort.Strings(keys)
	return keys
}

// lowerHeaders are the lower-case names of the headers Kumo's API
// answers with, so that a response does not lower them each time.
var lowerHeaders = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{"Content-Type", "Content-Length", "Etag", "Last-Modified", "Location", "Date",
		"Cache-Control", "Vary", "Www-Authenticate", "Retry-After", "X-Content-Type-Options", "Access-Control-Allow-Origin",
		"Access-Control-Expose-Headers", "Content-Encoding", "Content-Disposition", "Accept-Ranges", "Content-Range"} {
		m[k] = strings.ToLower(k)
	}
	return m
}()

func lowerHeader(k string) string {
	if l, ok := lowerHeaders[k]; ok {
		return l
	}
	return strings.ToLower(k)
}

func stringMap(v goja.Value) map[string]string {
	out := map[string]string{}
	if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
		return out
	}
	if o, ok := v.(*goja.Object); ok {
		for _, k := range o.Keys() {
			if x := o.Get(k); x != nil && !goja.IsUndefined(x) && !goja.IsNull(x) {
				out[k] = x.String()
			}
		}
	}
	return out
}

// inProcess serves a request with Kumo's API handler, without network.
// Its context marks it as made by server code (kumo.WithServerCode).
func (e *Engine) inProcess(ctx context.Context, remote, method, path string, headers map[string]string, body *string) (int, http.Header, []byte, error) {
	hp := e.handler.Load()
	if hp == nil || *hp == nil {
		return 0, nil, nil, fmt.Errorf("Kumo's API is not available to server code")
	}
	if !strings.HasPrefix(path, "/") {
		return 0, nil, nil, fmt.Errorf("%q is not a path of Kumo's API", path)
	}
	var rd io.Reader
	if body != nil {
		rd = strings.NewReader(*body)
	}
	req, err := http.NewRequestWithContext(ctx, method, e.origin()+path, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	for k, val := range headers {
		req.Header.Set(k, val)
	}
	// Logins the code makes count against the address of the client that
	// called it (the login throttle), so that server code is no way
	// around it; runs no client called share "servercode".
	req.RemoteAddr = "servercode"
	if remote != "" {
		req.RemoteAddr = remote
	}
	req.RequestURI = path
	rec := &recorder{header: http.Header{}}
	(*hp).ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return rec.status, rec.header, rec.body.Bytes(), nil
}

// origin is "scheme://host" of Config.BaseURL, parsed once for each value
// it returns (it may change while Kumo runs, e.g. once it listens).
func (e *Engine) origin() string {
	raw := e.cfg.BaseURL()
	if o := e.base.Load(); o != nil && o.raw == raw {
		return o.origin
	}
	base, err := url.Parse(raw)
	if err != nil || base.Host == "" {
		base = &url.URL{Scheme: "http", Host: "localhost"}
	}
	o := &parsedBase{raw: raw, origin: base.Scheme + "://" + base.Host}
	e.base.Store(o)
	return o.origin
}

// parsedBase is Config.BaseURL's value and its origin.
type parsedBase struct{ raw, origin string }

// recorder is the response writer of an in-process request.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *recorder) Header() http.Header { return w.header }

func (w *recorder) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *recorder) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}

func userID(c kumo.ServerCodeCall) string {
	if c.Caller.Kind == kumo.UserCaller {
		return c.Caller.ID
	}
	return ""
}
