package kumo

import (
	"encoding/json"
	"strings"
	"testing"
)

func mustData(t testing.TB, s string) map[string]any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func mustQuery(t testing.TB, s string) Query {
	t.Helper()
	q, err := ParseQuery([]byte(s))
	if err != nil {
		t.Fatalf("ParseQuery(%s): %v", s, err)
	}
	return q
}

func TestParseQuery(t *testing.T) {
	tests := []struct {
		name, body string
		code       Code
		check      func(t *testing.T, q Query)
	}{
		{name: "empty body is all", body: ``, check: func(t *testing.T, q Query) {
			if q.Clause.Type != ClauseAll || q.Limit != MaxQueryLimit {
				t.Errorf("got %+v", q)
			}
		}},
		{name: "no clause is all", body: `{"bucketQuery":{}}`},
		{name: "limit as number", body: `{"bucketQuery":{"clause":{"type":"all"}},"bestEffortLimit":10}`, check: func(t *testing.T, q Query) {
			if q.Limit != 10 {
				t.Errorf("Limit = %d", q.Limit)
			}
		}},
		{name: "limit as string (kii_go)", body: `{"bestEffortLimit":"10"}`, check: func(t *testing.T, q Query) {
			if q.Limit != 10 {
				t.Errorf("Limit = %d", q.Limit)
			}
		}},
		{name: "limit capped", body: `{"bestEffortLimit":5000}`, check: func(t *testing.T, q Query) {
			if q.Limit != MaxQueryLimit {
				t.Errorf("Limit = %d", q.Limit)
			}
		}},
		{name: "limit zero", body: `{"bestEffortLimit":0}`, code: ErrInvalidInputData},
		{name: "limit not a number", body: `{"bestEffortLimit":"ten"}`, code: ErrInvalidInputData},
		{name: "descending without orderBy is ignored", body: `{"bucketQuery":{"descending":true}}`, check: func(t *testing.T, q Query) {
			if q.Descending {
				t.Error("Descending set without orderBy")
			}
		}},
		{name: "count", body: `{"bucketQuery":{"clause":{"type":"all"},"aggregations":[{"type":"COUNT","putAggregationInto":"count_field"}]}}`, check: func(t *testing.T, q Query) {
			if n, ok := q.Count(); !ok || n != "count_field" {
				t.Errorf("Count() = %q, %v", n, ok)
			}
		}},
		{name: "empty paginationKey", body: `{"bucketQuery":{"clause":{"type":"all"}},"paginationKey":""}`, code: ErrInvalidInputData},
		{name: "null paginationKey is none", body: `{"paginationKey":null}`, check: func(t *testing.T, q Query) {
			if q.PaginationKey != "" {
				t.Errorf("PaginationKey = %q", q.PaginationKey)
			}
		}},
		{name: "count with paginationKey", body: `{"bucketQuery":{"aggregations":[{"type":"COUNT","putAggregationInto":"n"}]},"paginationKey":"x"}`, code: ErrQueryNotSupported},
		{name: "unknown aggregation", body: `{"bucketQuery":{"aggregations":[{"type":"SUM","putAggregationInto":"n"}]}}`, code: ErrQueryNotSupported},
		{name: "not JSON", body: `{`, code: ErrInvalidJSON},
		{name: "unknown clause", body: `{"bucketQuery":{"clause":{"type":"like"}}}`, code: ErrInvalidInputData},
		{name: "eq without field", body: `{"bucketQuery":{"clause":{"type":"eq","value":1}}}`, code: ErrInvalidInputData},
		{name: "eq with object value", body: `{"bucketQuery":{"clause":{"type":"eq","field":"a","value":{}}}}`, code: ErrInvalidInputData},
		{name: "eq with null value", body: `{"bucketQuery":{"clause":{"type":"eq","field":"a","value":null}}}`, code: ErrInvalidInputData},
		{name: "and without clauses", body: `{"bucketQuery":{"clause":{"type":"and","clauses":[]}}}`, code: ErrInvalidInputData},
		{name: "range without limits", body: `{"bucketQuery":{"clause":{"type":"range","field":"a"}}}`, code: ErrInvalidInputData},
		{name: "range with mixed limits", body: `{"bucketQuery":{"clause":{"type":"range","field":"a","lowerLimit":1,"upperLimit":"x"}}}`, code: ErrInvalidInputData},
		{name: "range with boolean limit", body: `{"bucketQuery":{"clause":{"type":"range","field":"a","lowerLimit":true}}}`, code: ErrInvalidInputData},
		{name: "in with 201 values", body: `{"bucketQuery":{"clause":{"type":"in","field":"a","values":[` + strings.TrimSuffix(strings.Repeat("1,", 201), ",") + `]}}}`, code: ErrInvalidInputData},
		{name: "in with 200 values", body: `{"bucketQuery":{"clause":{"type":"in","field":"a","values":[` + strings.TrimSuffix(strings.Repeat("1,", 200), ",") + `]}}}`},
		{name: "hasField bad type", body: `{"bucketQuery":{"clause":{"type":"hasField","field":"a","fieldType":"ARRAY"}}}`, code: ErrInvalidInputData},
		{name: "geodistance radius zero", body: `{"bucketQuery":{"clause":{"type":"geodistance","field":"p","center":{"_type":"point","lat":1,"lon":2},"radius":0}}}`, code: ErrInvalidInputData},
		{name: "geodistance bad name", body: `{"bucketQuery":{"clause":{"type":"geodistance","field":"p","center":{"_type":"point","lat":1,"lon":2},"radius":10,"putDistanceInto":"9x"}}}`, code: ErrInvalidInputData},
		{name: "geodistance calculatedDistance alias", body: `{"bucketQuery":{"clause":{"type":"geodistance","field":"p","center":{"_type":"point","lat":1,"lon":2},"radius":10,"calculatedDistance":"d"},"orderBy":"_calculated.d"}}`, check: func(t *testing.T, q Query) {
			if q.Clause.DistanceInto != "d" {
				t.Errorf("DistanceInto = %q", q.Clause.DistanceInto)
			}
		}},
		{name: "order by unknown distance", body: `{"bucketQuery":{"orderBy":"_calculated.d"}}`, code: ErrInvalidInputData},
		{name: "order by distance descending", body: `{"bucketQuery":{"clause":{"type":"geodistance","field":"p","center":{"_type":"point","lat":1,"lon":2},"radius":10,"putDistanceInto":"d"},"orderBy":"_calculated.d","descending":true}}`, code: ErrQueryNotSupported},
		{name: "geobox latitudes swapped", body: `{"bucketQuery":{"clause":{"type":"geobox","field":"p","box":{"ne":{"_type":"point","lat":1,"lon":2},"sw":{"_type":"point","lat":3,"lon":0}}}}}`, code: ErrInvalidInputData},
		{name: "too deep", body: `{"bucketQuery":{"clause":` + strings.Repeat(`{"type":"not","clause":`, 30) + `{"type":"all"}` + strings.Repeat(`}`, 30) + `}}`, code: ErrQueryNotSupported},
		{name: "contains is for things", body: `{"bucketQuery":{"clause":{"type":"contains","field":"a","value":"x"}}}`, code: ErrQueryNotSupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := ParseQuery([]byte(tt.body))
			if got := ErrorCode(err); got != tt.code {
				t.Fatalf("ParseQuery: error %v, want code %q", err, tt.code)
			}
			if err == nil && tt.check != nil {
				tt.check(t, q)
			}
		})
	}
}

