package kumo

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"strconv"
	"strings"
	"time"
)

// TriggersWhat is what a Thing-IF trigger does when it fires.
type TriggersWhat string

// What a trigger does.
const (
	TriggersCommand    TriggersWhat = "COMMAND"     // sends its command to a thing
	TriggersServerCode TriggersWhat = "SERVER_CODE" // runs server code
)

// EventSource is what a trigger's predicate watches.
type EventSource string

// The event sources of a predicate.
const (
	EventStates       EventSource = "STATES"        // the thing's state, through a condition
	EventSchedule     EventSource = "SCHEDULE"      // a recurring cron schedule
	EventScheduleOnce EventSource = "SCHEDULE_ONCE" // a one-time schedule
)

// TriggersWhen is when a state predicate fires.
type TriggersWhen string

// When a state predicate fires, each state written.
const (
	// WhenConditionTrue fires on every state written where the condition holds.
	WhenConditionTrue TriggersWhen = "CONDITION_TRUE"
	// WhenConditionFalseToTrue fires when the condition did not hold on the
	// state before (or there was none) and holds on the state written.
	WhenConditionFalseToTrue TriggersWhen = "CONDITION_FALSE_TO_TRUE"
	// WhenConditionChanged fires when the condition's truth differs between
	// the state before (none: false) and the state written.
	WhenConditionChanged TriggersWhen = "CONDITION_CHANGED"
)

// DisabledScheduleOnceFired is the disabledReason of a SCHEDULE_ONCE
// trigger that has fired (a Kumo value: Kii's is not documented).
const DisabledScheduleOnceFired = "SCHEDULE_ONCE_FIRED"

// TriggerClause is a trigger condition: eq {field, value}, not {clause}, range
// {field, upperLimit, upperIncluded, lowerLimit, lowerIncluded}, and/or
// {clauses} or all; eq and range name the trait alias of their field on a
// trait thing.
type TriggerClause struct {
	Type          string          `json:"type"`
	Alias         string          `json:"alias,omitempty"`
	Field         string          `json:"field,omitempty"`
	Value         any             `json:"value,omitempty"`
	Clause        *TriggerClause  `json:"clause,omitempty"`
	Clauses       []TriggerClause `json:"clauses,omitempty"`
	UpperLimit    *json.Number    `json:"upperLimit,omitempty"`
	UpperIncluded *bool           `json:"upperIncluded,omitempty"`
	LowerLimit    *json.Number    `json:"lowerLimit,omitempty"`
	LowerIncluded *bool           `json:"lowerIncluded,omitempty"`
}

// Predicate is when a trigger fires: on a state condition (STATES), on a
// cron schedule (SCHEDULE) or once at a time (SCHEDULE_ONCE).
type Predicate struct {
	EventSource  EventSource    `json:"eventSource"`
	TriggersWhen TriggersWhen   `json:"triggersWhen,omitempty"`
	Condition    *TriggerClause `json:"condition,omitempty"`
	Schedule     string         `json:"schedule,omitempty"`
	ScheduleAt   int64          `json:"scheduleAt,omitempty"` // epoch ms
}

// ServerCode is the server code a SERVER_CODE trigger runs.
type ServerCode struct {
	Endpoint            string         `json:"endpoint"`
	ExecutorAccessToken string         `json:"executorAccessToken,omitempty"`
	TargetAppID         string         `json:"targetAppID,omitempty"`
	Parameters          map[string]any `json:"parameters,omitempty"`
}

// Trigger is a Thing-IF trigger of a thing (its target): what fires it
// and what it does. Its JSON is Kii's trigger document.
type Trigger struct {
	ID           string       `json:"triggerID"`
	ThingID      string       `json:"-"`
	Predicate    Predicate    `json:"predicate"`
	TriggersWhat TriggersWhat `json:"triggersWhat"`
	// Command is the command a COMMAND trigger sends, as its body was
	// given (issuer, actions, title, …), its target written
	// "thing:{thingID}" (the trigger's thing when not given).
	Command    map[string]any `json:"command,omitempty"`
	ServerCode *ServerCode    `json:"serverCode,omitempty"`

	Title          string         `json:"title,omitempty"`
	Description    string         `json:"description,omitempty"`
	Metadata       map[string]any `json:"metadata,omitempty"`
	Disabled       bool           `json:"disabled"`
	DisabledReason string         `json:"disabledReason,omitempty"`
}

// CommandThingID returns the thing a COMMAND trigger's command goes to.
func (t Trigger) CommandThingID() string {
	s, _ := t.Command["target"].(string)
	id, err := ParseTarget(s)
	if err != nil {
		return t.ThingID
	}
	return id
}

