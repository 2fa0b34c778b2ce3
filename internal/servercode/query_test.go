package servercode_test

import (
	"testing"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/servercode"
)

// TestQueries checks KiiClause and KiiQuery against the store's query
// engine, the callback forms of KiiBucket, objects made with an ID, typed
// objects, conditional saves and bucket deletion.
func TestQueries(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, open, servercode.Config{})
			v := w.deploy(`
function b(ctx) { return ctx.getAppAdminContext().bucketWithName("scores"); }
function seed(params, context) {
  var bucket = b(context), all = [];
  ["ann", "bob", "cat", "dan", "eve"].forEach(function (n, i) {
    var o = bucket.createObjectWithType("score");
    o.set("name", n); o.set("n", i); o.set("tags", i % 2 ? ["odd"] : ["even"]);
    all.push(o.save());
  });
  return Promise.all(all).then(function (objs) { return objs.map(function (o) { return o.getObjectType(); }); });
}
function names(params, context, done) {
  var c = {
    eq: KiiClause.equals("name", "bob"),
    ne: KiiClause.notEquals("name", "bob"),
    gt: KiiClause.greaterThan("n", 2),
    ge: KiiClause.greaterThanOrEqual("n", 2),
    lt: KiiClause.lessThan("n", 2),
    le: KiiClause.lessThanOrEqual("n", 2),
    "in": KiiClause.inClause("name", ["ann", "eve", "zed"]),
    prefix: KiiClause.startsWith("name", "d"),
    or: KiiClause.or(KiiClause.equals("n", 0), KiiClause.equals("n", 4)),
    not: KiiClause.not(KiiClause.lessThan("n", 3)),
    and: KiiClause.and([KiiClause.greaterThan("n", 0), KiiClause.lessThan("n", 4)])
  }[params.c];
  var q = KiiQuery.queryWithClause(c);
  q.sortByDesc("n");
  b(context).executeQuery(q, {
    success: function (query, results, next) { done(results.map(function (o) { return o.get("name"); }).join(",") + (next ? "+" : "")); },
    failure: function (query, err) { done("failed: " + err); }
  });
}
function counted(params, context, done) {
  b(context).countWithQuery(KiiQuery.queryWithClause(KiiClause.greaterThan("n", 1)), {
    success: function (bucket, query, n) { done(bucket.getBucketName() + ":" + n); },
    failure: function (bucket, query, err) { done("failed: " + err); }
  });
}
function withID(params, context) {
  var o = b(context).createObjectWithID(params.id);
  o.set("name", "fixed");
  return o.save(null, false).then(function () {
    var again = b(context).createObjectWithID(params.id);
    again.set("name", "clash");
    return again.saveAllFields(null, false);
  }).then(function () { return "overwrote"; }, function (e) { return e.errorCode; });
}
function stale(params, context) {
  var o = context.getAppAdminContext().objectWithURI("kiicloud://buckets/scores/objects/" + params.id);
  return o.refresh().then(function () {
    var other = context.getAppAdminContext().objectWithURI(o.objectURI());
    other.set("name", "first");
    return other.saveAllFields();
  }).then(function () {
    o.set("name", "second");
    return o.saveAllFields(null, false);
  }).then(function () { return "saved"; }, function (e) { return e.errorCode + " " + e.status + " " + (e.target === o); });
}
function patch(params, context) {
  var o = context.getAppAdminContext().objectWithURI("kiicloud://buckets/scores/objects/" + params.id);
  o.set("extra", true);
  return o.save().then(function () { return o.refresh(); }).then(function () {
    o.remove("extra");
    return o.save();
  }).then(function () { return o.refresh(); }).then(function () { return o.getKeys().sort(); });
}
function drop(params, context) {
  return b(context)["delete"]().then(function (bucket) { return b(context).count(); }).then(function (r) { return r[2]; }, function (e) { return e.errorCode; });
}
`)
			wantValue(t, w.ok(v, "seed", `{}`), `["score","score","score","score","score"]`)
			for _, tt := range []struct{ c, want string }{
				{"eq", "bob"}, {"ne", "eve,dan,cat,ann"}, {"gt", "eve,dan"}, {"ge", "eve,dan,cat"}, {"lt", "bob,ann"},
				{"le", "cat,bob,ann"}, {"in", "eve,ann"}, {"prefix", "dan"}, {"or", "eve,ann"}, {"not", "eve,dan"}, {"and", "dan,cat,bob"},
			} {
				wantValue(t, w.ok(v, "names", `{"c":"`+tt.c+`"}`), `"`+tt.want+`"`)
			}
			wantValue(t, w.ok(v, "counted", `{}`), `"scores:3"`)
			wantValue(t, w.ok(v, "withID", `{"id":"fixed-1"}`), `"OBJECT_ALREADY_EXISTS"`)
			bucket := kumo.BucketRef{AppID: w.app.AppID, Scope: kumo.AppScope, Name: "scores"}
			if o, err := w.st.Objects.GetObject(w.ctx, w.admin, bucket, "fixed-1"); err != nil || o.Data["name"] != "fixed" {
				t.Fatalf("fixed-1 = %+v, %v", o, err)
			}
			wantValue(t, w.ok(v, "stale", `{"id":"fixed-1"}`), `"OBJECT_VERSION_IS_STALE 409 true"`)
			wantValue(t, w.ok(v, "patch", `{"id":"fixed-1"}`), `["name"]`)
			wantValue(t, w.ok(v, "drop", `{}`), `"BUCKET_NOT_FOUND"`)
		})
	}
}
