package kumo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"unicode/utf8"
)

// CommandState is where a Thing-IF command stands (push-mqtt §7.2).
type CommandState string

// Command states. A command is SENDING from its creation until its thing
// reports results: DONE when every action has a result and all
// succeeded, INCOMPLETE when one failed or is missing. SEND_FAILED is
// Kii's state of a command that could not be delivered; Kumo's outbox
// delivers every committed command, so it never sets it.
const (
	CommandSending    CommandState = "SENDING"
	CommandSendFailed CommandState = "SEND_FAILED"
	CommandIncomplete CommandState = "INCOMPLETE"
	CommandDone       CommandState = "DONE"
)

// Limits of a command's fields (Kii's documentation: a title of at most
// 50 characters; the SDKs: a description of at most 200).
const (
	MaxCommandTitle       = 50
	MaxCommandDescription = 200
	// CommandListLimit caps bestEffortLimit of a command listing; it is
	// also the default.
	CommandListLimit = 100
)

// Command is a Thing-IF command to a thing: actions for it to run, and
// the results it reports.
type Command struct {
	ID      string
	ThingID string
	// Issuer is the owner who issues it: "user:{id}" or "group:{id}".
	Issuer string
	// Actions are the actions as given: trait commands
	// [{alias:[{action:value}…]}…], non-trait commands
	// [{action:{params}}…] with Schema and SchemaVersion.
	Actions json.RawMessage
	// ActionResults mirror the actions' nesting; nil until the thing
	// reports.
	ActionResults    json.RawMessage
	State            CommandState
	FiredByTriggerID string
	Title            string
	Description      string
	Metadata         json.RawMessage // a JSON object, nil when absent
	Schema           string          // non-trait commands only
	SchemaVersion    int
	CreatedAt        int64 // epoch ms
	ModifiedAt       int64 // epoch ms
}

// Trait reports whether c is a command of the trait model (it has no
// schema).
func (c Command) Trait() bool { return c.Schema == "" }

// Target returns the command's target as written on the wire:
// "thing:{thingID}".
func (c Command) Target() string { return "thing:" + c.ThingID }

// IssuerOwner returns the issuer as a thing owner.
func (c Command) IssuerOwner() ThingOwner {
	o, _ := ParseThingOwner(c.Issuer) // validated by ParseCommand
	return o
}

// wrongCommand is the error of a command body Kii refuses: 400
// WRONG_COMMAND (push-mqtt §7.2).
func wrongCommand(format string, args ...any) *Error {
	return Errorf(ErrWrongCommand, format, args...)
}

// ParseCommand validates the body of a command creation (and a trigger's
// command): issuer (user:{id} or group:{id}, the prefix in any case) and
// actions are required; a body with a schema is a non-trait command
// (schemaVersion, an integer, required; actions [{action:{params}}…]),
// one without (or with an empty one) a trait command (actions
// [{alias:[{action:value}…]}…], any schemaVersion ignored);
// title (at most 50 characters), description (at most 200), metadata (an
// object) and firedByTriggerID are optional; a target (thing:{id}), when
// present, sets ThingID. Any fault is 400 WRONG_COMMAND.
func ParseCommand(body map[string]any) (Command, error) {
	var c Command
	str := func(key string) (string, error) {
		v, ok := body[key]
		if !ok || v == nil {
			return "", nil
		}
		s, ok := v.(string)
		if !ok {
			return "", wrongCommand("%s must be a string", key)
		}
		return s, nil
	}
	issuer, err := str("issuer")
	if err != nil {
		return c, err
	}
	o, err := ParseThingOwner(issuer)
	if err != nil {
		return c, wrongCommand("issuer must be user:{userID} or group:{groupID}")
	}
	c.Issuer = o.String()
	if c.Schema, err = str("schema"); err != nil {
		return c, err
	}
	if c.Schema != "" { // without a schema, a schemaVersion (kii_go sends 0) is ignored
		n, ok := integer(body["schemaVersion"])
		if !ok {
			return c, wrongCommand("A command with a schema needs its schemaVersion, an integer")
		}
		c.SchemaVersion = n
	}
	if c.Actions, err = parseActions(body["actions"], c.Trait()); err != nil {
		return c, err
	}
	if c.Title, err = str("title"); err != nil {
		return c, err
	}
	if utf8.RuneCountInString(c.Title) > MaxCommandTitle {
		return c, wrongCommand("title must be at most %d characters", MaxCommandTitle)
	}
	if c.Description, err = str("description"); err != nil {
		return c, err
	}
	if utf8.RuneCountInString(c.Description) > MaxCommandDescription {
		return c, wrongCommand("description must be at most %d characters", MaxCommandDescription)
	}
	if v, ok := body["metadata"]; ok && v != nil {
		if _, ok := v.(map[string]any); !ok {
			return c, wrongCommand("metadata must be a JSON object")
		}
		if c.Metadata, err = json.Marshal(v); err != nil {
			return c, wrongCommand("metadata must be a JSON object")
		}
	}
	if c.FiredByTriggerID, err = str("firedByTriggerID"); err != nil {
		return c, err
	}
	target, err := str("target")
	if err != nil {
		return c, err
	}
	if target != "" {
		if c.ThingID, err = ParseTarget(target); err != nil {
			return c, wrongCommand("target must be thing:{thingID}")
		}
	}
	return c, nil
}

