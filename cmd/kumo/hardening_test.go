package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// deepJSON returns a field value nested depth levels deep ({"a":…}).
func deepJSON(depth int) string {
	return strings.Repeat(`{"a":`, depth) + `1` + strings.Repeat(`}`, depth)
}

// wantKiiError fails the test unless r is a Kii error of status and code.
func wantKiiError(t *testing.T, r response, status int, code string) {
	t.Helper()
	wantStatus(t, r, status)
	if got := r.Str(t, "errorCode"); got != code {
		t.Fatalf("errorCode = %q, want %q; body: %s", got, code, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/vnd.kii.") || !strings.HasSuffix(ct, "Exception+json") {
		t.Fatalf("Content-Type = %q, want a Kii exception type", ct)
	}
}

// TestDeepJSONRefused: a JSON body nested 9,990 levels deep (D1) is
// refused with 400 INVALID_JSON wherever a client sends one, anonymous
// thing registration first; a body at the depth limit (64, the body itself
// counting as one level) is accepted and one level more is refused.
func TestDeepJSONRefused(t *testing.T) {
	n := mustStartNode(t)
	base := n.base + "/api/apps/" + n.app.AppID
	d := n.mustDevice("deep-dev")
	auth := []string{"Authorization", "Bearer " + d.Token, "Content-Type", "application/json"}
	objects := base + "/things/" + d.ThingID + "/buckets/deep/objects"

	deep := deepJSON(9990)
	tests := []struct {
		name, method, url, body string
		headers                 []string
	}{
		{"thing registration", "POST", base + "/things", `{"_vendorThingID":"deep-1","_password":"pass-1234","custom":` + deep + `}`,
			[]string{"Content-Type", "application/vnd.kii.ThingRegistrationAndAuthorizationRequest+json"}},
		{"user registration", "POST", base + "/users", `{"loginName":"deep","password":"deep-pass","custom":` + deep + `}`, nil},
		{"object create", "POST", objects, `{"custom":` + deep + `}`, auth},
		{"object put", "PUT", objects + "/deep-o", `{"custom":` + deep + `}`, auth},
		{"query", "POST", base + "/things/" + d.ThingID + "/buckets/deep/query", `{"bucketQuery":{"clause":` + deep + `}}`, auth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantKiiError(t, do(t, tt.method, tt.url, tt.body, tt.headers...), 400, "INVALID_JSON")
		})
	}

	t.Run("limit", func(t *testing.T) {
		// The object is level 1, its field's value the levels under it.
		wantStatus(t, do(t, "POST", objects, `{"custom":`+deepJSON(63)+`}`, auth...), 201)
		wantKiiError(t, do(t, "POST", objects, `{"custom":`+deepJSON(64)+`}`, auth...), 400, "INVALID_JSON")
	})
}

// readRaw reads one response from c.
func readRaw(t *testing.T, c net.Conn, br *bufio.Reader) response {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read the response: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read the response body: %v", err)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// wantClosed fails the test unless the server closes c (after what it
// has sent), rather than keeping it open.
func wantClosed(t *testing.T, c net.Conn, br *bufio.Reader) {
	t.Helper()
	_, err := br.ReadByte()
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the server kept the connection open")
	}
	if err == nil {
		t.Fatalf("the server sent more after its answer")
	}
}

// TestTruncatedBodyUpload: a body upload cut short of its Content-Length
// (D5), simple or a resumable chunk, or with a broken chunked encoding,
// answers 400 INVALID_INPUT_DATA in
// Kii's format (not 500), and stores nothing: the old body stays.
func TestTruncatedBodyUpload(t *testing.T) { forEachStore(t, testTruncatedBodyUpload) }

