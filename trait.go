package kumo

import (
	"context"
	"math"
	"strconv"
)

// TraitVersion is one version of a trait: its definition (actions,
// states, properties, dataGroupingInterval), and whether it is finalized
// (immutable).
type TraitVersion struct {
	Trait                string
	Version              int
	DataGroupingInterval string
	// Definition is the whole TraitCreationRequest document.
	Definition map[string]any
	Finalized  bool
	Created    int64
}

// ParseTraitDefinition validates a trait version's definition: actions
// and states arrays (of single-key objects naming one action or state),
// optional properties, and dataGroupingInterval (one of
// DataGroupingIntervals; DefaultDataGroupingInterval when absent).
func ParseTraitDefinition(body map[string]any) (TraitVersion, error) {
	v := TraitVersion{Definition: cloneJSON(body), DataGroupingInterval: DefaultDataGroupingInterval}
	if raw, ok := body["dataGroupingInterval"]; ok {
		s, _ := raw.(string)
		if _, known := DataGroupingIntervals[s]; !known {
			return v, Errorf(ErrInvalidInputData, "dataGroupingInterval is one of 1_MINUTE, 15_MINUTES, 30_MINUTES, 1_HOUR, 12_HOURS; got %v", raw)
		}
		v.DataGroupingInterval = s
	}
	v.Definition["dataGroupingInterval"] = v.DataGroupingInterval
	for _, key := range []string{"actions", "states", "properties"} {
		raw, present := body[key]
		if !present {
			if key != "properties" {
				v.Definition[key] = []any{}
			}
			continue
		}
		list, ok := raw.([]any)
		if !ok {
			return v, Errorf(ErrInvalidInputData, "%s must be an array", key)
		}
		for _, e := range list {
			m, ok := e.(map[string]any)
			if !ok || len(m) != 1 {
				return v, Errorf(ErrInvalidInputData, "Each of %s is an object naming one %s: {\"name\": {\"payloadSchema\": …}}", key, key[:len(key)-1])
			}
		}
	}
	return v, nil
}

// parseTraitVersionNumber reads a trait version: a positive integer, as
// a JSON number or a string.
func parseTraitVersionNumber(raw any) (int, error) {
	if s, ok := raw.(string); ok {
		n, err := strconv.Atoi(s)
		if err == nil && n > 0 {
			return n, nil
		}
	} else if f, ok := toFloat(raw); ok && f >= 1 && f == math.Trunc(f) && f < 1<<31 {
		return int(f), nil
	}
	return 0, Errorf(ErrInvalidInputData, "traitVersion must be a positive integer; got %v", raw)
}

// ParseTraitVersionNumber reads a trait version from a path.
func ParseTraitVersionNumber(s string) (int, error) { return parseTraitVersionNumber(s) }

// TraitService keeps the traits and their versions. Writes are the
// admin's; reads are open to any caller with a token.
type TraitService interface {
	// CreateTraitVersion adds the next version of a trait (1 for a new
	// trait); TRAIT_VERSION_NOT_FINALIZED while the latest version is not
	// finalized.
	CreateTraitVersion(ctx context.Context, c Caller, v TraitVersion) (int, error)
	// UpdateTraitVersion replaces the definition of a version not
	// finalized yet (TRAIT_VERSION_FINALIZED otherwise).
	UpdateTraitVersion(ctx context.Context, c Caller, v TraitVersion) error
	// FinalizeTraitVersion makes a version immutable.
	FinalizeTraitVersion(ctx context.Context, c Caller, trait string, version int) error
	TraitVersion(ctx context.Context, c Caller, trait string, version int) (TraitVersion, error)
	TraitVersions(ctx context.Context, c Caller, trait string) ([]TraitVersion, error)
}