func TestClauseMatches(t *testing.T) {
	o := Object{ID: "o1", Owner: "u1", Created: 1000, Modified: 2000, Version: 3, Data: mustData(t, `{
		"age": 30, "score": 30.0, "name": "John Doe", "ok": true, "zero": 0, "s30": "30",
		"long": "`+strings.Repeat("x", MaxIndexedString+1)+`", "n": null, "arr": [1], "nested": {"a": 1},
		"loc": {"_type": "point", "lat": 35.68, "lon": 139.76}}`)}
	tests := []struct {
		clause string
		want   bool
	}{
		{`{"type":"all"}`, true},
		{`{"type":"eq","field":"age","value":30}`, true},
		{`{"type":"eq","field":"age","value":30.0}`, true}, // numbers compare as numbers
		{`{"type":"eq","field":"score","value":30}`, true},
		{`{"type":"eq","field":"age","value":"30"}`, false}, // type-strict
		{`{"type":"eq","field":"s30","value":30}`, false},
		{`{"type":"eq","field":"ok","value":1}`, false},
		{`{"type":"eq","field":"ok","value":true}`, true},
		{`{"type":"eq","field":"zero","value":false}`, false},
		{`{"type":"eq","field":"name","value":"John Doe"}`, true},
		{`{"type":"not","clause":{"type":"eq","field":"age","value":31}}`, true},
		{`{"type":"not","clause":{"type":"eq","field":"missing","value":31}}`, false}, // not(eq) skips objects lacking the field
		{`{"type":"not","clause":{"type":"eq","field":"n","value":1}}`, false},        // null is not indexed
		{`{"type":"not","clause":{"type":"eq","field":"age","value":"x"}}`, true},     // present, of another type
		{`{"type":"or","clauses":[{"type":"eq","field":"missing","value":1},{"type":"eq","field":"age","value":30}]}`, true},
		{`{"type":"not","clause":{"type":"and","clauses":[{"type":"eq","field":"missing","value":1},{"type":"eq","field":"age","value":31}]}}`, true}, // not(unknown and false) = true
		{`{"type":"not","clause":{"type":"or","clauses":[{"type":"eq","field":"missing","value":1},{"type":"eq","field":"age","value":31}]}}`, false},
		{`{"type":"range","field":"age","lowerLimit":30,"lowerIncluded":true}`, true},
		{`{"type":"range","field":"age","lowerLimit":30,"lowerIncluded":false}`, false},
		{`{"type":"range","field":"age","upperLimit":30}`, true},
		{`{"type":"range","field":"age","lowerLimit":"0"}`, false},
		{`{"type":"range","field":"name","lowerLimit":"J","upperLimit":"K","upperIncluded":false}`, true},
		{`{"type":"in","field":"age","values":[1,30]}`, true},
		{`{"type":"in","field":"age","values":["30"]}`, false},
		{`{"type":"prefix","field":"name","prefix":"John"}`, true},
		{`{"type":"prefix","field":"name","prefix":"john"}`, false},
		{`{"type":"prefix","field":"age","prefix":"3"}`, false},
		{`{"type":"prefix","field":"long","prefix":"x"}`, false}, // over the index limit
		{`{"type":"hasField","field":"age","fieldType":"INTEGER"}`, true},
		{`{"type":"hasField","field":"score","fieldType":"DECIMAL"}`, true},
		{`{"type":"hasField","field":"score","fieldType":"INTEGER"}`, false},
		{`{"type":"hasField","field":"ok","fieldType":"BOOLEAN"}`, true},
		{`{"type":"hasField","field":"long","fieldType":"STRING"}`, false},
		{`{"type":"not","clause":{"type":"hasField","field":"missing","fieldType":"STRING"}}`, true},
		{`{"type":"eq","field":"nested","value":1}`, false},
		{`{"type":"eq","field":"_id","value":"o1"}`, true},
		{`{"type":"eq","field":"_owner","value":"u1"}`, true},
		{`{"type":"eq","field":"_version","value":3}`, true},
		{`{"type":"range","field":"_created","lowerLimit":1000,"upperLimit":2000}`, true},
		{`{"type":"range","field":"_modified","lowerLimit":2000,"lowerIncluded":false}`, false},
		{`{"type":"geobox","field":"loc","box":{"ne":{"_type":"point","lat":36,"lon":140},"sw":{"_type":"point","lat":35,"lon":139}}}`, true},
		{`{"type":"geobox","field":"loc","box":{"ne":{"_type":"point","lat":36,"lon":-170},"sw":{"_type":"point","lat":35,"lon":139}}}`, true}, // across the antimeridian
		{`{"type":"geobox","field":"loc","box":{"ne":{"_type":"point","lat":36,"lon":139},"sw":{"_type":"point","lat":35,"lon":138}}}`, false},
		{`{"type":"geodistance","field":"loc","center":{"_type":"point","lat":35.69,"lon":139.70},"radius":10000}`, true},
		{`{"type":"geodistance","field":"loc","center":{"_type":"point","lat":35.69,"lon":139.70},"radius":1000}`, false},
	}
	for _, tt := range tests {
		q := mustQuery(t, `{"bucketQuery":{"clause":`+tt.clause+`}}`)
		if got := q.Clause.Matches(o); got != tt.want {
			t.Errorf("%s: Matches = %v, want %v", tt.clause, got, tt.want)
		}
	}
}

