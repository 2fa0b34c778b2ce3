package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"sort"
	"strconv"

	"github.com/kumo-iot/kumo"
)

// ScheduleService keeps the executions of the apps' scheduled jobs
// (kumo.ScheduleExecution). A row per (app, job, tick) is the cluster's
// lease of that tick: ClaimScheduleTick inserts it, and only the node
// whose insert made it runs the job.
type ScheduleService struct {
	db *DB
}

var _ kumo.ScheduleExecutionService = (*ScheduleService)(nil)

// ClaimScheduleTick claims the tick (the scheduled minute, epoch ms) of an
// app's job: it records a RUNNING execution and returns it with true, or
// returns false when the tick was claimed already (by any node).
func (s *ScheduleService) ClaimScheduleTick(ctx context.Context, appID, name string, tick int64) (kumo.ScheduleExecution, bool, error) {
	e := kumo.ScheduleExecution{ID: kumo.NewScheduleExecutionID(), AppID: appID, Name: name, Tick: tick, Status: kumo.ScheduleRunning}
	var claimed bool
	err := s.db.writeTx(ctx, func(tx *Tx) error {
		e.StartedAt = s.db.now()
		res, err := tx.Exec(ctx, `INSERT INTO schedule_executions (app_id, id, name, tick, status, started_at)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, appID, e.ID, name, tick, string(e.Status), e.StartedAt)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		claimed = n == 1
		return err
	})
	if err != nil || !claimed {
		return kumo.ScheduleExecution{}, false, err
	}
	return e, true, nil
}

// ScheduleTickClaimed reports whether the tick of an app's job was
// claimed already (a cheap read before claiming).
func (s *ScheduleService) ScheduleTickClaimed(ctx context.Context, appID, name string, tick int64) (bool, error) {
	var one int
	err := s.db.queryRow(ctx, "SELECT 1 FROM schedule_executions WHERE app_id = ? AND name = ? AND tick = ?", appID, name, tick).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, s.db.readErr(err)
}

// FinishScheduleExecution records how a RUNNING execution ended (status
// SUCCESS or FAILED, result its text). An execution no longer RUNNING
// (marked FAILED meanwhile by FailStaleScheduleExecutions) is left as is.
func (s *ScheduleService) FinishScheduleExecution(ctx context.Context, appID, id string, status kumo.ScheduleStatus, result string) error {
	return s.db.writeTx(ctx, func(tx *Tx) error {
		_, err := tx.Exec(ctx, `UPDATE schedule_executions SET status = ?, finished_at = ?, result = ?
			WHERE app_id = ? AND id = ? AND status = ?`, string(status), s.db.now(), result, appID, id, string(kumo.ScheduleRunning))
		return err
	})
}

// StaleScheduleResult is the result of an execution marked FAILED because
// the node running it stopped.
const StaleScheduleResult = `{"errorCode":"EXECUTION_ABANDONED","message":"The node running the job stopped before it ended"}`

// FailStaleScheduleExecutions marks FAILED the executions still RUNNING
// that started before the epoch ms before (their node stopped: no run
// lasts that long) and returns how many.
func (s *ScheduleService) FailStaleScheduleExecutions(ctx context.Context, before int64) (int64, error) {
	var n int64
	err := s.db.writeTx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(ctx, `UPDATE schedule_executions SET status = ?, finished_at = ?, result = ?
			WHERE status = ? AND started_at < ?`, string(kumo.ScheduleFailed), s.db.now(), StaleScheduleResult,
			string(kumo.ScheduleRunning), before)
		if err == nil {
			n, _ = res.RowsAffected()
		}
		return err
	})
	return n, err
}

// PruneScheduleExecutions deletes the executions started before the
// epoch ms before and returns how many.
func (s *ScheduleService) PruneScheduleExecutions(ctx context.Context, before int64) (int64, error) {
	var n int64
	err := s.db.writeTx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(ctx, `DELETE FROM schedule_executions WHERE started_at < ?`, before)
		if err == nil {
			n, _ = res.RowsAffected()
		}
		return err
	})
	return n, err
}

const scheduleColumns = "id, name, tick, status, started_at, finished_at, result"

func scanScheduleExecution(appID string, sc interface{ Scan(...any) error }) (kumo.ScheduleExecution, error) {
	e := kumo.ScheduleExecution{AppID: appID}
	var status string
	err := sc.Scan(&e.ID, &e.Name, &e.Tick, &status, &e.StartedAt, &e.FinishedAt, &e.Result)
	e.Status = kumo.ScheduleStatus(status)
	return e, err
}

// ScheduleExecution implements kumo.ScheduleExecutionService.
func (s *ScheduleService) ScheduleExecution(ctx context.Context, c kumo.Caller, id string) (kumo.ScheduleExecution, error) {
	if !c.IsAdmin() {
		return kumo.ScheduleExecution{}, kumo.Unauthorized(c, "Only the app admin may read schedule executions")
	}
	e, err := scanScheduleExecution(c.AppID, s.db.queryRow(ctx, "SELECT "+scheduleColumns+" FROM schedule_executions WHERE app_id = ? AND id = ?", c.AppID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return e, kumo.Errorf(kumo.ErrScheduleExecutionNotFound, "Schedule execution %s was not found", id)
	}
	return e, s.db.readErr(err)
}

// QueryScheduleExecutions implements kumo.ScheduleExecutionService, as
// QueryUsers does: the app's executions (a few per job and minute, kept
// --servercode-log-days) evaluated by the reference evaluator, an offset
// as the paginationKey.
func (s *ScheduleService) QueryScheduleExecutions(ctx context.Context, c kumo.Caller, q kumo.Query) ([]kumo.ScheduleExecution, string, error) {
	if !c.IsAdmin() {
		return nil, "", kumo.Unauthorized(c, "Only the app admin may query schedule executions")
	}
	offset, err := offsetKey(q.PaginationKey)
	if err != nil {
		return nil, "", err
	}
	rows, err := s.db.query(ctx, "SELECT "+scheduleColumns+" FROM schedule_executions WHERE app_id = ?", c.AppID)
	if err != nil {
		return nil, "", s.db.readErr(err)
	}
	defer rows.Close()
	type hit struct {
		e   kumo.ScheduleExecution
		obj kumo.Object
	}
	var hits []hit
	for rows.Next() {
		e, err := scanScheduleExecution(c.AppID, rows)
		if err != nil {
			return nil, "", err
		}
		if o := kumo.ScheduleExecutionQueryObject(e); q.Selects(o) {
			hits = append(hits, hit{e, o})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, "", s.db.readErr(err)
	}
	sort.SliceStable(hits, func(i, j int) bool {
		if q.OrderBy == "" && hits[i].e.StartedAt != hits[j].e.StartedAt {
			return hits[i].e.StartedAt < hits[j].e.StartedAt
		}
		return q.Compare(hits[i].obj, hits[j].obj) < 0
	})
	offset = min(offset, len(hits))
	end := min(offset+q.Limit, len(hits))
	out := make([]kumo.ScheduleExecution, 0, end-offset)
	for _, h := range hits[offset:end] {
		out = append(out, h.e)
	}
	next := ""
	if end < len(hits) {
		next = strconv.Itoa(end)
	}
	return out, next, nil
}
