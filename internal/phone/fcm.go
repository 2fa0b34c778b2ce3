package phone

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kumo-iot/kumo"
)

// FCMDataLimit is the largest FCM data payload, in bytes (the keys and
// values of Data and of the notification, JSON-encoded).
const FCMDataLimit = 4096

// FCMScope is the OAuth2 scope of FCM's HTTP v1 API.
const FCMScope = "https://www.googleapis.com/auth/firebase.messaging"

// FCMMessage is one push to one Android (or other FCM) installation.
type FCMMessage struct {
	Token string            // the installation's registration ID
	Data  map[string]string // the data payload: Kii's long metadata keys and the message's data (FCMData)
	// Notification, when set, makes FCM show a notification itself.
	Notification *FCMNotification
	// Android carries the Android options of Kii's gcm/fcm section.
	Android *FCMAndroid
	// DryRun asks FCM to validate the message without delivering it
	// (Kii's gcm.dryRun; FCM's validate_only).
	DryRun bool
}

// FCMNotification is FCM's displayed notification.
type FCMNotification struct {
	Title string `json:"title,omitempty"`
	Body  string `json:"body,omitempty"`
	Image string `json:"image,omitempty"`
}

// FCMAndroid are Android options (Kii's gcm section).
type FCMAndroid struct {
	CollapseKey           string        // collapseKey
	TTL                   time.Duration // timeToLive (0: FCM's default, 4 weeks)
	RestrictedPackageName string        // restrictedPackageName
	HighPriority          bool          // priority HIGH instead of NORMAL
}

// FCM sends messages through FCM's HTTP v1 API with a service account's
// OAuth2 access tokens. Create it with NewFCM; set the exported fields
// before the first Send.
type FCM struct {
	ProjectID string
	// BaseURL is the API's root (https://fcm.googleapis.com).
	BaseURL string
	// TokenURL is the OAuth2 token endpoint: the key's token_uri.
	TokenURL string
	Client   *http.Client
	Retry    Retry
	Now      func() time.Time

	sleep   func(context.Context, time.Duration) error // nil: really wait
	account kumo.ServiceAccount
	key     *rsa.PrivateKey

	mu      sync.Mutex // guards token, expires
	token   string
	expires time.Time
}

// NewFCM returns a sender for a service account key file (JSON).
func NewFCM(serviceAccount []byte) (*FCM, error) {
	sa, key, err := kumo.ParseServiceAccount(serviceAccount)
	if err != nil {
		return nil, err
	}
	return &FCM{ProjectID: sa.ProjectID, BaseURL: "https://fcm.googleapis.com", TokenURL: sa.TokenURI,
		Client: defaultClient(), Now: time.Now, account: sa, key: key}, nil
}

// fcmRequest is the body of messages:send.
type fcmRequest struct {
	ValidateOnly bool       `json:"validate_only,omitempty"`
	Message      fcmMessage `json:"message"`
}

type fcmMessage struct {
	Token        string            `json:"token"`
	Data         map[string]string `json:"data,omitempty"`
	Notification *FCMNotification  `json:"notification,omitempty"`
	Android      *fcmAndroid       `json:"android,omitempty"`
}

type fcmAndroid struct {
	CollapseKey           string `json:"collapse_key,omitempty"`
	Priority              string `json:"priority,omitempty"`
	TTL                   string `json:"ttl,omitempty"`
	RestrictedPackageName string `json:"restricted_package_name,omitempty"`
}

// body checks m and returns the request body.
func (m FCMMessage) body() ([]byte, error) {
	if m.Token == "" {
		return nil, fmt.Errorf("%w: no FCM registration token", ErrInvalidMessage)
	}
	size := 0
	if len(m.Data) > 0 {
		b, _ := json.Marshal(m.Data)
		size += len(b)
	}
	if m.Notification != nil {
		b, _ := json.Marshal(m.Notification)
		size += len(b)
	}
	if size > FCMDataLimit {
		return nil, tooLarge("FCM data", size, FCMDataLimit)
	}
	r := fcmRequest{ValidateOnly: m.DryRun, Message: fcmMessage{Token: m.Token, Data: m.Data, Notification: m.Notification}}
	if a := m.Android; a != nil {
		fa := &fcmAndroid{CollapseKey: a.CollapseKey, RestrictedPackageName: a.RestrictedPackageName, Priority: "NORMAL"}
		if a.HighPriority {
			fa.Priority = "HIGH"
		}
		if a.TTL > 0 {
			fa.TTL = strconv.FormatInt(int64(a.TTL/time.Second), 10) + "s"
		}
		r.Message.Android = fa
	}
	return json.Marshal(r)
}

