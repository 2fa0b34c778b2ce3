package sqlstore_test

import (
	"context"
	"strings"
	"testing"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/sqlstore"
)

// TestQueryPageBytesBounded checks that a query page of large objects
// ends once their stored JSON passes the page's byte bound, before
// bestEffortLimit, with a key from which the next pages go on: every
// object is returned once, in order, whatever the pages' sizes (a page
// of 200 objects of 64 KB each once took a server past a gigabyte). The
// indexing that the first query starts reads its chunks under a byte
// bound too.
func TestQueryPageBytesBounded(t *testing.T) {
	const objSize = 1000
	defer sqlstore.SetMaxPageBytes(3500)()
	// The first query indexes the bucket in chunks of a few objects: the
	// chunks cut by bytes index every object all the same.
	defer sqlstore.SetBackfillBytes(2500)()
	db := newSQLiteDB(t).Store
	ctx := context.Background()
	app, err := db.Apps.CreateApp(ctx, kumo.AppCreate{})
	if err != nil {
		t.Fatal(err)
	}
	admin := kumo.Caller{AppID: app.AppID, Kind: kumo.Admin}
	b := kumo.BucketRef{AppID: app.AppID, Scope: kumo.Scope{Kind: kumo.ScopeApp}, Name: "large"}
	var want []string
	for i := range 20 {
		pad := strings.Repeat("x", objSize)
		if i == 7 { // one object alone beyond the bound still makes a page
			pad = strings.Repeat("y", 5000)
		}
		o, err := db.Objects.CreateObject(ctx, admin, kumo.ObjectCreate{Bucket: b, Data: map[string]any{"n": i, "pad": pad}})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, o.ID)
	}
	q, err := kumo.ParseQuery([]byte(`{"bucketQuery":{"clause":{"type":"all"},"orderBy":"n"},"bestEffortLimit":200}`))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	pages := 0
	for {
		res, err := sqlstore.QueryObjects(db, ctx, b, q, nil)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(res.Results) == 0 {
			t.Fatalf("page %d is empty", pages)
		}
		if len(res.Results) > 4 {
			t.Errorf("page %d has %d objects of about %d bytes each; want at most 4 under a bound of 3500 bytes", pages, len(res.Results), objSize)
		}
		for _, h := range res.Results {
			got = append(got, h.Object.ID)
		}
		if res.NextPaginationKey == "" {
			break
		}
		if pages > 20 {
			t.Fatal("more pages than objects")
		}
		q.PaginationKey = res.NextPaginationKey
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("pages returned %v; want every object once, in order: %v", got, want)
	}
	if pages < 6 {
		t.Errorf("%d pages; want the byte bound to cut them (at least 6)", pages)
	}
}
