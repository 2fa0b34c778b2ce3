package broker

import (
	"context"
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
}

func (l *netListener) ID() string              { return l.id }
func (l *netListener) Address() string         { return l.ln.Addr().String() }
func (l *netListener) Protocol() string        { return "tcp" }
func (l *netListener) Init(*slog.Logger) error { return nil }
func (l *netListener) Close(close listeners.CloseFn) {
	l.once.Do(func() { l.ln.Close() })
	close(l.id)
}

func (l *netListener) Serve(establish listeners.EstablishFn) {
	for {
		conn, err := l.ln.Accept()
		if err != nil {
			return
		}
		go establish(l.id, conn)
	}
}

// wsListener serves MQTT over WebSocket (path /mqtt, as Kii's clients use,
// or any other path), accepting the subprotocols mqtt and mqttv3.1.
type wsListener struct {
	id       string
	ln       net.Listener
	log      *slog.Logger
	srv      *http.Server
	upgrader websocket.Upgrader
	once     sync.Once

	mu        sync.Mutex // guards establish
	establish listeners.EstablishFn
}

func newWSListener(id string, ln net.Listener, log *slog.Logger) *wsListener {
	l := &wsListener{id: id, ln: ln, log: log, upgrader: websocket.Upgrader{
		Subprotocols: []string{"mqtt", "mqttv3.1"},
		CheckOrigin:  func(*http.Request) bool { return true },
	}}
	l.srv = &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		Handler:           http.HandlerFunc(l.serveWS),
	}
	return l
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
	establish(l.id, &wsConn{Conn: c.UnderlyingConn(), c: c})
}

func (l *wsListener) Close(close listeners.CloseFn) {
	l.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		l.srv.Shutdown(ctx)
		l.ln.Close()
	})
	close(l.id)
}

// wsConn is a WebSocket connection as a net.Conn carrying binary messages.
type wsConn struct {
	net.Conn
	c *websocket.Conn
	r io.Reader // the current message, if any
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