// Send sends m (see the package doc for the result).
func (f *FCM) Send(ctx context.Context, m FCMMessage) (Result, error) {
	body, err := m.body()
	if err != nil {
		return Result{}, err
	}
	endpoint := strings.TrimSuffix(f.BaseURL, "/") + "/v1/projects/" + url.PathEscape(f.ProjectID) + "/messages:send"
	return run(ctx, f.Retry, f.sleep, func(renew bool) attempt {
		token, a, ok := f.accessToken(ctx, renew)
		if !ok {
			return a
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
		if err != nil {
			return attempt{res: Result{Outcome: Failed, Reason: err.Error()}}
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json; charset=UTF-8")
		resp, err := f.Client.Do(req)
		if err != nil {
			return attempt{res: Result{Outcome: Retryable, Reason: err.Error()}, retry: true}
		}
		defer resp.Body.Close()
		return f.answer(resp)
	})
}

// fcmError is FCM's error body (google.rpc.Status).
type fcmError struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Status  string `json:"status"`
		Details []struct {
			Type            string `json:"@type"`
			ErrorCode       string `json:"errorCode"`
			FieldViolations []struct {
				Field string `json:"field"`
			} `json:"fieldViolations"`
		} `json:"details"`
	} `json:"error"`
}

// answer classifies FCM's answer.
func (f *FCM) answer(resp *http.Response) attempt {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	res := Result{Status: resp.StatusCode}
	if resp.StatusCode == http.StatusOK {
		var ok struct {
			Name string `json:"name"`
		}
		_ = json.Unmarshal(b, &ok)
		res.Outcome, res.ID = Delivered, ok.Name
		return attempt{res: res}
	}
	var e fcmError
	_ = json.Unmarshal(b, &e)
	res.Reason = e.Error.Status
	aboutToken := strings.Contains(e.Error.Message, "registration token")
	for _, d := range e.Error.Details {
		if d.ErrorCode != "" {
			res.Reason = d.ErrorCode
		}
		for _, v := range d.FieldViolations {
			if v.Field == "message.token" {
				aboutToken = true
			}
		}
	}
	if res.Reason == "" {
		res.Reason = http.StatusText(resp.StatusCode)
	}
	if e.Error.Message != "" {
		res.Reason += ": " + e.Error.Message
	}
	switch {
	case resp.StatusCode == http.StatusNotFound || strings.HasPrefix(res.Reason, "UNREGISTERED"):
		res.Outcome = TokenGone
	case resp.StatusCode == http.StatusBadRequest && aboutToken:
		res.Outcome = TokenGone
	case resp.StatusCode == http.StatusUnauthorized:
		res.Outcome = Failed
		return attempt{res: res, renewAuth: true}
	case retryableStatus(resp.StatusCode):
		res.Outcome = Retryable
		return attempt{res: res, retry: true, retryAfter: retryAfter(resp.Header.Get("Retry-After"), f.Now())}
	default:
		res.Outcome = Failed
	}
	return attempt{res: res}
}

// accessToken returns a cached OAuth2 access token, or obtains a new one
// (always when renew). When it cannot, ok is false and a is the attempt's
// answer.
func (f *FCM) accessToken(ctx context.Context, renew bool) (token string, a attempt, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.Now()
	if !renew && f.token != "" && now.Before(f.expires) {
		return f.token, attempt{}, true
	}
	assertion, err := f.assertion(now)
	if err != nil {
		return "", attempt{res: Result{Outcome: Failed, Reason: "signing the token request: " + err.Error()}}, false
	}
	form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {assertion}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", attempt{res: Result{Outcome: Failed, Reason: err.Error()}}, false
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := f.Client.Do(req)
	if err != nil {
		return "", attempt{res: Result{Reason: "OAuth2 token: " + err.Error()}, retry: true}, false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var t struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal(b, &t)
	if resp.StatusCode != http.StatusOK || t.AccessToken == "" {
		res := Result{Outcome: Failed, Status: resp.StatusCode, Reason: strings.TrimSuffix("OAuth2 token: "+t.Error+" "+t.Description, " ")}
		if retryableStatus(resp.StatusCode) {
			return "", attempt{res: res, retry: true, retryAfter: retryAfter(resp.Header.Get("Retry-After"), now)}, false
		}
		return "", attempt{res: res}, false
	}
	if t.ExpiresIn <= 0 {
		t.ExpiresIn = 3600
	}
	f.token = t.AccessToken
	// Renewed a minute early, so that no request carries a token that
	// expires on the way.
	f.expires = now.Add(time.Duration(t.ExpiresIn)*time.Second - time.Minute)
	return f.token, attempt{}, true
}

// assertion returns the signed JWT of the JWT bearer grant (RFC 7523):
// RS256, the service account as issuer, the token endpoint as audience.
func (f *FCM) assertion(now time.Time) (string, error) {
	header := map[string]string{"alg": "RS256", "typ": "JWT"}
	if f.account.PrivateKeyID != "" {
		header["kid"] = f.account.PrivateKeyID
	}
	claims := map[string]any{
		"iss": f.account.ClientEmail, "scope": FCMScope, "aud": f.TokenURL,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
	signing := jwtPart(header) + "." + jwtPart(claims)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, f.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// jwtPart returns the base64url encoding of v's JSON.
func jwtPart(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}