// CommandIssuer returns the issuer of a COMMAND trigger's command
// ("user:{id}" or "group:{id}").
func (t Trigger) CommandIssuer() string {
	s, _ := t.Command["issuer"].(string)
	return s
}

// TriggerServerCodeResult is the outcome of one run of a SERVER_CODE
// trigger's server code.
type TriggerServerCodeResult struct {
	Succeeded     bool             `json:"succeeded"`
	ReturnedValue any              `json:"returnedValue,omitempty"`
	ExecutedAt    int64            `json:"executedAt"`
	Endpoint      string           `json:"endpoint"`
	Error         *ServerCodeError `json:"error,omitempty"`
}

// TriggerService manages the Thing-IF triggers of things. Only the admin
// and the thing's owners may use them; thingID is a thing ID.
type TriggerService interface {
	// CreateTrigger stores a new trigger (its ID assigned) and returns it.
	CreateTrigger(ctx context.Context, c Caller, t Trigger) (Trigger, error)
	// Trigger returns one trigger of the thing.
	Trigger(ctx context.Context, c Caller, thingID, triggerID string) (Trigger, error)
	// UpdateTrigger applies a PATCH body to a trigger.
	UpdateTrigger(ctx context.Context, c Caller, thingID, triggerID string, body map[string]any) error
	// SetTriggerEnabled enables or disables a trigger.
	SetTriggerEnabled(ctx context.Context, c Caller, thingID, triggerID string, enabled bool) error
	// DeleteTrigger deletes a trigger.
	DeleteTrigger(ctx context.Context, c Caller, thingID, triggerID string) error
	// Triggers lists the thing's triggers in ID order, at most limit after
	// the pagination key, and the key of the next page ("" at the end).
	Triggers(ctx context.Context, c Caller, thingID, paginationKey string, limit int) ([]Trigger, string, error)
	// ServerCodeResults lists the results of a trigger's server code, the
	// newest first, like Triggers.
	ServerCodeResults(ctx context.Context, c Caller, thingID, triggerID, paginationKey string, limit int) ([]TriggerServerCodeResult, string, error)
}

// ErrWrongTrigger and ErrTriggerNotFound are the errors of triggers.
const (
	ErrWrongTrigger    Code = "WRONG_TRIGGER"     // a trigger body Kumo cannot use (400)
	ErrTriggerNotFound Code = "TRIGGER_NOT_FOUND" // no such trigger of the thing (404)
)

func wrongTrigger(format string, args ...any) *Error {
	return Errorf(ErrWrongTrigger, format, args...)
}

// TriggerNotFound is the error for a trigger the thing does not have.
func TriggerNotFound(thingID, triggerID string) *Error {
	return Errorf(ErrTriggerNotFound, "Trigger %s of thing %s was not found", triggerID, thingID).
		With("triggerID", triggerID)
}

// ParseTrigger reads the body of a new trigger of thing thingID.
// WRONG_TRIGGER when it is not a trigger Kumo can run; now (epoch ms)
// rejects a SCHEDULE_ONCE in the past (0: not checked).
func ParseTrigger(thingID string, body map[string]any, now int64) (Trigger, error) {
	t := Trigger{ThingID: thingID}
	p, ok := body["predicate"].(map[string]any)
	if !ok {
		return t, wrongTrigger("A trigger needs a predicate object")
	}
	var err error
	if t.Predicate, err = parsePredicate(p, now); err != nil {
		return t, err
	}
	what, _ := body["triggersWhat"].(string)
	switch {
	case what == "" && body["serverCode"] != nil && body["command"] == nil:
		what = string(TriggersServerCode)
	case what == "":
		what = string(TriggersCommand)
	}
	t.TriggersWhat = TriggersWhat(what)
	switch t.TriggersWhat {
	case TriggersCommand:
		cmd, ok := body["command"].(map[string]any)
		if !ok {
			return t, wrongTrigger("A COMMAND trigger needs a command object")
		}
		if t.Command, err = parseTriggerCommand(thingID, cmd); err != nil {
			return t, err
		}
	case TriggersServerCode:
		sc, ok := body["serverCode"].(map[string]any)
		if !ok {
			return t, wrongTrigger("A SERVER_CODE trigger needs a serverCode object")
		}
		if t.ServerCode, err = parseServerCode(sc); err != nil {
			return t, err
		}
	default:
		return t, wrongTrigger("triggersWhat must be COMMAND or SERVER_CODE, not %q", what)
	}
	if v, ok := body["title"]; ok && v != nil {
		s, ok := v.(string)
		if !ok || len([]rune(s)) > 50 {
			return t, wrongTrigger("title must be a string of at most 50 characters")
		}
		t.Title = s
	}
	if v, ok := body["description"]; ok && v != nil {
		s, ok := v.(string)
		if !ok || len([]rune(s)) > 200 {
			return t, wrongTrigger("description must be a string of at most 200 characters")
		}
		t.Description = s
	}
	if v, ok := body["metadata"]; ok && v != nil {
		m, ok := v.(map[string]any)
		if !ok {
			return t, wrongTrigger("metadata must be an object")
		}
		t.Metadata = m
	}
	return t, nil
}

