package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/kumo-iot/kumo"
)

// TriggerService implements kumo.TriggerService: the Thing-IF triggers of
// things (table triggers), and their firing: a STATES trigger within the
// transaction of the state write that fires it (stateWritten), a
// schedule by the TriggerScheduler (FireDue), each sending its command
// in that same transaction, so that a fire is never lost nor doubled.
type TriggerService struct {
	db     *DB
	things *ThingService

	commands *CommandService // sends the commands of COMMAND triggers (createInTx)
	hooks    *HookService    // queues the runs of SERVER_CODE triggers (enqueueThingIF)
}

var _ kumo.TriggerService = (*TriggerService)(nil)

// Trigger listing limits (bestEffortLimit).
const (
	defaultTriggerLimit = 100
	maxTriggerLimit     = 1000
)

// triggerLimit bounds a listing's bestEffortLimit.
func triggerLimit(n int) int {
	switch {
	case n <= 0:
		return defaultTriggerLimit
	case n > maxTriggerLimit:
		return maxTriggerLimit
	}
	return n
}

// managedThing checks that c may manage the triggers of thing thingID:
// the admin or an owner (THING_NOT_FOUND, UNAUTHORIZED otherwise).
func (s *TriggerService) managedThing(ctx context.Context, c kumo.Caller, thingID string) error {
	_, err := s.things.thingFor(ctx, c, thingID, false, "Managing the triggers of")
	return err
}

// checkCommand checks a COMMAND trigger's command: its target thing
// exists and c manages it, and its issuer is an owner of it.
func (s *TriggerService) checkCommand(ctx context.Context, c kumo.Caller, t kumo.Trigger) error {
	if t.TriggersWhat != kumo.TriggersCommand {
		return nil
	}
	target := t.CommandThingID()
	if target != t.ThingID {
		if err := s.managedThing(ctx, c, target); err != nil {
			return err
		}
	}
	kind, id, _ := strings.Cut(t.CommandIssuer(), ":")
	var n int
	err := s.db.queryRow(ctx, "SELECT COUNT(*) FROM thing_owners WHERE app_id = ? AND thing_id = ? AND owner_kind = ? AND owner_id = ?",
		c.AppID, target, kind, id).Scan(&n)
	if err != nil {
		return err
	}
	if n == 0 {
		return kumo.Errorf(kumo.ErrWrongTrigger, "The command's issuer %s is not an owner of thing %s", t.CommandIssuer(), target)
	}
	// A user issues a trigger's commands as himself or as a group he is
	// in, as he issues his own (CommandService.Create).
	if c.Kind == kumo.UserCaller {
		is, err := s.things.isOwnerSubject(ctx, c, kumo.ThingOwner{Kind: kumo.OwnerKind(kind), ID: id})
		if err != nil {
			return err
		}
		if !is {
			return kumo.Unauthorized(c, "A user issues commands as himself or as a group he is a member of")
		}
	}
	// What would make every fire fail is refused now: a command too
	// large to push, or naming an alias the thing's configuration lacks.
	cmd, err := t.FiredCommand()
	if err == nil {
		_, err = cmd.Delivery()
	}
	if err == nil {
		err = s.commands.thingTypes.CheckAliases(ctx, c.AppID, target, cmd.Aliases())
	}
	if kumo.ErrorCode(err) == kumo.ErrWrongCommand {
		return kumo.Errorf(kumo.ErrWrongTrigger, "The trigger's command: %s", kumo.ErrorMessage(err))
	}
	return err
}

// commandNames returns the columns that name what a COMMAND trigger's
// command needs (the trigger goes when one is deleted): its thing and
// its issuer's kind and ID; "" for a SERVER_CODE trigger.
func commandNames(t kumo.Trigger) (thingID, issuerKind, issuerID string) {
	if t.TriggersWhat != kumo.TriggersCommand {
		return "", "", ""
	}
	kind, id, _ := strings.Cut(t.CommandIssuer(), ":")
	return t.CommandThingID(), kind, id
}

// nextFire is the next_fire_at of an enabled trigger: when its schedule
// fires next after now, NULL for a state trigger.
func nextFire(t kumo.Trigger, now int64) any {
	if at, ok := t.Predicate.FirstFire(now); ok {
		return at
	}
	return nil
}