func TestQueryOrder(t *testing.T) {
	objs := []Object{
		{ID: "a", Data: mustData(t, `{"v": 2}`)},
		{ID: "b", Data: mustData(t, `{"v": "x"}`)},
		{ID: "c", Data: mustData(t, `{"v": 1.5}`)},
		{ID: "d", Data: mustData(t, `{"v": true}`)},
		{ID: "e", Data: mustData(t, `{}`)},
		{ID: "f", Data: mustData(t, `{"v": 2}`)},
	}
	q := mustQuery(t, `{"bucketQuery":{"orderBy":"v"}}`)
	var got []string
	for _, o := range objs {
		if q.Selects(o) {
			got = append(got, o.ID)
		}
	}
	sortIDs := func(q Query) string {
		sel := []Object{}
		for _, o := range objs {
			if q.Selects(o) {
				sel = append(sel, o)
			}
		}
		for i := range sel {
			for j := i + 1; j < len(sel); j++ {
				if q.Compare(sel[j], sel[i]) < 0 {
					sel[i], sel[j] = sel[j], sel[i]
				}
			}
		}
		ids := ""
		for _, o := range sel {
			ids += o.ID
		}
		return ids
	}
	if s := sortIDs(q); s != "dcafb" {
		t.Errorf("ascending order = %s, want dcafb (booleans, numbers, strings; e lacks v)", s)
	}
	q.Descending = true
	if s := sortIDs(q); s != "bfacd" {
		t.Errorf("descending order = %s, want bfacd", s)
	}
	if s := sortIDs(mustQuery(t, `{}`)); s != "abcdef" {
		t.Errorf("unordered = %s, want by ID", s)
	}
}

