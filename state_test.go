package kumo

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// obj decodes a JSON object the way the API does (numbers as json.Number).
func obj(t *testing.T, s string) map[string]any {
	t.Helper()
	if s == "" {
		return nil
	}
	return jsonBody(t, s)
}

// asJSON re-encodes v, for comparisons that ignore number types.
func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestApplyStateWrite(t *testing.T) {
	tests := []struct {
		name    string
		before  string
		w       StateWrite
		state   string // the write's State
		after   string
		history string // alias → fields written to the history
		code    Code
	}{
		{name: "non-trait put replaces", before: `{"a":1,"b":2}`, w: StateWrite{Kind: StatePut}, state: `{"b":3}`,
			after: `{"b":3}`, history: `{"":{"b":3}}`},
		{name: "non-trait first put", w: StateWrite{Kind: StatePut}, state: `{"power":true}`,
			after: `{"power":true}`, history: `{"":{"power":true}}`},
		{name: "non-trait patch merges", before: `{"a":1,"b":2}`, w: StateWrite{Kind: StatePatch}, state: `{"b":3,"c":4}`,
			after: `{"a":1,"b":3,"c":4}`, history: `{"":{"a":1,"b":3,"c":4}}`},
		{name: "trait put replaces every alias", before: `{"ac":{"t":1},"hum":{"h":2}}`, w: StateWrite{Kind: StatePut, Trait: true},
			state: `{"ac":{"t":5}}`, after: `{"ac":{"t":5}}`, history: `{"ac":{"t":5}}`},
		{name: "trait patch merges per alias", before: `{"ac":{"t":1,"p":true},"hum":{"h":2}}`, w: StateWrite{Kind: StatePatch, Trait: true},
			state: `{"ac":{"t":5},"fan":{"s":1}}`, after: `{"ac":{"t":5,"p":true},"fan":{"s":1},"hum":{"h":2}}`,
			history: `{"ac":{"t":5,"p":true},"fan":{"s":1}}`},
		{name: "trait patch of a thing without state", w: StateWrite{Kind: StatePatch, Trait: true},
			state: `{"ac":{"t":5}}`, after: `{"ac":{"t":5}}`, history: `{"ac":{"t":5}}`},
		{name: "alias put replaces one alias", before: `{"ac":{"t":1,"p":true},"hum":{"h":2}}`, w: StateWrite{Kind: StateAliasPut, Alias: "ac"},
			state: `{"t":9}`, after: `{"ac":{"t":9},"hum":{"h":2}}`, history: `{"ac":{"t":9}}`},
		{name: "a document over 10 KB", before: `{"a":"` + strings.Repeat("x", MaxStateBytes-20) + `"}`, w: StateWrite{Kind: StatePatch},
			state: `{"b":"yyyyyyyyyyyyyyyyyyyyyyyy"}`, code: ErrInvalidInputData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := obj(t, tt.before)
			keep := asJSON(t, before)
			w := tt.w
			w.State = obj(t, tt.state)
			after, history, err := ApplyStateWrite(before, w)
			if ErrorCode(err) != tt.code {
				t.Fatalf("error = %v, want code %q", err, tt.code)
			}
			if tt.code != "" {
				return
			}
			if got := asJSON(t, after); got != asJSON(t, obj(t, tt.after)) {
				t.Errorf("after = %s, want %s", got, tt.after)
			}
			if got := asJSON(t, history); got != asJSON(t, obj(t, tt.history)) {
				t.Errorf("history = %s, want %s", got, tt.history)
			}
			if asJSON(t, before) != keep {
				t.Errorf("before changed to %s", asJSON(t, before))
			}
		})
	}
}

func TestParseStateWrite(t *testing.T) {
	big := map[string]any{"x": strings.Repeat("a", MaxStateBytes)}
	tests := []struct {
		name string
		w    StateWrite
		code Code
	}{
		{"non-trait", StateWrite{Kind: StatePut, State: map[string]any{"a": 1}}, ""},
		{"trait", StateWrite{Kind: StatePut, Trait: true, State: map[string]any{"ac": map[string]any{"a": 1}}}, ""},
		{"trait, an alias that is no object", StateWrite{Kind: StatePut, Trait: true, State: map[string]any{"ac": 1}}, ErrInvalidInputData},
		{"patch, an alias that is no object", StateWrite{Kind: StatePatch, Trait: true, State: map[string]any{"ac": []any{}}}, ErrInvalidInputData},
		{"no body", StateWrite{Kind: StatePut}, ErrEmptyBody},
		{"over 10 KB", StateWrite{Kind: StatePut, State: big}, ErrInvalidInputData},
		{"alias put without alias", StateWrite{Kind: StateAliasPut, State: map[string]any{}}, ErrInvalidInputData},
	}
	for _, tt := range tests {
		if _, err := ParseStateWrite(tt.w); ErrorCode(err) != tt.code {
			t.Errorf("%s: error %v, want code %q", tt.name, err, tt.code)
		}
	}
}

