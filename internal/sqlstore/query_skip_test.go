package sqlstore_test

import (
	"context"
	"testing"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/sqlstore"
)

// TestQuerySkipsBounded checks that a query whose caller may read few of
// the matches reads a bounded number of rows: a page cut short ends with
// the key of its last result, and a query that finds none within the
// bound is QUERY_NOT_SUPPORTED instead of reading the whole bucket.
func TestQuerySkipsBounded(t *testing.T) {
	defer sqlstore.SetMaxSkipped(10)()
	db := newSQLiteDB(t).Store
	ctx := context.Background()
	app, err := db.Apps.CreateApp(ctx, kumo.AppCreate{})
	if err != nil {
		t.Fatal(err)
	}
	admin := kumo.Caller{AppID: app.AppID, Kind: kumo.Admin}
	b := kumo.BucketRef{AppID: app.AppID, Scope: kumo.Scope{Kind: kumo.ScopeApp}, Name: "many"}
	var ids []string
	for i := range 40 {
		o, err := db.Objects.CreateObject(ctx, admin, kumo.ObjectCreate{Bucket: b, Data: map[string]any{"n": i}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, o.ID)
	}
	q, err := kumo.ParseQuery([]byte(`{"bucketQuery":{"clause":{"type":"all"},"orderBy":"n"},"bestEffortLimit":5}`))
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	firstOnly := func(o kumo.Object) (bool, error) { // the caller may read object n=0 only
		calls++
		return o.ID == ids[0], nil
	}
	res, err := sqlstore.QueryObjects(db, ctx, b, q, firstOnly)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Results) != 1 || res.Results[0].Object.ID != ids[0] || res.NextPaginationKey == "" {
		t.Fatalf("first page = %d results, key %q; want object 0 and a key", len(res.Results), res.NextPaginationKey)
	}
	if calls > 10+6 {
		t.Errorf("the filter ran %d times; want the rows read bounded near 10", calls)
	}
	q.PaginationKey = res.NextPaginationKey
	_, err = sqlstore.QueryObjects(db, ctx, b, q, firstOnly)
	if kumo.ErrorCode(err) != kumo.ErrQueryNotSupported {
		t.Errorf("a page with nothing readable within the bound: %v; want QUERY_NOT_SUPPORTED", err)
	}
}
