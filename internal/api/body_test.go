package api

import (
	"bufio"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kumo-iot/kumo"
)

// pattern is a reader of n bytes of a repeating pattern, made as read.
type pattern struct{ off, n int64 }

func (p *pattern) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), p.n-p.off)]
	for i := range b {
		b[i] = byte((p.off + int64(i)) % 251)
	}
	p.off += int64(len(b))
	return len(b), nil
}

// publishedBodies serves one published body of size bytes (a pattern),
// the rest of kumo.BodyService unimplemented. It counts the readers open.
type publishedBodies struct {
	kumo.BodyService
	size int64
	open atomic.Int64
}

type countedBody struct {
	io.Reader
	open *atomic.Int64
}

func (c countedBody) Close() error { c.open.Add(-1); return nil }

func (b *publishedBodies) OpenPublication(ctx context.Context, id string, g kumo.BodyGet) (*kumo.BodyReader, error) {
	if id != "pub" {
		return nil, kumo.Errorf(kumo.ErrPublicationNotFound, "no publication %s", id)
	}
	off, n := int64(0), b.size
	if g.Range != nil {
		off, n = g.Range.First, b.size-g.Range.First
	}
	p := &pattern{n: off + n}
	io.CopyN(io.Discard, p, off)
	b.open.Add(1)
	return &kumo.BodyReader{Body: kumo.Body{ContentType: "application/octet-stream", ETag: "e1", Size: b.size},
		Offset: off, Length: n, Partial: g.Range != nil, ReadCloser: countedBody{p, &b.open}}, nil
}

// TestSlowDownload: a client that asks for a large body and stops
// reading is cut off (its connection closed, the body closed) under the
// minimum rate rule; a client reading at full speed gets all of it, whole
// or a range.
func TestSlowDownload(t *testing.T) {
	const size = 64 << 20 // more than the sockets' buffers on both sides
	bodies := &publishedBodies{size: size}
	s := &Server{Bodies: bodies, Addr: "127.0.0.1:0", BodyReadWindow: 500 * time.Millisecond, BodyMinBytes: 1 << 10,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		s.Close(ctx)
	})
	addr := s.ListenAddr().String()
	waitFor := func(t *testing.T, what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: still not so after 30s", what)
			}
		}
	}

	for _, tt := range []struct{ name, rangeHeader string }{{"whole body", ""}, {"range", "bytes=1000-"}} {
		t.Run("slow reader "+tt.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			req := "GET /api/x/pub HTTP/1.1\r\nHost: kumo\r\n"
			if tt.rangeHeader != "" {
				req += "Range: " + tt.rangeHeader + "\r\n"
			}
			if _, err := io.WriteString(c, req+"\r\n"); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the body is opened", func() bool { return bodies.open.Load() == 1 })
			// The client reads nothing: the server must give up on it.
			waitFor(t, "the slow reader's connection is closed", func() bool { return s.conns.Load() == 0 })
			waitFor(t, "the slow reader's body is closed", func() bool { return bodies.open.Load() == 0 })
			// What the server had sent ends short of the body.
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			n, err := io.Copy(io.Discard, resp.Body)
			if err == nil || n >= resp.ContentLength {
				t.Fatalf("the slow reader got %d bytes of %d (error %v): want the body cut short", n, resp.ContentLength, err)
			}
		})
	}

	for _, tt := range []struct {
		name, rangeHeader string
		status            int
		off               int64
	}{{"whole body", "", http.StatusOK, 0}, {"range", "bytes=1000-", http.StatusPartialContent, 1000}} {
		t.Run("full speed "+tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", "http://"+addr+"/api/x/pub", nil)
			if tt.rangeHeader != "" {
				req.Header.Set("Range", tt.rangeHeader)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			got, want := sha256.New(), sha256.New()
			n, err := io.Copy(got, resp.Body)
			if err != nil {
				t.Fatalf("after %d bytes: %v", n, err)
			}
			io.Copy(want, &pattern{off: tt.off, n: size})
			if n != size-tt.off || fmt.Sprintf("%x", got.Sum(nil)) != fmt.Sprintf("%x", want.Sum(nil)) {
				t.Fatalf("got %d bytes (sha %x), want %d (sha %x)", n, got.Sum(nil), size-tt.off, want.Sum(nil))
			}
		})
	}
}