func TestStateClauseMatch(t *testing.T) {
	h := HistoryState{State: obj(t, `{"t":25,"p":true,"s":"on","d":2.5}`), Created: 1000}
	tests := []struct {
		clause string
		want   bool
	}{
		{`{"type":"all"}`, true},
		{`{"type":"eq","field":"t","value":25}`, true},
		{`{"type":"eq","field":"t","value":25.0}`, true},
		{`{"type":"eq","field":"t","value":"25"}`, false},
		{`{"type":"eq","field":"p","value":true}`, true},
		{`{"type":"eq","field":"s","value":"on"}`, true},
		{`{"type":"eq","field":"missing","value":1}`, false},
		{`{"type":"not","clause":{"type":"eq","field":"p","value":true}}`, false},
		{`{"type":"range","field":"t","lowerLimit":25,"lowerIncluded":true}`, true},
		{`{"type":"range","field":"t","lowerLimit":25}`, false},
		{`{"type":"range","field":"t","upperLimit":25,"upperIncluded":true}`, true},
		{`{"type":"range","field":"t","upperLimit":25,"upperIncluded":false}`, false},
		{`{"type":"range","field":"d","lowerLimit":2,"upperLimit":3}`, true},
		{`{"type":"range","field":"s","lowerLimit":"a","upperLimit":"z"}`, true},
		{`{"type":"range","field":"p","lowerLimit":0}`, false},
		{`{"type":"and","clauses":[{"type":"eq","field":"p","value":true},{"type":"range","field":"t","lowerLimit":30}]}`, false},
		{`{"type":"or","clauses":[{"type":"eq","field":"p","value":false},{"type":"range","field":"t","lowerLimit":20}]}`, true},
		{`{"type":"withinTimeRange","lowerLimit":1000,"upperLimit":2000}`, true},
		{`{"type":"withinTimeRange","lowerLimit":1001,"upperLimit":2000}`, false},
	}
	for _, tt := range tests {
		q, err := ParseStateQuery(obj(t, `{"query":{"clause":`+tt.clause+`}}`))
		if err != nil {
			t.Errorf("%s: %v", tt.clause, err)
			continue
		}
		if got := q.Clause.Match(h); got != tt.want {
			t.Errorf("%s matches %v, want %v", tt.clause, got, tt.want)
		}
	}
}

func TestParseStateQueryErrors(t *testing.T) {
	for _, body := range []string{
		`{"query":{"clause":{"type":"like","field":"a"}}}`,
		`{"query":{"clause":{"type":"eq","field":"a"}}}`,
		`{"query":{"clause":{"type":"and","clauses":[]}}}`,
		`{"query":{"clause":{"type":"range","field":"a"}}}`,
		`{"query":{"clause":{"type":"withinTimeRange","lowerLimit":5,"upperLimit":1}}}`,
		`{"query":{"clause":{"type":"all"},"grouped":true}}`,
		`{"query":{"clause":{"type":"all"},"aggregations":[{"type":"COUNT","field":"a","fieldType":"INTEGER"}]}}`,
		`{"query":{"grouped":true,"clause":{"type":"withinTimeRange","lowerLimit":0,"upperLimit":1},"aggregations":[{"type":"MAX","field":"a","fieldType":"BOOLEAN"}]}}`,
		`{"query":{"grouped":true,"clause":{"type":"withinTimeRange","lowerLimit":0,"upperLimit":1},"aggregations":[{"type":"MEDIAN","field":"a","fieldType":"INTEGER"}]}}`,
		`{"bestEffortLimit":0}`,
		`{"paginationKey":"garbage"}`,
	} {
		if _, err := ParseStateQuery(obj(t, body)); ErrorCode(err) != ErrInvalidInputData {
			t.Errorf("ParseStateQuery(%s) = %v, want INVALID_INPUT_DATA", body, err)
		}
	}
}

