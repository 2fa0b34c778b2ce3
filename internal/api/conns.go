package api

import (
	"net"
	"sync"
	"sync/atomic"
)

// countingListener counts the connections it accepted that are still
// open, for the shutdown's report of the slow clients it cut.
type countingListener struct {
	net.Listener
	open *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.open.Add(1)
	return &countedConn{Conn: c, open: l.open}, nil
}

// countedConn is an accepted connection, counted until it is closed.
type countedConn struct {
	net.Conn
	open *atomic.Int64
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.open.Add(-1) })
	return c.Conn.Close()
}

// OpenConns is how many of the connections the server accepted are still
// open.
func (s *Server) OpenConns() int64 { return s.conns.Load() }
