package kumo

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// DataGroupingIntervals are the intervals a grouped history query groups
// states by (a trait version's dataGroupingInterval), in milliseconds.
var DataGroupingIntervals = map[string]int64{
	"1_MINUTE":   60_000,
	"15_MINUTES": 15 * 60_000,
	"30_MINUTES": 30 * 60_000,
	"1_HOUR":     60 * 60_000,
	"12_HOURS":   12 * 60 * 60_000,
}

// DefaultDataGroupingInterval groups the history of an alias that no
// trait version configures (and of non-trait things).
const DefaultDataGroupingInterval = "15_MINUTES"

// Bounds of a history query.
const (
	// DefaultStateQueryLimit and MaxStateQueryLimit bound the states of one
	// page of an ungrouped query (bestEffortLimit).
	DefaultStateQueryLimit = 100
	MaxStateQueryLimit     = 1000
	// MaxStateGroups is how many grouping intervals a grouped query's time
	// range may span (Kii's SDKs: fewer than 60 intervals).
	MaxStateGroups = 60
	// MaxStateQueryScan is how many history states one query reads: an
	// ungrouped page ends there (bestEffortLimit is a best effort), a
	// grouped query over more is refused.
	MaxStateQueryScan = 10_000
)

// StateClause is a clause of a history query: eq, not, range, and, or,
// all, withinTimeRange (push-mqtt §7.4).
type StateClause struct {
	Type          string
	Field         string
	Value         any
	Lower, Upper  any // range: numbers (or strings); withinTimeRange: epoch ms
	LowerIncluded bool
	UpperIncluded bool
	Clauses       []StateClause // and, or
	Clause        *StateClause  // not
}

// StateAggregation is one aggregation of a grouped query.
type StateAggregation struct {
	Type      string // COUNT, SUM, MAX, MIN, MEAN
	Field     string
	FieldType string // INTEGER, DECIMAL, BOOLEAN, OBJECT, ARRAY
	Name      string // putAggregationInto
}

// StateQuery is a history query (TraitStateQueryRequest).
type StateQuery struct {
	Clause          StateClause
	Grouped         bool
	Aggregations    []StateAggregation
	Limit           int    // bestEffortLimit, bounded
	PaginationKey   string // where the previous page ended
	FirmwareVersion string
}

// HistoryState is one state of the history: an alias's fields (or a
// non-trait document), when it was generated and its sequence number.
type HistoryState struct {
	State   map[string]any
	Created int64
	Seq     int64
}

// Key is the pagination key of the history after h.
func (h HistoryState) Key() string { return fmt.Sprintf("%d_%d", h.Created, h.Seq) }

// ParseStateQueryKey reads a pagination key: the time and sequence number
// of the last state of the previous page.
func ParseStateQueryKey(k string) (created, seq int64, err error) {
	a, b, ok := strings.Cut(k, "_")
	created, err1 := strconv.ParseInt(a, 10, 64)
	seq, err2 := strconv.ParseInt(b, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return 0, 0, Errorf(ErrInvalidInputData, "The paginationKey %q is not one this server gave", k)
	}
	return created, seq, nil
}

// StateRange is a time range of grouped results.
type StateRange struct {
	From int64 `json:"from"`
	To   int64 `json:"to"`
}

// StateAggregated is one aggregation's result in a group.
type StateAggregated struct {
	Name   string         `json:"name"`
	Value  any            `json:"value"`
	Object map[string]any `json:"object,omitempty"`
}

// StateGroup is the states (or aggregations) of one grouping interval.
type StateGroup struct {
	Range        StateRange        `json:"range"`
	Objects      []map[string]any  `json:"objects,omitempty"`
	Aggregations []StateAggregated `json:"aggregations,omitempty"`
}

// StateQueryResult is a history query's answer: results and
// nextPaginationKey (ungrouped) or groupedResults (grouped).
type StateQueryResult struct {
	Results           []map[string]any `json:"results,omitempty"`
	NextPaginationKey string           `json:"nextPaginationKey,omitempty"`
	GroupedResults    []StateGroup     `json:"groupedResults,omitempty"`
	grouped           bool
}

// MarshalJSON writes results (ungrouped, never absent) or groupedResults.
func (r StateQueryResult) MarshalJSON() ([]byte, error) {
	if r.grouped {
		g := r.GroupedResults
		if g == nil {
			g = []StateGroup{}
		}
		return json.Marshal(struct {
			GroupedResults []StateGroup `json:"groupedResults"`
		}{g})
	}
	res := r.Results
	if res == nil {
		res = []map[string]any{}
	}
	return json.Marshal(struct {
		Results           []map[string]any `json:"results"`
		NextPaginationKey string           `json:"nextPaginationKey,omitempty"`
	}{res, r.NextPaginationKey})
}