func testTruncatedBodyUpload(t *testing.T, cfg config) {
	n := mustStartNodeConfig(t, cfg)
	d := n.mustDevice("trunc-dev")
	obj := n.createObject(d, "files", `{}`)
	body := n.base + "/api/apps/" + n.app.AppID + "/things/" + d.ThingID + "/buckets/files/objects/" + obj + "/body"
	auth := []string{"Authorization", "Bearer " + d.Token}
	wantStatus(t, do(t, "PUT", body, "the old body", append(auth, "Content-Type", "text/plain")...), 200)

	r := do(t, "POST", body+"/uploads", `{}`, auth...)
	wantStatus(t, r, 200)
	upload := r.Str(t, "uploadID")

	cut := "Content-Length: 1000\r\n\r\n" + strings.Repeat("x", 100)
	for _, tt := range []struct{ name, path, rest string }{
		{"put", body, cut},
		{"upload chunk", body + "/uploads/" + upload + "/data", "Content-Range: bytes=0-999/1000\r\n" + cut},
		{"put, broken chunked encoding", body, "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := rawConn(t, n)
			path := strings.TrimPrefix(tt.path, n.base)
			fmt.Fprintf(c, "PUT %s HTTP/1.1\r\nHost: kumo\r\nAuthorization: Bearer %s\r\nContent-Type: text/plain\r\n%s", path, d.Token, tt.rest)
			c.(*net.TCPConn).CloseWrite()
			wantKiiError(t, readRaw(t, c, bufio.NewReader(c)), 400, "INVALID_INPUT_DATA")
		})
	}
	r = do(t, "GET", body, "", auth...)
	wantStatus(t, r, 200)
	if string(r.Body) != "the old body" {
		t.Errorf("body after the cut uploads = %q, want the old body", r.Body)
	}
	r = do(t, "POST", body+"/uploads/"+upload+"/status/committed", "", auth...)
	wantKiiError(t, r, 400, "INVALID_INPUT_DATA") // the cut chunk was not kept
}

// TestSlowBody: a request body trickled at one byte every 50 ms, under a
// rule of 64 bytes per 300 ms (D3), is answered 408 REQUEST_TIMEOUT in
// Kii's format and its connection closed; an idle keep-alive connection
// is closed too. A body trickled at a fair rate over several windows
// passes.
func TestSlowBody(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.BodyReadWindow, cfg.BodyMinBytes, cfg.IdleTimeout = 300*time.Millisecond, 64, 300*time.Millisecond
	n := mustStartNodeConfig(t, cfg)
	users := "/api/apps/" + n.app.AppID + "/users"

	t.Run("trickled body", func(t *testing.T) {
		c := rawConn(t, n)
		fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: kumo\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{", users)
		stop := make(chan struct{})
		defer close(stop)
		go func() { // one byte every 50 ms: 20 bytes a second, for 10 s at most
			for range 199 {
				select {
				case <-stop:
					return
				case <-time.After(50 * time.Millisecond):
				}
				if _, err := c.Write([]byte(" ")); err != nil {
					return
				}
			}
		}()
		br := bufio.NewReader(c)
		r := readRaw(t, c, br)
		wantKiiError(t, r, 408, "REQUEST_TIMEOUT")
		wantClosed(t, c, br)
	})

	t.Run("idle keep-alive", func(t *testing.T) {
		c := rawConn(t, n)
		fmt.Fprintf(c, "GET %s/nobody HTTP/1.1\r\nHost: kumo\r\n\r\n", users)
		br := bufio.NewReader(c)
		wantStatus(t, readRaw(t, c, br), 401) // anonymous callers may not read users
		wantClosed(t, c, br)
	})

	t.Run("fair body", func(t *testing.T) {
		// Trickled over more than 4 windows (16 pieces, at least 75 ms
		// apart), at twice the minimum every quarter window: the body
		// outlives the first window, so that it passes only if each
		// minimum reached moves the deadline on.
		window := cfg.BodyReadWindow
		piece := strings.Repeat("y", int(2*cfg.BodyMinBytes))
		pr, pw := io.Pipe()
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			defer pw.Close()
			pw.Write([]byte(`{"loginName":"fair","password":"fair-pass","note":"`))
			for range 16 {
				select {
				case <-stop:
					return
				case <-time.After(window / 4):
				}
				if _, err := pw.Write([]byte(piece)); err != nil {
					return
				}
			}
			pw.Write([]byte(`"}`))
		}()
		req, _ := http.NewRequest("POST", n.base+users, pr)
		req.Header.Set("Content-Type", "application/json")
		resp, err := testHTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 201 {
			t.Fatalf("status = %d, want 201", resp.StatusCode)
		}
	})
}

