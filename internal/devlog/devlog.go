// Package devlog serves the developer log's WebSocket (spec
// server-code.md §5.3), which Kii's CLIs read at …/logs: the client sends
// one JSON request, the server answers with text frames each holding a
// JSON array of records (kumo.DevLog), or an {"err": "…"} object.
// "cat" sends one array and closes; "tail" sends the newest records, then
// the new ones as they are written, by any node (it polls the store).
package devlog

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/kumo-iot/kumo"
)

// Defaults of Server.
const (
	DefaultPoll   = time.Second
	DefaultSettle = 10 * time.Second
	// requestTimeout is how long a client has, once connected, to send
	// its request; writeTimeout how long a frame may take to write.
	requestTimeout = 30 * time.Second
	writeTimeout   = 10 * time.Second
)

// DateLayout is the layout of the request's dateFrom and dateTo (UTC).
const DateLayout = "2006-01-02:15:04:05"

// upgrader accepts any origin: no cookie authenticates a connection, the
// request carries its own credentials.
var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

// Apps finds apps (st.Apps).
type Apps interface {
	FindApp(ctx context.Context, idOrKey string) (kumo.App, error)
}

// Server is the developer log's WebSocket endpoint: an http.Handler.
type Server struct {
	// HTTPError, when set, answers a request that cannot be upgraded (a
	// bad WebSocket handshake) in the API's error format; else the
	// WebSocket library's plain text.
	HTTPError func(w http.ResponseWriter, r *http.Request, reason error)

	// Login logs in with client credentials (a request without a token)
	// behind the API's failed-login throttle of the connection's address
	// (api.Server.ThrottledLogin); nil: Tokens.Login, unthrottled.
	Login func(ctx context.Context, remoteAddr, appID string, r kumo.LoginRequest) (kumo.Token, error)

	Apps   Apps
	Tokens kumo.TokenService
	Logs   kumo.DevLogReader
	// Poll is how often a tail reads new records (DefaultPoll when 0).
	Poll time.Duration
	// Settle is how long a record may take to become visible after one
	// written after it (several nodes write, their transactions commit in
	// any order): a tail keeps looking that far back (DefaultSettle when 0).
	Settle time.Duration
	Log    *slog.Logger

	mu     sync.Mutex // guards conns and closed
	conns  map[*websocket.Conn]struct{}
	closed bool
}

// Request is what a client sends first.
type Request struct {
	AppID        string          `json:"appID"`
	AppKey       string          `json:"appKey"`
	ClientID     string          `json:"clientID"`
	ClientSecret string          `json:"clientSecret"`
	Token        string          `json:"token"`
	Command      string          `json:"command"` // cat or tail
	Limit        json.RawMessage `json:"limit"`   // a number (or a string holding one)
	UserID       string          `json:"userID"`
	Level        string          `json:"level"`
	DateFrom     string          `json:"dateFrom"` // DateLayout, UTC
	DateTo       string          `json:"dateTo"`
}

// ServeHTTP upgrades the connection and serves one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	up := upgrader
	if s.HTTPError != nil {
		up.Error = func(w http.ResponseWriter, r *http.Request, status int, reason error) { s.HTTPError(w, r, reason) }
	}
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader answered the HTTP error
	}
	if !s.track(conn) {
		conn.Close()
		return
	}
	defer s.untrack(conn)
	defer conn.Close()
	s.serve(conn)
}

// Close closes the open connections (their tails stop).
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
}

func (s *Server) track(c *websocket.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if s.conns == nil {
		s.conns = map[*websocket.Conn]struct{}{}
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c *websocket.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// errFrame sends {"err": msg} and closes the connection normally.
func errFrame(conn *websocket.Conn, msg string) {
	conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	b, _ := json.Marshal(map[string]string{"err": msg})
	if conn.WriteMessage(websocket.TextMessage, b) == nil {
		conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	}
}

func (s *Server) serve(conn *websocket.Conn) {
	log := cmp.Or(s.Log, slog.Default())
	conn.SetReadLimit(64 << 10)
	conn.SetReadDeadline(time.Now().Add(requestTimeout))
	typ, raw, err := conn.ReadMessage()
	if err != nil {
		return
	}
	conn.SetReadDeadline(time.Time{})
	if typ != websocket.TextMessage {
		errFrame(conn, "The request is one JSON text frame")
		return
	}
	var req Request
	if err := json.Unmarshal(raw, &req); err != nil {
		errFrame(conn, "The request is not a JSON object: "+err.Error())
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	appID, f, err := s.check(ctx, conn.RemoteAddr().String(), req)
	if err != nil {
		errFrame(conn, errMessage(err))
		return
	}
	// The client sends nothing more: a read ends when it closes.
	go func() {
		defer cancel()
		for {
			if _, _, err := conn.NextReader(); err != nil {
				return
			}
		}
	}()
	send := func(es []kumo.DevLogEntry) error {
		out := make([]kumo.DevLog, len(es))
		for i, e := range es {
			out[i] = e.DevLog
		}
		b, err := json.Marshal(out)
		if err != nil {
			return err
		}
		conn.SetWriteDeadline(time.Now().Add(writeTimeout))
		return conn.WriteMessage(websocket.TextMessage, b)
	}
	// The newest records first, for both commands. A tail starts after
	// the app's newest record (read before them, so that none falls
	// between).
	var floor int64
	if req.Command == "tail" {
		last, err := s.Logs.DevLogs(ctx, appID, kumo.DevLogFilter{Latest: true, Limit: 1})
		if err != nil {
			errFrame(conn, errMessage(err))
			return
		}
		if len(last) > 0 {
			floor = last[0].Seq
		}
	}
	latest := f
	latest.Latest = true
	es, err := s.Logs.DevLogs(ctx, appID, latest)
	if err != nil {
		errFrame(conn, errMessage(err))
		return
	}
	if es == nil {
		es = []kumo.DevLogEntry{}
	}
	if err := send(es); err != nil || req.Command == "cat" {
		if err == nil {
			conn.SetWriteDeadline(time.Now().Add(writeTimeout))
			conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
		}
		return
	}
	t := tail{floor: floor, seen: map[int64]time.Time{}, settle: cmp.Or(s.Settle, DefaultSettle)}
	for _, e := range es {
		t.seen[e.Seq] = time.Now()
	}
	ticker := time.NewTicker(cmp.Or(s.Poll, DefaultPoll))
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		fresh, err := t.poll(ctx, s.Logs, appID, f, time.Now())
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("developer log: tail not read", "app", appID, "error", err)
			}
			continue
		}
		if len(fresh) > 0 {
			if err := send(fresh); err != nil {
				return
			}
		}
	}
}

