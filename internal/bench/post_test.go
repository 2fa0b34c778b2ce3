package bench

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestPosterRequest checks, with a net/http server, that the load
// workers' requests are plain HTTP/1.1 object creations over one
// keep-alive connection.
func TestPosterRequest(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Error(err)
		}
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.Path+" "+r.Proto+" "+r.Host+" "+r.Header.Get("Content-Type")+" "+
			r.Header.Get("Authorization")+" "+r.Header.Get("Content-Length")+" "+string(body))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"objectID":"o-`+r.URL.Query().Get("n")+`","createdAt":1}`)
	}))
	var conns atomic.Int32
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	u, _ := url.Parse(srv.URL + "/api/apps/a1/things/th.1/buckets/bench/objects?n=7")
	target, err := newObjectTarget(u, "tok")
	if err != nil {
		t.Fatal(err)
	}
	p := newPoster(context.Background())
	defer p.close()
	for seq := range int64(3) {
		id, err := p.post(target, seq)
		if err != nil || id != "o-7" {
			t.Fatalf("post %d = %q, %v; want o-7", seq, id, err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("3 posts used %d connections; want 1", n)
	}
	body := string(appendObject(nil, 2))
	want := "POST /api/apps/a1/things/th.1/buckets/bench/objects HTTP/1.1 " + u.Host + " application/json Bearer tok " +
		strconv.Itoa(len(body)) + " " + body
	if len(got) != 3 || got[2] != want {
		t.Errorf("the server got %q; want last %q", got, want)
	}
}

// closeAfter ends a canned answer whose connection the server closes
// after writing it.
const closeAfter = "\x00close"

// cannedServer answers the requests it reads, in order over all
// connections, with answers; it returns its address and a counter of the
// connections it accepted.
func cannedServer(t *testing.T, answers []string) (string, *atomic.Int32) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var next, conns atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					i := int(next.Add(1)) - 1
					if i >= len(answers) {
						return
					}
					a, closing := strings.CutSuffix(answers[i], closeAfter)
					io.WriteString(c, a)
					if closing {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String(), &conns
}

// TestPosterAnswers reads the answers a server may give, one after
// another, and checks that a connection is used again only when it can be.
func TestPosterAnswers(t *testing.T) {
	created := "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n{\"objectID\":\"o1\"}"
	cases := []struct {
		name   string
		answer string
		id     string // "" for an error
		status int    // of a statusError
		conns  int32  // connections accepted once answered
	}{
		{"content length", created, "o1", 0, 1},
		{"chunked", "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"obj\r\nc;ext=1\r\nectID\":\"o2\"}\r\n0\r\nTrailer: x\r\n\r\n", "o2", 0, 1},
		{"interim answer first", "HTTP/1.1 100 Continue\r\n\r\n" + created, "o1", 0, 1},
		{"lower-case header names", "HTTP/1.1 201 Created\r\ncontent-length: 17\r\n\r\n{\"objectID\":\"o3\"}", "o3", 0, 1},
		{"connection close", "HTTP/1.1 201 Created\r\nConnection: close\r\nContent-Length: 17\r\n\r\n{\"objectID\":\"o4\"}" + closeAfter, "o4", 0, 1},
		{"next request dials again", created, "o1", 0, 2},
		{"HTTP/1.0, body to the end", "HTTP/1.0 201 Created\r\n\r\n{\"objectID\":\"o5\"}" + closeAfter, "o5", 0, 2},
		{"Kii error", "HTTP/1.1 403 Forbidden\r\nContent-Type: application/vnd.kii.WrongTokenException+json\r\nContent-Length: 47\r\n\r\n{\"errorCode\":\"WRONG_TOKEN\",\"message\":\"Invalid\"}", "", 403, 3},
		{"error answer keeps the connection", created, "o1", 0, 3},
		{"closed without an answer", closeAfter, "", 0, 3},
		{"after a failure", created, "o1", 0, 4},
		{"truncated body", "HTTP/1.1 201 Created\r\nContent-Length: 99\r\n\r\n{\"objectID\"" + closeAfter, "", 0, 4},
		{"not HTTP", "SSH-2.0-OpenSSH\r\n" + closeAfter, "", 0, 5},
		{"201 without an objectID", "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}", "", 0, 6},
	}
	answers := make([]string, len(cases))
	for i, tc := range cases {
		answers[i] = tc.answer
	}
	addr, conns := cannedServer(t, answers)
	u, _ := url.Parse("http://" + addr + "/api/apps/a1/things/th.1/buckets/bench/objects")
	target, err := newObjectTarget(u, "tok")
	if err != nil {
		t.Fatal(err)
	}
	p := newPoster(context.Background())
	defer p.close()
	for i, tc := range cases {
		id, err := p.post(target, int64(i))
		var se *statusError
		switch {
		case tc.id != "" && (err != nil || id != tc.id):
			t.Errorf("%s: post = %q, %v; want %q", tc.name, id, err, tc.id)
		case tc.id == "" && err == nil:
			t.Errorf("%s: post = %q; want an error", tc.name, id)
		case tc.status != 0 && (!errors.As(err, &se) || se.status != tc.status || !strings.Contains(se.body, "WRONG_TOKEN")):
			t.Errorf("%s: post error = %v; want HTTP %d with its body", tc.name, err, tc.status)
		}
		if n := conns.Load(); n != tc.conns {
			t.Errorf("%s: %d connections accepted; want %d", tc.name, n, tc.conns)
		}
	}
}

// TestPosterStopsWithContext checks that a worker waiting for an answer
// is freed when its context ends.
func TestPosterStopsWithContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	read := make(chan struct{})
	go func() { // reads the request, never answers
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		var b [1]byte
		if _, err := c.Read(b[:]); err == nil {
			close(read)
		}
		io.Copy(io.Discard, c)
	}()
	u, _ := url.Parse("http://" + ln.Addr().String() + "/objects")
	target, _ := newObjectTarget(u, "tok")
	ctx, cancel := context.WithCancel(context.Background())
	p := newPoster(ctx)
	defer p.close()
	done := make(chan error, 1)
	go func() {
		_, err := p.post(target, 1)
		done <- err
	}()
	select {
	case <-read: // the worker waits for the answer now
	case <-time.After(time.Minute):
		t.Fatal("the request never reached the server")
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("post after cancel = %v; want context.Canceled", err)
		}
	case <-time.After(requestTimeout / 3): // below the request's own timeout, so only the cancellation can end it
		t.Fatalf("post still waits %v after its context ended", requestTimeout/3)
	}
}

// TestPosterRedialsIdleConnections checks that a connection left unused
// longer than maxIdle is not written to again: the server may have
// closed it.
func TestPosterRedialsIdleConnections(t *testing.T) {
	created := "HTTP/1.1 201 Created\r\nContent-Length: 17\r\n\r\n{\"objectID\":\"o1\"}"
	addr, conns := cannedServer(t, []string{created, created, created})
	u, _ := url.Parse("http://" + addr + "/objects")
	target, _ := newObjectTarget(u, "tok")
	p := newPoster(context.Background())
	defer p.close()
	for i, idle := range []bool{false, false, true} {
		if idle {
			p.conns[target.addr].used = time.Now().Add(-maxIdle - time.Second)
		}
		if _, err := p.post(target, int64(i)); err != nil {
			t.Fatalf("post %d: %v", i, err)
		}
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections for two posts, then one after an idle spell; want 2", n)
	}
}

func TestObjectTargetURLs(t *testing.T) {
	for _, tc := range []struct{ url, addr, head string }{
		{"http://h:8080/p/objects", "h:8080", "POST /p/objects HTTP/1.1\r\nHost: h:8080\r\n"},
		{"http://h/p", "h:80", "POST /p HTTP/1.1\r\nHost: h\r\n"},
		{"https://h/p", "h:443", "POST /p HTTP/1.1\r\nHost: h\r\n"},
		{"http://[::1]:9/p", "[::1]:9", "POST /p HTTP/1.1\r\nHost: [::1]:9\r\n"},
	} {
		u, _ := url.Parse(tc.url)
		target, err := newObjectTarget(u, "tok")
		if err != nil || target.addr != tc.addr || !strings.HasPrefix(string(target.head), tc.head) {
			t.Errorf("newObjectTarget(%s) = %q %q, %v; want %q %q", tc.url, target.addr, target.head, err, tc.addr, tc.head)
		}
	}
	u, _ := url.Parse("ftp://h/p")
	if _, err := newObjectTarget(u, "tok"); err == nil {
		t.Error("newObjectTarget(ftp://…) succeeded")
	}
}