func TestQueryDescription(t *testing.T) {
	tests := []struct{ body, want string }{
		{`{}`, "WHERE ( 1 = 1 )"},
		{`{"bucketQuery":{"clause":{"type":"or","clauses":[{"type":"eq","field":"name","value":"John Doe"},{"type":"eq","field":"age","value":30}]}}}`,
			"WHERE ( ( name = 'John Doe' ) OR ( age = 30 ) )"},
		{`{"bucketQuery":{"clause":{"type":"range","field":"a","lowerLimit":1,"upperLimit":5,"upperIncluded":false},"orderBy":"a","descending":true}}`,
			"WHERE ( a >= 1 AND a < 5 ) ORDER BY a DESC"},
	}
	for _, tt := range tests {
		if got := mustQuery(t, tt.body).Description(); got != tt.want {
			t.Errorf("Description(%s) = %q, want %q", tt.body, got, tt.want)
		}
	}
}

// FuzzParseQuery checks that no request body makes ParseQuery panic or
// fail with anything but a Kii error, and that what it accepts can be
// evaluated and described.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{
		``, `{}`, `{"bucketQuery":{"clause":{"type":"all"}},"bestEffortLimit":"10"}`,
		`{"bucketQuery":{"clause":{"type":"and","clauses":[{"type":"eq","field":"a","value":1},{"type":"not","clause":{"type":"prefix","field":"b","prefix":"x"}}]},"orderBy":"a"}}`,
		`{"bucketQuery":{"clause":{"type":"range","field":"a","lowerLimit":1,"upperLimit":5,"upperIncluded":false}}}`,
		`{"bucketQuery":{"clause":{"type":"in","field":"a","values":[1,"x",true]}}}`,
		`{"bucketQuery":{"clause":{"type":"hasField","field":"a","fieldType":"DECIMAL"}}}`,
		`{"bucketQuery":{"clause":{"type":"geobox","field":"p","box":{"ne":{"_type":"point","lat":36,"lon":140},"sw":{"_type":"point","lat":35,"lon":139}}}}}`,
		`{"bucketQuery":{"clause":{"type":"geodistance","field":"p","center":{"_type":"point","lat":35,"lon":139},"radius":1000,"putDistanceInto":"d"},"orderBy":"_calculated.d"}}`,
		`{"bucketQuery":{"aggregations":[{"type":"COUNT","putAggregationInto":"n"}]}}`,
	} {
		f.Add([]byte(s))
	}
	o := Object{ID: "x", Data: map[string]any{"a": json.Number("1"), "b": "xy", "p": map[string]any{"_type": "point", "lat": json.Number("35.5"), "lon": json.Number("139.5")}}}
	f.Fuzz(func(t *testing.T, body []byte) {
		q, err := ParseQuery(body)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("ParseQuery error %T %v is not a *kumo.Error", err, err)
			}
			return
		}
		if q.Limit < 1 || q.Limit > MaxQueryLimit {
			t.Fatalf("Limit = %d", q.Limit)
		}
		q.Selects(o)
		_ = q.Description()
	})
}
