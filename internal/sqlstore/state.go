package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"

	"github.com/kumo-iot/kumo"
)

// StateService implements kumo.StateService: each thing's latest
// Thing-IF state (states) and the history of its writes (state_history).
type StateService struct {
	db         *DB
	things     *ThingService
	thingTypes *ThingTypeService
	// stateWritten are called inside the write transaction of every
	// state written (a bulk upload: once per state), in order; an error
	// rolls the write back. Triggers fire their commands here.
	stateWritten []func(ctx context.Context, tx *Tx, ch kumo.StateChange) error
}

var _ kumo.StateService = (*StateService)(nil)

// target loads the thing of a target for c, who must be the thing itself,
// an owner or the admin: TARGET_NOT_FOUND for an unknown thing,
// UNAUTHORIZED for another caller.
func (s *StateService) target(ctx context.Context, c kumo.Caller, thingID string) (kumo.Thing, error) {
	if c.Kind == kumo.Anonymous {
		return kumo.Thing{}, kumo.Unauthorized(c, "States need a token")
	}
	t, err := s.things.thing(ctx, c.AppID, thingID)
	if kumo.ErrorCode(err) == kumo.ErrThingNotFound || (err == nil && strings.HasPrefix(thingID, "VENDOR_THING_ID:")) {
		return kumo.Thing{}, kumo.Errorf(kumo.ErrTargetNotFound, "Target thing:%s was not found", thingID).With("appID", c.AppID)
	}
	if err != nil {
		return t, err
	}
	ok, err := s.things.managesThing(ctx, c, t.ID, true)
	if err != nil {
		return kumo.Thing{}, err
	}
	if !ok {
		return kumo.Thing{}, kumo.Unauthorized(c, "Only the thing, its owners and the admin may use the states of thing %s", t.ID)
	}
	return t, nil
}

// WriteStates implements kumo.StateService.
func (s *StateService) WriteStates(ctx context.Context, c kumo.Caller, thingID string, writes []kumo.StateWrite) (bool, error) {
	t, err := s.target(ctx, c, thingID)
	if err != nil {
		return false, err
	}
	var aliases []string
	for _, w := range writes {
		aliases = append(aliases, w.Aliases()...)
	}
	if err := s.thingTypes.checkAliases(ctx, c.AppID, t, aliases); err != nil {
		return false, err
	}
	created, err := s.write(ctx, c.AppID, t.ID, writes)
	if s.db.dialect.IsUniqueViolation(err) {
		// Another first write of the thing's state at the same moment.
		created, err = s.write(ctx, c.AppID, t.ID, writes)
	}
	return created, err
}

func (s *StateService) write(ctx context.Context, appID, thingID string, writes []kumo.StateWrite) (created bool, err error) {
	now := s.db.now()
	err = s.db.writeTx(ctx, func(tx *Tx) error {
		// The thing may have been deleted since it was read: its state
		// must not outlive it.
		exists, err := rowExists(ctx, tx, tx.db.locks.LockShared("SELECT 1 FROM things WHERE app_id = ? AND id = ?"), appID, thingID)
		if err != nil {
			return err
		}
		if !exists {
			return kumo.Errorf(kumo.ErrTargetNotFound, "Target thing:%s was not found", thingID).With("appID", appID)
		}
		var doc string
		err = tx.QueryRow(ctx, tx.db.locks.LockUpdate("SELECT state FROM states WHERE app_id = ? AND thing_id = ?"), appID, thingID).Scan(&doc)
		created = errors.Is(err, sql.ErrNoRows)
		if err != nil && !created {
			return err
		}
		var before map[string]any
		if !created {
			if before, err = decodeState(doc); err != nil {
				return err
			}
		}
		for _, w := range writes {
			after, history, err := kumo.ApplyStateWrite(before, w)
			if err != nil {
				return err
			}
			at := w.At
			if at == 0 {
				at = now
			}
			for alias, fields := range history {
				b, err := json.Marshal(fields)
				if err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, "INSERT INTO state_history (app_id, thing_id, alias, created, state) VALUES (?, ?, ?, ?, ?)",
					appID, thingID, alias, at, string(b)); err != nil {
					return err
				}
			}
			for _, fn := range s.stateWritten {
				if err := fn(ctx, tx, kumo.StateChange{AppID: appID, ThingID: thingID, Before: before, After: after, At: at}); err != nil {
					return err
				}
			}
			before = after
		}
		b, err := json.Marshal(before)
		if err != nil {
			return err
		}
		if created {
			_, err = tx.Exec(ctx, "INSERT INTO states (app_id, thing_id, state, created, modified) VALUES (?, ?, ?, ?, ?)",
				appID, thingID, string(b), now, now)
		} else {
			_, err = tx.Exec(ctx, "UPDATE states SET state = ?, modified = ? WHERE app_id = ? AND thing_id = ?",
				string(b), now, appID, thingID)
		}
		return err
	})
	return created, err
}

