package kumo

import (
	"context"
	"encoding/json"
	"maps"
	"sort"
	"strings"
)

// Errors of Thing-IF states (push-mqtt §7.4).
const (
	// TARGET_NOT_FOUND (ErrTargetNotFound) is in errors.go (merge of cmds and states).
	ErrStateNotFound            Code = "STATE_NOT_FOUND"             // the thing (or the alias) has no state yet (404)
	ErrStateHistoryNotAvailable Code = "STATE_HISTORY_NOT_AVAILABLE" // no history for the alias (409)
	ErrEmptyBody                Code = "EMPTY_BODY"                  // a state write without a body (400)
)

func init() {
	Codes = append(Codes, ErrStateNotFound, ErrStateHistoryNotAvailable, ErrEmptyBody)
}

// MaxStateBytes is the largest state document, as JSON (push-mqtt §8).
const MaxStateBytes = 10 * 1024

// StateChange is a thing's state written: the whole state document before and after (trait
// things: alias → fields; non-trait things: fields), and when.
type StateChange struct {
	AppID, ThingID string
	Before, After  map[string]any // Before is nil for the first state
	At             int64          // epoch ms
}

// StateWriteKind is how a state write changes the document.
type StateWriteKind int

// The state writes.
const (
	// StatePut replaces the whole document: PUT …/states with
	// application/json (non-trait) or MultipleTraitState+json (trait),
	// and each state of a StateBulkUploadRequest.
	StatePut StateWriteKind = iota + 1
	// StatePatch merges per alias: each alias's fields are set, the other
	// fields and aliases stay (MultipleTraitStatePatch+json, and each state
	// of a StatePatchBulkUploadRequest).
	StatePatch
	// StateAliasPut replaces one alias's fields (PUT …/states/aliases/{alias}).
	StateAliasPut
)

// StateWrite is one state written to a thing.
type StateWrite struct {
	Kind StateWriteKind
	// Trait: State maps alias → fields (always, for StatePatch).
	Trait bool
	// Alias is the alias of a StateAliasPut.
	Alias string
	// State is the document (StatePut), the per-alias patch (StatePatch)
	// or the alias's fields (StateAliasPut).
	State map[string]any
	// At is when the state was generated (epoch ms; bulk uploads'
	// generatedAt), 0 for the time of the write.
	At int64
}

// ParseStateWrite validates a state write's body: a JSON object of at most
// MaxStateBytes whose values, for the trait forms, are objects (alias →
// fields). INVALID_INPUT_DATA otherwise.
func ParseStateWrite(w StateWrite) (StateWrite, error) {
	if w.State == nil {
		return w, Errorf(ErrEmptyBody, "The state must be a JSON object")
	}
	if w.Kind == StateAliasPut && w.Alias == "" {
		return w, Errorf(ErrInvalidInputData, "The alias is missing")
	}
	if w.Trait && w.Kind != StateAliasPut {
		for alias, v := range w.State {
			if _, ok := v.(map[string]any); !ok || alias == "" {
				return w, Errorf(ErrInvalidInputData, "A trait state maps each alias to an object of fields; %q does not", alias)
			}
		}
	}
	b, err := json.Marshal(w.State)
	if err != nil {
		return w, Errorf(ErrInvalidInputData, "The state is not valid JSON")
	}
	if len(b) > MaxStateBytes {
		return w, Errorf(ErrInvalidInputData, "A state is at most %d bytes as JSON; this one is %d", MaxStateBytes, len(b))
	}
	return w, nil
}

// Aliases returns the aliases a trait write names, sorted; none for a
// non-trait write.
func (w StateWrite) Aliases() []string {
	if w.Kind == StateAliasPut {
		return []string{w.Alias}
	}
	if !w.Trait {
		return nil
	}
	out := make([]string, 0, len(w.State))
	for a := range w.State {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// ApplyStateWrite returns the document after w is applied to before (nil
// for a thing without state), and the parts of history it makes: alias →
// that alias's fields after the write, or "" → the whole document for a
// non-trait write. The result shares no map with before. A document over
// MaxStateBytes is INVALID_INPUT_DATA.
func ApplyStateWrite(before map[string]any, w StateWrite) (after map[string]any, history map[string]map[string]any, err error) {
	history = map[string]map[string]any{}
	switch w.Kind {
	case StatePut:
		after = cloneJSON(w.State)
		if !w.Trait {
			history[""] = cloneJSON(after)
		}
	case StatePatch:
		after = cloneJSON(before)
		if after == nil {
			after = map[string]any{}
		}
		if !w.Trait {
			maps.Copy(after, cloneJSON(w.State))
			history[""] = cloneJSON(after)
			break
		}
		for alias, v := range w.State {
			fields, _ := after[alias].(map[string]any)
			if fields == nil {
				fields = map[string]any{}
			}
			patch, _ := v.(map[string]any)
			maps.Copy(fields, cloneJSON(patch))
			after[alias] = fields
		}
	case StateAliasPut:
		after = cloneJSON(before)
		if after == nil {
			after = map[string]any{}
		}
		after[w.Alias] = cloneJSON(w.State)
	default:
		return nil, nil, Errorf(ErrInvalidInputData, "Unknown state write")
	}
	for _, alias := range w.Aliases() {
		if fields, ok := after[alias].(map[string]any); ok {
			history[alias] = cloneJSON(fields)
		}
	}
	b, err := json.Marshal(after)
	if err != nil {
		return nil, nil, err
	}
	if len(b) > MaxStateBytes {
		return nil, nil, Errorf(ErrInvalidInputData, "A state is at most %d bytes as JSON; this one would be %d", MaxStateBytes, len(b))
	}
	return after, history, nil
}

// cloneJSON deep-copies a decoded JSON object.
func cloneJSON(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = cloneJSONValue(v)
	}
	return out
}

func cloneJSONValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return cloneJSON(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = cloneJSONValue(e)
		}
		return out
	}
	return v
}

// StateMediaTypes: the request media types of state writes, lower-cased.
const (
	MediaMultipleTraitState      = "application/vnd.kii.multipletraitstate+json"
	MediaMultipleTraitStatePatch = "application/vnd.kii.multipletraitstatepatch+json"
	MediaTraitState              = "application/vnd.kii.traitstate+json"
	MediaStateBulkUpload         = "application/vnd.kii.statebulkuploadrequest+json"
	MediaStatePatchBulkUpload    = "application/vnd.kii.statepatchbulkuploadrequest+json"
)

// IsMediaType reports whether the media type got is want, without regard
// to case or surrounding space.
func IsMediaType(got, want string) bool {
	return strings.EqualFold(strings.TrimSpace(got), want)
}

// StateService keeps the Thing-IF states of things and their history.
// Writes are open to the thing itself, its owners and the admin; reads to
// the same callers. Another caller gets UNAUTHORIZED, an unknown thing
// TARGET_NOT_FOUND.
type StateService interface {
	// WriteStates applies writes to thing thingID's state in one
	// transaction (a bulk upload writes several), keeping each in the
	// history. created reports whether the thing had no state before.
	WriteStates(ctx context.Context, c Caller, thingID string, writes []StateWrite) (created bool, err error)
	// State returns the thing's state document, or with alias set that
	// alias's fields. STATE_NOT_FOUND when there is none.
	State(ctx context.Context, c Caller, thingID, alias string) (map[string]any, error)
	// QueryStates runs a history query over the alias's states ("" for
	// a non-trait thing's documents).
	QueryStates(ctx context.Context, c Caller, thingID, alias string, q StateQuery) (StateQueryResult, error)
}
