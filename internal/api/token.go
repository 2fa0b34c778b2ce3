package api

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/throttle"
)

// throttled guards a handler that checks a password given in the body
// (a login, a thing's password to own it, a user's old password): its
// failures, the errors of code failed, count as failed logins of the
// source address, and an address in penalty is refused with 429
// TOO_MANY_REQUESTS and Retry-After before h runs (throttle). The start of
// a penalty is logged once, as a warning.
func (s *Server) throttled(failed kumo.Code, h handler) handler {
	return func(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
		if s.throttle == nil {
			return h(w, r, c)
		}
		addr, now := throttle.Source(r.RemoteAddr), time.Now()
		if wait := s.throttle.Wait(addr, now); wait > 0 {
			w.Header().Set("Retry-After", retryAfter(wait))
			return tooManyLogins(wait)
		}
		err := h(w, r, c)
		s.loginDone(addr, now, failed, err)
		return err
	}
}

func tooManyLogins(wait time.Duration) error {
	return kumo.Errorf(kumo.ErrTooManyRequests, "Too many failed logins from this address: retry in %s seconds", retryAfter(wait))
}

// loginDone counts err, if its code is failed, as a failed login of addr.
func (s *Server) loginDone(addr netip.Addr, now time.Time, failed kumo.Code, err error) {
	if kumo.ErrorCode(err) != failed {
		return
	}
	if penalty := s.throttle.Fail(addr, now); penalty > 0 {
		s.Log.Warn("logins throttled: too many failed logins from one address",
			"addr", addr, "failures", s.throttle.Limit, "penalty", penalty)
	}
}

// ThrottledLogin logs in as POST …/oauth2/token does, behind the same
// failed-login throttle of the address remoteAddr: for logins made beside
// the REST API (the developer log's WebSocket, with client credentials).
func (s *Server) ThrottledLogin(ctx context.Context, remoteAddr, appID string, r kumo.LoginRequest) (kumo.Token, error) {
	if s.throttle == nil {
		return s.Tokens.Login(ctx, appID, r)
	}
	addr, now := throttle.Source(remoteAddr), time.Now()
	if wait := s.throttle.Wait(addr, now); wait > 0 {
		return kumo.Token{}, tooManyLogins(wait)
	}
	tok, err := s.Tokens.Login(ctx, appID, r)
	s.loginDone(addr, now, kumo.ErrInvalidGrant, err)
	return tok, err
}

// handleToken serves POST /api/apps/{appID}/oauth2/token and
// POST /api/oauth2/token. The body may be JSON (any JSON media type, or
// none) or form-encoded; grant_type may be omitted. Its route puts it
// behind the failed-login throttle (throttled).
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	var req kumo.LoginRequest
	var err error
	now := time.Now().UnixMilli()
	if mediaType(r) == "application/x-www-form-urlencoded" {
		r.Body = http.MaxBytesReader(w, r.Body, maxJSONBody)
		if err := r.ParseForm(); err != nil {
			return kumo.Errorf(kumo.ErrInvalidInputData, "The form body could not be parsed")
		}
		f := r.PostForm
		req = kumo.LoginRequest{GrantType: f.Get("grant_type"), Username: f.Get("username"), Password: f.Get("password"),
			ClientID: f.Get("client_id"), ClientSecret: f.Get("client_secret"), RefreshToken: f.Get("refresh_token")}
		if req.ExpiresAt, err = expiresAt(firstNonEmpty(f.Get("expiresAt"), f.Get("expires_at")), now); err != nil {
			return err
		}
	} else {
		m, err := decodeObject(w, r)
		if err != nil {
			return err
		}
		req = kumo.LoginRequest{GrantType: stringField(m, "grant_type"), Username: stringField(m, "username"),
			Password: stringField(m, "password"), ClientID: stringField(m, "client_id"),
			ClientSecret: stringField(m, "client_secret"), RefreshToken: stringField(m, "refresh_token")}
		for _, k := range []string{"expiresAt", "expires_at"} {
			var s string
			switch v := m[k].(type) {
			case nil:
				continue
			case json.Number:
				s = v.String()
			case string:
				s = v
			default:
				return invalidExpiry()
			}
			if req.ExpiresAt, err = expiresAt(s, now); err != nil {
				return err
			}
		}
	}
	tok, err := s.Tokens.Login(r.Context(), c.AppID, req)
	if err != nil {
		return err
	}
	body := map[string]any{"id": tok.PrincipalID, "access_token": tok.AccessToken,
		"expires_in": tok.ExpiresIn, "token_type": "bearer"}
	if tok.RefreshToken != "" {
		body["refresh_token"] = tok.RefreshToken
	}
	writeJSON(w, http.StatusOK, "application/json", body)
	return nil
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// expiresAt reads a login's expiresAt (epoch ms; "" is absent: 0, no
// expiry). An expiry past kumo.MaxEpochMillis, the int64 and float64
// ranges included, is clamped to it. One that is not a number, or not
// after now (epoch ms), 0 and negative numbers included, is 400
// INVALID_INPUT_DATA, with the token endpoint's OAuth fields
// (invalidExpiry): it would issue a token dead at once or, as it did, one
// that never expires.
func expiresAt(s string, now int64) (int64, error) {
	if s == "" {
		return 0, nil
	}
	var at int64
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		at = n
	} else if f, err := strconv.ParseFloat(s, 64); (err == nil || errors.Is(err, strconv.ErrRange)) && !math.IsNaN(f) {
		at = int64(max(min(f, float64(kumo.MaxEpochMillis)), math.MinInt64/2))
	} else {
		return 0, invalidExpiry()
	}
	if at <= now {
		return 0, invalidExpiry()
	}
	return min(at, kumo.MaxEpochMillis), nil
}

// invalidExpiry is the error of an expiresAt that is not a time in the
// future: Kii's INVALID_INPUT_DATA, with the OAuth error fields the
// token endpoint's other errors carry.
func invalidExpiry() error {
	const msg = "expiresAt must be a time in the future, in milliseconds since the epoch"
	return kumo.InvalidInput(map[string]string{"expiresAt": "must be a time in the future"}).
		With("error", "invalid_request").With("error_description", msg)
}