// PatchTrigger returns t with a PATCH body applied: each field the body
// has replaces t's (predicate, triggersWhat, command, serverCode, title,
// description, metadata), and the result is checked as a new trigger.
func PatchTrigger(t Trigger, body map[string]any, now int64) (Trigger, error) {
	b, err := json.Marshal(t)
	if err != nil {
		return t, err
	}
	var whole map[string]any
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.UseNumber()
	if err := d.Decode(&whole); err != nil {
		return t, err
	}
	for _, k := range []string{"predicate", "triggersWhat", "command", "serverCode", "title", "description", "metadata"} {
		v, ok := body[k]
		switch {
		case !ok:
		case v == nil && (k == "predicate" || k == "triggersWhat" || k == "command" || k == "serverCode"):
			// null: no change (the JS SDK sends "command": null for a
			// command without a target).
		default:
			whole[k] = v
		}
	}
	if cmd, ok := body["command"].(map[string]any); ok && cmd["target"] == nil && t.Command != nil {
		// A new command without a target goes where the old one went.
		cmd = maps.Clone(cmd)
		cmd["target"] = t.Command["target"]
		whole["command"] = cmd
	}
	if v, ok := body["triggersWhat"].(string); ok {
		// The other kind's target goes: a trigger does one thing.
		switch TriggersWhat(v) {
		case TriggersCommand:
			delete(whole, "serverCode")
		case TriggersServerCode:
			delete(whole, "command")
		}
	}
	if _, ok := body["predicate"]; !ok {
		now = 0 // the schedule is not new
	}
	out, err := ParseTrigger(t.ThingID, whole, now)
	if err != nil {
		return t, err
	}
	out.ID, out.Disabled, out.DisabledReason = t.ID, t.Disabled, t.DisabledReason
	return out, nil
}

func parsePredicate(p map[string]any, now int64) (Predicate, error) {
	src, _ := p["eventSource"].(string)
	out := Predicate{EventSource: EventSource(src)}
	switch out.EventSource {
	case EventStates:
		when, _ := p["triggersWhen"].(string)
		out.TriggersWhen = TriggersWhen(when)
		switch out.TriggersWhen {
		case WhenConditionTrue, WhenConditionFalseToTrue, WhenConditionChanged:
		default:
			return out, wrongTrigger("triggersWhen must be CONDITION_TRUE, CONDITION_FALSE_TO_TRUE or CONDITION_CHANGED, not %q", when)
		}
		c, ok := p["condition"].(map[string]any)
		if !ok {
			return out, wrongTrigger("A STATES predicate needs a condition object")
		}
		cl, err := parseTriggerClause(c, 0)
		if err != nil {
			return out, err
		}
		out.Condition = &cl
	case EventSchedule:
		s, _ := p["schedule"].(string)
		c, err := ParseCron(s)
		if err != nil {
			return out, wrongTrigger("schedule: %v", err)
		}
		if c.Next(time.Unix(0, 0)).IsZero() { // five years from 1970, a leap year among them
			return out, wrongTrigger("The schedule %q never fires", s)
		}
		out.Schedule = s
	case EventScheduleOnce:
		at, ok := intValue(p["scheduleAt"])
		if !ok || at <= 0 {
			return out, wrongTrigger("A SCHEDULE_ONCE predicate needs scheduleAt, a time in epoch milliseconds")
		}
		if now > 0 && at < now {
			return out, wrongTrigger("scheduleAt %d is in the past", at)
		}
		out.ScheduleAt = at
	default:
		return out, wrongTrigger("eventSource must be STATES, SCHEDULE or SCHEDULE_ONCE, not %q", src)
	}
	return out, nil
}

// maxTriggerClauseDepth bounds the nesting of a condition.
const maxTriggerClauseDepth = 16

