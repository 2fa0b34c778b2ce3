package phone

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

// apnsEnv is an APNs sender against two local HTTP/2 servers: production
// and sandbox.
type apnsEnv struct {
	apns          *APNs
	prod, sandbox *fake
	clock         *testClock
	waits         *waits
}

func newAPNsEnv(t *testing.T) *apnsEnv {
	t.Helper()
	key, p8file := p8(t)
	e := &apnsEnv{clock: &testClock{t: time.Unix(1_700_000_000, 0)}, waits: &waits{}}
	check := func(r *http.Request) string {
		if r.ProtoMajor != 2 {
			return fmt.Sprintf("request over HTTP/%d, want HTTP/2", r.ProtoMajor)
		}
		if r.Method != "POST" || !strings.HasPrefix(r.URL.Path, "/3/device/") {
			return "request " + r.Method + " " + r.URL.Path
		}
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "bearer ")
		if !ok {
			return "authorization " + r.Header.Get("Authorization")
		}
		h, c, why := parseJWT(tok, verifyES256(&key.PublicKey))
		if why != "" {
			return why
		}
		if h["alg"] != "ES256" || h["kid"] != "KEY1234567" || c["iss"] != "TEAM123456" || c["iat"] == nil {
			return fmt.Sprintf("JWT header %v claims %v", h, c)
		}
		if r.Header.Get("apns-topic") != "com.example.app" {
			return "apns-topic " + r.Header.Get("apns-topic")
		}
		return ""
	}
	var urls []string
	for _, f := range []**fake{&e.prod, &e.sandbox} {
		*f = &fake{check: check}
		srv := httptest.NewUnstartedServer(*f)
		srv.EnableHTTP2 = true
		srv.StartTLS()
		t.Cleanup(srv.Close)
		urls = append(urls, srv.URL)
		if e.apns == nil {
			a, err := NewAPNs(p8file, "KEY1234567", "TEAM123456", "com.example.app")
			if err != nil {
				t.Fatal(err)
			}
			a.Client, a.Now, a.sleep = srv.Client(), e.clock.Now, e.waits.sleep
			a.Retry = Retry{Attempts: 3, Base: 100 * time.Millisecond, Max: 10 * time.Second}
			e.apns = a
		}
	}
	e.apns.ProductionURL, e.apns.DevelopmentURL = urls[0], urls[1]
	return e
}

func TestAPNsSend(t *testing.T) {
	e := newAPNsEnv(t)
	ctx := context.Background()
	e.prod.script(answer{status: 200, header: map[string]string{"apns-id": "id-1"}})
	badge := 3
	msg := APNsMessage{Token: "abc123", Alert: map[string]any{"body": "Hello"}, Sound: "default", Badge: &badge,
		Category: "cat", MutableContent: true, Expiration: time.Unix(1_700_003_600, 0),
		Data: map[string]any{"s": "u1", "st": "APP", "sourceURI": "kiicloud://x", "k": "v"}}
	res, err := e.apns.Send(ctx, msg)
	if err != nil || res.Outcome != Delivered || res.ID != "id-1" || res.Attempts != 1 {
		t.Fatalf("Send = %+v, %v", res, err)
	}
	r := e.prod.requests(t)[0]
	if r.path != "/3/device/abc123" {
		t.Errorf(":path = %s", r.path)
	}
	for h, want := range map[string]string{"apns-push-type": "alert", "apns-priority": "10", "apns-expiration": "1700003600"} {
		if got := r.header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	var body map[string]any
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"aps": map[string]any{"alert": map[string]any{"body": "Hello"}, "sound": "default", "badge": 3.0, "category": "cat", "mutable-content": 1.0},
		"s":   "u1", "st": "APP", "sourceURI": "kiicloud://x", "k": "v",
	}
	if !reflect.DeepEqual(body, want) {
		t.Errorf("body = %s, want %v", r.body, want)
	}

	// A development installation goes to the sandbox; a background push
	// has priority 5; the provider token is reused for 50 minutes.
	e.clock.Advance(49 * time.Minute)
	if res, err := e.apns.Send(ctx, APNsMessage{Token: "dev1", Development: true, ContentAvailable: true}); err != nil || res.Outcome != Delivered {
		t.Fatalf("Send to sandbox = %+v, %v", res, err)
	}
	s := e.sandbox.requests(t)
	if len(s) != 1 || s[0].path != "/3/device/dev1" || s[0].header.Get("apns-push-type") != "background" ||
		s[0].header.Get("apns-priority") != "5" || s[0].header.Get("apns-expiration") != "0" || string(s[0].body) != `{"aps":{"content-available":1}}` {
		t.Fatalf("sandbox requests = %+v", s)
	}
	if s[0].header.Get("Authorization") != r.header.Get("Authorization") {
		t.Error("the provider token was not reused within 50 minutes")
	}
	e.clock.Advance(2 * time.Minute)
	e.apns.Send(ctx, APNsMessage{Token: "abc123"})
	if p := e.prod.requests(t); len(p) != 2 || p[1].header.Get("Authorization") == r.header.Get("Authorization") {
		t.Error("the provider token was not renewed after 50 minutes")
	}
}