// CreateTrigger implements kumo.TriggerService.
func (s *TriggerService) CreateTrigger(ctx context.Context, c kumo.Caller, t kumo.Trigger) (kumo.Trigger, error) {
	if err := s.managedThing(ctx, c, t.ThingID); err != nil {
		return t, err
	}
	if err := s.checkCommand(ctx, c, t); err != nil {
		return t, err
	}
	now := s.db.now()
	if t.Predicate.EventSource == kumo.EventScheduleOnce && t.Predicate.ScheduleAt < now {
		return t, kumo.Errorf(kumo.ErrWrongTrigger, "scheduleAt %d is in the past", t.Predicate.ScheduleAt)
	}
	t.ID, t.Disabled, t.DisabledReason = kumo.NewTriggerID(), false, ""
	body, err := json.Marshal(t)
	if err != nil {
		return t, err
	}
	err = s.db.writeTx(ctx, func(tx *Tx) error {
		target, kind, issuer := commandNames(t)
		_, err := tx.Exec(ctx, `INSERT INTO triggers (app_id, id, thing_id, event_source, command_thing_id, issuer_kind, issuer_id,
			body, disabled, disabled_reason, next_fire_at, created_at, modified_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, '', ?, ?, ?)`,
			c.AppID, t.ID, t.ThingID, string(t.Predicate.EventSource), target, kind, issuer, string(body), nextFire(t, now), now, now)
		return err
	})
	return t, err
}

const triggerColumns = "id, thing_id, body, disabled, disabled_reason"

// scanTrigger reads a row of triggerColumns.
func scanTrigger(row interface{ Scan(...any) error }) (kumo.Trigger, error) {
	var (
		t    kumo.Trigger
		body string
	)
	if err := row.Scan(&t.ID, &t.ThingID, &body, &t.Disabled, &t.DisabledReason); err != nil {
		return t, err
	}
	d := json.NewDecoder(strings.NewReader(body))
	d.UseNumber()
	var doc kumo.Trigger
	if err := d.Decode(&doc); err != nil {
		return t, fmt.Errorf("trigger %s: %w", t.ID, err)
	}
	doc.ID, doc.ThingID, doc.Disabled, doc.DisabledReason = t.ID, t.ThingID, t.Disabled, t.DisabledReason
	return doc, nil
}

// trigger reads one trigger of a thing (TRIGGER_NOT_FOUND).
func (s *TriggerService) trigger(ctx context.Context, appID, thingID, triggerID string) (kumo.Trigger, error) {
	t, err := scanTrigger(s.db.queryRow(ctx, "SELECT "+triggerColumns+" FROM triggers WHERE app_id = ? AND id = ? AND thing_id = ?",
		appID, triggerID, thingID))
	if errors.Is(err, sql.ErrNoRows) {
		return t, kumo.TriggerNotFound(thingID, triggerID)
	}
	return t, err
}

// Trigger implements kumo.TriggerService.
func (s *TriggerService) Trigger(ctx context.Context, c kumo.Caller, thingID, triggerID string) (kumo.Trigger, error) {
	if err := s.managedThing(ctx, c, thingID); err != nil {
		return kumo.Trigger{}, err
	}
	return s.trigger(ctx, c.AppID, thingID, triggerID)
}