// TestSlowBodyDownload: a client that asks for a large body (a
// thing's, whole or a range, or through its publication link) and stops
// reading has its connection closed by the server under the minimum rate
// rule, instead of holding it, a goroutine and buffers for good; a client
// reading at full speed gets the whole body.
func TestSlowBodyDownload(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.BodyReadWindow, cfg.BodyMinBytes = 500*time.Millisecond, 1<<10
	n := mustStartNodeConfig(t, cfg)
	d := n.mustDevice("slow-reader")
	auth := []string{"Authorization", "Bearer " + d.Token}
	obj := n.createObject(d, "files", `{}`)
	body := "/api/apps/" + n.app.AppID + "/things/" + d.ThingID + "/buckets/files/objects/" + obj + "/body"
	data := strings.Repeat("0123456789abcdef", 1<<20) // 16 MiB: far more than the sockets' buffers
	wantStatus(t, do(t, "PUT", n.base+body, data, auth...), 200)
	pub := do(t, "POST", n.base+body+"/publish", `{}`, auth...)
	wantStatus(t, pub, 201)
	pubPath := strings.TrimPrefix(pub.Str(t, "url"), n.base)

	waitFor := func(t *testing.T, what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: still not so after 30s", what)
			}
		}
	}
	for _, tt := range []struct{ name, path, headers string }{
		{"body", body, "Authorization: Bearer " + d.Token + "\r\n"},
		{"range", body, "Authorization: Bearer " + d.Token + "\r\nRange: bytes=100-\r\n"},
		{"publication", pubPath, ""},
	} {
		t.Run("slow reader "+tt.name, func(t *testing.T) {
			testHTTP.CloseIdleConnections()
			waitFor(t, "no connection open", func() bool { return n.api.OpenConns() == 0 })
			c, err := net.Dial("tcp", strings.TrimPrefix(n.base, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.(*net.TCPConn).SetReadBuffer(64 << 10) // no growing receive window
			fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: kumo\r\n%s\r\n", tt.path, tt.headers)
			waitFor(t, "the connection is accepted", func() bool { return n.api.OpenConns() == 1 })
			// The client reads nothing: the server must give up on it.
			waitFor(t, "the server closes the slow reader's connection", func() bool { return n.api.OpenConns() == 0 })
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 200 && resp.StatusCode != 206 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			got, err := io.Copy(io.Discard, resp.Body)
			if err == nil || got >= resp.ContentLength {
				t.Fatalf("the slow reader got %d bytes of %d (error %v): want the body cut short", got, resp.ContentLength, err)
			}
		})
	}
	t.Run("full speed", func(t *testing.T) {
		r := do(t, "GET", n.base+body, "", auth...)
		wantStatus(t, r, 200)
		if string(r.Body) != data {
			t.Fatalf("got %d bytes, want the %d uploaded", len(r.Body), len(data))
		}
	})
}

// TestOverflowingNumbers: numbers that become a time or a duration (D6)
// are refused when they would overflow (a publication's expiresIn and
// expiresAt, the app's durations) or clamped (a login's expiresAt).
func TestOverflowingNumbers(t *testing.T) {
	n := mustStartNode(t)
	base := n.base + "/api/apps/" + n.app.AppID
	d := n.mustDevice("overflow-dev")
	auth := []string{"Authorization", "Bearer " + d.Token}
	obj := n.createObject(d, "files", `{}`)
	body := base + "/things/" + d.ThingID + "/buckets/files/objects/" + obj + "/body"
	wantStatus(t, do(t, "PUT", body, "published", auth...), 200)

	for _, in := range []string{`{"expiresIn":9223372036854775807}`, `{"expiresIn":"9223372036854775"}`, `{"expiresAt":9223372036854775807}`} {
		wantKiiError(t, do(t, "POST", body+"/publish", in, auth...), 400, "INVALID_INPUT_DATA")
	}
	r := do(t, "POST", body+"/publish", `{"expiresIn":3600}`, auth...)
	wantStatus(t, r, 201)
	wantStatus(t, do(t, "GET", r.Str(t, "url"), ""), 200)

	admin := do(t, "POST", base+"/oauth2/token",
		fmt.Sprintf(`{"grant_type":"client_credentials","client_id":%q,"client_secret":%q}`, n.app.ClientID, n.app.ClientSecret))
	wantStatus(t, admin, 200)
	adminAuth := []string{"Authorization", "Bearer " + admin.Str(t, "access_token")}
	for _, k := range []string{"accessTokenExpirationSeconds", "loginLockPeriodSeconds", "loginAttemptsTimeoutSeconds"} {
		wantKiiError(t, do(t, "PATCH", base+"/configuration/parameters", `{"`+k+`":9223372036854775807}`, adminAuth...), 400, "INVALID_INPUT_DATA")
	}

	// A login's expiresAt past the year 9999 is clamped to its end: the
	// token expires (expires_in is positive), far in the future.
	for _, at := range []string{"9223372036854775807", "1e30"} {
		r := do(t, "POST", base+"/oauth2/token", `{"username":"VENDOR_THING_ID:overflow-dev","password":"pass-1234","expiresAt":`+at+`}`)
		wantStatus(t, r, 200)
		in, err := r.JSON(t)["expires_in"].(jsonNumber).Int64()
		if err != nil || in <= 0 || in > 253402300799 {
			t.Errorf("expiresAt %s: expires_in = %v, want a positive number of seconds up to the year 9999", at, r.JSON(t)["expires_in"])
		}
	}
}

// TestStoredHTMLSandboxed: a text/html body is served, by its object and
// by its publication, with X-Content-Type-Options: nosniff and a
// sandboxing Content-Security-Policy, so that it runs nothing on the API's
// origin; every other answer has nosniff too.
func TestStoredHTMLSandboxed(t *testing.T) {
	n := mustStartNode(t)
	d := n.mustDevice("html-dev")
	auth := []string{"Authorization", "Bearer " + d.Token}
	obj := n.createObject(d, "files", `{}`)
	body := n.base + "/api/apps/" + n.app.AppID + "/things/" + d.ThingID + "/buckets/files/objects/" + obj + "/body"
	wantStatus(t, do(t, "PUT", body, "<script>alert(document.cookie)</script>", append(auth, "Content-Type", "text/html")...), 200)
	r := do(t, "POST", body+"/publish", `{}`, auth...)
	wantStatus(t, r, 201)
	pub := r.Str(t, "url")

	for _, tt := range []struct {
		name, method, url string
		status            int
		headers           []string
	}{
		{"GET body", "GET", body, 200, auth},
		{"HEAD body", "HEAD", body, 204, auth},
		{"GET range", "GET", body, 206, append(auth, "Range", "bytes=0-7")},
		{"GET publication", "GET", pub, 200, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, tt.method, tt.url, "", tt.headers...)
			wantStatus(t, r, tt.status)
			if got := r.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
			}
			if got := r.Header.Get("Content-Security-Policy"); !strings.Contains(got, "sandbox") || !strings.Contains(got, "default-src 'none'") {
				t.Errorf("Content-Security-Policy = %q, want sandbox and default-src 'none'", got)
			}
		})
	}
	r = do(t, "GET", n.base+"/api/apps/"+n.app.AppID+"/things/"+d.ThingID, "", auth...)
	if got := r.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("JSON answer: X-Content-Type-Options = %q, want nosniff", got)
	}
}

