package storetest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/sqlstore"
)

// parseQuery parses a QueryRequest body or fails the test.
func parseQuery(t testing.TB, body string) kumo.Query {
	t.Helper()
	q, err := kumo.ParseQuery([]byte(body))
	if err != nil {
		t.Fatalf("ParseQuery(%s): %v", body, err)
	}
	return q
}

// data decodes a JSON object as the API does (numbers as json.Number).
func data(t testing.TB, s string) map[string]any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("bad test JSON %s: %v", s, err)
	}
	return m
}

// queryAll reads every page of q (with q.Limit per page) and returns the
// objects' IDs in order, with the number of pages.
func queryAll(t testing.TB, db *sqlstore.Store, c kumo.Caller, b kumo.BucketRef, q kumo.Query) ([]string, int) {
	t.Helper()
	var ids []string
	for pages := 1; ; pages++ {
		res, err := db.Objects.QueryObjects(t.Context(), c, b, q)
		if err != nil {
			t.Fatalf("QueryObjects(%+v): %v", q, err)
		}
		if len(res.Results) > q.Limit {
			t.Fatalf("page of %d results, limit %d", len(res.Results), q.Limit)
		}
		for _, h := range res.Results {
			ids = append(ids, h.Object.ID)
		}
		if res.NextPaginationKey == "" {
			return ids, pages
		}
		if len(res.Results) == 0 {
			t.Fatalf("an empty page with a nextPaginationKey")
		}
		if pages > 10000 {
			t.Fatal("endless pages")
		}
		q.PaginationKey = res.NextPaginationKey
	}
}

// reference returns the IDs of objs that q selects, in q's order, by the
// reference evaluator.
func reference(q kumo.Query, objs []kumo.Object) []string {
	var sel []kumo.Object
	for _, o := range objs {
		if q.Selects(o) {
			sel = append(sel, o)
		}
	}
	slices.SortFunc(sel, q.Compare)
	ids := make([]string, len(sel))
	for i, o := range sel {
		ids[i] = o.ID
	}
	return ids
}