func TestRunStateQuery(t *testing.T) {
	var rows []HistoryState
	for i, temp := range []int{10, 20, 30, 40, 50} {
		// Two states in the first minute, two in the second, one in the fourth.
		at := []int64{0, 30_000, 60_000, 90_000, 180_000}[i]
		rows = append(rows, HistoryState{State: map[string]any{"temp": json.Number(strconv.Itoa(temp))}, Created: at, Seq: int64(i + 1)})
	}
	query := func(body string) StateQuery {
		q, err := ParseStateQuery(obj(t, body))
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	tests := []struct {
		name  string
		body  string
		more  bool
		want  string
		code  Code
		limit int
	}{
		{name: "ungrouped, all", body: `{"query":{"clause":{"type":"all"}}}`,
			want: `{"results":[{"_created":0,"temp":10},{"_created":30000,"temp":20},{"_created":60000,"temp":30},{"_created":90000,"temp":40},{"_created":180000,"temp":50}]}`},
		{name: "ungrouped, a full page", body: `{"query":{"clause":{"type":"range","field":"temp","lowerLimit":20,"lowerIncluded":true}},"bestEffortLimit":2}`,
			want: `{"results":[{"_created":30000,"temp":20},{"_created":60000,"temp":30}],"nextPaginationKey":"60000_3"}`},
		{name: "ungrouped, the scan ends first", body: `{"query":{"clause":{"type":"eq","field":"temp","value":99}}}`, more: true,
			want: `{"results":[],"nextPaginationKey":"180000_5"}`},
		{name: "grouped", body: `{"query":{"grouped":true,"clause":{"type":"withinTimeRange","lowerLimit":0,"upperLimit":200000}}}`,
			want: `{"groupedResults":[{"range":{"from":0,"to":59999},"objects":[{"_created":0,"temp":10},{"_created":30000,"temp":20}]},` +
				`{"range":{"from":60000,"to":119999},"objects":[{"_created":60000,"temp":30},{"_created":90000,"temp":40}]},` +
				`{"range":{"from":180000,"to":239999},"objects":[{"_created":180000,"temp":50}]}]}`},
		{name: "aggregations", body: `{"query":{"grouped":true,"clause":{"type":"withinTimeRange","lowerLimit":0,"upperLimit":200000},"aggregations":[` +
			`{"type":"COUNT","field":"temp","fieldType":"INTEGER","putAggregationInto":"n"},{"type":"SUM","field":"temp","fieldType":"INTEGER","putAggregationInto":"sum"},` +
			`{"type":"MEAN","field":"temp","fieldType":"INTEGER","putAggregationInto":"mean"},{"type":"MAX","field":"temp","fieldType":"INTEGER","putAggregationInto":"max"},` +
			`{"type":"min","field":"temp","fieldType":"decimal","putAggregationInto":"min"}]}}`,
			want: `{"groupedResults":[{"range":{"from":0,"to":59999},"aggregations":[{"name":"n","value":2},{"name":"sum","value":30},{"name":"mean","value":15},` +
				`{"name":"max","value":20,"object":{"_created":30000,"temp":20}},{"name":"min","value":10,"object":{"_created":0,"temp":10}}]},` +
				`{"range":{"from":60000,"to":119999},"aggregations":[{"name":"n","value":2},{"name":"sum","value":70},{"name":"mean","value":35},` +
				`{"name":"max","value":40,"object":{"_created":90000,"temp":40}},{"name":"min","value":30,"object":{"_created":60000,"temp":30}}]},` +
				`{"range":{"from":180000,"to":239999},"aggregations":[{"name":"n","value":1},{"name":"sum","value":50},{"name":"mean","value":50},` +
				`{"name":"max","value":50,"object":{"_created":180000,"temp":50}},{"name":"min","value":50,"object":{"_created":180000,"temp":50}}]}]}`},
		{name: "aggregations of a field no state has", body: `{"query":{"grouped":true,"clause":{"type":"withinTimeRange","lowerLimit":0,"upperLimit":50000},"aggregations":[` +
			`{"type":"MAX","field":"hum","fieldType":"INTEGER","putAggregationInto":"max"}]}}`,
			want: `{"groupedResults":[{"range":{"from":0,"to":59999}}]}`},
		{name: "too many intervals", body: `{"query":{"grouped":true,"clause":{"type":"withinTimeRange","lowerLimit":0,"upperLimit":3600000}}}`, code: ErrInvalidInputData},
		{name: "too many intervals, the span beyond int64", body: `{"query":{"grouped":true,"clause":{"type":"withinTimeRange","lowerLimit":-9223372036854775808,"upperLimit":9223372036854775807}}}`, code: ErrInvalidInputData},
		{name: "grouped over too many states", body: `{"query":{"grouped":true,"clause":{"type":"withinTimeRange","lowerLimit":0,"upperLimit":200000}}}`, more: true, code: ErrInvalidInputData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := RunStateQuery(rows, tt.more, query(tt.body), 60_000)
			if ErrorCode(err) != tt.code {
				t.Fatalf("error = %v, want code %q", err, tt.code)
			}
			if tt.code != "" {
				return
			}
			if got := asJSON(t, r); got != tt.want {
				t.Errorf("result\n got %s\nwant %s", got, tt.want)
			}
		})
	}
	// The pagination key reads back.
	c, s, err := ParseStateQueryKey("60000_3")
	if err != nil || c != 60000 || s != 3 {
		t.Errorf("ParseStateQueryKey = %d, %d, %v", c, s, err)
	}
	if !reflect.DeepEqual(DataGroupingIntervals["15_MINUTES"], int64(900_000)) {
		t.Error("15_MINUTES is not 15 minutes")
	}
}
