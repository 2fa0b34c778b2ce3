package api

import (
	"errors"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/kumo-iot/kumo"
)

// Defaults of the request body deadlines (Server fields).
const (
	// DefaultBodyReadWindow is the default of Server.BodyReadWindow.
	DefaultBodyReadWindow = 30 * time.Second
	// DefaultBodyMinBytes is the default of Server.BodyMinBytes: with
	// DefaultBodyReadWindow, a body must come at about 550 bytes/s at
	// least (a 1 GiB body then still has 22 days).
	DefaultBodyMinBytes = 16 << 10
	// unreadBodyGrace is how long a client has, once its request was
	// answered without its body being read, to send what is left of it
	// before its connection is closed (see serveHTTP).
	unreadBodyGrace = time.Second
	// DefaultIdleTimeout is the default of Server.IdleTimeout.
	DefaultIdleTimeout = 2 * time.Minute
)

// bodyReader is a request body under the minimum rate rule: the client
// must send at least min bytes within each window (the first window
// starting when the handler starts), else the read fails with
// REQUEST_TIMEOUT (408) and the connection is closed after the answer.
// The rule is enforced by the connection's read deadline, moved a window
// ahead each time min more bytes have come, and cleared at the body's
// end (the deadline would otherwise end the request's context while the
// handler works). It also turns every other failure to read the body (cut
// short of its Content-Length, a broken chunked encoding) into
// INVALID_INPUT_DATA (400): a client's fault, never a 500.
type bodyReader struct {
	body   io.ReadCloser
	w      http.ResponseWriter
	rc     *http.ResponseController
	window time.Duration
	min    int64
	got    int64 // bytes since the deadline last moved
	done   bool  // the body ended (or failed): the deadline is off
}

// bodyRate is the minimum rate of request and response bodies:
// BodyMinBytes within each BodyReadWindow (their defaults when unset).
func (s *Server) bodyRate() (window time.Duration, minBytes int64) {
	window, minBytes = s.BodyReadWindow, s.BodyMinBytes
	if window <= 0 {
		window = DefaultBodyReadWindow
	}
	if minBytes <= 0 {
		minBytes = DefaultBodyMinBytes
	}
	return window, minBytes
}

// newBodyReader starts the first window of r's body.
func (s *Server) newBodyReader(w http.ResponseWriter, r *http.Request) *bodyReader {
	b := &bodyReader{body: r.Body, w: w, rc: http.NewResponseController(w)}
	b.window, b.min = s.bodyRate()
	b.rc.SetReadDeadline(time.Now().Add(b.window)) // not supported by test recorders: no deadline then
	return b
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	if b.done {
		return n, err
	}
	if b.got += int64(n); b.got >= b.min && err == nil {
		b.got = 0
		b.rc.SetReadDeadline(time.Now().Add(b.window))
	}
	switch {
	case err == nil:
		return n, nil
	case err == io.EOF:
		b.done = true
		b.rc.SetReadDeadline(time.Time{})
		return n, err
	}
	b.done = true
	b.w.Header().Set("Connection", "close")
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return n, kumo.Errorf(kumo.ErrRequestTimeout, "The request body came slower than %d bytes in %s", b.min, b.window).
			With("minBytes", b.min).With("windowSeconds", b.window.Seconds())
	}
	return n, kumo.Errorf(kumo.ErrInvalidInputData, "The request body could not be read: it ended before its Content-Length, or its chunked encoding is broken")
}

func (b *bodyReader) Close() error { return b.body.Close() }
