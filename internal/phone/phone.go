// Package phone sends pushes to phones through Google's and Apple's push
// services: Firebase Cloud Messaging (installations of deviceType ANDROID)
// and the Apple Push Notification service (deviceType IOS). JPush
// (deviceType JPUSH) is not supported. It imports only the domain and the
// standard library (net/http negotiates the HTTP/2 APNs requires by
// itself, over TLS).
//
// # API
//
// Build the senders of an app from its configuration:
//
//	s, err := phone.New(cfg) // cfg: kumo.PushConfig; s.FCM / s.APNs nil when unset
//
// then send one message per installation:
//
//	res, err := s.FCM.Send(ctx, phone.FCMMessage{Token: regID, Data: data})
//	res, err := s.APNs.Send(ctx, phone.APNsMessage{Token: regID, Development: dev, Alert: ..., Data: phone.ShortKeys(meta)})
//
// A sender is safe for concurrent use and should be kept per app (it
// caches its access token: FCM's OAuth2 token until a minute before it
// expires, APNs's ES256 provider token for 50 minutes).
//
// Send returns an error only when the message itself cannot be sent
// (errors.Is(err, ErrTooLarge): the data is over the provider's limit,
// which the caller reports as INVALID_INPUT_DATA; ErrInvalidMessage) or
// when ctx ends. What the provider answered is in the Result:
//
//   - Delivered: accepted by the provider.
//   - TokenGone: the registration token is no longer valid (FCM 404
//     UNREGISTERED or 400 INVALID_ARGUMENT about the token; APNs 410, 400
//     BadDeviceToken): the caller deletes the installation.
//   - Retryable: 429, 5xx or a network error, still failing after
//     Retry.Attempts tries (exponential backoff from Retry.Base, at most
//     Retry.Max, at least the provider's Retry-After). RetryAfter is set
//     when the provider asked for a longer wait than Retry.Max allows.
//   - Failed: any other refusal; Reason holds the provider's reason (FCM's
//     errorCode or status, APNs's reason), e.g. a wrong key or bundle ID.
//
// Metadata (spec push-mqtt §5.2): FCM data carries the long names
// (appID, sender, objectScopeType, ...) with every value a string (FCMData
// converts a Kii payload); APNs carries the short keys (a, s, st, ...)
// beside "aps" (ShortKeys renames them).
//
// Endpoints are fields (FCM.BaseURL, FCM.TokenURL, APNs.ProductionURL,
// APNs.DevelopmentURL) so that tests run against local servers.
package phone

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/kumo-iot/kumo"
)

// ErrTooLarge is the error (wrapped) of a message over its provider's size
// limit: 4096 bytes of FCM data, 4096 bytes of APNs payload.
var ErrTooLarge = errors.New("push message too large")

// ErrInvalidMessage is the error (wrapped) of a message that cannot be
// sent as it is: no token, an FCM data value that is not a string, ...
var ErrInvalidMessage = errors.New("invalid push message")

// Outcome is what became of a message.
type Outcome int

// The outcomes of Send.
const (
	Delivered Outcome = iota // the provider accepted the message
	TokenGone                // the token is no longer valid: delete the installation
	Retryable                // temporarily refused; retries exhausted
	Failed                   // refused for good (Reason says why)
)

func (o Outcome) String() string {
	switch o {
	case Delivered:
		return "delivered"
	case TokenGone:
		return "token gone"
	case Retryable:
		return "retryable"
	case Failed:
		return "failed"
	}
	return "outcome(" + strconv.Itoa(int(o)) + ")"
}

// Result is the provider's answer to one Send.
type Result struct {
	Outcome Outcome
	// Status is the HTTP status of the last answer (0 after a network
	// error).
	Status int
	// Reason is the provider's reason for a refusal: FCM's errorCode (or
	// its status), APNs's reason, or the network error.
	Reason string
	// ID is the provider's ID of a delivered message: FCM's message name,
	// APNs's apns-id.
	ID string
	// Attempts is the number of requests made.
	Attempts int
	// RetryAfter is the provider's Retry-After when it was longer than
	// Retry.Max: try again no sooner.
	RetryAfter time.Duration
}