// ParseStateQuery validates a TraitStateQueryRequest body.
func ParseStateQuery(body map[string]any) (StateQuery, error) {
	q := StateQuery{Limit: DefaultStateQueryLimit, Clause: StateClause{Type: "all"}}
	query, ok := body["query"].(map[string]any)
	if !ok {
		if _, present := body["query"]; present {
			return q, Errorf(ErrInvalidInputData, "query must be an object")
		}
		query = map[string]any{}
	}
	if raw, present := query["clause"]; present {
		c, err := parseStateClause(raw, 0)
		if err != nil {
			return q, err
		}
		q.Clause = c
	}
	if g, present := query["grouped"]; present {
		b, ok := g.(bool)
		if !ok {
			return q, Errorf(ErrInvalidInputData, "grouped must be a boolean")
		}
		q.Grouped = b
	}
	if raw, present := query["aggregations"]; present {
		list, ok := raw.([]any)
		if !ok {
			return q, Errorf(ErrInvalidInputData, "aggregations must be an array")
		}
		for _, e := range list {
			a, err := parseStateAggregation(e)
			if err != nil {
				return q, err
			}
			q.Aggregations = append(q.Aggregations, a)
		}
		if len(q.Aggregations) > 0 && !q.Grouped {
			return q, Errorf(ErrInvalidInputData, "Aggregations need a grouped query")
		}
	}
	if raw, present := body["bestEffortLimit"]; present {
		n, ok := toFloat(raw)
		if !ok || n < 1 || n != math.Trunc(n) {
			return q, Errorf(ErrInvalidInputData, "bestEffortLimit must be a positive integer")
		}
		q.Limit = int(min(n, MaxStateQueryLimit))
	}
	if raw, present := body["paginationKey"]; present {
		s, ok := raw.(string)
		if !ok {
			return q, Errorf(ErrInvalidInputData, "paginationKey must be a string")
		}
		if s != "" {
			if _, _, err := ParseStateQueryKey(s); err != nil {
				return q, err
			}
		}
		q.PaginationKey = s
	}
	q.FirmwareVersion, _ = body["firmwareVersion"].(string)
	if q.Grouped {
		if _, _, ok := q.Clause.TimeRange(); !ok {
			return q, Errorf(ErrInvalidInputData, "A grouped query needs a withinTimeRange clause")
		}
	}
	return q, nil
}

// maxClauseDepth bounds the nesting of a query's clauses.
const maxClauseDepth = 16

func parseStateClause(raw any, depth int) (StateClause, error) {
	m, ok := raw.(map[string]any)
	if !ok {
		return StateClause{}, Errorf(ErrInvalidInputData, "A clause must be an object")
	}
	if depth > maxClauseDepth {
		return StateClause{}, Errorf(ErrInvalidInputData, "Clauses are nested too deeply")
	}
	t, _ := m["type"].(string)
	c := StateClause{Type: t}
	field := func() error {
		c.Field, _ = m["field"].(string)
		if c.Field == "" {
			return Errorf(ErrInvalidInputData, "A %s clause needs a field", t)
		}
		return nil
	}
	switch t {
	case "all":
	case "eq":
		if err := field(); err != nil {
			return c, err
		}
		v, present := m["value"]
		if !present {
			return c, Errorf(ErrInvalidInputData, "An eq clause needs a value")
		}
		c.Value = v
	case "not":
		inner, err := parseStateClause(m["clause"], depth+1)
		if err != nil {
			return c, err
		}
		c.Clause = &inner
	case "and", "or":
		list, ok := m["clauses"].([]any)
		if !ok || len(list) == 0 {
			return c, Errorf(ErrInvalidInputData, "An %s clause needs clauses", t)
		}
		for _, e := range list {
			inner, err := parseStateClause(e, depth+1)
			if err != nil {
				return c, err
			}
			c.Clauses = append(c.Clauses, inner)
		}
	case "range":
		if err := field(); err != nil {
			return c, err
		}
		c.Lower, c.Upper = m["lowerLimit"], m["upperLimit"]
		if c.Lower == nil && c.Upper == nil {
			return c, Errorf(ErrInvalidInputData, "A range clause needs a lowerLimit or an upperLimit")
		}
		for _, l := range []any{c.Lower, c.Upper} {
			if l == nil {
				continue
			}
			if _, isNum := toFloat(l); !isNum {
				if _, isStr := l.(string); !isStr {
					return c, Errorf(ErrInvalidInputData, "Range limits are numbers or strings")
				}
			}
		}
		c.LowerIncluded, _ = m["lowerIncluded"].(bool)
		c.UpperIncluded, _ = m["upperIncluded"].(bool)
	case "withinTimeRange":
		lo, ok1 := toFloat(m["lowerLimit"])
		hi, ok2 := toFloat(m["upperLimit"])
		if !ok1 || !ok2 || lo > hi {
			return c, Errorf(ErrInvalidInputData, "A withinTimeRange clause needs lowerLimit ≤ upperLimit, in epoch milliseconds")
		}
		c.Lower, c.Upper = int64(lo), int64(hi)
	default:
		return c, Errorf(ErrInvalidInputData, "Unknown clause type %q", t)
	}
	return c, nil
}

