package phone

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kumo-iot/kumo"
)

// APNsPayloadLimit is the largest APNs payload (the JSON body), in bytes.
const APNsPayloadLimit = 4096

// APNs push types (the apns-push-type header).
const (
	PushAlert      = "alert"
	PushBackground = "background"
)

// APNsMessage is one push to one iOS installation.
type APNsMessage struct {
	Token string // the installation's device token (registration ID)
	// Development sends through the sandbox (an installation created with
	// development true).
	Development bool
	// Data are the keys beside "aps": Kii's short metadata keys and the
	// message's data (ShortKeys).
	Data map[string]any

	// The "aps" dictionary (Kii's apns section).
	Alert            map[string]any // alert, e.g. {"title": ..., "body": ...}; nil: none
	Sound            string
	Badge            *int
	ContentAvailable bool
	Category         string
	MutableContent   bool

	// PushType is apns-push-type: PushAlert when the message has an
	// alert, a sound or a badge, PushBackground otherwise, unless set.
	PushType string
	// Priority is apns-priority: 10 for alerts, 5 for background pushes
	// (which Apple requires), unless set.
	Priority int
	// Expiration is apns-expiration; zero sends 0 (deliver now or never).
	Expiration time.Time
	// CollapseID is apns-collapse-id (optional).
	CollapseID string
}

// APNs sends messages through Apple's HTTP/2 provider API with
// token-based authentication. Create it with NewAPNs; set the exported
// fields before the first Send.
type APNs struct {
	KeyID, TeamID string
	// Topic is apns-topic: the app's bundle ID.
	Topic string
	// ProductionURL and DevelopmentURL are the hosts of production and
	// development (sandbox) installations.
	ProductionURL, DevelopmentURL string
	Client                        *http.Client
	Retry                         Retry
	Now                           func() time.Time

	sleep func(context.Context, time.Duration) error // nil: really wait
	key   *ecdsa.PrivateKey

	mu     sync.Mutex // guards jwt, issued
	jwt    string
	issued time.Time
}

// apnsTokenLife is how long a provider token is used: Apple refuses one
// older than an hour and one renewed more often than every 20 minutes.
const apnsTokenLife = 50 * time.Minute

// NewAPNs returns a sender for a .p8 key.
func NewAPNs(p8 []byte, keyID, teamID, bundleID string) (*APNs, error) {
	key, err := kumo.ParseAPNsKey(p8)
	if err != nil {
		return nil, err
	}
	return &APNs{KeyID: keyID, TeamID: teamID, Topic: bundleID,
		ProductionURL: "https://api.push.apple.com", DevelopmentURL: "https://api.sandbox.push.apple.com",
		Client: defaultClient(), Now: time.Now, key: key}, nil
}

// body checks m and returns the payload.
func (m APNsMessage) body() ([]byte, error) {
	if m.Token == "" {
		return nil, fmt.Errorf("%w: no APNs device token", ErrInvalidMessage)
	}
	aps := map[string]any{}
	if m.Alert != nil {
		aps["alert"] = m.Alert
	}
	if m.Sound != "" {
		aps["sound"] = m.Sound
	}
	if m.Badge != nil {
		aps["badge"] = *m.Badge
	}
	if m.ContentAvailable {
		aps["content-available"] = 1
	}
	if m.Category != "" {
		aps["category"] = m.Category
	}
	if m.MutableContent {
		aps["mutable-content"] = 1
	}
	p := make(map[string]any, len(m.Data)+1)
	for k, v := range m.Data {
		p[k] = v
	}
	p["aps"] = aps
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidMessage, err)
	}
	if len(b) > APNsPayloadLimit {
		return nil, tooLarge("APNs payload", len(b), APNsPayloadLimit)
	}
	return b, nil
}

// headers returns apns-push-type and apns-priority.
func (m APNsMessage) headers() (pushType string, priority int) {
	pushType, priority = m.PushType, m.Priority
	if pushType == "" {
		pushType = PushBackground
		if m.Alert != nil || m.Sound != "" || m.Badge != nil {
			pushType = PushAlert
		}
	}
	if priority == 0 {
		priority = 10
		if pushType == PushBackground {
			priority = 5
		}
	}
	return pushType, priority
}