// testQuery checks QueryObjects.
func testQuery(t *testing.T, s suite) {
	f := newFixture(t, s)
	th, thCaller := f.mustThing("vt-q")
	_, otherCaller := f.mustThing("vt-other")
	b := f.bucket(kumo.AppScope, "people")
	objs := map[string]kumo.Object{}
	for _, d := range []string{
		`{"name":"John Doe","age":30,"tags":"a"}`,
		`{"name":"Jane","age":25.5,"ok":true}`,
		`{"name":"Jo","age":"30"}`,
		`{"name":"Max","age":41,"loc":{"_type":"point","lat":35.6586,"lon":139.7454}}`,
		`{"other":1,"loc":{"_type":"point","lat":35.7101,"lon":139.8107}}`,
	} {
		f.clock.Advance(time.Second)
		o := f.mustObject(thCaller, b, data(t, d))
		name, _ := o.Data["name"].(string)
		objs[name+fmt.Sprint(o.Data["other"])] = o
	}
	ids := func(names ...string) []string {
		var out []string
		for _, n := range names {
			out = append(out, objs[n].ID)
		}
		slices.Sort(out)
		return out
	}
	sortedIDs := func(q kumo.Query) []string {
		got, _ := queryAll(t, f.db, f.anon, b, q)
		slices.Sort(got)
		return got
	}

	t.Run("Clauses", func(t *testing.T) {
		tests := []struct {
			name, clause string
			want         []string
		}{
			{"all", `{"type":"all"}`, ids("John Doe<nil>", "Jane<nil>", "Jo<nil>", "Max<nil>", "1")},
			{"eq number is type-strict", `{"type":"eq","field":"age","value":30}`, ids("John Doe<nil>")},
			{"eq string", `{"type":"eq","field":"age","value":"30"}`, ids("Jo<nil>")},
			{"not eq skips objects lacking the field", `{"type":"not","clause":{"type":"eq","field":"age","value":30}}`, ids("Jane<nil>", "Jo<nil>", "Max<nil>")},
			{"range", `{"type":"range","field":"age","lowerLimit":25.5,"lowerIncluded":false}`, ids("John Doe<nil>", "Max<nil>")},
			{"in", `{"type":"in","field":"age","values":[25.5,"30"]}`, ids("Jane<nil>", "Jo<nil>")},
			{"prefix", `{"type":"prefix","field":"name","prefix":"Jo"}`, ids("John Doe<nil>", "Jo<nil>")},
			{"hasField", `{"type":"hasField","field":"age","fieldType":"DECIMAL"}`, ids("Jane<nil>")},
			{"or", `{"type":"or","clauses":[{"type":"eq","field":"ok","value":true},{"type":"eq","field":"other","value":1}]}`, ids("Jane<nil>", "1")},
			{"geobox", `{"type":"geobox","field":"loc","box":{"ne":{"_type":"point","lat":35.7,"lon":139.8},"sw":{"_type":"point","lat":35.6,"lon":139.7}}}`, ids("Max<nil>")},
			{"geodistance", `{"type":"geodistance","field":"loc","center":{"_type":"point","lat":35.6586,"lon":139.7454},"radius":10000}`, ids("Max<nil>", "1")},
			{"_owner", `{"type":"eq","field":"_owner","value":"` + th.ID + `"}`, ids("John Doe<nil>", "Jane<nil>", "Jo<nil>", "Max<nil>", "1")},
			{"_created", `{"type":"range","field":"_created","upperLimit":` + fmt.Sprint(epoch+2000) + `}`, ids("John Doe<nil>", "Jane<nil>")},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				q := parseQuery(t, `{"bucketQuery":{"clause":`+tt.clause+`}}`)
				if got := sortedIDs(q); !slices.Equal(got, tt.want) {
					t.Errorf("got %v, want %v", got, tt.want)
				}
			})
		}
	})

	t.Run("Order", func(t *testing.T) {
		q := parseQuery(t, `{"bucketQuery":{"clause":{"type":"hasField","field":"age","fieldType":"STRING"},"orderBy":"age"}}`)
		q2 := parseQuery(t, `{"bucketQuery":{"orderBy":"age","descending":true},"bestEffortLimit":2}`)
		got, _ := queryAll(t, f.db, f.anon, b, q2)
		want := []string{objs["Jo<nil>"].ID, objs["Max<nil>"].ID, objs["John Doe<nil>"].ID, objs["Jane<nil>"].ID}
		if !slices.Equal(got, want) {
			t.Errorf("orderBy age descending = %v, want %v (strings after numbers; no age: left out)", got, want)
		}
		if got, _ := queryAll(t, f.db, f.anon, b, q); len(got) != 1 {
			t.Errorf("got %v", got)
		}
		q3 := parseQuery(t, `{"bucketQuery":{"orderBy":"_created","descending":true},"bestEffortLimit":1}`)
		got, pages := queryAll(t, f.db, f.anon, b, q3)
		if len(got) != 5 || got[0] != objs["1"].ID || pages != 5 {
			t.Errorf("orderBy _created descending = %v in %d pages", got, pages)
		}
	})

	t.Run("Distance", func(t *testing.T) {
		q := parseQuery(t, `{"bucketQuery":{"clause":{"type":"geodistance","field":"loc","center":{"_type":"point","lat":35.7101,"lon":139.8107},"radius":20000,"putDistanceInto":"d"},"orderBy":"_calculated.d"},"bestEffortLimit":1}`)
		res, err := f.db.Objects.QueryObjects(f.ctx, f.anon, b, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Results) != 1 || res.Results[0].Object.ID != objs["1"].ID || res.Results[0].Calculated["d"] != 0 || res.NextPaginationKey == "" {
			t.Fatalf("first page = %+v", res)
		}
		q.PaginationKey = res.NextPaginationKey
		res, err = f.db.Objects.QueryObjects(f.ctx, f.anon, b, q)
		if err != nil {
			t.Fatal(err)
		}
		d := res.Results[0].Calculated["d"]
		if len(res.Results) != 1 || res.Results[0].Object.ID != objs["Max<nil>"].ID || d < 7000 || d > 9000 || res.NextPaginationKey != "" {
			t.Errorf("second page = %+v (distance %v m, want about 8 km)", res, d)
		}
	})

	t.Run("Count", func(t *testing.T) {
		q := parseQuery(t, `{"bucketQuery":{"clause":{"type":"hasField","field":"name","fieldType":"STRING"},"aggregations":[{"type":"COUNT","putAggregationInto":"n"}]}}`)
		res, err := f.db.Objects.QueryObjects(f.ctx, f.anon, b, q)
		if err != nil || res.Aggregations["n"] != 4 || len(res.Results) != 0 {
			t.Errorf("count = %+v, %v; want 4", res, err)
		}
		q = parseQuery(t, `{"bucketQuery":{"clause":{"type":"geodistance","field":"loc","center":{"_type":"point","lat":35.6586,"lon":139.7454},"radius":100},"aggregations":[{"type":"COUNT","putAggregationInto":"n"}]}}`)
		if res, err := f.db.Objects.QueryObjects(f.ctx, f.anon, b, q); err != nil || res.Aggregations["n"] != 1 {
			t.Errorf("geodistance count = %+v, %v; want 1", res, err)
		}
	})

	t.Run("Errors", func(t *testing.T) {
		all := parseQuery(t, `{}`)
		_, err := f.db.Objects.QueryObjects(f.ctx, f.anon, f.bucket(kumo.AppScope, "nobucket"), all)
		if wantCode(t, "missing bucket", err, kumo.ErrBucketNotFound) {
			wantFields(t, "missing bucket", err, map[string]any{"bucketID": "nobucket"})
		}
		tb := f.bucket(thingScope(th.ID), "mine")
		f.mustObject(thCaller, tb, map[string]any{"a": 1})
		_, err = f.db.Objects.QueryObjects(f.ctx, otherCaller, tb, all)
		wantCode(t, "another thing's bucket", err, kumo.ErrUnauthorized)
		_, err = f.db.Objects.QueryObjects(f.ctx, f.anon, tb, all)
		wantCode(t, "anonymous in a thing's bucket", err, kumo.ErrUnauthorized)
		if got, _ := queryAll(t, f.db, thCaller, tb, all); len(got) != 1 {
			t.Errorf("the thing's own bucket: %v", got)
		}
		bad := all
		bad.PaginationKey = "not-a-key"
		_, err = f.db.Objects.QueryObjects(f.ctx, f.anon, b, bad)
		wantCode(t, "bad paginationKey", err, kumo.ErrInvalidInputData)
	})

	t.Run("IndexFollowsWrites", func(t *testing.T) {
		f := newFixture(t, s)
		_, c := f.mustThing("vt-w")
		b := f.bucket(kumo.AppScope, "w")
		o := f.mustObject(c, b, map[string]any{"v": 1, "keep": "k"})
		eq := func(field string, v any) []string {
			body, _ := json.Marshal(map[string]any{"bucketQuery": map[string]any{"clause": map[string]any{"type": "eq", "field": field, "value": v}}})
			got, _ := queryAll(t, f.db, f.admin, b, parseQuery(t, string(body)))
			return got
		}
		if _, err := f.db.Objects.PatchObject(f.ctx, c, kumo.ObjectWrite{Bucket: b, ID: o.ID, Data: map[string]any{"v": 2}}); err != nil {
			t.Fatal(err)
		}
		if len(eq("v", 1)) != 0 || len(eq("v", 2)) != 1 || len(eq("keep", "k")) != 1 {
			t.Errorf("after a patch: v=1 %v, v=2 %v, keep %v", eq("v", 1), eq("v", 2), eq("keep", "k"))
		}
		if _, _, err := f.db.Objects.ReplaceObject(f.ctx, c, kumo.ObjectWrite{Bucket: b, ID: o.ID, Data: map[string]any{"v": 3}}); err != nil {
			t.Fatal(err)
		}
		if len(eq("v", 3)) != 1 || len(eq("keep", "k")) != 0 {
			t.Errorf("after a replace: v=3 %v, keep %v", eq("v", 3), eq("keep", "k"))
		}
		if _, _, err := f.db.Objects.ReplaceObject(f.ctx, c, kumo.ObjectWrite{Bucket: b, ID: "put-id", Data: map[string]any{"v": 3}}); err != nil {
			t.Fatal(err)
		}
		if len(eq("v", 3)) != 2 {
			t.Errorf("after a PUT create: %v", eq("v", 3))
		}
		if err := f.db.Objects.DeleteObject(f.ctx, c, b, o.ID, ""); err != nil {
			t.Fatal(err)
		}
		if got := eq("v", 3); len(got) != 1 || got[0] != "put-id" {
			t.Errorf("after a delete: %v", got)
		}
		if err := f.db.Buckets.DeleteBucket(f.ctx, c, b); err != nil {
			t.Fatal(err)
		}
		f.mustObject(c, b, map[string]any{"other": 1})
		if got := eq("v", 3); len(got) != 0 {
			t.Errorf("after the bucket was dropped and made again: %v", got)
		}
		// Deleting a thing drops the index rows of its buckets.
		th2, c2 := f.mustThing("vt-gone")
		tb := f.bucket(thingScope(th2.ID), "tb")
		f.mustObject(c2, tb, map[string]any{"v": 3})
		if err := f.db.Things.DeleteThing(f.ctx, f.admin, th2.ID); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := f.db.ReadDB().QueryRow("SELECT COUNT(*) FROM object_fields WHERE field = 'v'").Scan(&n); err != nil || n != 0 {
			t.Errorf("index rows left after the deletes: %d, %v", n, err)
		}
	})

	t.Run("StablePages", func(t *testing.T) {
		f := newFixture(t, s)
		_, c := f.mustThing("vt-p")
		b := f.bucket(kumo.AppScope, "pages")
		var all []kumo.Object
		for i := range 10 {
			all = append(all, f.mustObject(c, b, map[string]any{"n": i}))
		}
		for _, body := range []string{`{"bestEffortLimit":3}`, `{"bucketQuery":{"orderBy":"n"},"bestEffortLimit":3}`,
			`{"bucketQuery":{"orderBy":"n","descending":true},"bestEffortLimit":3}`} {
			q := parseQuery(t, body)
			first, err := f.db.Objects.QueryObjects(f.ctx, c, b, q)
			if err != nil || len(first.Results) != 3 || first.NextPaginationKey == "" {
				t.Fatalf("%s: first page %+v, %v", body, first, err)
			}
			seen := map[string]bool{}
			for _, h := range first.Results {
				seen[h.Object.ID] = true
			}
			// Between the pages: an object deleted, one inserted.
			var victim kumo.Object
			for _, o := range all {
				if !seen[o.ID] {
					victim = o
					break
				}
			}
			if err := f.db.Objects.DeleteObject(f.ctx, c, b, victim.ID, ""); err != nil {
				t.Fatal(err)
			}
			added := f.mustObject(c, b, map[string]any{"n": 100})
			q.PaginationKey = first.NextPaginationKey
			rest, _ := queryAll(t, f.db, c, b, q)
			got := append(slices.Collect(func(yield func(string) bool) {
				for _, h := range first.Results {
					yield(h.Object.ID)
				}
			}), rest...)
			// Every object of the bucket now is read once, the deleted one never,
			// and the first page's objects once.
			want := map[string]bool{added.ID: true}
			for _, o := range all {
				if o.ID != victim.ID {
					want[o.ID] = true
				}
			}
			counts := map[string]int{}
			for _, id := range got {
				counts[id]++
			}
			for id := range want {
				// The object inserted may fall before the cursor (unread).
				if counts[id] != 1 && !(id == added.ID && counts[id] == 0) {
					t.Errorf("%s: object %s read %d times", body, id, counts[id])
				}
			}
			if counts[victim.ID] != 0 {
				t.Errorf("%s: the deleted object was read", body)
			}
			all = slices.DeleteFunc(all, func(o kumo.Object) bool { return o.ID == victim.ID })
			all = append(all, added)
		}
	})

	t.Run("MatchesEvaluator", func(t *testing.T) { checkQueryProperty(t, s, 1, 150) })
}