func parseStateAggregation(raw any) (StateAggregation, error) {
	m, ok := raw.(map[string]any)
	if !ok {
		return StateAggregation{}, Errorf(ErrInvalidInputData, "An aggregation must be an object")
	}
	str := func(k string) string { s, _ := m[k].(string); return s }
	a := StateAggregation{Type: strings.ToUpper(str("type")), Field: str("field"), FieldType: strings.ToUpper(str("fieldType")), Name: str("putAggregationInto")}
	if a.Field == "" {
		return a, Errorf(ErrInvalidInputData, "An aggregation needs a field")
	}
	switch a.Type {
	case "COUNT":
	case "SUM", "MAX", "MIN", "MEAN":
		if a.FieldType != "INTEGER" && a.FieldType != "DECIMAL" {
			return a, Errorf(ErrInvalidInputData, "%s aggregates INTEGER or DECIMAL fields, not %q", a.Type, a.FieldType)
		}
	default:
		return a, Errorf(ErrInvalidInputData, "Unknown aggregation type %q", a.Type)
	}
	if a.Name == "" {
		a.Name = strings.ToLower(a.Type)
	}
	return a, nil
}

// TimeRange returns the time range a clause limits states to: its
// withinTimeRange, or one of an and's.
func (c StateClause) TimeRange() (lo, hi int64, ok bool) {
	switch c.Type {
	case "withinTimeRange":
		return c.Lower.(int64), c.Upper.(int64), true
	case "and":
		lo, hi = math.MinInt64, math.MaxInt64
		for _, in := range c.Clauses {
			if l, h, found := in.TimeRange(); found {
				lo, hi, ok = max(lo, l), min(hi, h), true
			}
		}
		return lo, hi, ok
	}
	return 0, 0, false
}

// Match reports whether a history state matches the clause. Fields are
// the state's top-level fields; withinTimeRange looks at its time.
func (c StateClause) Match(h HistoryState) bool {
	switch c.Type {
	case "all":
		return true
	case "eq":
		v, ok := h.State[c.Field]
		return ok && jsonEqual(v, c.Value)
	case "not":
		return !c.Clause.Match(h)
	case "and":
		for _, in := range c.Clauses {
			if !in.Match(h) {
				return false
			}
		}
		return true
	case "or":
		for _, in := range c.Clauses {
			if in.Match(h) {
				return true
			}
		}
		return false
	case "range":
		v, ok := h.State[c.Field]
		if !ok {
			return false
		}
		if c.Lower != nil {
			n, ok := compareJSON(v, c.Lower)
			if !ok || n < 0 || (n == 0 && !c.LowerIncluded) {
				return false
			}
		}
		if c.Upper != nil {
			n, ok := compareJSON(v, c.Upper)
			if !ok || n > 0 || (n == 0 && !c.UpperIncluded) {
				return false
			}
		}
		return true
	case "withinTimeRange":
		return h.Created >= c.Lower.(int64) && h.Created <= c.Upper.(int64)
	}
	return false
}

// toFloat returns a JSON number's value, whatever Go type holds it
// (history queries and trigger conditions).
func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int64:
		return float64(n), true
	case int32:
		return float64(n), true
	case int:
		return float64(n), true
	}
	return 0, false
}

// jsonEqual compares JSON values, numbers by value (history queries and
// trigger conditions).
func jsonEqual(a, b any) bool {
	if x, ok := toFloat(a); ok {
		y, ok := toFloat(b)
		return ok && x == y
	}
	switch a := a.(type) {
	case string:
		s, ok := b.(string)
		return ok && a == s
	case bool:
		t, ok := b.(bool)
		return ok && a == t
	case nil:
		return b == nil
	}
	return false
}

// compareJSON orders two numbers or two strings.
func compareJSON(a, b any) (int, bool) {
	if x, ok := toFloat(a); ok {
		y, ok := toFloat(b)
		if !ok {
			return 0, false
		}
		switch {
		case x < y:
			return -1, true
		case x > y:
			return 1, true
		}
		return 0, true
	}
	s, ok1 := a.(string)
	t, ok2 := b.(string)
	if !ok1 || !ok2 {
		return 0, false
	}
	return strings.Compare(s, t), true
}