// decodeState decodes a stored state document, numbers as json.Number.
func decodeState(doc string) (map[string]any, error) {
	d := json.NewDecoder(strings.NewReader(doc))
	d.UseNumber()
	var m map[string]any
	err := d.Decode(&m)
	return m, err
}

// State implements kumo.StateService. A thing that never wrote a state
// has the empty document; an alias it never wrote is STATE_NOT_FOUND.
func (s *StateService) State(ctx context.Context, c kumo.Caller, thingID, alias string) (map[string]any, error) {
	t, err := s.target(ctx, c, thingID)
	if err != nil {
		return nil, err
	}
	var doc string
	err = s.db.queryRow(ctx, "SELECT state FROM states WHERE app_id = ? AND thing_id = ?", c.AppID, t.ID).Scan(&doc)
	state := map[string]any{}
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return nil, err
	default:
		if state, err = decodeState(doc); err != nil {
			return nil, err
		}
	}
	if alias == "" {
		return state, nil
	}
	fields, ok := state[alias].(map[string]any)
	if !ok {
		return nil, kumo.Errorf(kumo.ErrStateNotFound, "Thing %s has no state for alias %s", t.ID, alias)
	}
	return fields, nil
}

// QueryStates implements kumo.StateService. It reads the alias's
// history in order of time, within the query's time range and after its
// pagination key, at most kumo.MaxStateQueryScan states, and evaluates
// the query over them (kumo.RunStateQuery).
func (s *StateService) QueryStates(ctx context.Context, c kumo.Caller, thingID, alias string, q kumo.StateQuery) (kumo.StateQueryResult, error) {
	t, err := s.target(ctx, c, thingID)
	if err != nil {
		return kumo.StateQueryResult{}, err
	}
	var one int
	err = s.db.queryRow(ctx, "SELECT 1 FROM state_history WHERE app_id = ? AND thing_id = ? AND alias = ? LIMIT 1", c.AppID, t.ID, alias).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return kumo.StateQueryResult{}, kumo.Errorf(kumo.ErrStateHistoryNotAvailable, "Time series bucket does not exist")
	}
	if err != nil {
		return kumo.StateQueryResult{}, err
	}
	var interval int64
	if q.Grouped {
		if interval, err = s.thingTypes.groupingInterval(ctx, c.AppID, t, alias, q.FirmwareVersion); err != nil {
			return kumo.StateQueryResult{}, err
		}
	}
	query := "SELECT state, created, seq FROM state_history WHERE app_id = ? AND thing_id = ? AND alias = ?"
	args := []any{c.AppID, t.ID, alias}
	if lo, hi, ok := q.Clause.TimeRange(); ok {
		query += " AND created >= ? AND created <= ?"
		args = append(args, lo, hi)
	}
	if q.PaginationKey != "" && !q.Grouped {
		created, seq, err := kumo.ParseStateQueryKey(q.PaginationKey)
		if err != nil {
			return kumo.StateQueryResult{}, err
		}
		query += " AND (created > ? OR (created = ? AND seq > ?))"
		args = append(args, created, created, seq)
	}
	query += " ORDER BY created, seq LIMIT ?"
	args = append(args, kumo.MaxStateQueryScan+1)
	rows, err := s.db.query(ctx, query, args...)
	if err != nil {
		return kumo.StateQueryResult{}, err
	}
	defer rows.Close()
	var history []kumo.HistoryState
	for rows.Next() {
		var (
			h   kumo.HistoryState
			doc string
		)
		if err := rows.Scan(&doc, &h.Created, &h.Seq); err != nil {
			return kumo.StateQueryResult{}, err
		}
		if h.State, err = decodeState(doc); err != nil {
			return kumo.StateQueryResult{}, err
		}
		history = append(history, h)
	}
	if err := rows.Err(); err != nil {
		return kumo.StateQueryResult{}, err
	}
	more := len(history) > kumo.MaxStateQueryScan
	if more {
		history = history[:kumo.MaxStateQueryScan]
	}
	return kumo.RunStateQuery(history, more, q, interval)
}

// PruneStateHistory deletes the history states generated before before
// (epoch ms), 10,000 per write transaction, and returns how many it
// deleted.
func (s *StateService) PruneStateHistory(ctx context.Context, before int64) (int64, error) {
	var total int64
	for {
		var n int64
		err := s.db.writeTx(ctx, func(tx *Tx) error {
			res, err := tx.Exec(ctx, `DELETE FROM state_history WHERE seq IN
				(SELECT seq FROM state_history WHERE created < ? LIMIT 10000)`, before)
			if err == nil {
				n, _ = res.RowsAffected()
			}
			return err
		})
		total += n
		if err != nil || n < 10000 {
			return total, err
		}
	}
}

// OnStateWritten adds fn to the functions called inside the write
// transaction of every state written (see stateWritten).
func (s *StateService) OnStateWritten(fn func(ctx context.Context, tx *Tx, ch kumo.StateChange) error) {
	s.stateWritten = append(s.stateWritten, fn)
}
