package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/kumo-iot/kumo"
)

// handleDevLogs serves GET /api/apps/{appID}/server-code/logs (the
// developer log over REST, a Kumo extension beside Kii's /logs
// WebSocket; admin only). Query parameters, all optional: level (DEBUG,
// INFO, WARN, ERROR: that level or higher), userID, from and to (epoch
// ms, inclusive), limit (default 100, at most 1500) and after (a cursor
// from an earlier answer). Without after, the newest limit records;
// with it, the oldest limit records written after that cursor. 200
// {"logs":[records, oldest first],"cursor":"…"}: cursor names the last
// record (the one given, or "0", when none was returned); pass it as
// after to read what was written since.
func (s *Server) handleDevLogs(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	if !c.IsAdmin() {
		return kumo.Unauthorized(c, "Only the app admin may read the developer log")
	}
	q := r.URL.Query()
	f := kumo.DevLogFilter{Level: q.Get("level"), UserID: q.Get("userID"), Latest: true}
	if f.Level != "" && kumo.DevLogLevelRank(f.Level) == 0 {
		return kumo.InvalidInput(map[string]string{"level": "is DEBUG, INFO, WARN or ERROR"})
	}
	for name, dst := range map[string]*int64{"from": &f.From, "to": &f.To, "after": &f.AfterSeq} {
		if v := q.Get(name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return kumo.InvalidInput(map[string]string{name: "must be a non-negative integer"})
			}
			*dst = n
		}
	}
	if q.Get("after") != "" {
		f.Latest = false
	}
	var err error
	if f.Limit, err = queryLimit(r); err != nil {
		return err
	}
	if f.Limit > kumo.DevLogMaxLimit {
		return kumo.InvalidInput(map[string]string{"limit": "is at most " + strconv.Itoa(kumo.DevLogMaxLimit)})
	}
	logs, err := s.DevLogs.DevLogs(r.Context(), c.AppID, f)
	if err != nil {
		return err
	}
	cursor := f.AfterSeq
	out := make([]kumo.DevLog, len(logs))
	for i, l := range logs {
		out[i] = l.DevLog
		cursor = l.Seq
	}
	writeJSON(w, http.StatusOK, "application/json", map[string]any{"logs": out, "cursor": strconv.FormatInt(cursor, 10)})
	return nil
}

// handleLogSocket serves GET /logs: the developer log's WebSocket
// (LogSocket); a request that is no WebSocket upgrade 400
// INVALID_INPUT_DATA.
func (s *Server) handleLogSocket(w http.ResponseWriter, r *http.Request) {
	if !headerHasToken(r.Header, "Connection", "upgrade") || !headerHasToken(r.Header, "Upgrade", "websocket") {
		s.writeError(w, r, kumo.Errorf(kumo.ErrInvalidInputData, "The developer log is a WebSocket: connect with an upgrade to WebSocket, then send the request as a JSON text frame"))
		return
	}
	s.LogSocket.ServeHTTP(w, r)
}

// headerHasToken reports whether the comma-separated header name lists
// token (case-insensitive).
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}