// UpdateTrigger implements kumo.TriggerService. A new predicate of an
// enabled trigger sets when it fires next.
func (s *TriggerService) UpdateTrigger(ctx context.Context, c kumo.Caller, thingID, triggerID string, body map[string]any) error {
	if err := s.managedThing(ctx, c, thingID); err != nil {
		return err
	}
	old, err := s.trigger(ctx, c.AppID, thingID, triggerID)
	if err != nil {
		return err
	}
	now := s.db.now()
	t, err := kumo.PatchTrigger(old, body, now)
	if err != nil {
		return err
	}
	if err := s.checkCommand(ctx, c, t); err != nil {
		return err
	}
	doc, err := json.Marshal(t)
	if err != nil {
		return err
	}
	_, newPredicate := body["predicate"]
	return s.db.writeTx(ctx, func(tx *Tx) error {
		target, kind, issuer := commandNames(t)
		q, args := "UPDATE triggers SET body = ?, event_source = ?, command_thing_id = ?, issuer_kind = ?, issuer_id = ?, modified_at = ?",
			[]any{string(doc), string(t.Predicate.EventSource), target, kind, issuer, now}
		if newPredicate {
			q, args = q+", next_fire_at = CASE WHEN disabled = 0 THEN CAST(? AS BIGINT) ELSE NULL END", append(args, nextFire(t, now))
		}
		res, err := tx.Exec(ctx, q+" WHERE app_id = ? AND id = ? AND thing_id = ?", append(args, c.AppID, triggerID, thingID)...)
		return oneRow(res, err, kumo.TriggerNotFound(thingID, triggerID))
	})
}

// oneRow turns a statement that changed no row into notFound.
func oneRow(res sql.Result, err error, notFound error) error {
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return notFound
	}
	return nil
}

// SetTriggerEnabled implements kumo.TriggerService. Enabling a schedule
// sets when it fires next after now (the times passed while it was
// disabled do not fire); a SCHEDULE_ONCE whose time has passed stays
// enabled and does not fire.
func (s *TriggerService) SetTriggerEnabled(ctx context.Context, c kumo.Caller, thingID, triggerID string, enabled bool) error {
	if err := s.managedThing(ctx, c, thingID); err != nil {
		return err
	}
	t, err := s.trigger(ctx, c.AppID, thingID, triggerID)
	if err != nil {
		return err
	}
	now := s.db.now()
	var next any
	if enabled {
		next = nextFire(t, now)
		if t.Predicate.EventSource == kumo.EventScheduleOnce && t.Predicate.ScheduleAt < now {
			next = nil
		}
	}
	return s.db.writeTx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(ctx, "UPDATE triggers SET disabled = ?, disabled_reason = '', next_fire_at = ?, modified_at = ? WHERE app_id = ? AND id = ? AND thing_id = ?",
			boolInt(!enabled), next, now, c.AppID, triggerID, thingID)
		return oneRow(res, err, kumo.TriggerNotFound(thingID, triggerID))
	})
}

// DeleteTrigger implements kumo.TriggerService: the trigger and its
// server-code results go.
func (s *TriggerService) DeleteTrigger(ctx context.Context, c kumo.Caller, thingID, triggerID string) error {
	if err := s.managedThing(ctx, c, thingID); err != nil {
		return err
	}
	return s.db.writeTx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(ctx, "DELETE FROM triggers WHERE app_id = ? AND id = ? AND thing_id = ?", c.AppID, triggerID, thingID)
		if err := oneRow(res, err, kumo.TriggerNotFound(thingID, triggerID)); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, "DELETE FROM trigger_server_code_results WHERE app_id = ? AND trigger_id = ?", c.AppID, triggerID)
		return err
	})
}

