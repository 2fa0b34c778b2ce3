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
	"sync/atomic"
	"testing"
	"time"
)

// fcmEnv is an FCM sender against a local TLS server that plays FCM and
// Google's token endpoint.
type fcmEnv struct {
	fcm    *FCM
	send   *fake
	tokens atomic.Int64 // access tokens issued
	clock  *testClock
	waits  *waits
}

func newFCMEnv(t *testing.T) *fcmEnv {
	t.Helper()
	e := &fcmEnv{send: &fake{}, clock: &testClock{t: time.Unix(1_700_000_000, 0)}, waits: &waits{}}
	key := testRSAKey(t)
	mux := http.NewServeMux()
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	tokenURL := srv.URL + "/token"
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
			http.Error(w, `{"error":"unsupported_grant_type"}`, 400)
			return
		}
		h, c, why := parseJWT(r.PostForm.Get("assertion"), verifyRS256(&key.PublicKey))
		want := map[string]any{"iss": "sender@proj-1.iam.gserviceaccount.com", "scope": FCMScope, "aud": tokenURL}
		for k, v := range want {
			if why == "" && c[k] != v {
				why = fmt.Sprintf("claim %s = %v, want %v", k, c[k], v)
			}
		}
		if why == "" && (h["alg"] != "RS256" || h["kid"] != "kid-1") {
			why = fmt.Sprintf("header %v", h)
		}
		if why == "" && c["exp"].(float64)-c["iat"].(float64) != 3600 {
			why = fmt.Sprintf("iat %v exp %v", c["iat"], c["exp"])
		}
		if why != "" {
			t.Errorf("token request: %s", why)
			w.WriteHeader(400)
			fmt.Fprintf(w, `{"error":"invalid_grant","error_description":%q}`, why)
			return
		}
		n := e.tokens.Add(1)
		fmt.Fprintf(w, `{"access_token":"at-%d","expires_in":3600,"token_type":"Bearer"}`, n)
	})
	mux.Handle("/", e.send)
	f, err := NewFCM(serviceAccount(t, key, tokenURL))
	if err != nil {
		t.Fatal(err)
	}
	f.BaseURL, f.Client, f.Now, f.sleep = srv.URL, srv.Client(), e.clock.Now, e.waits.sleep
	f.Retry = Retry{Attempts: 3, Base: 100 * time.Millisecond, Max: 10 * time.Second}
	e.fcm = f
	return e
}

func fcmErr(code int, status, errorCode, message string) answer {
	details := ""
	if errorCode != "" {
		details = fmt.Sprintf(`,"details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":%q}]`, errorCode)
	}
	return answer{status: code, body: fmt.Sprintf(`{"error":{"code":%d,"message":%q,"status":%q%s}}`, code, message, status, details)}
}

func TestFCMSend(t *testing.T) {
	e := newFCMEnv(t)
	ctx := context.Background()
	e.send.script(answer{status: 200, body: `{"name":"projects/proj-1/messages/0:1"}`})
	msg := FCMMessage{Token: "reg-1", Data: map[string]string{"sender": "u1", "when": "17"},
		Notification: &FCMNotification{Title: "Hi"},
		Android:      &FCMAndroid{CollapseKey: "c", TTL: 90 * time.Second, HighPriority: true}}
	res, err := e.fcm.Send(ctx, msg)
	if err != nil || res.Outcome != Delivered || res.ID != "projects/proj-1/messages/0:1" || res.Attempts != 1 {
		t.Fatalf("Send = %+v, %v; want delivered with the message name", res, err)
	}
	reqs := e.send.requests(t)
	r := reqs[0]
	if r.method != "POST" || r.path != "/v1/projects/proj-1/messages:send" || r.header.Get("Authorization") != "Bearer at-1" {
		t.Errorf("request %s %s auth %q", r.method, r.path, r.header.Get("Authorization"))
	}
	var body map[string]any
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"message": map[string]any{
		"token":        "reg-1",
		"data":         map[string]any{"sender": "u1", "when": "17"},
		"notification": map[string]any{"title": "Hi"},
		"android":      map[string]any{"collapse_key": "c", "ttl": "90s", "priority": "HIGH"},
	}}
	if !reflect.DeepEqual(body, want) {
		t.Errorf("body = %s, want %v", r.body, want)
	}

	// The access token is cached until a minute before it expires.
	e.clock.Advance(58 * time.Minute)
	if res, _ := e.fcm.Send(ctx, FCMMessage{Token: "reg-1"}); res.Outcome != Delivered {
		t.Fatalf("second Send = %+v", res)
	}
	e.clock.Advance(90 * time.Second)
	if res, _ := e.fcm.Send(ctx, FCMMessage{Token: "reg-1"}); res.Outcome != Delivered {
		t.Fatalf("third Send = %+v", res)
	}
	reqs = e.send.requests(t)
	got := []string{reqs[1].header.Get("Authorization"), reqs[2].header.Get("Authorization")}
	if want := []string{"Bearer at-1", "Bearer at-2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("tokens = %v, want %v (cached, then renewed near expiry)", got, want)
	}
}