// checkQueryProperty fills a bucket with random objects and checks that
// the store answers random queries as the reference evaluator does
// (results and order, read page by page).
func checkQueryProperty(t *testing.T, s suite, seed uint64, queries int) {
	f := newFixture(t, s)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var callers []kumo.Caller
	for i := range 3 {
		_, c := f.mustThing(fmt.Sprintf("vt-r%d", i))
		callers = append(callers, c)
	}
	callers = append(callers, f.admin)
	b := f.bucket(kumo.AppScope, "random")
	var objs []kumo.Object
	for range 60 {
		f.clock.Advance(time.Duration(r.IntN(3)) * time.Millisecond)
		m := map[string]any{}
		for _, field := range []string{"a", "b", "c", "p"} {
			if v, ok := randomValue(r, field == "p"); ok {
				m[field] = v
			}
		}
		raw, _ := json.Marshal(m)
		o := f.mustObject(callers[r.IntN(len(callers))], b, data(t, string(raw)))
		if r.IntN(4) == 0 {
			patch := map[string]any{}
			if v, ok := randomValue(r, false); ok {
				patch["a"] = v
			}
			raw, _ := json.Marshal(patch)
			var err error
			if o, err = f.db.Objects.PatchObject(f.ctx, f.admin, kumo.ObjectWrite{Bucket: b, ID: o.ID, Data: data(t, string(raw))}); err != nil {
				t.Fatal(err)
			}
		}
		objs = append(objs, o)
	}
	for i := range queries {
		body := randomQuery(r)
		q, err := kumo.ParseQuery([]byte(body))
		if err != nil {
			t.Fatalf("query %d: ParseQuery(%s): %v", i, body, err)
		}
		want := reference(q, objs)
		got, _ := queryAll(t, f.db, f.admin, b, q)
		if !slices.Equal(got, want) {
			t.Errorf("query %d %s:\n got  %v\n want %v", i, body, got, want)
		}
		if strings.Contains(body, "orderBy") {
			continue
		}
		q.Aggregations, q.Limit = []kumo.Aggregation{{Type: "COUNT", Into: "n"}}, kumo.MaxQueryLimit
		res, err := f.db.Objects.QueryObjects(f.ctx, f.admin, b, q)
		if err != nil || res.Aggregations["n"] != int64(len(want)) {
			t.Errorf("query %d %s: count %v, %v; want %d", i, body, res.Aggregations, err, len(want))
		}
	}
}