func parseTriggerClause(m map[string]any, depth int) (TriggerClause, error) {
	if depth > maxTriggerClauseDepth {
		return TriggerClause{}, wrongTrigger("The condition is nested more than %d deep", maxTriggerClauseDepth)
	}
	typ, _ := m["type"].(string)
	c := TriggerClause{Type: typ}
	c.Alias, _ = m["alias"].(string)
	field := func() error {
		c.Field, _ = m["field"].(string)
		if c.Field == "" {
			return wrongTrigger("A %s clause needs a field", typ)
		}
		return nil
	}
	switch typ {
	case "eq":
		if err := field(); err != nil {
			return c, err
		}
		switch v := m["value"].(type) {
		case string, bool, json.Number, float64:
			c.Value = v
		default:
			return c, wrongTrigger("An eq clause needs a value: a string, a number or a boolean")
		}
	case "not":
		in, ok := m["clause"].(map[string]any)
		if !ok {
			return c, wrongTrigger("A not clause needs a clause")
		}
		inner, err := parseTriggerClause(in, depth+1)
		if err != nil {
			return c, err
		}
		if inner.Type != "eq" {
			return c, wrongTrigger("A not clause negates an eq clause only")
		}
		c.Clause = &inner
	case "range":
		if err := field(); err != nil {
			return c, err
		}
		limit := func(name, incl string) (*json.Number, *bool, error) {
			v, ok := m[name]
			if !ok || v == nil {
				return nil, nil, nil
			}
			n, ok := toFloat(v)
			if !ok {
				return nil, nil, wrongTrigger("%s must be a number", name)
			}
			num := json.Number(strconv.FormatFloat(n, 'g', -1, 64))
			if jn, ok := v.(json.Number); ok {
				num = jn
			}
			var inc *bool
			if b, ok := m[incl].(bool); ok {
				inc = &b
			}
			return &num, inc, nil
		}
		var err error
		if c.UpperLimit, c.UpperIncluded, err = limit("upperLimit", "upperIncluded"); err != nil {
			return c, err
		}
		if c.LowerLimit, c.LowerIncluded, err = limit("lowerLimit", "lowerIncluded"); err != nil {
			return c, err
		}
		if c.UpperLimit == nil && c.LowerLimit == nil {
			return c, wrongTrigger("A range clause needs upperLimit or lowerLimit")
		}
	case "and", "or":
		cs, ok := m["clauses"].([]any)
		if !ok || len(cs) == 0 {
			return c, wrongTrigger("An %s clause needs clauses", typ)
		}
		for _, x := range cs {
			xm, ok := x.(map[string]any)
			if !ok {
				return c, wrongTrigger("The clauses of an %s clause are objects", typ)
			}
			in, err := parseTriggerClause(xm, depth+1)
			if err != nil {
				return c, err
			}
			c.Clauses = append(c.Clauses, in)
		}
	case "all":
	default:
		return c, wrongTrigger("A clause's type is eq, not, range, and, or or all, not %q", typ)
	}
	return c, nil
}

func parseTriggerCommand(thingID string, m map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	target := "thing:" + thingID
	if v, ok := m["target"]; ok && v != nil {
		s, _ := v.(string)
		id, err := ParseTarget(s)
		if err != nil {
			return nil, wrongTrigger("The command's target must be thing:{thingID}, not %q", s)
		}
		target = "thing:" + id
	}
	out["target"] = target
	issuer, _ := m["issuer"].(string)
	kind, id, _ := strings.Cut(issuer, ":")
	kind = strings.ToLower(kind)
	if (kind != "user" && kind != "group") || id == "" {
		return nil, wrongTrigger("The command's issuer must be user:{userID} or group:{groupID}")
	}
	out["issuer"] = kind + ":" + id
	if as, ok := m["actions"].([]any); !ok || len(as) == 0 {
		return nil, wrongTrigger("The command needs actions, a non-empty array")
	}
	if _, err := ParseCommand(out); err != nil {
		return nil, wrongTrigger("The command is not valid: %s", ErrorMessage(err))
	}
	return out, nil
}

// FiredCommand returns the command a COMMAND trigger sends when it fires.
func (t Trigger) FiredCommand() (Command, error) {
	cmd, err := ParseCommand(t.Command)
	if err != nil {
		return cmd, err
	}
	cmd.ThingID, cmd.FiredByTriggerID = t.CommandThingID(), t.ID
	return cmd, nil
}