func TestFCMOutcomes(t *testing.T) {
	tokenViolation := answer{status: 400, body: `{"error":{"code":400,"message":"Invalid value","status":"INVALID_ARGUMENT",
		"details":[{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"message.token","description":"Invalid registration token"}]}]}}`}
	tests := []struct {
		name       string
		script     []answer
		want       Outcome
		reason     string // prefix
		attempts   int
		waits      []time.Duration // exact waits (nil: not checked)
		retryAfter time.Duration
	}{
		{"unregistered", []answer{fcmErr(404, "NOT_FOUND", "UNREGISTERED", "Requested entity was not found.")}, TokenGone, "UNREGISTERED", 1, nil, 0},
		{"bad token", []answer{tokenViolation}, TokenGone, "INVALID_ARGUMENT", 1, nil, 0},
		{"bad token message", []answer{fcmErr(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token")}, TokenGone, "INVALID_ARGUMENT", 1, nil, 0},
		{"other bad argument", []answer{fcmErr(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "Invalid JSON payload received. Unknown name \"x\"")}, Failed, "INVALID_ARGUMENT: Invalid JSON", 1, nil, 0},
		{"sender mismatch", []answer{fcmErr(403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH", "SenderId mismatch")}, Failed, "SENDER_ID_MISMATCH", 1, nil, 0},
		{"429 then success", []answer{
			{status: 429, header: map[string]string{"Retry-After": "7"}, body: `{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","details":[{"errorCode":"QUOTA_EXCEEDED"}]}}`},
			{status: 200, body: `{"name":"m"}`}}, Delivered, "", 2, []time.Duration{7 * time.Second}, 0},
		{"500 exhausted", []answer{fcmErr(500, "INTERNAL", "INTERNAL", "x"), fcmErr(503, "UNAVAILABLE", "UNAVAILABLE", "x"), fcmErr(500, "INTERNAL", "INTERNAL", "x")},
			Retryable, "INTERNAL", 3, nil, 0},
		{"Retry-After beyond the bound", []answer{{status: 503, header: map[string]string{"Retry-After": "120"}}}, Retryable, "Service Unavailable", 1, []time.Duration{}, 2 * time.Minute},
		{"401 renews the token", []answer{fcmErr(401, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR", "x"), {status: 200, body: `{"name":"m"}`}}, Delivered, "", 2, []time.Duration{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newFCMEnv(t)
			e.send.script(tt.script...)
			res, err := e.fcm.Send(context.Background(), FCMMessage{Token: "reg-1", Data: map[string]string{"a": "b"}})
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if res.Outcome != tt.want || !strings.HasPrefix(res.Reason, tt.reason) || res.Attempts != tt.attempts || res.RetryAfter != tt.retryAfter {
				t.Errorf("Send = %+v (%s); want %s, reason %q..., %d attempts, RetryAfter %v", res, res.Outcome, tt.want, tt.reason, tt.attempts, tt.retryAfter)
			}
			if n := len(e.send.requests(t)); n != tt.attempts {
				t.Errorf("%d requests, want %d", n, tt.attempts)
			}
			got := e.waits.all()
			if tt.waits != nil && !(len(got) == 0 && len(tt.waits) == 0) && !reflect.DeepEqual(got, tt.waits) {
				t.Errorf("waits = %v, want %v", got, tt.waits)
			}
			if tt.waits == nil && tt.want == Retryable {
				// Exponential: 100 ms then 200 ms (each with up to 20% jitter).
				if len(got) != 2 || got[0] < 100*time.Millisecond || got[0] > 120*time.Millisecond || got[1] < 200*time.Millisecond || got[1] > 240*time.Millisecond {
					t.Errorf("waits = %v, want about 100ms, 200ms", got)
				}
			}
			if tt.name == "401 renews the token" && e.tokens.Load() != 2 {
				t.Errorf("%d access tokens, want 2", e.tokens.Load())
			}
		})
	}
}

func TestFCMLimits(t *testing.T) {
	e := newFCMEnv(t)
	big := FCMMessage{Token: "reg-1", Data: map[string]string{"k": strings.Repeat("x", 4096)}}
	if _, err := e.fcm.Send(context.Background(), big); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Send of 4 KiB of data: %v, want ErrTooLarge", err)
	}
	// {"k":"..."} is 8 bytes beside the value.
	fits := FCMMessage{Token: "reg-1", Data: map[string]string{"k": strings.Repeat("x", 4096-8)}}
	if res, err := e.fcm.Send(context.Background(), fits); err != nil || res.Outcome != Delivered {
		t.Errorf("Send of exactly 4096 bytes: %+v, %v", res, err)
	}
	if _, err := e.fcm.Send(context.Background(), FCMMessage{}); !errors.Is(err, ErrInvalidMessage) {
		t.Errorf("Send without a token: %v, want ErrInvalidMessage", err)
	}
	if n := len(e.send.requests(t)); n != 1 {
		t.Errorf("%d requests, want only the one that fits", n)
	}
}

func TestFCMTokenEndpointRefuses(t *testing.T) {
	key := testRSAKey(t)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(400)
		w.Write([]byte(`{"error":"invalid_grant","error_description":"Invalid JWT Signature."}`))
	}))
	defer srv.Close()
	f, err := NewFCM(serviceAccount(t, key, srv.URL+"/token"))
	if err != nil {
		t.Fatal(err)
	}
	f.BaseURL, f.Client = srv.URL, srv.Client()
	res, err := f.Send(context.Background(), FCMMessage{Token: "t"})
	if err != nil || res.Outcome != Failed || !strings.Contains(res.Reason, "invalid_grant Invalid JWT Signature.") {
		t.Errorf("Send = %+v, %v; want failed with the token endpoint's reason", res, err)
	}
}

func TestFCMData(t *testing.T) {
	got, err := FCMData(map[string]any{"s": "x", "n": json.Number("1.5"), "f": 2.0, "b": false, "i": int64(7)})
	want := map[string]string{"s": "x", "n": "1.5", "f": "2", "b": "false", "i": "7"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("FCMData = %v, %v; want %v", got, err, want)
	}
	if _, err := FCMData(map[string]any{"o": map[string]any{}}); !errors.Is(err, ErrInvalidMessage) {
		t.Errorf("FCMData of a nested value: %v", err)
	}
}