// randomValue returns a random JSON value for a field (or none).
func randomValue(r *rand.Rand, point bool) (any, bool) {
	if point && r.IntN(3) > 0 {
		return map[string]any{"_type": "point", "lat": 35 + r.Float64(), "lon": 139 + r.Float64()}, true
	}
	switch r.IntN(10) {
	case 0:
		return nil, false
	case 1:
		return nil, true // null
	case 2:
		return r.IntN(2) == 0, true
	case 3, 4:
		return r.IntN(5), true
	case 5:
		return json.Number(fmt.Sprintf("%d.5", r.IntN(4))), true
	case 6:
		return json.Number(fmt.Sprintf("%d.0", r.IntN(4))), true
	case 7:
		return strings.Repeat("y", 189+r.IntN(3)), true // at the index limit
	case 8:
		return []any{1}, true
	}
	return []string{"x", "xy", "xz", "y", "", "30", "é"}[r.IntN(7)], true
}

// randomQuery returns a random QueryRequest body.
func randomQuery(r *rand.Rand) string {
	q := map[string]any{"clause": randomClause(r, 0)}
	if r.IntN(3) == 0 {
		q["orderBy"] = []string{"a", "b", "_created", "_id", "_owner", "_version", "p"}[r.IntN(7)]
		q["descending"] = r.IntN(2) == 0
	}
	body := map[string]any{"bucketQuery": q, "bestEffortLimit": 1 + r.IntN(25)}
	raw, _ := json.Marshal(body)
	return string(raw)
}

