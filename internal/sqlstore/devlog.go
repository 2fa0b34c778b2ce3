package sqlstore

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/kumo-iot/kumo"
)

// DevLogService keeps the apps' developer logs (kumo.DevLog, spec
// server-code.md §5.3): what server code did, read by the app admin.
type DevLogService struct {
	db *DB
}

var _ kumo.DevLogReader = (*DevLogService)(nil)

// DefaultDevLogsPerApp is how many records an app's developer log keeps
// at most by default: Kii keeps about 50,000 lines (16 MB) per app.
const DefaultDevLogsPerApp = 50_000

// devLogChunk is how many records one INSERT writes.
const devLogChunk = 200

// AppendDevLogs writes records to their apps' developer logs in one
// transaction. A record without ID gets a random one, without time the
// store's now, without level INFO.
func (s *DevLogService) AppendDevLogs(ctx context.Context, logs []kumo.DevLog) error {
	if len(logs) == 0 {
		return nil
	}
	return s.db.writeTx(ctx, func(tx *Tx) error {
		now := s.db.now()
		for start := 0; start < len(logs); start += devLogChunk {
			chunk := logs[start:min(start+devLogChunk, len(logs))]
			var sb strings.Builder
			sb.WriteString("INSERT INTO dev_logs (app_id, id, created, level, log_key, description, user_id, fields) VALUES ")
			args := make([]any, 0, 8*len(chunk))
			for i, l := range chunk {
				if i > 0 {
					sb.WriteString(", ")
				}
				sb.WriteString("(?, ?, ?, ?, ?, ?, ?, ?)")
				if l.ID == "" {
					l.ID = kumo.RandomString(24, "abcdefghijklmnopqrstuvwxyz0123456789")
				}
				if l.Time == 0 {
					l.Time = now
				}
				if l.Level == "" {
					l.Level = kumo.DevLogInfo
				}
				fields := []byte("{}")
				if len(l.Fields) > 0 {
					b, err := json.Marshal(l.Fields)
					if err != nil {
						return kumo.Errorf(kumo.ErrInvalidInputData, "A developer log record's fields are not JSON: %v", err)
					}
					fields = b
				}
				args = append(args, l.AppID, l.ID, l.Time, l.Level, l.Key, l.Description, l.UserID, string(fields))
			}
			if _, err := tx.Exec(ctx, sb.String(), args...); err != nil {
				return err
			}
		}
		return nil
	})
}

// DevLogs implements kumo.DevLogReader.
func (s *DevLogService) DevLogs(ctx context.Context, appID string, f kumo.DevLogFilter) ([]kumo.DevLogEntry, error) {
	where, args := []string{"app_id = ?", "seq > ?"}, []any{appID, f.AfterSeq}
	if f.From > 0 {
		where, args = append(where, "created >= ?"), append(args, f.From)
	}
	if f.To > 0 {
		where, args = append(where, "created <= ?"), append(args, f.To)
	}
	if rank := kumo.DevLogLevelRank(f.Level); rank > 1 {
		var levels []string
		for _, l := range []string{kumo.DevLogDebug, kumo.DevLogInfo, kumo.DevLogWarn, kumo.DevLogError} {
			if kumo.DevLogLevelRank(l) >= rank {
				levels, args = append(levels, "?"), append(args, l)
			}
		}
		where = append(where, "level IN ("+strings.Join(levels, ", ")+")")
	}
	if f.UserID != "" {
		where, args = append(where, "user_id = ?"), append(args, f.UserID)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = kumo.DevLogDefaultLimit
	}
	limit = min(limit, kumo.DevLogMaxLimit)
	order := "ASC"
	if f.Latest {
		order = "DESC"
	}
	rows, err := s.db.query(ctx, `SELECT seq, id, created, level, log_key, description, user_id, fields FROM dev_logs WHERE `+
		strings.Join(where, " AND ")+` ORDER BY seq `+order+` LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, s.db.readErr(err)
	}
	defer rows.Close()
	var out []kumo.DevLogEntry
	for rows.Next() {
		e := kumo.DevLogEntry{DevLog: kumo.DevLog{AppID: appID}}
		var fields string
		if err := rows.Scan(&e.Seq, &e.ID, &e.Time, &e.Level, &e.Key, &e.Description, &e.UserID, &fields); err != nil {
			return nil, err
		}
		if fields != "{}" {
			if err := json.Unmarshal([]byte(fields), &e.Fields); err != nil {
				return nil, err
			}
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, s.db.readErr(err)
	}
	if f.Latest {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out, nil
}

// PruneDevLogs deletes the records written before the epoch ms before and,
// of each app, those beyond its perApp newest (no cap when perApp ≤ 0);
// it returns how many it deleted.
func (s *DevLogService) PruneDevLogs(ctx context.Context, before int64, perApp int) (int64, error) {
	var total int64
	for { // by age, a bounded number per write (records are in time order: walk seq)
		var n int64
		err := s.db.writeTx(ctx, func(tx *Tx) error {
			res, err := tx.Exec(ctx, `DELETE FROM dev_logs WHERE seq IN
				(SELECT seq FROM dev_logs ORDER BY seq LIMIT 10000) AND created < ?`, before)
			if err == nil {
				n, _ = res.RowsAffected()
			}
			return err
		})
		total += n
		if err != nil {
			return total, err
		}
		if n < 10000 {
			break
		}
	}
	if perApp <= 0 {
		return total, nil
	}
	// Only the apps over the cap: one write for each of them, none for
	// the others.
	rows, err := s.db.query(ctx, "SELECT app_id FROM dev_logs GROUP BY app_id HAVING COUNT(*) > ?", perApp)
	if err != nil {
		return total, s.db.readErr(err)
	}
	var apps []string
	for rows.Next() {
		var app string
		if err := rows.Scan(&app); err != nil {
			rows.Close()
			return total, err
		}
		apps = append(apps, app)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return total, err
	}
	for _, app := range apps {
		var n int64
		err := s.db.writeTx(ctx, func(tx *Tx) error {
			res, err := tx.Exec(ctx, `DELETE FROM dev_logs WHERE app_id = ? AND seq <=
				(SELECT seq FROM dev_logs WHERE app_id = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)`, app, app, perApp)
			if err == nil {
				n, _ = res.RowsAffected()
			}
			return err
		})
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}
