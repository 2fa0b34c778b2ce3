package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// The load workers create objects with a small HTTP/1.1 client of their
// own, as load generators such as wrk do, because its cost is paid in the
// same two cores as the server's: net/http's transport runs two
// goroutines per connection and hands every request and answer between
// them and the caller over channels, which made a quarter of a saturated
// run's CPU. Here a worker writes its request and reads the answer on its
// own goroutine, over a keep-alive connection per server, with the request
// head of every device prepared once. The bytes on the wire are those of
// any HTTP/1.1 client: a POST with Host, Content-Type, Authorization and
// Content-Length; the answer is read whole (Content-Length, chunked, or
// up to the end of the connection), and a connection the server closes or
// fails is dialed again for the next request.

// objectTarget is where, and as whom, a device creates its objects.
type objectTarget struct {
	addr string // host:port to dial
	tls  bool   // https
	path string // for error messages
	head []byte // read-only: the request up to the Content-Length value
}

// objectTarget prepares the creation of objects in bucket of thing thingID
// with token.
func (c *apiClient) objectTarget(token, thingID, bucket string) (objectTarget, error) {
	u, err := url.Parse(c.app + objectsPath(thingID, bucket))
	if err != nil {
		return objectTarget{}, err
	}
	return newObjectTarget(u, token)
}

// newObjectTarget prepares POST requests to u with a bearer token.
func newObjectTarget(u *url.URL, token string) (objectTarget, error) {
	return newPostTarget(u, token, jsonType)
}

// newPostTarget prepares POST requests to u with a bearer token and a body
// of the media type contentType.
func newPostTarget(u *url.URL, token, contentType string) (objectTarget, error) {
	t := objectTarget{path: u.EscapedPath()}
	switch u.Scheme {
	case "http":
	case "https":
		t.tls = true
	default:
		return objectTarget{}, fmt.Errorf("%s: not an http or https URL", u)
	}
	t.addr = u.Host
	if u.Port() == "" {
		port := "80"
		if t.tls {
			port = "443"
		}
		t.addr = net.JoinHostPort(u.Hostname(), port)
	}
	t.head = fmt.Appendf(nil, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nAuthorization: Bearer %s\r\nContent-Length: ",
		u.RequestURI(), u.Host, contentType, token)
	return t, nil
}

// requestTimeout bounds a request's write and the wait for its answer.
const requestTimeout = 30 * time.Second

// objectPoster creates objects for one load worker, over one keep-alive
// connection per server. It is not safe for concurrent use.
type objectPoster struct {
	ctx   context.Context
	conns map[string]*postConn // by objectTarget.addr
	req   []byte               // the request being written; reused
	body  []byte               // its body; reused
	buf   []byte               // the answer being read; reused
}

// newPoster returns a poster whose requests stop when ctx is done. Its
// connections are closed by close.
func newPoster(ctx context.Context) *objectPoster {
	return &objectPoster{ctx: ctx, conns: map[string]*postConn{}, req: make([]byte, 0, 512), body: make([]byte, 0, 128), buf: make([]byte, 0, 512)}
}

// close closes the poster's connections.
func (p *objectPoster) close() {
	for addr, c := range p.conns {
		c.close()
		delete(p.conns, addr)
	}
}

// post creates object seq (see appendObject) at t and returns its ID.
func (p *objectPoster) post(t objectTarget, seq int64) (string, error) {
	p.body = appendObject(p.body[:0], seq)
	return p.send(t, p.body, objectIDKey)
}

// send posts body to t and returns the string member key (quoted) of its
// 201 answer.
func (p *objectPoster) send(t objectTarget, body, key []byte) (string, error) {
	c, err := p.conn(t)
	if err != nil {
		return "", fmt.Errorf("POST %s: %w", t.path, err)
	}
	req := append(p.req[:0], t.head...)
	req = strconv.AppendInt(req, int64(len(body)), 10)
	req = append(req, "\r\n\r\n"...)
	req = append(req, body...)
	p.req = req[:0]

	status, b, err := c.roundTrip(req, p.buf[:0])
	p.buf = b[:0]
	if err != nil {
		c.close()
		delete(p.conns, t.addr)
		if cerr := p.ctx.Err(); cerr != nil {
			err = cerr
		}
		return "", fmt.Errorf("POST %s: %w", t.path, err)
	}
	c.used = time.Now()
	if !c.keepAlive {
		c.close()
		delete(p.conns, t.addr)
	}
	if status != http.StatusCreated {
		return "", &statusError{method: http.MethodPost, path: t.path, status: status, body: snippet(b)}
	}
	id, err := answerID(b, key)
	if err != nil {
		return "", fmt.Errorf("POST %s: %w", t.path, err)
	}
	return id, nil
}