func randomScalar(r *rand.Rand) any {
	switch r.IntN(6) {
	case 0:
		return r.IntN(2) == 0
	case 1, 2:
		return r.IntN(5)
	case 3:
		return json.Number(fmt.Sprintf("%d.5", r.IntN(4)))
	}
	return []string{"x", "xy", "y", "", "30", "é"}[r.IntN(6)]
}

func randomClause(r *rand.Rand, depth int) map[string]any {
	fields := []string{"a", "b", "c", "a", "b", "_created", "_owner", "_id", "_version", "missing"}
	field := fields[r.IntN(len(fields))]
	n := r.IntN(12)
	if depth >= 3 && n < 3 {
		n += 3
	}
	switch n {
	case 0:
		return map[string]any{"type": "not", "clause": randomClause(r, depth+1)}
	case 1, 2:
		var cs []any
		for range 1 + r.IntN(3) {
			cs = append(cs, randomClause(r, depth+1))
		}
		return map[string]any{"type": []string{"and", "or"}[r.IntN(2)], "clauses": cs}
	case 3:
		return map[string]any{"type": "all"}
	case 4, 5:
		return map[string]any{"type": "eq", "field": field, "value": randomScalar(r)}
	case 6:
		c := map[string]any{"type": "range", "field": field}
		numeric := r.IntN(3) > 0
		for _, end := range []string{"lower", "upper"} {
			if r.IntN(3) == 0 && end == "upper" && c["lowerLimit"] != nil {
				continue
			}
			if numeric {
				c[end+"Limit"] = float64(r.IntN(9)) / 2
			} else {
				c[end+"Limit"] = []string{"x", "xy", "y", ""}[r.IntN(4)]
			}
			c[end+"Included"] = r.IntN(2) == 0
		}
		return c
	case 7:
		var vs []any
		for range 1 + r.IntN(4) {
			vs = append(vs, randomScalar(r))
		}
		return map[string]any{"type": "in", "field": field, "values": vs}
	case 8:
		return map[string]any{"type": "prefix", "field": field, "prefix": []string{"x", "", "y", "é", "3"}[r.IntN(5)]}
	case 9:
		return map[string]any{"type": "hasField", "field": field, "fieldType": []string{"STRING", "INTEGER", "DECIMAL", "BOOLEAN"}[r.IntN(4)]}
	case 10:
		return map[string]any{"type": "geobox", "field": "p", "box": map[string]any{
			"ne": map[string]any{"_type": "point", "lat": 35.5 + r.Float64()/2, "lon": 139.5 + r.Float64()/2},
			"sw": map[string]any{"_type": "point", "lat": 35 + r.Float64()/2, "lon": 139 + r.Float64()/2}}}
	}
	return map[string]any{"type": "geodistance", "field": "p", "radius": 1000 + r.Float64()*60000,
		"center": map[string]any{"_type": "point", "lat": 35 + r.Float64(), "lon": 139 + r.Float64()}, "putDistanceInto": "d"}
}

