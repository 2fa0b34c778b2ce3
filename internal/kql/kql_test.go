package kql_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/kql"
	"github.com/kumo-iot/kumo/internal/sqlstore/postgres"
	"github.com/kumo-iot/kumo/internal/sqlstore/sqlite"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// objects is the Source of object queries, as sqlstore builds it.
var objects = kql.Source{
	Table: "objects", ID: "id", Index: "object_fields", IndexID: "object_id",
	Keys:    []kql.Key{{Column: "app_id", Value: "app1"}, {Column: "scope", Value: ""}, {Column: "bucket", Value: "b"}},
	Columns: []string{"id", "data"},
	System: []kql.SystemCol{
		{Field: "_id", Column: "id", Kind: kumo.IndexString},
		{Field: "_owner", Column: "owner", Kind: kumo.IndexString, EmptyAbsent: true},
		{Field: "_created", Column: "created", Kind: kumo.IndexNumber},
		{Field: "_modified", Column: "modified", Kind: kumo.IndexNumber},
		{Field: "_version", Column: "version", Kind: kumo.IndexNumber},
	},
}

// goldenQueries cover every clause type, every order and a next page.
var goldenQueries = []struct {
	name, body string
	after      *kql.Cursor
}{
	{name: "all", body: `{}`},
	{name: "all page 2", body: `{}`, after: &kql.Cursor{Kind: "s", ID: "obj9"}},
	{name: "eq string", body: `{"bucketQuery":{"clause":{"type":"eq","field":"name","value":"John"}}}`},
	{name: "eq number", body: `{"bucketQuery":{"clause":{"type":"eq","field":"age","value":30}}}`},
	{name: "eq boolean", body: `{"bucketQuery":{"clause":{"type":"eq","field":"ok","value":true}}}`},
	{name: "not eq", body: `{"bucketQuery":{"clause":{"type":"not","clause":{"type":"eq","field":"age","value":30}}}}`},
	{name: "and or", body: `{"bucketQuery":{"clause":{"type":"and","clauses":[{"type":"or","clauses":[{"type":"eq","field":"a","value":1},{"type":"eq","field":"b","value":"x"}]},{"type":"not","clause":{"type":"or","clauses":[{"type":"eq","field":"c","value":1},{"type":"eq","field":"d","value":2}]}}]}}}`},
	{name: "range numbers", body: `{"bucketQuery":{"clause":{"type":"range","field":"t","lowerLimit":10,"lowerIncluded":false,"upperLimit":20}}}`},
	{name: "range strings", body: `{"bucketQuery":{"clause":{"type":"range","field":"s","lowerLimit":"a"}}}`},
	{name: "in mixed", body: `{"bucketQuery":{"clause":{"type":"in","field":"v","values":[1,2,"x",true]}}}`},
	{name: "prefix", body: `{"bucketQuery":{"clause":{"type":"prefix","field":"name","prefix":"Jo"}}}`},
	{name: "not prefix", body: `{"bucketQuery":{"clause":{"type":"not","clause":{"type":"prefix","field":"name","prefix":"Jo"}}}}`},
	{name: "hasField", body: `{"bucketQuery":{"clause":{"type":"hasField","field":"t","fieldType":"DECIMAL"}}}`},
	{name: "not hasField", body: `{"bucketQuery":{"clause":{"type":"not","clause":{"type":"hasField","field":"t","fieldType":"INTEGER"}}}}`},
	{name: "geobox", body: `{"bucketQuery":{"clause":{"type":"geobox","field":"p","box":{"ne":{"_type":"point","lat":36,"lon":140},"sw":{"_type":"point","lat":35,"lon":139}}}}}`},
	{name: "geobox across the antimeridian", body: `{"bucketQuery":{"clause":{"type":"geobox","field":"p","box":{"ne":{"_type":"point","lat":36,"lon":-170},"sw":{"_type":"point","lat":35,"lon":170}}}}}`},
	{name: "geodistance", body: `{"bucketQuery":{"clause":{"type":"geodistance","field":"p","center":{"_type":"point","lat":35.68,"lon":139.76},"radius":1000,"putDistanceInto":"d"}}}`},
	{name: "geodistance ordered by distance", body: `{"bucketQuery":{"clause":{"type":"geodistance","field":"p","center":{"_type":"point","lat":35.68,"lon":139.76},"radius":1000,"putDistanceInto":"d"},"orderBy":"_calculated.d"}}`},
	{name: "system fields", body: `{"bucketQuery":{"clause":{"type":"and","clauses":[{"type":"eq","field":"_owner","value":"u1"},{"type":"range","field":"_created","lowerLimit":10.5},{"type":"not","clause":{"type":"eq","field":"_version","value":2}}]}}}`},
	{name: "order by field", body: `{"bucketQuery":{"clause":{"type":"range","field":"t","lowerLimit":10},"orderBy":"t"}}`},
	{name: "order by field descending page 2", body: `{"bucketQuery":{"clause":{"type":"and","clauses":[{"type":"range","field":"t","lowerLimit":10},{"type":"eq","field":"k","value":"x"}]},"orderBy":"t","descending":true}}`,
		after: &kql.Cursor{Kind: "n", Num: 12.5, Str: "", ID: "obj9"}},
	{name: "order by _created page 2", body: `{"bucketQuery":{"orderBy":"_created"}}`, after: &kql.Cursor{Kind: "n", Num: 1700000000000, ID: "obj9"}},
	{name: "order by _owner", body: `{"bucketQuery":{"orderBy":"_owner","descending":true}}`},
	{name: "order by _id", body: `{"bucketQuery":{"orderBy":"_id"}}`},
}

