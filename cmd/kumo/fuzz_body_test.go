package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kumo-iot/kumo"
)

// kiiErrorType is the media type of every Kii error.
var kiiErrorType = regexp.MustCompile(`^application/vnd\.kii\.[A-Za-z]+Exception\+json$`)

// headerValue keeps the printable ASCII of s: what a client can put in a
// header that Go's server reads at all (others are answered by net/http
// before Kumo sees the request).
func headerValue(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return -1
		}
		return r
	}, s)
}

// FuzzBody sends random requests to the body endpoints (PUT, GET, HEAD,
// DELETE of a body, publish, move, resumable uploads, a publication) of
// one in-process server on SQLite: random methods, Content-Type,
// Content-Range, Range and If-Match headers, bodies, and bodies cut short
// of their Content-Length. No answer may be a 5xx, and every error is
// Kii's JSON with a vnd.kii.*Exception+json type.
func FuzzBody(f *testing.F) {
	cfg := testConfig(f.TempDir())
	cfg.MaxBodySize = 1 << 12
	cfg.MQTTAddr, cfg.MQTTTLSAddr, cfg.MQTTWSAddr, cfg.MQTTWSSAddr = "", "", "", ""
	n, err := startNode(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		n.Close(ctx)
	})
	app, err := n.db.Apps.CreateApp(context.Background(), kumo.AppCreate{Name: "fuzz"})
	if err != nil {
		f.Fatal(err)
	}
	base := n.baseURL + "/api/apps/" + app.AppID
	r := do(f, "POST", base+"/things", `{"_vendorThingID":"fuzz","_password":"pass-1234"}`,
		"Content-Type", "application/vnd.kii.ThingRegistrationAndAuthorizationRequest+json")
	wantStatus(f, r, 201)
	thing, token := r.Str(f, "_thingID"), r.Str(f, "_accessToken")
	auth := []string{"Authorization", "Bearer " + token}
	objects := base + "/things/" + thing + "/buckets/files/objects/"
	newObject := func() string {
		r := do(f, "POST", objects, `{}`, auth...)
		wantStatus(f, r, 201)
		return r.Str(f, "objectID")
	}
	obj, other := newObject(), newObject()
	wantStatus(f, do(f, "PUT", objects+obj+"/body", "hello world", append(auth, "Content-Type", "text/plain")...), 200)
	r = do(f, "POST", objects+obj+"/body/publish", `{}`, auth...)
	wantStatus(f, r, 201)
	pub := r.Str(f, "publicationID")
	r = do(f, "POST", objects+obj+"/body/uploads", `{}`, auth...)
	wantStatus(f, r, 200)
	upload := r.Str(f, "uploadID")

	body := strings.TrimPrefix(objects, n.baseURL) + obj + "/body"
	paths := []string{
		body,
		strings.TrimPrefix(objects, n.baseURL) + "missing/body",
		body + "/publish",
		body + "/move",
		body + "/uploads",
		body + "/uploads/" + upload + "/data",
		body + "/uploads/" + upload + "/status/committed",
		body + "/uploads/" + upload + "/status/cancelled",
		body + "/uploads/nosuchupload/data",
		"/api/x/" + pub,
		"/api/x/nosuchpublication",
	}
	methods := []string{"GET", "HEAD", "PUT", "POST", "DELETE", "PATCH"}
	moveTo := fmt.Sprintf(`{"targetObjectScope":{"type":"APP_AND_THING","thingID":%q},"targetBucketID":"files","targetObjectID":%q}`, thing, other)

	f.Add(uint8(2), uint8(0), false, "text/plain", "", "", "", []byte("new body"), uint16(0))
	f.Add(uint8(2), uint8(0), false, "text/html", "", "", "", []byte("<script>x</script>"), uint16(41))
	f.Add(uint8(0), uint8(0), false, "", "", "bytes=0-4", `"x"`, []byte(nil), uint16(0))
	f.Add(uint8(0), uint8(9), true, "", "", "bytes=-3", "", []byte(nil), uint16(0))
	f.Add(uint8(3), uint8(2), false, "application/json", "", "", "", []byte(`{"expiresIn":9223372036854775807}`), uint16(0))
	f.Add(uint8(3), uint8(2), false, "application/json", "", "", "", []byte(`{"expiresAt":"99999999999999999999"}`), uint16(0))
	f.Add(uint8(3), uint8(3), false, "application/json", "", "", "", []byte(moveTo), uint16(0))
	f.Add(uint8(2), uint8(5), false, "text/plain", "bytes=0-4/11", "", "", []byte("hello"), uint16(0))
	f.Add(uint8(2), uint8(5), false, "text/plain", "bytes 5-10/11", "", "", []byte(" world"), uint16(7))
	f.Add(uint8(3), uint8(6), false, "", "", "", "", []byte(nil), uint16(0))
	f.Add(uint8(2), uint8(5), false, "", "bytes=0-9223372036854775806/9223372036854775807", "", "", []byte("x"), uint16(0))
	f.Add(uint8(3), uint8(4), false, "", "", "", "", []byte(`{"clientHash":`), uint16(0))

	f.Fuzz(func(t *testing.T, method, path uint8, anonymous bool, contentType, contentRange, rng, ifMatch string, data []byte, cut uint16) {
		m, p := methods[int(method)%len(methods)], paths[int(path)%len(paths)]
		c, err := net.Dial("tcp", strings.TrimPrefix(n.baseURL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second)) // a hung connection fails
		var req strings.Builder
		fmt.Fprintf(&req, "%s %s HTTP/1.1\r\nHost: kumo\r\nConnection: close\r\n", m, p)
		if !anonymous {
			fmt.Fprintf(&req, "Authorization: Bearer %s\r\n", token)
		}
		for _, h := range [][2]string{{"Content-Type", contentType}, {"Content-Range", contentRange}, {"Range", rng}, {"If-Match", ifMatch}} {
			if v := headerValue(h[1]); v != "" {
				fmt.Fprintf(&req, "%s: %s\r\n", h[0], v)
			}
		}
		missing := 0 // bytes announced but never sent
		if cut%2 == 1 {
			missing = int(cut/2%64) + 1
		}
		fmt.Fprintf(&req, "Content-Length: %d\r\n\r\n", len(data)+missing)
		req.Write(data)
		if _, err := io.WriteString(c, req.String()); err != nil {
			t.Fatal(err)
		}
		if missing > 0 {
			c.(*net.TCPConn).CloseWrite()
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: m})
		if err != nil {
			t.Fatalf("%s %s: no answer: %v", m, p, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("%s %s: answer cut short: %v", m, p, err)
		}
		if resp.StatusCode >= 500 {
			t.Fatalf("%s %s (Content-Range %q, Range %q, %d bytes, %d missing): %d %s", m, p, contentRange, rng, len(data), missing, resp.StatusCode, b)
		}
		if resp.StatusCode < 400 {
			return
		}
		if ct := resp.Header.Get("Content-Type"); !kiiErrorType.MatchString(ct) {
			t.Fatalf("%s %s: %d with Content-Type %q", m, p, resp.StatusCode, ct)
		}
		if m == "HEAD" {
			return
		}
		var e struct{ ErrorCode, Message string }
		if err := json.Unmarshal(b, &e); err != nil || e.ErrorCode == "" || e.Message == "" {
			t.Fatalf("%s %s: %d, not a Kii error: %s", m, p, resp.StatusCode, b)
		}
	})
}