// Retry bounds the retries of a sender.
type Retry struct {
	Attempts int           // tries in all (default 3)
	Base     time.Duration // first backoff (default 500 ms), doubled each time
	Max      time.Duration // longest wait (default 30 s)
}

func (r Retry) withDefaults() Retry {
	if r.Attempts <= 0 {
		r.Attempts = 3
	}
	if r.Base <= 0 {
		r.Base = 500 * time.Millisecond
	}
	if r.Max <= 0 {
		r.Max = 30 * time.Second
	}
	return r
}

// backoff returns the wait before try n+1 (n ≥ 1): Base·2^(n-1) with up to
// 20% jitter, at most Max.
func (r Retry) backoff(n int) time.Duration {
	d := r.Base << (n - 1)
	if d <= 0 || d > r.Max {
		d = r.Max
	}
	d += time.Duration(rand.Int64N(int64(d)/5 + 1))
	return min(d, r.Max)
}

// Senders are the senders of one app; a field is nil when its service is
// not configured.
type Senders struct {
	FCM  *FCM
	APNs *APNs
}

// New returns the senders of an app's push configuration.
func New(cfg kumo.PushConfig) (Senders, error) {
	var s Senders
	var err error
	if cfg.FCM != nil {
		if s.FCM, err = NewFCM(cfg.FCM.ServiceAccount); err != nil {
			return Senders{}, err
		}
		if cfg.FCM.ProjectID != "" {
			s.FCM.ProjectID = cfg.FCM.ProjectID
		}
	}
	if cfg.APNs != nil {
		if s.APNs, err = NewAPNs(cfg.APNs.Key, cfg.APNs.KeyID, cfg.APNs.TeamID, cfg.APNs.BundleID); err != nil {
			return Senders{}, err
		}
	}
	return s, nil
}

// defaultClient is the HTTP client of senders that are given none: HTTP/2
// over TLS when the server offers it (APNs requires it).
func defaultClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ForceAttemptHTTP2 = true
	return &http.Client{Transport: t, Timeout: 30 * time.Second}
}

// attempt is one try's answer, as the retry loop needs it.
type attempt struct {
	res        Result
	retry      bool          // worth another try
	retryAfter time.Duration // the provider's Retry-After (0: none)
	renewAuth  bool          // the access token was refused: get a new one, try again once
}

// sleep waits for d or until ctx ends. Senders have a field of this type
// so that tests see the waits without waiting.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// run tries once, then again while the answer is retryable and tries
// remain; a refused access token is renewed and tried again once.
func run(ctx context.Context, r Retry, wait func(context.Context, time.Duration) error, try func(renew bool) attempt) (Result, error) {
	r = r.withDefaults()
	if wait == nil {
		wait = sleep
	}
	renewed, renew := false, false
	requests := 0
	for n := 1; ; {
		a := try(renew)
		requests++
		a.res.Attempts = requests
		renew = false
		if a.renewAuth && !renewed {
			// A stale access token is ours to fix, not a failed try.
			renewed, renew = true, true
			continue
		}
		if !a.retry {
			return a.res, nil
		}
		if err := ctx.Err(); err != nil {
			return a.res, err
		}
		a.res.Outcome = Retryable
		if n >= r.Attempts {
			return a.res, nil
		}
		if a.retryAfter > r.Max {
			a.res.RetryAfter = a.retryAfter
			return a.res, nil
		}
		if err := wait(ctx, max(r.backoff(n), a.retryAfter)); err != nil {
			return a.res, err
		}
		n++
	}
}

// retryAfter parses a Retry-After header: seconds or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	if s, err := strconv.Atoi(h); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// retryableStatus reports whether an HTTP status is worth another try.
func retryableStatus(code int) bool { return code == http.StatusTooManyRequests || code >= 500 }

func tooLarge(what string, size, limit int) error {
	return fmt.Errorf("%w: the %s is %d bytes, over the limit of %d", ErrTooLarge, what, size, limit)
}