func TestCompileGolden(t *testing.T) {
	for _, d := range []struct {
		name    string
		dialect kql.Dialect
	}{{"sqlite", sqlite.Dialect{}}, {"postgres", postgres.Dialect{}}} {
		t.Run(d.name, func(t *testing.T) {
			var b strings.Builder
			for _, g := range goldenQueries {
				q, err := kumo.ParseQuery([]byte(g.body))
				if err != nil {
					t.Fatalf("%s: %v", g.name, err)
				}
				st := kql.Compile(objects, q, g.after, 51, d.dialect)
				fmt.Fprintf(&b, "-- %s\n%s\n-- args: %v\n", g.name, st.SQL, st.Args)
				if st.Superset {
					b.WriteString("-- superset\n")
				}
				cnt := kql.CompileCount(objects, q, d.dialect)
				fmt.Fprintf(&b, "-- count\n%s\n-- args: %v\n\n", cnt.SQL, cnt.Args)
			}
			path := filepath.Join("testdata", d.name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if b.String() != string(want) {
				t.Errorf("compiled SQL differs from %s (run with -update and review the diff):\n%s", path, b.String())
			}
		})
	}
}

func TestCursor(t *testing.T) {
	c := kql.Cursor{Kind: "n", Num: 0.1, Str: ".", ID: "a-b"}
	got, err := kql.DecodeCursor(c.Encode())
	if err != nil || got != c {
		t.Errorf("DecodeCursor(Encode(%+v)) = %+v, %v", c, got, err)
	}
	for _, bad := range []string{"", "x", "e30", "!!"} {
		if _, err := kql.DecodeCursor(bad); kumo.ErrorCode(err) != kumo.ErrInvalidInputData {
			t.Errorf("DecodeCursor(%q) error = %v, want INVALID_INPUT_DATA", bad, err)
		}
	}
}

// FuzzCompile checks that every query ParseQuery accepts compiles, for
// both dialects, to a statement with one argument per placeholder.
func FuzzCompile(f *testing.F) {
	for _, g := range goldenQueries {
		f.Add([]byte(g.body), "", 0.5)
	}
	f.Add([]byte(`{"bucketQuery":{"clause":{"type":"prefix","field":"a","prefix":"\udbff\udfff"}}}`), "n", 1.0)
	f.Fuzz(func(t *testing.T, body []byte, kind string, num float64) {
		q, err := kumo.ParseQuery(body)
		if err != nil {
			return
		}
		var after *kql.Cursor
		if kind != "" {
			after = &kql.Cursor{Kind: kind, Num: num, Str: kind, ID: "x"}
		}
		for _, d := range []kql.Dialect{sqlite.Dialect{}, postgres.Dialect{}} {
			st := kql.Compile(objects, q, after, 10, d)
			n := strings.Count(st.SQL, "?")
			if _, ok := d.(postgres.Dialect); ok {
				n = strings.Count(st.SQL, "$")
			}
			if n != len(st.Args) {
				t.Fatalf("%d placeholders, %d args in %s", n, len(st.Args), st.SQL)
			}
			cnt := kql.CompileCount(objects, q, d)
			if cnt.SQL == "" {
				t.Fatal("no count statement")
			}
		}
	})
}