// integer returns v, a JSON number, as an int when it is a whole number.
func integer(v any) (int, bool) {
	switch n := v.(type) {
	case json.Number:
		i, err := n.Int64()
		if err != nil || i < math.MinInt32 || i > math.MaxInt32 {
			return 0, false
		}
		return int(i), true
	case float64:
		if n != math.Trunc(n) || n < math.MinInt32 || n > math.MaxInt32 {
			return 0, false
		}
		return int(n), true
	case int:
		return n, true
	}
	return 0, false
}

// single returns the one key of v, an object of exactly one member, and
// its value.
func single(v any) (string, any, bool) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return "", nil, false
	}
	for k, x := range m {
		return k, x, k != ""
	}
	return "", nil, false
}

// parseActions checks a command's actions and returns them as JSON.
func parseActions(v any, trait bool) (json.RawMessage, error) {
	list, ok := v.([]any)
	if !ok {
		if v == nil {
			return nil, wrongCommand("At least one action is required")
		}
		return nil, wrongCommand("actions must be an array")
	}
	if len(list) == 0 {
		return nil, wrongCommand("At least one action is required")
	}
	for i, a := range list {
		name, value, ok := single(a)
		if !ok {
			return nil, wrongCommand("actions[%d] must be an object with one member", i)
		}
		if !trait {
			continue // {action: params}
		}
		inAlias, ok := value.([]any)
		if !ok {
			return nil, wrongCommand("actions[%d]: a trait command's actions are [{alias:[{action:value}…]}…] "+
				"(a non-trait command has a schema and schemaVersion)", i)
		}
		if len(inAlias) == 0 {
			return nil, wrongCommand("actions[%d]: alias %s has no action", i, name)
		}
		for j, x := range inAlias {
			if _, _, ok := single(x); !ok {
				return nil, wrongCommand("actions[%d].%s[%d] must be an object with one member", i, name, j)
			}
		}
	}
	b, err := json.Marshal(list)
	if err != nil {
		return nil, wrongCommand("actions must be JSON values")
	}
	return b, nil
}

// actionKey names one action: its alias ("" in a non-trait command) and
// its name.
type actionKey struct{ alias, name string }

// actionKeys returns how many times each action occurs in c.
func (c Command) actionKeys() map[actionKey]int {
	var list []any
	json.Unmarshal(c.Actions, &list) // validated when the command was made
	out := map[actionKey]int{}
	for _, a := range list {
		name, value, _ := single(a)
		if !c.Trait() {
			out[actionKey{name: name}]++
			continue
		}
		inAlias, _ := value.([]any)
		for _, x := range inAlias {
			action, _, _ := single(x)
			out[actionKey{alias: name, name: action}]++
		}
	}
	return out
}

// ApplyActionResults validates the body of PUT …/action-results against
// c and returns c with its results and its new state (ModifiedAt is the
// caller's). The results mirror the actions' nesting: trait
// {"actionResults":[{alias:[{action:{succeeded, errorMessage?, data?}}…]}…]},
// non-trait {"actionResults":[{action:{…}}…]}; each names an action of
// the command (as many times at most as the command has it). The state
// becomes DONE when every action has a result and all say succeeded
// true, INCOMPLETE otherwise (a result without succeeded did not
// succeed). A later PUT replaces the results. Faults are 400
// INVALID_INPUT_DATA.
func (c Command) ApplyActionResults(body map[string]any) (Command, error) {
	invalid := func(format string, args ...any) error {
		return InvalidInput(map[string]string{"actionResults": fmt.Sprintf(format, args...)})
	}
	list, ok := body["actionResults"].([]any)
	if !ok {
		return c, invalid("is required: an array of results that mirrors the command's actions")
	}
	want := c.actionKeys()
	got := map[actionKey]int{}
	allSucceeded := true
	result := func(k actionKey, v any, where string) error {
		r, ok := v.(map[string]any)
		if !ok {
			return invalid("%s must be an object {succeeded, errorMessage, data}", where)
		}
		succeeded := false // absent: not reported as succeeded (kii_go sends {"result": false})
		if v, ok := r["succeeded"]; ok && v != nil {
			if succeeded, ok = v.(bool); !ok {
				return invalid("%s.succeeded must be a boolean", where)
			}
		}
		if m, ok := r["errorMessage"]; ok && m != nil {
			if _, ok := m.(string); !ok {
				return invalid("%s.errorMessage must be a string", where)
			}
		}
		got[k]++
		if got[k] > want[k] {
			if want[k] == 0 {
				return invalid("%s names an action the command does not have", where)
			}
			return invalid("%s: more results than the command has actions of this name", where)
		}
		allSucceeded = allSucceeded && succeeded
		return nil
	}
	for i, a := range list {
		name, value, ok := single(a)
		if !ok {
			return c, invalid("[%d] must be an object with one member", i)
		}
		if !c.Trait() {
			if err := result(actionKey{name: name}, value, fmt.Sprintf("[%d].%s", i, name)); err != nil {
				return c, err
			}
			continue
		}
		inAlias, ok := value.([]any)
		if !ok {
			return c, invalid("[%d]: a trait command's results are [{alias:[{action:{succeeded}}…]}…]", i)
		}
		for j, x := range inAlias {
			action, v, ok := single(x)
			if !ok {
				return c, invalid("[%d].%s[%d] must be an object with one member", i, name, j)
			}
			if err := result(actionKey{alias: name, name: action}, v, fmt.Sprintf("[%d].%s[%d].%s", i, name, j, action)); err != nil {
				return c, err
			}
		}
	}
	b, err := json.Marshal(list)
	if err != nil {
		return c, invalid("must hold JSON values")
	}
	c.ActionResults = b
	c.State = CommandDone
	for k, n := range want {
		if got[k] < n {
			c.State = CommandIncomplete
		}
	}
	if !allSucceeded {
		c.State = CommandIncomplete
	}
	return c, nil
}