// FuzzQuery is the fuzz target of the query property: each input is the
// seed of a random bucket and random queries, whose results from a store
// over a new database (open) must equal the reference evaluator's.
func FuzzQuery(f *testing.F, open OpenFunc) {
	for seed := range uint64(4) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, seed uint64) {
		checkQueryProperty(t, suite{open: open}, seed, 25)
	})
}

// BenchmarkQuery loads 100,000 objects into one bucket of a store over a
// new database (open), then measures, with their p50 and p99 latencies:
// a GET of one object by ID (the baseline), an eq query on a field (1,000
// matches, the first page of 200), a range on a field ordered by it with
// bestEffortLimit 50, and five consecutive pages of that query read
// through paginationKey (the five together).
func BenchmarkQuery(b *testing.B, open func(b *testing.B) *sqlstore.Store) {
	const objects = 100_000
	ctx := b.Context()
	db := open(b)
	app, err := db.Apps.CreateApp(ctx, kumo.AppCreate{})
	if err != nil {
		b.Fatal(err)
	}
	c := kumo.Caller{AppID: app.AppID, Kind: kumo.Admin}
	bucket := kumo.BucketRef{AppID: app.AppID, Scope: kumo.AppScope, Name: "bench"}
	ids := make([]string, objects)
	start := time.Now()
	work := make(chan int)
	done := make(chan error)
	for range 64 {
		go func() {
			for i := range work {
				o, err := db.Objects.CreateObject(ctx, c, kumo.ObjectCreate{Bucket: bucket, Data: map[string]any{
					"seq": i, "group": fmt.Sprintf("g%03d", i%100), "temp": float64(i%10000) / 100,
					"name": fmt.Sprintf("device-%06d", i), "on": i%2 == 0}})
				if err != nil {
					done <- err
					return
				}
				ids[i] = o.ID
			}
			done <- nil
		}()
	}
	for i := range objects {
		work <- i
	}
	close(work)
	for range 64 {
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("loaded %d objects in %v", objects, time.Since(start).Round(time.Millisecond))
	r := rand.New(rand.NewPCG(1, 2))
	query := func(b *testing.B, body string) kumo.QueryResult {
		q, err := kumo.ParseQuery([]byte(body))
		if err != nil {
			b.Fatal(err)
		}
		res, err := db.Objects.QueryObjects(ctx, c, bucket, q)
		if err != nil {
			b.Fatal(err)
		}
		return res
	}
	rangeBody := func(lower float64, key string) string {
		s := fmt.Sprintf(`{"bucketQuery":{"clause":{"type":"range","field":"temp","lowerLimit":%g},"orderBy":"temp"},"bestEffortLimit":50`, lower)
		if key != "" {
			s += fmt.Sprintf(`,"paginationKey":%q`, key)
		}
		return s + "}"
	}
	// The bucket's first query indexes it (once); the figures below are of
	// an indexed bucket.
	t0 := time.Now()
	query(b, `{"bucketQuery":{"clause":{"type":"eq","field":"group","value":"g000"}}}`)
	b.Logf("first query, indexing the bucket's %d objects: %v", objects, time.Since(t0).Round(time.Millisecond))
	for _, k := range []struct {
		name string
		run  func(b *testing.B)
	}{
		{"get-by-id-baseline", func(b *testing.B) {
			if _, err := db.Objects.GetObject(ctx, c, bucket, ids[r.IntN(objects)]); err != nil {
				b.Fatal(err)
			}
		}},
		{"eq", func(b *testing.B) {
			res := query(b, fmt.Sprintf(`{"bucketQuery":{"clause":{"type":"eq","field":"group","value":"g%03d"}}}`, r.IntN(100)))
			if len(res.Results) != kumo.MaxQueryLimit {
				b.Fatalf("eq: %d results", len(res.Results))
			}
		}},
		{"range-orderBy-limit50", func(b *testing.B) {
			if res := query(b, rangeBody(float64(r.IntN(9000))/100, "")); len(res.Results) != 50 {
				b.Fatalf("range: %d results", len(res.Results))
			}
		}},
		{"five-pages", func(b *testing.B) {
			lower, key := float64(r.IntN(9000))/100, ""
			for range 5 {
				res := query(b, rangeBody(lower, key))
				if len(res.Results) != 50 || res.NextPaginationKey == "" {
					b.Fatalf("page: %d results", len(res.Results))
				}
				key = res.NextPaginationKey
			}
		}},
	} {
		b.Run(k.name, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			for b.Loop() {
				t0 := time.Now()
				k.run(b)
				lat = append(lat, time.Since(t0))
			}
			slices.Sort(lat)
			ms := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
			b.ReportMetric(ms(0.5), "p50-ms")
			b.ReportMetric(ms(0.99), "p99-ms")
		})
	}
}

