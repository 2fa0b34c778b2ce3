package api

import (
	"bufio"
	"net"
	"strings"
)

// http10Listener answers HTTP/1.0 clients with HTTP/1.1 status lines.
// KiiThingSDK-Embedded and thing-if-ThingSDK send HTTP/1.0 requests but
// look for the literal "HTTP/1.1 " in the response (real-clients §2.7),
// while Go answers a 1.0 request with "HTTP/1.0". A connection whose
// first request line ends in HTTP/1.0 is therefore read as HTTP/1.1 with
// "Connection: close" added, which keeps 1.0's one-request-per-connection
// meaning; every other connection passes through untouched.
type http10Listener struct{ net.Listener }

func (l http10Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &http10Conn{Conn: c, r: bufio.NewReaderSize(c, 4096)}, nil
}

// http10Conn rewrites its first request line when it is HTTP/1.0.
type http10Conn struct {
	net.Conn
	r       *bufio.Reader
	checked bool
	pending []byte // the rewritten first line, not yet read
}

// maxHTTP10Header bounds the header an HTTP/1.0 request may have.
const maxHTTP10Header = 64 << 10

// Read reads the first request line itself (under the deadline the HTTP
// server has set for the request's header); for HTTP/1.0 it reads the
// whole header and rewrites it (HTTP/1.1 needs a Host header, which 1.0
// clients may omit). Then reads pass through.
func (c *http10Conn) Read(p []byte) (int, error) {
	if !c.checked {
		c.checked = true
		line, err := c.r.ReadSlice('\n') // a line longer than the buffer passes through as it is
		if err != nil && len(line) == 0 {
			return 0, err
		}
		first := strings.TrimRight(string(line), "\r\n")
		if err == nil && strings.HasSuffix(first, " HTTP/1.0") {
			c.pending = c.rewrite10(first)
		} else {
			c.pending = append([]byte(nil), line...)
		}
	}
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.r.Read(p)
}

// rewrite10 returns the header of an HTTP/1.0 request as HTTP/1.1: the
// request line's version changed, "Connection: close" added, and a Host
// header when the client sent none. A header that does not end (or is too
// long) is passed on as read; the HTTP server then answers 400.
func (c *http10Conn) rewrite10(first string) []byte {
	var b strings.Builder
	b.WriteString(strings.TrimSuffix(first, "1.0") + "1.1\r\nConnection: close\r\n")
	hasHost := false
	for b.Len() < maxHTTP10Header {
		line, err := c.r.ReadString('\n')
		if err != nil {
			b.WriteString(line)
			return []byte(b.String())
		}
		if strings.TrimRight(line, "\r\n") == "" {
			if !hasHost {
				b.WriteString("Host: " + c.LocalAddr().String() + "\r\n")
			}
			b.WriteString(line)
			return []byte(b.String())
		}
		if name, _, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(name), "host") {
			hasHost = true
		}
		b.WriteString(line)
	}
	return []byte(b.String())
}
