package api

import (
	"encoding/json"
	"flag"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/kumo-iot/kumo"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestQueryJSON pins the wire shapes of query answers in golden files.
func TestQueryJSON(t *testing.T) {
	b := kumo.BucketRef{AppID: "app1", Scope: kumo.Scope{Kind: kumo.ScopeThing, ID: "th.1"}, Name: "b"}
	obj := func(id string, data map[string]any, dataType, owner string) kumo.Object {
		return kumo.Object{ID: id, Bucket: b, Data: data, DataType: dataType, Owner: owner, Version: 2, Created: 1700000000000, Modified: 1700000000500}
	}
	parse := func(body string) kumo.Query {
		q, err := kumo.ParseQuery([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	tests := []struct {
		name string
		q    kumo.Query
		res  kumo.QueryResult
	}{
		{"query-page", parse(`{"bucketQuery":{"clause":{"type":"or","clauses":[{"type":"eq","field":"name","value":"John Doe"},{"type":"eq","field":"age","value":30}]}},"bestEffortLimit":1}`),
			kumo.QueryResult{Results: []kumo.QueryHit{{Object: obj("o1", map[string]any{"name": "John Doe", "age": json.Number("30")}, "mydata", "th.1")}},
				NextPaginationKey: "eyJrIjoicyJ9"}},
		{"query-last-page", parse(`{}`),
			kumo.QueryResult{Results: []kumo.QueryHit{{Object: obj("o2", map[string]any{"a": true}, "", "")}}}},
		{"query-empty", parse(`{}`), kumo.QueryResult{}},
		{"query-distance", parse(`{"bucketQuery":{"clause":{"type":"geodistance","field":"loc","center":{"_type":"point","lat":35.65,"lon":139.74},"radius":1000,"putDistanceInto":"d"},"orderBy":"_calculated.d"}}`),
			kumo.QueryResult{Results: []kumo.QueryHit{{Object: obj("o3", map[string]any{"loc": map[string]any{"_type": "point", "lat": json.Number("35.6586"), "lon": json.Number("139.7454")}}, "", "th.1"),
				Calculated: map[string]float64{"d": 1039.5}}}}},
		{"query-count", parse(`{"bucketQuery":{"aggregations":[{"type":"COUNT","putAggregationInto":"count_field"}]}}`),
			kumo.QueryResult{Aggregations: map[string]int64{"count_field": 42}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			writeJSON(w, 200, "application/vnd.kii.QueryResponse+json", queryJSON(tt.q, tt.res))
			path := filepath.Join("testdata", tt.name+".golden.json")
			if *update {
				if err := os.WriteFile(path, w.Body.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got := w.Body.String(); got != string(want) {
				t.Errorf("body differs from %s:\n%s", path, got)
			}
		})
	}
}
