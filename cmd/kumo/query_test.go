package main

import (
	"fmt"
	"testing"
)

func TestQueryAPI(t *testing.T) { forEachStore(t, testQueryAPI) }

func testQueryAPI(t *testing.T, cfg config) {
	f := newFixture(t, cfg)
	n := f.n
	tb := "/api/apps/{app}/things/{thing}/buckets/readings"
	auth := []string{"Authorization", thingAuth}
	qct := []string{"Authorization", thingAuth, "Content-Type", "application/vnd.kii.QueryRequest+json"}
	var ids []string
	for i := range 5 {
		ids = append(ids, n.createObject(f.thing, "readings", fmt.Sprintf(`{"seq":%d,"kind":"%s","loc":{"_type":"point","lat":35.6%d,"lon":139.7}}`, i, []string{"a", "b"}[i%2], i)))
	}
	f.run(t, []apiCase{
		{name: "all", method: "POST", path: tb + "/query", body: `{"bucketQuery":{"clause":{"type":"all"}}}`, headers: qct,
			status: 200, ctype: "application/vnd.kii.QueryResponse+json", bodyHas: []string{`"queryDescription" : "WHERE ( 1 = 1 )"`, `"_owner" : "{thing}"`, `"_version" : "1"`}},
		{name: "application/json", method: "POST", path: tb + "/query", body: `{"bucketQuery":{"clause":{"type":"eq","field":"kind","value":"a"}}}`,
			headers: append([]string{"Content-Type", "application/json"}, auth...), status: 200, bodyHas: []string{`"kind" : "a"`}},
		{name: "app scope for anonymous", method: "POST", path: "/api/apps/{app}/buckets/nothere/query", body: `{}`, status: 404, code: "BUCKET_NOT_FOUND"},
		{name: "missing bucket", method: "POST", path: tb + "x/query", body: `{}`, headers: qct, status: 404, code: "BUCKET_NOT_FOUND"},
		{name: "another thing", method: "POST", path: tb + "/query", body: `{}`, headers: []string{"Authorization", "Bearer {othertoken}"}, status: 401, code: "UNAUTHORIZED"},
		{name: "bad clause", method: "POST", path: tb + "/query", body: `{"bucketQuery":{"clause":{"type":"eq","field":"a"}}}`, headers: qct, status: 400, code: "INVALID_INPUT_DATA"},
		{name: "count with paginationKey", method: "POST", path: tb + "/query", body: `{"bucketQuery":{"aggregations":[{"type":"COUNT","putAggregationInto":"count_field"}]},"paginationKey":"x"}`,
			headers: qct, status: 400, code: "QUERY_NOT_SUPPORTED"},
		{name: "count", method: "POST", path: tb + "/query", body: `{"bucketQuery":{"clause":{"type":"eq","field":"kind","value":"a"},"aggregations":[{"type":"COUNT","putAggregationInto":"count_field"}]}}`,
			headers: qct, status: 200, bodyHas: []string{`"count_field" : 3`}},
		{name: "not JSON", method: "POST", path: tb + "/query", body: `{`, headers: qct, status: 400, code: "INVALID_JSON"},
	})

	t.Run("pages", func(t *testing.T) {
		body := `{"bucketQuery":{"clause":{"type":"range","field":"seq","lowerLimit":0},"orderBy":"seq","descending":true},"bestEffortLimit":"2"}`
		var got []any
		for page := 0; ; page++ {
			r := do(t, "POST", n.base+f.expand(tb+"/query"), body, "Authorization", f.expand(thingAuth), "Content-Type", qct[3])
			wantStatus(t, r, 200)
			m := r.JSON(t)
			for _, o := range m["results"].([]any) {
				got = append(got, o.(map[string]any)["_id"])
			}
			key, ok := m["nextPaginationKey"].(string)
			if !ok {
				if page != 2 {
					t.Errorf("last page is page %d, want 2", page)
				}
				break
			}
			body = fmt.Sprintf(`{"bucketQuery":{"clause":{"type":"range","field":"seq","lowerLimit":0},"orderBy":"seq","descending":true},"bestEffortLimit":"2","paginationKey":%q}`, key)
		}
		want := []any{ids[4], ids[3], ids[2], ids[1], ids[0]}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("pages = %v, want %v", got, want)
		}
	})

	t.Run("geodistance", func(t *testing.T) {
		r := do(t, "POST", n.base+f.expand(tb+"/query"),
			`{"bucketQuery":{"clause":{"type":"geodistance","field":"loc","center":{"_type":"point","lat":35.60,"lon":139.7},"radius":2500,"putDistanceInto":"d"},"orderBy":"_calculated.d"}}`,
			"Authorization", f.expand(thingAuth), "Content-Type", qct[3])
		wantStatus(t, r, 200)
		res := r.JSON(t)["results"].([]any)
		if len(res) != 3 {
			t.Fatalf("got %d results, want 3: %s", len(res), r.Body)
		}
		first := res[0].(map[string]any)
		if first["_id"] != ids[0] || first["_calculated"].(map[string]any)["d"] == nil {
			t.Errorf("first result = %v, want %s with _calculated.d", first, ids[0])
		}
	})
}