func TestAPNsOutcomes(t *testing.T) {
	reason := func(status int, r string) answer {
		return answer{status: status, body: fmt.Sprintf(`{"reason":%q}`, r)}
	}
	tests := []struct {
		name       string
		script     []answer
		want       Outcome
		reason     string
		attempts   int
		waits      []time.Duration
		retryAfter time.Duration
	}{
		{"unregistered", []answer{{status: 410, body: `{"reason":"Unregistered","timestamp":1700000000000}`}}, TokenGone, "Unregistered", 1, nil, 0},
		{"bad device token", []answer{reason(400, "BadDeviceToken")}, TokenGone, "BadDeviceToken", 1, nil, 0},
		{"topic disallowed", []answer{reason(400, "TopicDisallowed")}, Failed, "TopicDisallowed", 1, nil, 0},
		{"invalid provider token", []answer{reason(403, "InvalidProviderToken")}, Failed, "InvalidProviderToken", 1, nil, 0},
		{"expired provider token", []answer{reason(403, "ExpiredProviderToken"), {status: 200}}, Delivered, "", 2, nil, 0},
		{"429 then success", []answer{{status: 429, header: map[string]string{"Retry-After": "4"}, body: `{"reason":"TooManyRequests"}`}, {status: 200}},
			Delivered, "", 2, []time.Duration{4 * time.Second}, 0},
		{"500 exhausted", []answer{reason(500, "InternalServerError"), reason(503, "ServiceUnavailable"), reason(500, "InternalServerError")},
			Retryable, "InternalServerError", 3, nil, 0},
		{"Retry-After beyond the bound", []answer{{status: 503, header: map[string]string{"Retry-After": "60"}, body: `{"reason":"ServiceUnavailable"}`}},
			Retryable, "ServiceUnavailable", 1, nil, time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newAPNsEnv(t)
			e.prod.script(tt.script...)
			res, err := e.apns.Send(context.Background(), APNsMessage{Token: "abc", Alert: map[string]any{"body": "x"}})
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if res.Outcome != tt.want || res.Reason != tt.reason || res.Attempts != tt.attempts || res.RetryAfter != tt.retryAfter {
				t.Errorf("Send = %+v (%s); want %s, reason %q, %d attempts, RetryAfter %v", res, res.Outcome, tt.want, tt.reason, tt.attempts, tt.retryAfter)
			}
			reqs := e.prod.requests(t)
			if len(reqs) != tt.attempts {
				t.Errorf("%d requests, want %d", len(reqs), tt.attempts)
			}
			if tt.waits != nil && !reflect.DeepEqual(e.waits.all(), tt.waits) {
				t.Errorf("waits = %v, want %v", e.waits.all(), tt.waits)
			}
			if tt.name == "expired provider token" && reqs[0].header.Get("Authorization") == reqs[1].header.Get("Authorization") {
				t.Error("an expired provider token was not renewed")
			}
		})
	}
}

func TestAPNsLimits(t *testing.T) {
	e := newAPNsEnv(t)
	// {"aps":{},"k":"..."} is 17 bytes beside the value.
	for _, tt := range []struct {
		n    int
		fits bool
	}{{4096 - 17, true}, {4096 - 16, false}} {
		_, err := e.apns.Send(context.Background(), APNsMessage{Token: "abc", Data: map[string]any{"k": strings.Repeat("x", tt.n)}})
		if tt.fits != (err == nil) || !tt.fits && !errors.Is(err, ErrTooLarge) {
			t.Errorf("payload of %d bytes: %v", tt.n+17, err)
		}
	}
	if n := len(e.prod.requests(t)); n != 1 {
		t.Errorf("%d requests, want only the one that fits", n)
	}
}

func TestShortKeys(t *testing.T) {
	got := ShortKeys(map[string]any{"appID": "a1", "objectScopeThingID": "th", "modifiedAt": 1, "senderURI": "u", "x": true})
	want := map[string]any{"a": "a1", "sth": "th", "om": 1} // keys without a short name are left out
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ShortKeys = %v, want %v", got, want)
	}
}