// testQueryLazyIndex checks that a bucket is indexed by its first query:
// no index rows before, the objects stored until then found by it, later
// writes indexed as they come, and a dropped bucket made again starts
// unindexed.
func testQueryLazyIndex(t *testing.T, s suite) {
	f := newFixture(t, s)
	_, c := f.mustThing("vt-lazy")
	b := f.bucket(kumo.AppScope, "lazy")
	for i := range 1200 {
		f.mustObject(c, b, map[string]any{"n": i})
	}
	rows := func() int {
		t.Helper()
		var n int
		if err := f.db.ReadDB().QueryRow("SELECT COUNT(*) FROM object_fields").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := rows(); n != 0 {
		t.Fatalf("%d index rows before any query, want 0", n)
	}
	count := func(lower int) int {
		t.Helper()
		q, err := kumo.ParseQuery(fmt.Appendf(nil, `{"bucketQuery":{"clause":{"type":"range","field":"n","lowerLimit":%d}}}`, lower))
		if err != nil {
			t.Fatal(err)
		}
		res, err := f.db.Objects.QueryObjects(f.ctx, c, b, q)
		if err != nil {
			t.Fatalf("QueryObjects: %v", err)
		}
		return len(res.Results)
	}
	if got := count(1100); got != 100 {
		t.Fatalf("first query: %d results, want 100", got)
	}
	if n := rows(); n != 3*1200 { // the field n, _created and _modified
		t.Fatalf("%d index rows after the first query, want %d", n, 3*1200)
	}
	f.mustObject(c, b, map[string]any{"n": 5000})
	if got := count(4000); got != 1 {
		t.Fatalf("an object written after the first query: %d results, want 1", got)
	}
	f.reopen()
	f.mustObject(c, b, map[string]any{"n": 6000})
	if got := count(4000); got != 2 {
		t.Fatalf("after a restart: %d results, want 2", got)
	}
	if err := f.db.Buckets.DeleteBucket(f.ctx, c, b); err != nil {
		t.Fatal(err)
	}
	f.mustObject(c, b, map[string]any{"n": 7000})
	if n := rows(); n != 0 {
		t.Fatalf("%d index rows in a bucket made again, want 0", n)
	}
	if got := count(4000); got != 1 {
		t.Fatalf("the bucket made again: %d results, want 1", got)
	}
}

// testQueryIndexWhileWriting checks that objects written while a bucket is
// being indexed are found: the backfill and the writes that race with it
// leave every object indexed once.
func testQueryIndexWhileWriting(t *testing.T, s suite) {
	f := newFixture(t, s)
	_, c := f.mustThing("vt-race")
	b := f.bucket(kumo.AppScope, "race")
	const before, during = 5000, 300
	for i := range before {
		f.mustObject(c, b, map[string]any{"n": i})
	}
	q, err := kumo.ParseQuery([]byte(`{"bucketQuery":{"clause":{"type":"range","field":"n","lowerLimit":0},
		"aggregations":[{"type":"COUNT","putAggregationInto":"n"}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range during {
			if _, err := f.db.Objects.CreateObject(f.ctx, c, kumo.ObjectCreate{Bucket: b, Data: map[string]any{"n": before + i}}); err != nil {
				t.Errorf("CreateObject during the indexing: %v", err)
				return
			}
		}
	})
	if _, err := f.db.Objects.QueryObjects(f.ctx, c, b, q); err != nil { // the first query: indexes the bucket
		t.Fatalf("first query: %v", err)
	}
	wg.Wait()
	res, err := f.db.Objects.QueryObjects(f.ctx, c, b, q)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Aggregations["n"]; got != before+during {
		t.Errorf("count after the indexing = %d, want %d", got, before+during)
	}
	var rows int
	if err := f.db.ReadDB().QueryRow("SELECT COUNT(*) FROM object_fields WHERE field = 'n'").Scan(&rows); err != nil || rows != before+during {
		t.Errorf("index rows of n = %d, %v; want one per object, %d", rows, err, before+during)
	}
}