// conn returns the poster's connection to t's server, dialing it if need
// be.
func (p *objectPoster) conn(t objectTarget) (*postConn, error) {
	if c := p.conns[t.addr]; c != nil {
		if time.Since(c.used) < maxIdle {
			return c, nil
		}
		// Idle for long: the server, or a proxy in front of it, may have
		// closed it, and a request written into it would fail.
		c.close()
		delete(p.conns, t.addr)
	}
	if err := p.ctx.Err(); err != nil {
		return nil, err
	}
	d := net.Dialer{Timeout: requestTimeout, KeepAlive: 30 * time.Second}
	var nc net.Conn
	var err error
	if t.tls {
		host, _, _ := net.SplitHostPort(t.addr)
		td := tls.Dialer{NetDialer: &d, Config: &tls.Config{ServerName: host, NextProtos: []string{"http/1.1"}}}
		nc, err = td.DialContext(p.ctx, "tcp", t.addr)
	} else {
		nc, err = d.DialContext(p.ctx, "tcp", t.addr)
	}
	if err != nil {
		return nil, err
	}
	// A worker blocked on its connection when the run ends is freed by
	// closing it (a deadline could be moved forward again by the worker).
	stop := context.AfterFunc(p.ctx, func() { nc.Close() })
	c := &postConn{nc: nc, br: bufio.NewReaderSize(nc, 4096), stop: stop}
	p.conns[t.addr] = c
	return c, nil
}

// postConn is a keep-alive connection to a server.
type postConn struct {
	nc        net.Conn
	br        *bufio.Reader
	stop      func() bool // unregisters the context's AfterFunc
	deadline  time.Time   // of nc: moved forward only when half spent
	used      time.Time   // when the last answer was read
	keepAlive bool        // the last answer let the connection be reused
}

// maxIdle is how long a connection may stay unused and still be used:
// less than the idle timeouts of servers and proxies (kumo serve's is 2
// minutes, many proxies' 60 s).
const maxIdle = 15 * time.Second

func (c *postConn) close() {
	c.stop()
	c.nc.Close()
}

// roundTrip writes req and reads its answer, returning its status and
// body appended to buf.
func (c *postConn) roundTrip(req, buf []byte) (int, []byte, error) {
	// Setting a deadline costs a timer update: it is moved once it is
	// half spent rather than on every request, so a request has at least
	// half of requestTimeout.
	if now := time.Now(); c.deadline.Sub(now) < requestTimeout/2 {
		c.deadline = now.Add(requestTimeout)
		if err := c.nc.SetDeadline(c.deadline); err != nil {
			return 0, buf, err
		}
	}
	if _, err := c.nc.Write(req); err != nil {
		return 0, buf, err
	}
	for {
		status, b, err := c.readAnswer(buf)
		if err != nil || status >= 200 || status == http.StatusSwitchingProtocols {
			return status, b, err
		}
		// 1xx: an interim answer; the final one follows.
	}
}

// errAnswer is an answer this client cannot read.
var errAnswer = errors.New("malformed HTTP answer")

// readAnswer reads one answer: its status, and its body appended to buf
// (at most maxAnswer bytes are kept; the rest is read and dropped).
func (c *postConn) readAnswer(buf []byte) (int, []byte, error) {
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		return 0, buf, err
	}
	// "HTTP/1.1 201 Created"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, buf, fmt.Errorf("%w: status line %q", errAnswer, bytes.TrimSpace(line))
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil || status < 100 {
		return 0, buf, fmt.Errorf("%w: status line %q", errAnswer, bytes.TrimSpace(line))
	}
	c.keepAlive = line[7] == '1' // HTTP/1.1; HTTP/1.0 closes unless told otherwise
	length, chunked := int64(-1), false
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return 0, buf, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, buf, fmt.Errorf("%w: header %q", errAnswer, line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.ParseInt(string(value), 10, 64); err != nil || length < 0 {
				return 0, buf, fmt.Errorf("%w: Content-Length %q", errAnswer, value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			if bytes.EqualFold(value, []byte("close")) {
				c.keepAlive = false
			} else if bytes.EqualFold(value, []byte("keep-alive")) {
				c.keepAlive = true
			}
		}
	}
	switch {
	case status == http.StatusSwitchingProtocols:
		c.keepAlive = false // no longer HTTP
		return status, buf, nil
	case status < 200 || status == http.StatusNoContent || status == http.StatusNotModified:
		return status, buf, nil // no body
	case chunked:
		buf, err = c.readChunked(buf)
	case length >= 0:
		buf, err = keep(buf, c.br, length)
	default: // the body ends with the connection
		c.keepAlive = false
		buf, err = keep(buf, c.br, -1)
	}
	return status, buf, err
}