// clientFrom is an HTTP client whose connections come from the local
// address ip (any 127.x.y.z reaches the node on Linux).
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	return &http.Client{Timeout: time.Minute, Transport: &http.Transport{DialContext: d.DialContext}}
}

// TestLoginThrottle: a burst of wrong passwords from one address ends in
// 429 TOO_MANY_REQUESTS with Retry-After in Kii's format, on both token
// paths, even for the right password then; another address is
// unaffected.
func TestLoginThrottle(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.LoginThrottle = 5 // under the app's lockout of 10 failures
	n := mustStartNodeConfig(t, cfg)
	n.mustDevice("throttle-dev")
	token := n.base + "/api/apps/" + n.app.AppID + "/oauth2/token"
	login := func(c *http.Client, url, password string, headers ...string) response {
		t.Helper()
		return doFrom(t, c, "POST", url, `{"username":"VENDOR_THING_ID:throttle-dev","password":"`+password+`"}`,
			append([]string{"Content-Type", "application/json"}, headers...)...)
	}
	one, two := clientFrom("127.0.0.1"), clientFrom("127.0.0.2")

	for i := range 5 {
		if r := login(one, token, "wrong"); r.Status != 400 {
			t.Fatalf("wrong password %d: status %d, want 400 invalid_grant", i+1, r.Status)
		}
	}
	for _, tt := range []struct {
		name, url, password string
		headers             []string
	}{
		{"wrong password", token, "wrong", nil},
		{"right password", token, "pass-1234", nil},
		{"path without app", n.base + "/api/oauth2/token", "pass-1234", []string{"X-Kii-AppID", n.app.AppID}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := login(one, tt.url, tt.password, tt.headers...)
			wantKiiError(t, r, 429, "TOO_MANY_REQUESTS")
			if ct := r.Header.Get("Content-Type"); ct != "application/vnd.kii.TooManyRequestsException+json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || s < 1 {
				t.Errorf("Retry-After = %q, want a number of seconds", r.Header.Get("Retry-After"))
			}
		})
	}
	t.Run("another address", func(t *testing.T) {
		if r := login(two, token, "wrong"); r.Status != 400 {
			t.Fatalf("wrong password from 127.0.0.2: status %d, want 400", r.Status)
		}
		wantStatus(t, login(two, token, "pass-1234"), 200)
	})
}

