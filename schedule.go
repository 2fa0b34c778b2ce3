package kumo

import (
	"context"
	"encoding/json"
	"errors"
)

// Schedule executions (spec server-code.md §4.5, §5.1-5.2): one record
// per tick of an app's scheduled job, written by the node that claimed
// the tick.

// ScheduleStatus is the state of a schedule execution.
type ScheduleStatus string

// Schedule execution states.
const (
	ScheduleRunning ScheduleStatus = "RUNNING"
	ScheduleSuccess ScheduleStatus = "SUCCESS"
	ScheduleFailed  ScheduleStatus = "FAILED"
)

// ScheduleExecution is one run of a scheduled job.
type ScheduleExecution struct {
	ID     string         `json:"scheduleExecutionID"` // 25 lower-case alphanumerics
	AppID  string         `json:"-"`
	Name   string         `json:"name"` // the job's name
	Tick   int64          `json:"-"`    // the scheduled minute, epoch ms
	Status ScheduleStatus `json:"status"`
	// StartedAt and FinishedAt are epoch ms (FinishedAt 0 while RUNNING).
	StartedAt  int64 `json:"startedAt"`
	FinishedAt int64 `json:"finishedAt,omitempty"`
	// Result is the JSON text of the returned value (SUCCESS) or of the
	// error (FAILED): Kii does not document it (docs/compat.md).
	Result string `json:"result,omitempty"`
}

// ScheduleExecutionIDLength is the length of a scheduleExecutionID.
const ScheduleExecutionIDLength = 25

// NewScheduleExecutionID returns a random scheduleExecutionID.
func NewScheduleExecutionID() string { return RandomString(ScheduleExecutionIDLength, lowerAlnum) }

// scheduleExecutionFields are the fields a schedule execution query may
// name.
var scheduleExecutionFields = map[string]bool{
	"scheduleExecutionID": true, "name": true, "status": true, "startedAt": true, "finishedAt": true, "result": true,
}

// ParseScheduleExecutionQuery parses a ScheduleExecutionQueryRequest
// body: a QueryRequest with "scheduleExecutionQuery" in place of
// "bucketQuery", whose clauses and orderBy name the fields of
// ScheduleExecution (INVALID_INPUT_DATA for another field, a geo or
// hasField clause; QUERY_NOT_SUPPORTED for a count).
func ParseScheduleExecutionQuery(raw []byte) (Query, error) {
	q, err := parseQuery(raw, "scheduleExecutionQuery")
	if err != nil {
		return q, err
	}
	if len(q.Aggregations) > 0 {
		return q, unsupportedQuery("Schedule execution queries do not count")
	}
	if q.OrderBy != "" && !scheduleExecutionFields[q.OrderBy] {
		return q, invalidQuery("orderBy %q is not a field of a schedule execution", q.OrderBy)
	}
	return q, checkScheduleClause(q.Clause)
}

func checkScheduleClause(c Clause) error {
	switch c.Type {
	case ClauseAll:
		return nil
	case ClauseNot, ClauseAnd, ClauseOr:
		for _, sub := range c.Clauses {
			if err := checkScheduleClause(sub); err != nil {
				return err
			}
		}
		return nil
	case ClauseEq, ClauseIn, ClauseRange, ClausePrefix:
		if !scheduleExecutionFields[c.Field] {
			return invalidQuery("%q is not a field of a schedule execution (scheduleExecutionID, name, status, startedAt, finishedAt, result)", c.Field)
		}
		return nil
	}
	return invalidQuery("a schedule execution query has no %s clause", c.Type)
}

// ScheduleExecutionQueryObject is e as the query evaluator sees it (a
// RUNNING execution has no finishedAt nor result).
func ScheduleExecutionQueryObject(e ScheduleExecution) Object {
	data := map[string]any{"scheduleExecutionID": e.ID, "name": e.Name, "status": string(e.Status), "startedAt": e.StartedAt}
	if e.FinishedAt != 0 {
		data["finishedAt"] = e.FinishedAt
	}
	if e.Result != "" {
		data["result"] = e.Result
	}
	return Object{ID: e.ID, Data: data, Created: e.StartedAt, Modified: e.FinishedAt}
}

// ScheduleExecutionService reads an app's schedule executions: the app
// admin only (UNAUTHORIZED).
type ScheduleExecutionService interface {
	// ScheduleExecution returns one (SCHEDULE_EXECUTION_NOT_FOUND).
	ScheduleExecution(ctx context.Context, c Caller, id string) (ScheduleExecution, error)
	// QueryScheduleExecutions returns a page of the executions q selects
	// (ParseScheduleExecutionQuery), in q's order (by startedAt when q
	// has none), with the next page's key ("" on the last).
	QueryScheduleExecutions(ctx context.Context, c Caller, q Query) ([]ScheduleExecution, string, error)
}

// ScheduleResult is the Result text of an execution that ended: the JSON
// of the returned value (null when undefined), or of the error.
func ScheduleResult(r ServerCodeResult, err error) (ScheduleStatus, string) {
	if err != nil {
		msg := err.Error()
		var e *Error
		if errors.As(err, &e) {
			msg = e.Message
		}
		b, _ := json.Marshal(map[string]string{"errorCode": string(ErrorCode(err)), "message": msg})
		return ScheduleFailed, string(b)
	}
	if r.Err != nil {
		b, _ := json.Marshal(r.Err)
		return ScheduleFailed, string(b)
	}
	if len(r.ReturnedValue) == 0 {
		return ScheduleSuccess, "null"
	}
	return ScheduleSuccess, string(r.ReturnedValue)
}