// readChunked appends a chunked body to buf.
func (c *postConn) readChunked(buf []byte) ([]byte, error) {
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return buf, err
		}
		size, _, _ := bytes.Cut(bytes.TrimSpace(line), []byte(";"))
		n, err := strconv.ParseInt(string(size), 16, 64)
		if err != nil || n < 0 {
			return buf, fmt.Errorf("%w: chunk size %q", errAnswer, bytes.TrimSpace(line))
		}
		if n == 0 {
			break
		}
		if buf, err = keep(buf, c.br, n); err != nil {
			return buf, err
		}
		if err := c.crlf(); err != nil {
			return buf, err
		}
	}
	for { // trailers, up to an empty line
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return buf, err
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			return buf, nil
		}
	}
}

// crlf reads the line end after a chunk.
func (c *postConn) crlf() error {
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		return err
	}
	if len(bytes.TrimRight(line, "\r\n")) != 0 {
		return fmt.Errorf("%w: no line end after a chunk", errAnswer)
	}
	return nil
}

// keep appends the next n bytes of r to b, or all of r up to its end when
// n < 0. Past maxAnswer bytes in b, the rest is read and dropped.
func keep(b []byte, r io.Reader, n int64) ([]byte, error) {
	toEnd := n < 0
	var drop []byte // where bytes past maxAnswer are read: allocated only for them
	for toEnd || n > 0 {
		var into []byte
		if len(b) >= maxAnswer {
			if drop == nil {
				drop = make([]byte, 4096)
			}
			into = drop
		} else {
			if len(b) == cap(b) {
				b = append(b, 0)[:len(b)] // grow
			}
			into = b[len(b):min(cap(b), maxAnswer)]
		}
		if !toEnd && int64(len(into)) > n {
			into = into[:n]
		}
		m, err := r.Read(into)
		if len(b) < maxAnswer {
			b = b[:len(b)+m]
		}
		n -= int64(m)
		if err == io.EOF {
			if toEnd {
				return b, nil
			}
			if n > 0 {
				return b, io.ErrUnexpectedEOF
			}
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
	return b, nil
}

// maxAnswer is how much of an answer is read.
const maxAnswer = 1 << 20

// answerObjectID returns the objectID of the answer to an object creation.
func answerObjectID(b []byte) (string, error) { return answerID(b, objectIDKey) }

// answerID returns the string member key (quoted) of an answer: the ID
// of what a POST created.
func answerID(b, key []byte) (string, error) {
	id, ok := stringField(b, key)
	if !ok {
		// Escapes, or not JSON: let a decoder say.
		var out map[string]any
		if err := json.Unmarshal(b, &out); err != nil {
			return "", fmt.Errorf("decode answer: %w", err)
		}
		s, _ := out[string(bytes.Trim(key, `"`))].(string)
		id = []byte(s)
	}
	if len(id) == 0 {
		return "", fmt.Errorf("no %s in the answer", bytes.Trim(key, `"`))
	}
	return string(id), nil
}

// objectIDKey is the key of the objectID member, quoted.
var objectIDKey = []byte(`"objectID"`)

// stringField returns the string value of the member whose quoted key is
// key, in a JSON object whose values are flat, such as the answers and
// pushes of Kii and Kumo: compact, as encoding/json writes them, or
// spaced ("key" : "value"), as Kii's servers print them. A key cannot be
// matched inside a string, where its quotes would be escaped, and a value
// equal to the key is skipped, as no colon follows it. ok is false when
// there is no such member, or its value is not a string or has escapes:
// only a JSON decoder can read it then.
func stringField(b, key []byte) (value []byte, ok bool) {
	for {
		i := bytes.Index(b, key)
		if i < 0 {
			return nil, false
		}
		b = skipSpace(b[i+len(key):])
		if len(b) == 0 || b[0] != ':' {
			continue // a value, not a key
		}
		b = skipSpace(b[1:])
		if len(b) == 0 || b[0] != '"' {
			return nil, false
		}
		b = b[1:]
		j := bytes.IndexByte(b, '"')
		if j < 0 || bytes.IndexByte(b[:j], '\\') >= 0 {
			return nil, false
		}
		return b[:j], true
	}
}

// skipSpace returns b without its leading JSON whitespace.
func skipSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	return b
}

// appendObject appends the JSON of object seq to b.
func appendObject(b []byte, seq int64) []byte {
	b = append(b, `{"seq":`...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, `,"payload":"`...)
	b = append(b, payload...)
	return append(b, `"}`...)
}