// commandPush is the MQTT payload of a command (push-mqtt §7.3, §9.6):
// flat, commandID and actions at the top level.
type commandPush struct {
	CommandID        string          `json:"commandID"`
	Target           string          `json:"target"`
	Issuer           string          `json:"issuer"`
	Schema           string          `json:"schema,omitempty"`
	SchemaVersion    *int            `json:"schemaVersion,omitempty"`
	Actions          json.RawMessage `json:"actions"`
	Title            string          `json:"title,omitempty"`
	Description      string          `json:"description,omitempty"`
	Metadata         json.RawMessage `json:"metadata,omitempty"`
	FiredByTriggerID string          `json:"firedByTriggerID,omitempty"`
}

// MQTTPayload renders c as its thing receives it over MQTT: commandID,
// target, issuer, actions, and schema/schemaVersion (non-trait), title,
// description, metadata and firedByTriggerID when set.
func (c Command) MQTTPayload() []byte {
	p := commandPush{CommandID: c.ID, Target: c.Target(), Issuer: c.Issuer, Schema: c.Schema, Actions: c.Actions,
		Title: c.Title, Description: c.Description, Metadata: c.Metadata, FiredByTriggerID: c.FiredByTriggerID}
	if !c.Trait() {
		p.SchemaVersion = &c.SchemaVersion
	}
	b, _ := json.Marshal(p) // validated JSON
	return b
}

// Delivery returns the outbox delivery of c, a direct push to its thing:
// the MQTT payload to every MQTT installation of the thing, and to its
// phones (when the app has push credentials) a background push that
// names the command (commandID, target, issuer: the phone reads the rest
// with GET). WRONG_COMMAND when the MQTT payload is over MaxPushPayload.
func (c Command) Delivery() (MessageDelivery, error) {
	d := MessageDelivery{MQTT: c.MQTTPayload(), ToDevelopment: true, ToProduction: true}
	if n := len(d.MQTT); n > MaxPushPayload {
		return d, wrongCommand("The command would be %d bytes over MQTT; the limit is %d", n, MaxPushPayload)
	}
	data := map[string]any{"commandID": c.ID, "target": c.Target(), "issuer": c.Issuer}
	d.Phone = &PhonePayload{FCMEnabled: true, APNsEnabled: true, FCMData: data, APNsData: data}
	return d, nil
}

// NewCommandID returns a new command ID: a random UUID (version 4), the
// shape of Kii's command IDs (push-mqtt §9.6).
func NewCommandID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// CommandService creates, reads and completes Thing-IF commands.
type CommandService interface {
	// Create validates nothing of cmd's body (ParseCommand did) but who
	// sends it: the admin, or an owner of thing cmd.ThingID who is the
	// issuer (the user, or a member of the group), which must own the
	// thing (WRONG_COMMAND). It commits the command (SENDING) and its
	// delivery to the thing in one write, and returns it with its ID.
	// TARGET_NOT_FOUND, UNAUTHORIZED.
	Create(ctx context.Context, c Caller, cmd Command) (Command, error)
	// Get returns a command of a thing to the admin, the thing's owners
	// and the thing itself. TARGET_NOT_FOUND, UNAUTHORIZED,
	// COMMAND_NOT_FOUND.
	Get(ctx context.Context, c Caller, thingID, commandID string) (Command, error)
	// List returns a page of a thing's commands in the order they were
	// created (at most bestEffortLimit, 0 meaning CommandListLimit) and
	// the key of the next page ("" on the last), to the callers Get
	// allows. An unknown paginationKey is INVALID_INPUT_DATA.
	List(ctx context.Context, c Caller, thingID string, bestEffortLimit int, paginationKey string) ([]Command, string, error)
	// PutActionResults stores the results a thing reports for one of its
	// commands (body: see Command.ApplyActionResults) and moves its
	// state. The thing itself and the admin may.
	PutActionResults(ctx context.Context, c Caller, thingID, commandID string, body map[string]any) error
}