// TestAnswerBeforeUnsentBody checks that a request refused before its
// body is read, from a client that waits for "100 Continue" before
// sending it (as curl does for large bodies), is answered at once and
// its connection closed: the server used to wait for the body, until the
// body rate rule's window ran out. The window here is ten minutes, far
// beyond the test's connection deadline.
func TestAnswerBeforeUnsentBody(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.BodyReadWindow = 10 * time.Minute
	n := mustStartNodeConfig(t, cfg)
	d := n.mustDevice("unsent-body")
	body := "/api/apps/" + n.app.AppID + "/things/" + d.ThingID + "/buckets/bb/objects/o1/body"
	for _, tt := range []struct {
		name, auth string
		status     int
		code       string
	}{
		{"wrong token", "Bearer WRONG", 403, "WRONG_TOKEN"},
		{"no object", "Bearer " + d.Token, 404, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := rawConn(t, n)
			fmt.Fprintf(c, "PUT %s HTTP/1.1\r\nHost: kumo\r\nAuthorization: %s\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n", body, tt.auth)
			br := bufio.NewReader(c)
			r := readRaw(t, c, br)
			if tt.code != "" {
				wantKiiError(t, r, tt.status, tt.code)
			} else {
				wantStatus(t, r, tt.status)
			}
			wantClosed(t, c, br)
		})
	}
}