// Triggers implements kumo.TriggerService.
func (s *TriggerService) Triggers(ctx context.Context, c kumo.Caller, thingID, paginationKey string, limit int) ([]kumo.Trigger, string, error) {
	if err := s.managedThing(ctx, c, thingID); err != nil {
		return nil, "", err
	}
	limit = triggerLimit(limit)
	rows, err := s.db.query(ctx, "SELECT "+triggerColumns+" FROM triggers WHERE app_id = ? AND thing_id = ? AND id > ? ORDER BY id LIMIT ?",
		c.AppID, thingID, paginationKey, limit+1)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	out := []kumo.Trigger{}
	for rows.Next() {
		t, err := scanTrigger(rows)
		if err != nil {
			return nil, "", err
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > limit {
		out, next = out[:limit], out[limit-1].ID
	}
	return out, next, nil
}

// ServerCodeResults implements kumo.TriggerService.
func (s *TriggerService) ServerCodeResults(ctx context.Context, c kumo.Caller, thingID, triggerID, paginationKey string, limit int) ([]kumo.TriggerServerCodeResult, string, error) {
	if err := s.managedThing(ctx, c, thingID); err != nil {
		return nil, "", err
	}
	if _, err := s.trigger(ctx, c.AppID, thingID, triggerID); err != nil {
		return nil, "", err
	}
	limit = triggerLimit(limit)
	q, args := "SELECT id, result FROM trigger_server_code_results WHERE app_id = ? AND trigger_id = ?", []any{c.AppID, triggerID}
	if paginationKey != "" {
		q, args = q+" AND id < ?", append(args, paginationKey)
	}
	rows, err := s.db.query(ctx, q+" ORDER BY id DESC LIMIT ?", append(args, limit+1)...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	out, ids := []kumo.TriggerServerCodeResult{}, []string{}
	for rows.Next() {
		var id, result string
		if err := rows.Scan(&id, &result); err != nil {
			return nil, "", err
		}
		var r kumo.TriggerServerCodeResult
		if err := json.Unmarshal([]byte(result), &r); err != nil {
			return nil, "", err
		}
		out, ids = append(out, r), append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > limit {
		out, next = out[:limit], ids[limit-1]
	}
	return out, next, nil
}

// fire does, within tx, what trigger t does when it fires at at (epoch
// ms): sends its command, or queues the run of its server code.
func (s *TriggerService) fire(ctx context.Context, tx *Tx, appID string, t kumo.Trigger, at int64) error {
	switch t.TriggersWhat {
	case kumo.TriggersCommand:
		cmd, err := t.FiredCommand()
		if err == nil {
			err = issuerOwns(ctx, tx, appID, cmd)
		}
		if err == nil {
			_, err = s.commands.createInTx(ctx, tx, appID, cmd)
		}
		var kerr *kumo.Error
		if errors.As(err, &kerr) && kumo.ErrorCode(err) != kumo.ErrInternal {
			// A command that cannot be sent (its thing deleted since, a
			// payload too large) fails neither the state write nor the
			// schedule: the fire is dropped.
			s.db.Log.Warn("trigger: its command was not sent", "app", appID, "trigger", t.ID, "thing", cmd.ThingID, "error", err)
			return nil
		}
		return err
	case kumo.TriggersServerCode:
		// The run is queued in the fire's transaction; a worker runs it
		// and records its result (HookService.Done).
		return s.hooks.enqueueThingIF(ctx, tx, appID, t, at)
	}
	return fmt.Errorf("sqlstore: %s does nothing", t)
}

// issuerOwns checks, within tx, that the issuer of a trigger's command
// still owns the command's thing (WRONG_COMMAND: the fire is dropped).
func issuerOwns(ctx context.Context, tx *Tx, appID string, cmd kumo.Command) error {
	o := cmd.IssuerOwner()
	var n int
	if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM thing_owners WHERE app_id = ? AND thing_id = ? AND owner_kind = ? AND owner_id = ?",
		appID, cmd.ThingID, string(o.Kind), o.ID).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return kumo.Errorf(kumo.ErrWrongCommand, "The issuer %s no longer owns thing %s", cmd.Issuer, cmd.ThingID)
	}
	return nil
}

// stateWritten fires, within tx (the state write's: a fire commits with
// the state that caused it, or neither does), the enabled STATES
// triggers of the thing whose predicate fires on the state written. It
// is one of the StateService's stateWritten hooks (sqlstore.New).
func (s *TriggerService) stateWritten(ctx context.Context, tx *Tx, ch kumo.StateChange) error {
	return s.stateChanged(ctx, tx, ch.AppID, ch.ThingID, ch.Before, ch.After, ch.At)
}

// stateChanged fires, within tx (the state write's), the enabled STATES
// triggers of thing thingID whose predicate fires on the state written
// (before: the state before, nil for the first).
func (s *TriggerService) stateChanged(ctx context.Context, tx *Tx, appID, thingID string, before, after map[string]any, at int64) error {
	rows, err := tx.Query(ctx, "SELECT "+triggerColumns+" FROM triggers WHERE app_id = ? AND thing_id = ? AND event_source = ? AND disabled = 0 ORDER BY id",
		appID, thingID, string(kumo.EventStates))
	if err != nil {
		return err
	}
	var ts []kumo.Trigger
	for rows.Next() {
		t, err := scanTrigger(rows)
		if err != nil {
			rows.Close()
			return err
		}
		ts = append(ts, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, t := range ts {
		if !t.Predicate.Fires(before, after) {
			continue
		}
		if err := s.fire(ctx, tx, appID, t, at); err != nil {
			return err
		}
	}
	return nil
}

// dueTrigger is a schedule trigger whose time has come.
type dueTrigger struct {
	appID string
	due   int64
	t     kumo.Trigger
}

// FireDue fires every enabled schedule trigger due at now (its
// next_fire_at passed), at most limit, and returns how many this call
// fired. Each fire is one write: a conditional UPDATE claims the trigger
// (moves next_fire_at from the due time read to the next time after now,
// or, for SCHEDULE_ONCE, disables it) and, when it changed the row, the
// command is inserted in the same transaction. Nodes that read the same
// due trigger race for that UPDATE: one wins, the others change nothing
// and fire nothing. Times missed while no node ran fire once.
func (s *TriggerService) FireDue(ctx context.Context, limit int) (int, error) {
	now := s.db.now()
	rows, err := s.db.query(ctx, "SELECT app_id, next_fire_at, "+triggerColumns+" FROM triggers WHERE next_fire_at <= ? AND disabled = 0 ORDER BY next_fire_at LIMIT ?", now, limit)
	if err != nil {
		return 0, err
	}
	var due []dueTrigger
	for rows.Next() {
		var d dueTrigger
		var id, thingID, body, reason string
		var disabled bool
		if err := rows.Scan(&d.appID, &d.due, &id, &thingID, &body, &disabled, &reason); err != nil {
			rows.Close()
			return 0, err
		}
		t, err := scanTrigger(rowOf{id, thingID, body, disabled, reason})
		if err != nil {
			s.db.Log.Warn("trigger: unreadable", "app", d.appID, "trigger", id, "err", err)
			continue
		}
		d.t = t
		due = append(due, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	fired := 0
	for _, d := range due {
		ok, err := s.fireScheduled(ctx, d, now)
		if err != nil {
			return fired, err
		}
		if ok {
			fired++
		}
	}
	return fired, nil
}

// fireScheduled claims and fires one due schedule trigger; false when
// another node claimed it first (or it changed meanwhile).
func (s *TriggerService) fireScheduled(ctx context.Context, d dueTrigger, now int64) (bool, error) {
	claimed := false
	err := s.db.writeTx(ctx, func(tx *Tx) error {
		claimed = false
		var res sql.Result
		var err error
		if next, ok := d.t.Predicate.NextFire(now); ok {
			res, err = tx.Exec(ctx, "UPDATE triggers SET next_fire_at = ? WHERE app_id = ? AND id = ? AND next_fire_at = ? AND disabled = 0",
				next, d.appID, d.t.ID, d.due)
		} else {
			// SCHEDULE_ONCE (or a schedule with no time left): fired for good.
			res, err = tx.Exec(ctx, "UPDATE triggers SET next_fire_at = NULL, disabled = 1, disabled_reason = ?, modified_at = ? WHERE app_id = ? AND id = ? AND next_fire_at = ? AND disabled = 0",
				kumo.DisabledScheduleOnceFired, now, d.appID, d.t.ID, d.due)
		}
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		claimed = true
		// What fires is the trigger as it is now (a PATCH since it was
		// read keeps its time but may change its command).
		t, err := scanTrigger(tx.QueryRow(ctx, "SELECT "+triggerColumns+" FROM triggers WHERE app_id = ? AND id = ?", d.appID, d.t.ID))
		if err != nil {
			return err
		}
		return s.fire(ctx, tx, d.appID, t, now)
	})
	return claimed && err == nil, err
}

// rowOf feeds values already read to scanTrigger.
type rowOf struct {
	id, thingID, body string
	disabled          bool
	reason            string
}

func (r rowOf) Scan(dest ...any) error {
	*dest[0].(*string), *dest[1].(*string), *dest[2].(*string) = r.id, r.thingID, r.body
	*dest[3].(*bool), *dest[4].(*string) = r.disabled, r.reason
	return nil
}