// withCreated returns a history state's fields with its _created.
func (h HistoryState) withCreated() map[string]any {
	out := cloneJSON(h.State)
	if out == nil {
		out = map[string]any{}
	}
	out["_created"] = h.Created
	return out
}

// RunStateQuery evaluates q over history states, read in order of time
// (after q's pagination key). more reports that the store has states
// beyond these (it read no further than MaxStateQueryScan). interval is
// the grouping interval (ms) of a grouped query.
//
// Ungrouped: up to q.Limit matching states; nextPaginationKey when the
// page is full and states remain, or when the scan ended first.
// Grouped: the intervals of the query's time range that hold a matching
// state, with the states or, with aggregations, their aggregates.
func RunStateQuery(rows []HistoryState, more bool, q StateQuery, interval int64) (StateQueryResult, error) {
	if !q.Grouped {
		var r StateQueryResult
		for i, h := range rows {
			if !q.Clause.Match(h) {
				continue
			}
			r.Results = append(r.Results, h.withCreated())
			if len(r.Results) == q.Limit {
				if i < len(rows)-1 || more {
					r.NextPaginationKey = h.Key()
				}
				return r, nil
			}
		}
		if more && len(rows) > 0 {
			r.NextPaginationKey = rows[len(rows)-1].Key()
		}
		return r, nil
	}
	if more {
		return StateQueryResult{}, Errorf(ErrInvalidInputData, "The time range holds more than %d states: narrow it", MaxStateQueryScan)
	}
	lo, hi, _ := q.Clause.TimeRange()
	if interval <= 0 {
		interval = DataGroupingIntervals[DefaultDataGroupingInterval]
	}
	first := floorDiv(lo, interval) * interval
	// Compared as spans that cannot overflow: an extreme range (both
	// limits near the ends of int64) must not wrap below the limit.
	if hi < first || (uint64(hi)-uint64(first))/uint64(interval)+1 > MaxStateGroups {
		return StateQueryResult{}, Errorf(ErrInvalidInputData, "A grouped query spans at most %d grouping intervals of %d ms", MaxStateGroups, interval)
	}
	r := StateQueryResult{grouped: true, GroupedResults: []StateGroup{}}
	var members [][]HistoryState
	for _, h := range rows {
		if !q.Clause.Match(h) {
			continue
		}
		from := floorDiv(h.Created, interval) * interval
		n := len(r.GroupedResults)
		if n == 0 || r.GroupedResults[n-1].Range.From != from {
			r.GroupedResults = append(r.GroupedResults, StateGroup{Range: StateRange{From: from, To: from + interval - 1}})
			members = append(members, nil)
			n++
		}
		members[n-1] = append(members[n-1], h)
	}
	for i := range r.GroupedResults {
		g := &r.GroupedResults[i]
		if len(q.Aggregations) == 0 {
			for _, h := range members[i] {
				g.Objects = append(g.Objects, h.withCreated())
			}
			continue
		}
		g.Aggregations = []StateAggregated{}
		for _, a := range q.Aggregations {
			if v, ok := aggregate(a, members[i]); ok {
				g.Aggregations = append(g.Aggregations, v)
			}
		}
	}
	return r, nil
}

// aggregate computes one aggregation over a group's states; false when
// no state has a value for it.
func aggregate(a StateAggregation, states []HistoryState) (StateAggregated, bool) {
	out := StateAggregated{Name: a.Name}
	var (
		count int64
		sum   float64
		best  *HistoryState
		bestV float64
	)
	for i, h := range states {
		v, present := h.State[a.Field]
		if !present {
			continue
		}
		if a.Type == "COUNT" {
			count++
			continue
		}
		f, ok := toFloat(v)
		if !ok {
			continue
		}
		count++
		sum += f
		if best == nil || (a.Type == "MAX" && f > bestV) || (a.Type == "MIN" && f < bestV) {
			best, bestV = &states[i], f
		}
	}
	if count == 0 {
		return out, false
	}
	number := func(f float64) any {
		if a.FieldType == "INTEGER" && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return int64(f)
		}
		return f
	}
	switch a.Type {
	case "COUNT":
		out.Value = count
	case "SUM":
		out.Value = number(sum)
	case "MEAN":
		out.Value = sum / float64(count)
	case "MAX", "MIN":
		out.Value = number(bestV)
		out.Object = best.withCreated()
	}
	return out, true
}

// floorDiv divides rounding toward negative infinity.
func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}
