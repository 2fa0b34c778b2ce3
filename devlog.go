package kumo

import (
	"context"
	"encoding/json"
	"time"
)

// The developer log (spec server-code.md §5.3): what server code did,
// kept per app for a while, read by the app admin (REST and the /logs
// WebSocket).

// Developer log levels, lowest first.
const (
	DevLogDebug = "DEBUG"
	DevLogInfo  = "INFO"
	DevLogWarn  = "WARN"
	DevLogError = "ERROR"
)

// Developer log limits.
const (
	// DevLogDefaultLimit is how many records a read returns by default,
	// and DevLogMaxLimit the most it returns (Kii's CLI: 100 and 1500).
	DevLogDefaultLimit = 100
	DevLogMaxLimit     = 1500
)

// DevLogLevelRank orders levels (DEBUG 1 … ERROR 4); 0 for an unknown
// level.
func DevLogLevelRank(level string) int {
	switch level {
	case DevLogDebug:
		return 1
	case DevLogInfo:
		return 2
	case DevLogWarn:
		return 3
	case DevLogError:
		return 4
	}
	return 0
}

// DevLogTimeLayout is how a record's time is written: ISO-8601 UTC with
// milliseconds.
const DevLogTimeLayout = "2006-01-02T15:04:05.000Z"

// MarshalJSON writes a record as the developer log sends it: its fields,
// "time" in ISO-8601, and its key-specific fields beside them (they never
// replace the common ones).
func (l DevLog) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, len(l.Fields)+8)
	for k, v := range l.Fields {
		m[k] = v
	}
	m["_id"], m["key"], m["level"], m["appID"], m["description"] = l.ID, l.Key, l.Level, l.AppID, l.Description
	m["time"] = time.UnixMilli(l.Time).UTC().Format(DevLogTimeLayout)
	if l.UserID != "" {
		m["userID"] = l.UserID
	}
	return json.Marshal(m)
}

// DevLogEntry is a stored record with its sequence number (the order the
// store wrote it in, for following the log).
type DevLogEntry struct {
	Seq int64
	DevLog
}

// DevLogFilter selects records of an app's developer log.
type DevLogFilter struct {
	// AfterSeq: only records written after that one (0: from the start).
	AfterSeq int64
	// From, To bound the record's time (epoch ms, inclusive; 0: open).
	From, To int64
	// Level: only records of that level or higher ("" all).
	Level  string
	UserID string // only records of that user ("" all)
	// Limit caps the records (DevLogDefaultLimit when 0, at most
	// DevLogMaxLimit).
	Limit int
	// Latest returns the newest Limit records (still oldest first)
	// rather than the oldest.
	Latest bool
}

// DevLogReader reads an app's developer log, oldest record first. It
// checks no caller: its users do.
type DevLogReader interface {
	DevLogs(ctx context.Context, appID string, f DevLogFilter) ([]DevLogEntry, error)
}