func parseServerCode(m map[string]any) (*ServerCode, error) {
	sc := &ServerCode{}
	sc.Endpoint, _ = m["endpoint"].(string)
	if sc.Endpoint == "" {
		return nil, wrongTrigger("serverCode needs an endpoint")
	}
	sc.ExecutorAccessToken, _ = m["executorAccessToken"].(string)
	sc.TargetAppID, _ = m["targetAppID"].(string)
	if v, ok := m["parameters"]; ok && v != nil {
		p, ok := v.(map[string]any)
		if !ok {
			return nil, wrongTrigger("serverCode's parameters must be an object")
		}
		sc.Parameters = p
	}
	return sc, nil
}

// FirstFire returns when a schedule predicate first fires after now
// (epoch ms), false for a state predicate or a schedule that never fires.
func (p Predicate) FirstFire(now int64) (int64, bool) {
	switch p.EventSource {
	case EventSchedule:
		return p.NextFire(now)
	case EventScheduleOnce:
		return p.ScheduleAt, true
	}
	return 0, false
}

// NextFire returns when a SCHEDULE predicate fires next strictly after
// after (epoch ms); false for other predicates.
func (p Predicate) NextFire(after int64) (int64, bool) {
	if p.EventSource != EventSchedule {
		return 0, false
	}
	c, err := ParseCron(p.Schedule)
	if err != nil {
		return 0, false
	}
	next := c.Next(time.UnixMilli(after))
	if next.IsZero() {
		return 0, false
	}
	return next.UnixMilli(), true
}

// Fires reports whether a STATES predicate fires on a state written:
// before is the thing's state before the write (nil when it had none),
// after the state written. A trait thing's states are alias → fields,
// and the clauses name the alias; other things' are the fields.
func (p Predicate) Fires(before, after map[string]any) bool {
	if p.EventSource != EventStates || p.Condition == nil {
		return false
	}
	now := p.Condition.Eval(after)
	was := before != nil && p.Condition.Eval(before)
	switch p.TriggersWhen {
	case WhenConditionTrue:
		return now
	case WhenConditionFalseToTrue:
		return now && !was
	case WhenConditionChanged:
		return now != was
	}
	return false
}

// Eval reports whether the clause holds on a state.
func (c TriggerClause) Eval(state map[string]any) bool {
	switch c.Type {
	case "all":
		return true
	case "not":
		return c.Clause != nil && !c.Clause.Eval(state)
	case "and":
		for _, in := range c.Clauses {
			if !in.Eval(state) {
				return false
			}
		}
		return len(c.Clauses) > 0
	case "or":
		for _, in := range c.Clauses {
			if in.Eval(state) {
				return true
			}
		}
		return false
	case "eq":
		v, ok := c.lookup(state)
		return ok && jsonEqual(v, c.Value)
	case "range":
		v, ok := c.lookup(state)
		if !ok {
			return false
		}
		n, ok := toFloat(v)
		if !ok {
			return false
		}
		if c.LowerLimit != nil {
			lo, err := c.LowerLimit.Float64()
			if err != nil || n < lo || (n == lo && !included(c.LowerIncluded)) {
				return false
			}
		}
		if c.UpperLimit != nil {
			hi, err := c.UpperLimit.Float64()
			if err != nil || n > hi || (n == hi && !included(c.UpperIncluded)) {
				return false
			}
		}
		return true
	}
	return false
}

// included reads an upperIncluded/lowerIncluded: true when absent, as
// Kii's SDKs send it for the inclusive forms.
func included(b *bool) bool { return b == nil || *b }

// lookup finds the clause's field in a state: under its alias when it
// names one, else at the top level.
func (c TriggerClause) lookup(state map[string]any) (any, bool) {
	if c.Alias != "" {
		a, ok := state[c.Alias].(map[string]any)
		if !ok {
			return nil, false
		}
		v, ok := a[c.Field]
		return v, ok
	}
	v, ok := state[c.Field]
	return v, ok
}

// intValue reads a whole JSON number.
func intValue(v any) (int64, bool) {
	switch n := v.(type) {
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	case float64:
		if n != math.Trunc(n) {
			return 0, false
		}
		return int64(n), true
	case int64:
		return n, true
	case int:
		return int64(n), true
	}
	return 0, false
}

// String describes the trigger for logs.
func (t Trigger) String() string {
	return fmt.Sprintf("trigger %s of thing %s (%s, %s)", t.ID, t.ThingID, t.Predicate.EventSource, t.TriggersWhat)
}

// NewTriggerID returns a new trigger ID, in the UUID form of Kii's.
func NewTriggerID() string {
	h := RandomHex(16)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