// tail follows a log: it reads the records after floor, sends those it
// has not sent yet, and moves floor past a record only once Settle has
// passed since it was seen, when every record written before it is
// visible.
type tail struct {
	floor  int64
	seen   map[int64]time.Time // records sent above floor, and when
	settle time.Duration
}

func (t *tail) poll(ctx context.Context, logs kumo.DevLogReader, appID string, f kumo.DevLogFilter, now time.Time) ([]kumo.DevLogEntry, error) {
	var fresh []kumo.DevLogEntry
	f.Latest, f.Limit, f.AfterSeq = false, kumo.DevLogMaxLimit, t.floor
	for {
		es, err := logs.DevLogs(ctx, appID, f)
		if err != nil {
			return fresh, err
		}
		for _, e := range es {
			if _, ok := t.seen[e.Seq]; !ok {
				t.seen[e.Seq] = now
				fresh = append(fresh, e)
			}
		}
		if len(es) < f.Limit {
			break
		}
		f.AfterSeq = es[len(es)-1].Seq
	}
	// The floor rises to the highest record seen Settle ago: every record
	// with a lower number is visible by now, and was read since.
	for seq, at := range t.seen {
		if now.Sub(at) >= t.settle && seq > t.floor {
			t.floor = seq
		}
	}
	for seq := range t.seen {
		if seq <= t.floor {
			delete(t.seen, seq)
		}
	}
	return fresh, nil
}

// check authenticates the request (an app admin's token, or the app's
// client ID and secret) and reads its filter.
func (s *Server) check(ctx context.Context, remoteAddr string, req Request) (string, kumo.DevLogFilter, error) {
	var f kumo.DevLogFilter
	if req.AppID == "" {
		return "", f, errors.New("appID is required")
	}
	app, err := s.Apps.FindApp(ctx, req.AppID)
	if err != nil {
		return "", f, err
	}
	if req.AppKey != "" && req.AppKey != app.Key {
		return "", f, errors.New("appKey is not the app's key")
	}
	token := req.Token
	if token == "" {
		if req.ClientID == "" || req.ClientSecret == "" {
			return "", f, errors.New("token, or clientID and clientSecret, are required")
		}
		login := s.Login
		if login == nil {
			login = func(ctx context.Context, _, appID string, r kumo.LoginRequest) (kumo.Token, error) {
				return s.Tokens.Login(ctx, appID, r)
			}
		}
		tok, err := login(ctx, remoteAddr, app.ID, kumo.LoginRequest{GrantType: kumo.GrantClientCredentials, ClientID: req.ClientID, ClientSecret: req.ClientSecret})
		if err != nil {
			return "", f, err
		}
		token = tok.AccessToken
	}
	c, err := s.Tokens.Authenticate(ctx, app.ID, token)
	if err != nil {
		return "", f, err
	}
	if !c.IsAdmin() {
		return "", f, errors.New("only the app admin may read the developer log")
	}
	switch req.Command {
	case "cat", "tail":
	default:
		return "", f, errors.New(`command is "cat" or "tail"`)
	}
	if req.Level != "" && kumo.DevLogLevelRank(req.Level) == 0 {
		return "", f, errors.New("level is DEBUG, INFO, WARN or ERROR")
	}
	f.Level, f.UserID = req.Level, req.UserID
	if len(req.Limit) > 0 && string(req.Limit) != "null" {
		var text string
		if json.Unmarshal(req.Limit, &text) != nil {
			text = string(req.Limit)
		}
		n, err := strconv.Atoi(text)
		if err != nil || n < 1 {
			return "", f, errors.New("limit is a positive integer")
		}
		f.Limit = min(n, kumo.DevLogMaxLimit)
	}
	for _, d := range []struct {
		v   string
		dst *int64
		end bool
	}{{req.DateFrom, &f.From, false}, {req.DateTo, &f.To, true}} {
		if d.v == "" {
			continue
		}
		t, err := time.Parse(DateLayout, d.v)
		if err != nil {
			return "", f, errors.New("dateFrom and dateTo are YYYY-MM-DD:HH:mm:ss (UTC)")
		}
		*d.dst = t.UnixMilli()
		if d.end {
			*d.dst += 999 // the whole second
		}
	}
	return app.ID, f, nil
}

// errMessage is the err of a failure: a Kii error's message.
func errMessage(err error) string {
	var e *kumo.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}
