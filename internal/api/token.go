package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/kumo-iot/kumo"
)

// handleToken serves POST /api/apps/{appID}/oauth2/token and
// POST /api/oauth2/token. The body may be JSON (any JSON media type, or
// none) or form-encoded; grant_type may be omitted. Failed logins count
// in the failed-login throttle (throttled).
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	return s.throttled(kumo.ErrInvalidGrant, s.login)(w, r, c)
}

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
		addr, now := sourceAddr(r.RemoteAddr), time.Now()
		if wait := s.throttle.wait(addr, now); wait > 0 {
			w.Header().Set("Retry-After", retryAfter(wait))
			return kumo.Errorf(kumo.ErrTooManyRequests, "Too many failed logins from this address: retry in %s seconds", retryAfter(wait))
		}
		err := h(w, r, c)
		if kumo.ErrorCode(err) == failed {
			if penalty := s.throttle.fail(addr, now); penalty > 0 {
				s.Log.Warn("logins throttled: too many failed logins from one address",
					"addr", addr, "failures", s.throttle.limit, "penalty", penalty)
			}
		}
		return err
	}
}

// login serves a token request (handleToken, after the throttle).
func (s *Server) login(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	var req kumo.LoginRequest
	if mediaType(r) == "application/x-www-form-urlencoded" {
		r.Body = http.MaxBytesReader(w, r.Body, maxJSONBody)
		if err := r.ParseForm(); err != nil {
			return kumo.Errorf(kumo.ErrInvalidInputData, "The form body could not be parsed")
		}
		f := r.PostForm
		req = kumo.LoginRequest{GrantType: f.Get("grant_type"), Username: f.Get("username"), Password: f.Get("password"),
			ClientID: f.Get("client_id"), ClientSecret: f.Get("client_secret"), RefreshToken: f.Get("refresh_token")}
		req.ExpiresAt = expiresAt(firstNonEmpty(f.Get("expiresAt"), f.Get("expires_at")))
	} else {
		m, err := decodeObject(w, r)
		if err != nil {
			return err
		}
		req = kumo.LoginRequest{GrantType: stringField(m, "grant_type"), Username: stringField(m, "username"),
			Password: stringField(m, "password"), ClientID: stringField(m, "client_id"),
			ClientSecret: stringField(m, "client_secret"), RefreshToken: stringField(m, "refresh_token")}
		for _, k := range []string{"expiresAt", "expires_at"} {
			if n, ok := m[k].(json.Number); ok {
				req.ExpiresAt = expiresAt(n.String())
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

// expiresAt reads a login's expiresAt (epoch ms). An expiry past
// kumo.MaxEpochMillis, the int64 range included, is clamped to it; what
// is not a number is no expiry (0), as before.
func expiresAt(s string) int64 {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return min(n, kumo.MaxEpochMillis)
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f > 0 {
		return int64(min(f, float64(kumo.MaxEpochMillis)))
	}
	return 0
}