// Send sends m (see the package doc for the result).
func (a *APNs) Send(ctx context.Context, m APNsMessage) (Result, error) {
	body, err := m.body()
	if err != nil {
		return Result{}, err
	}
	base := a.ProductionURL
	if m.Development {
		base = a.DevelopmentURL
	}
	endpoint := strings.TrimSuffix(base, "/") + "/3/device/" + url.PathEscape(m.Token)
	pushType, priority := m.headers()
	expiration := "0"
	if !m.Expiration.IsZero() {
		expiration = strconv.FormatInt(m.Expiration.Unix(), 10)
	}
	return run(ctx, a.Retry, a.sleep, func(renew bool) attempt {
		token, err := a.providerToken(renew)
		if err != nil {
			return attempt{res: Result{Outcome: Failed, Reason: "signing the provider token: " + err.Error()}}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
		if err != nil {
			return attempt{res: Result{Outcome: Failed, Reason: err.Error()}}
		}
		h := req.Header
		h.Set("Authorization", "bearer "+token)
		h.Set("Content-Type", "application/json")
		h.Set("apns-topic", a.Topic)
		h.Set("apns-push-type", pushType)
		h.Set("apns-priority", strconv.Itoa(priority))
		h.Set("apns-expiration", expiration)
		if m.CollapseID != "" {
			h.Set("apns-collapse-id", m.CollapseID)
		}
		resp, err := a.Client.Do(req)
		if err != nil {
			return attempt{res: Result{Outcome: Retryable, Reason: err.Error()}, retry: true}
		}
		defer resp.Body.Close()
		return a.answer(resp)
	})
}

// answer classifies APNs's answer.
func (a *APNs) answer(resp *http.Response) attempt {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	res := Result{Status: resp.StatusCode, ID: resp.Header.Get("apns-id")}
	if resp.StatusCode == http.StatusOK {
		res.Outcome = Delivered
		return attempt{res: res}
	}
	var e struct {
		Reason string `json:"reason"`
	}
	_ = json.Unmarshal(b, &e)
	res.Reason = e.Reason
	if res.Reason == "" {
		res.Reason = http.StatusText(resp.StatusCode)
	}
	switch {
	case resp.StatusCode == http.StatusGone, e.Reason == "BadDeviceToken", e.Reason == "Unregistered":
		res.Outcome = TokenGone
	case e.Reason == "ExpiredProviderToken":
		res.Outcome = Failed
		return attempt{res: res, renewAuth: true}
	case retryableStatus(resp.StatusCode):
		res.Outcome = Retryable
		return attempt{res: res, retry: true, retryAfter: retryAfter(resp.Header.Get("Retry-After"), a.Now())}
	default:
		res.Outcome = Failed
	}
	return attempt{res: res}
}

// providerToken returns the ES256 JWT of the requests, made anew every
// 50 minutes (or when renew).
func (a *APNs) providerToken(renew bool) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.Now()
	if !renew && a.jwt != "" && now.Sub(a.issued) < apnsTokenLife {
		return a.jwt, nil
	}
	signing := jwtPart(map[string]string{"alg": "ES256", "kid": a.KeyID}) + "." +
		jwtPart(map[string]any{"iss": a.TeamID, "iat": now.Unix()})
	sum := sha256.Sum256([]byte(signing))
	r, s, err := ecdsa.Sign(rand.Reader, a.key, sum[:])
	if err != nil {
		return "", err
	}
	// JWS's ES256 signature is r and s, 32 bytes each, big-endian.
	sig := make([]byte, 64)
	fill(sig[:32], r)
	fill(sig[32:], s)
	a.jwt, a.issued = signing+"."+base64.RawURLEncoding.EncodeToString(sig), now
	return a.jwt, nil
}

func fill(dst []byte, n *big.Int) { n.FillBytes(dst) }
