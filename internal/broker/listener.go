package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// netListener serves MQTT over an already bound TCP (or TLS) listener, so
// that bind errors surface in Open and port 0 works.
type netListener struct {
	id   string
	ln   net.Listener
	once sync.Once
	// connectTimeout bounds the time from the accept to the CONNECT read
	// (the TLS handshake, which the first read makes, included).
	connectTimeout time.Duration
	conns          connSet
}

func (l *netListener) ID() string              { return l.id }
func (l *netListener) Address() string         { return l.ln.Addr().String() }
func (l *netListener) Protocol() string        { return "tcp" }
func (l *netListener) Init(*slog.Logger) error { return nil }
func (l *netListener) Close(close listeners.CloseFn) {
	l.once.Do(func() { l.ln.Close() })
	close(l.id)
	l.conns.close()
}

func (l *netListener) Serve(establish listeners.EstablishFn) {
	for {
		conn, err := l.ln.Accept()
		if err != nil {
			return
		}
		// mochi reads the CONNECT under this deadline, then replaces it
		// with the client's keep-alive (refreshDeadline).
		if l.connectTimeout > 0 {
			conn.SetDeadline(time.Now().Add(l.connectTimeout))
		}
		go l.conns.serve(conn, func() { establish(l.id, conn) })
	}
}

// connSet is the connections a listener handed to mochi. Close ends
// those mochi does not know as clients yet (no CONNECT read), rather than
// leave the shutdown waiting for their deadline, and waits for them all:
// mochi counts its clients from their own goroutines, so this wait is
// also what orders that count with mochi's own wait on it.
type connSet struct {
	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]bool
	wg     sync.WaitGroup
}

// serve runs establish for c, unless the set is closed.
func (s *connSet) serve(c net.Conn, establish func()) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		c.Close()
		return
	}
	if s.conns == nil {
		s.conns = map[net.Conn]bool{}
	}
	s.conns[c] = true
	s.wg.Add(1)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		s.wg.Done()
	}()
	establish()
}

// close closes every connection still served and waits for their
// establish to return.
func (s *connSet) close() {
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		if tc, ok := c.(*tls.Conn); ok {
			c = tc.NetConn() // no close_notify, which could wait on a silent peer
		}
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// wsListener serves MQTT over WebSocket (path /mqtt, as Kii's clients use,
// or any other path), accepting the subprotocols mqtt and mqttv3.1.
//
// A connection has connectTimeout from its accept to deliver its CONNECT:
// a timer closes it if it is not upgraded by then (the TLS handshake and
// the HTTP request, whose deadlines the HTTP server manages, included),
// and the rest of that time is the upgraded connection's deadline, which
// mochi replaces with the client's keep-alive once the CONNECT is read.
type wsListener struct {
	id             string
	ln             net.Listener
	log            *slog.Logger
	srv            *http.Server
	upgrader       websocket.Upgrader
	once           sync.Once
	connectTimeout time.Duration

	mu        sync.Mutex // guards establish
	establish listeners.EstablishFn
	conns     connSet // upgraded connections
}

func newWSListener(id string, ln net.Listener, log *slog.Logger, connectTimeout time.Duration) *wsListener {
	l := &wsListener{id: id, ln: ln, log: log, connectTimeout: connectTimeout, upgrader: websocket.Upgrader{
		Subprotocols: []string{"mqtt", "mqttv3.1"},
		CheckOrigin:  func(*http.Request) bool { return true },
	}}
	l.srv = &http.Server{
		ReadHeaderTimeout: connectTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		Handler:           http.HandlerFunc(l.serveWS),
		ConnContext:       l.accepted,
	}
	return l
}

// acceptedKey is the context key of a connection's *acceptance.
type acceptedKey struct{}

// acceptance is when a WebSocket listener accepted a connection, and the
// timer that closes it unless it is upgraded in time.
type acceptance struct {
	at    time.Time
	close *time.Timer
}

// accepted starts the connect timer of a connection the HTTP server
// accepted.
func (l *wsListener) accepted(ctx context.Context, c net.Conn) context.Context {
	if l.connectTimeout <= 0 {
		return ctx
	}
	raw := c
	if tc, ok := c.(*tls.Conn); ok {
		raw = tc.NetConn() // closed as it is: no close_notify to a silent peer
	}
	a := &acceptance{at: time.Now(), close: time.AfterFunc(l.connectTimeout, func() { raw.Close() })}
	return context.WithValue(ctx, acceptedKey{}, a)
}

func (l *wsListener) ID() string              { return l.id }
func (l *wsListener) Address() string         { return l.ln.Addr().String() }
func (l *wsListener) Protocol() string        { return "ws" }
func (l *wsListener) Init(*slog.Logger) error { return nil }

func (l *wsListener) Serve(establish listeners.EstablishFn) {
	l.mu.Lock()
	l.establish = establish
	l.mu.Unlock()
	l.srv.Serve(l.ln)
}

func (l *wsListener) serveWS(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	establish := l.establish
	l.mu.Unlock()
	c, err := l.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	if a, ok := r.Context().Value(acceptedKey{}).(*acceptance); ok {
		c.UnderlyingConn().SetDeadline(a.at.Add(l.connectTimeout)) // for the CONNECT
		if !a.close.Stop() {
			return // closed already
		}
	}
	l.conns.serve(c.UnderlyingConn(), func() { establish(l.id, &wsConn{Conn: c.UnderlyingConn(), c: c, host: r.Host}) })
}

func (l *wsListener) Close(close listeners.CloseFn) {
	l.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		l.srv.Shutdown(ctx)
		l.ln.Close()
	})
	close(l.id)
	l.conns.close()
}

// wsConn is a WebSocket connection as a net.Conn carrying binary messages.
type wsConn struct {
	net.Conn
	c    *websocket.Conn
	r    io.Reader // the current message, if any
	host string    // the upgrade request's Host (see localHost)
}

var errNotBinary = errors.New("websocket message is not binary")

func (ws *wsConn) Read(p []byte) (int, error) {
	for {
		if ws.r == nil {
			op, r, err := ws.c.NextReader()
			if err != nil {
				return 0, err
			}
			if op != websocket.BinaryMessage {
				return 0, errNotBinary
			}
			ws.r = r
		}
		n, err := ws.r.Read(p)
		if errors.Is(err, io.EOF) {
			ws.r = nil
			if n == 0 {
				continue
			}
			err = nil
		}
		return n, err
	}
}

func (ws *wsConn) Write(p []byte) (int, error) {
	if err := ws.c.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}
