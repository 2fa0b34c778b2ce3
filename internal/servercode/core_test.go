package servercode_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/servercode"
)

// objectScript works on objects through the SDK's core, as the admin (via
// the admin context) or as the caller (Kii._setCurrent, what
// KiiUser.authenticateWithToken does).
const objectScript = `
function bucket(ctx, asAdmin) {
  if (asAdmin) { return ctx.getAppAdminContext().bucketWithName("items"); }
  Kii._setCurrent(null, ctx.getAccessToken());
  return Kii.bucketWithName("items");
}

// create makes an object with fields, saves it, changes it, saves again.
function create(params, context) {
  var obj = bucket(context, params.admin).createObject();
  obj.set("name", params.name);
  obj.set("n", 1);
  return obj.save().then(function (o) {
    o.set("n", 2);
    return o.save();
  }).then(function (o) {
    return {id: o.getID(), uri: o.objectURI(), created: o.getCreated() > 0, bucket: o.getBucket().getBucketName()};
  });
}

// read refreshes an object by its URI, with callbacks, and answers through done.
function read(params, context, done) {
  var obj = params.admin ? context.getAppAdminContext().objectWithURI(params.uri) : KiiObject.objectWithURI(params.uri);
  if (!params.admin) { Kii._setCurrent(null, context.getAccessToken()); }
  obj.refresh({
    success: function (o) { done({name: o.get("name"), n: o.get("n"), keys: o.getKeys().sort(), id: o.getUUID()}); },
    failure: function (o, err) { done({error: err}); }
  });
}

// list queries the bucket, page by page (limit 2), in name order.
function list(params, context) {
  var b = bucket(context, params.admin);
  var q = KiiQuery.queryWithClause(KiiClause.and(KiiClause.greaterThanOrEqual("n", 0), KiiClause.notEquals("name", "zzz")));
  q.sortByAsc("name");
  q.setLimit(2);
  var names = [], pages = 0;
  function page(query) {
    return b.executeQuery(query).then(function (r) {
      pages++;
      r[1].forEach(function (o) { names.push(o.get("name")); });
      if (r[2]) { return page(r[2]); }
      return b.count().then(function (c) { return {names: names, pages: pages, count: c[2]}; });
    });
  }
  return page(q);
}

// remove deletes an object, then fails to refresh it.
function remove(params, context) {
  var obj = context.getAppAdminContext().objectWithURI(params.uri);
  return obj["delete"]().then(function () { return obj.refresh(); }).then(function () { return "still there"; }, function (e) { return e.errorCode + "|" + e.status; });
}

// anonymous tries to write without logging in.
function anonymous(params, context, done) {
  Kii.bucketWithName("items").createObject().save({
    success: function () { done("saved"); },
    failure: function (o, err) { done(err); }
  });
}
`

func TestObjects(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, open, servercode.Config{})
			v := w.deploy(objectScript)
			uid, utok := w.user("alice")

			// As the admin.
			res := w.ok(v, "create", `{"admin":true,"name":"b"}`)
			var made struct {
				ID, URI, Bucket string
				Created         bool
			}
			if err := json.Unmarshal(res.ReturnedValue, &made); err != nil || made.ID == "" || !made.Created || made.Bucket != "items" ||
				made.URI != "kiicloud://buckets/items/objects/"+made.ID {
				t.Fatalf("create returned %s (%v)", res.ReturnedValue, err)
			}
			bucket := kumo.BucketRef{AppID: w.app.AppID, Scope: kumo.AppScope, Name: "items"}
			o, err := w.st.Objects.GetObject(w.ctx, w.admin, bucket, made.ID)
			if err != nil || o.Data["name"] != "b" || fmt.Sprint(o.Data["n"]) != "2" || o.Owner != "" || o.Version != 2 {
				t.Fatalf("stored object = %+v, %v; want name b, n 2, version 2, no owner", o, err)
			}
			wantValue(t, w.ok(v, "read", `{"admin":true,"uri":"`+made.URI+`"}`), `{"name":"b","n":2,"keys":["n","name"],"id":"`+made.ID+`"}`)

			// As a user: the object is the user's.
			res = w.ok(v, "create", `{"name":"a"}`, withToken(utok))
			if err := json.Unmarshal(res.ReturnedValue, &made); err != nil {
				t.Fatal(err)
			}
			o, err = w.st.Objects.GetObject(w.ctx, w.admin, bucket, made.ID)
			if err != nil || o.Owner != uid || o.Data["name"] != "a" {
				t.Fatalf("user's object = %+v, %v; want owner %s", o, err, uid)
			}
			w.ok(v, "create", `{"admin":true,"name":"c"}`)
			wantValue(t, w.ok(v, "list", `{"admin":true}`), `{"names":["a","b","c"],"pages":2,"count":3}`)
			wantValue(t, w.ok(v, "read", `{"uri":"`+made.URI+`"}`, withToken(utok)), `{"name":"a","n":2,"keys":["n","name"],"id":"`+made.ID+`"}`)

			// Delete, as the admin; the object is gone from the store.
			wantValue(t, w.ok(v, "remove", `{"uri":"`+made.URI+`"}`), `"OBJECT_NOT_FOUND|404"`)
			if _, err := w.st.Objects.GetObject(w.ctx, w.admin, bucket, made.ID); kumo.ErrorCode(err) != kumo.ErrObjectNotFound {
				t.Fatalf("GetObject after delete: %v, want OBJECT_NOT_FOUND", err)
			}

			// Anonymous code may not create objects in an app bucket.
			res = w.ok(v, "anonymous", `{}`)
			var msg string
			json.Unmarshal(res.ReturnedValue, &msg)
			if msg == "saved" || !strings.Contains(msg, "UNAUTHORIZED") && !strings.Contains(msg, "ACCESS") {
				t.Fatalf("anonymous save: %s, want an access error", res.ReturnedValue)
			}
			wantValue(t, w.ok(v, "list", `{"admin":true}`), `{"names":["b","c"],"pages":1,"count":2}`)
		})
	}
}

// TestObjectWithURI checks the object URIs KiiObject.objectWithURI
// accepts (app, user, group and thing scopes) and those it refuses, and
// the ETag an object keeps from a refresh (quotes removed).
func TestObjectWithURI(t *testing.T) {
	w := sqliteWorld(t, servercode.Config{})
	v := w.deploy(`
function parse(params, context) {
  return params.uris.map(function (u) {
    try {
      var o = KiiObject.objectWithURI(u), b = o.getBucket();
      return b._scopePath() + "|" + b.getBucketName() + "|" + o.getID() + "|" + o.objectURI();
    } catch (e) { return "invalid"; }
  });
}
function unquote(params, context) {
  return params.etags.map(function (s) { return Kii._unquote(s); });
}`)
	tests := []struct{ uri, want string }{
		{"kiicloud://buckets/b1/objects/o1", "|b1|o1|kiicloud://buckets/b1/objects/o1"},
		{"kiicloud://users/u1/buckets/b1/objects/o1", "/users/u1|b1|o1|kiicloud://users/u1/buckets/b1/objects/o1"},
		{"kiicloud://groups/g1/buckets/b1/objects/o1", "/groups/g1|b1|o1|kiicloud://groups/g1/buckets/b1/objects/o1"},
		{"kiicloud://things/t1/buckets/b1/objects/o1", "/things/t1|b1|o1|kiicloud://things/t1/buckets/b1/objects/o1"},
		{"kiicloud://buckets/users/objects/o1", "|users|o1|kiicloud://buckets/users/objects/o1"},
		{"kiicloud://buckets/b1/objects/", "invalid"},
		{"kiicloud://buckets//objects/o1", "invalid"},
		{"kiicloud://buckets/b1/objects/o1/", "invalid"},
		{"kiicloud://buckets/b1/objects/o1/x", "invalid"},
		{"kiicloud://bucket/b1/objects/o1", "invalid"},
		{"kiicloud://users//buckets/b1/objects/o1", "invalid"},
		{"kiicloud://devices/d1/buckets/b1/objects/o1", "invalid"},
		{"kiicloud://users/u1/buckets/b1/objects/o1/x/y", "invalid"},
		{"http://buckets/b1/objects/o1", "invalid"},
		{"xkiicloud://buckets/b1/objects/o1", "invalid"},
		{"", "invalid"},
	}
	var uris []string
	for _, tc := range tests {
		uris = append(uris, tc.uri)
	}
	params, _ := json.Marshal(map[string]any{"uris": uris})
	var got []string
	if err := json.Unmarshal(w.ok(v, "parse", string(params)).ReturnedValue, &got); err != nil {
		t.Fatal(err)
	}
	for i, tc := range tests {
		if got[i] != tc.want {
			t.Errorf("objectWithURI(%q) = %q; want %q", tc.uri, got[i], tc.want)
		}
	}
	etags := map[string]string{`"1"`: "1", `12`: "12", `"a"b"`: "ab", `""`: "", `"`: "", `a"`: "a"}
	var in, want []string
	for k, v := range etags {
		in, want = append(in, k), append(want, v)
	}
	params, _ = json.Marshal(map[string]any{"etags": in})
	got = nil
	if err := json.Unmarshal(w.ok(v, "unquote", string(params)).ReturnedValue, &got); err != nil {
		t.Fatal(err)
	}
	for i := range in {
		if got[i] != want[i] {
			t.Errorf("_unquote(%q) = %q; want %q", in[i], got[i], want[i])
		}
	}
}

// TestObjectCallbacksAndPromise checks the order of a KiiObject call's
// callbacks and its promise (the callback first, then .then handlers,
// after the calling code returned), a failure given to the failure
// callback and rejected too, and a success callback that throws
// rejecting the promise without calling the failure callback.
func TestObjectCallbacksAndPromise(t *testing.T) {
	w := sqliteWorld(t, servercode.Config{})
	v := w.deploy(`
function order(params, context, done) {
  var ac = context.getAppAdminContext(), seen = [];
  var obj = ac.bucketWithName("cbs").createObject();
  obj.set("n", 1);
  obj.save().then(function (o) {
    var p = ac.objectWithURI(o.objectURI()).refresh({
      success: function (x) { seen.push("success " + x.get("n")); },
      failure: function () { seen.push("failure"); }
    });
    seen.push("returned");
    return p;
  }).then(function (x) {
    seen.push("then " + (x instanceof KiiObject));
    var missing = ac.objectWithURI("kiicloud://buckets/cbs/objects/nope");
    return missing.refresh({
      success: function () { seen.push("success?"); },
      failure: function (o, err) { seen.push("failure " + (o === missing) + " " + err.split(":")[0]); }
    }).then(function () { seen.push("resolved?"); }, function (e) { seen.push("rejected " + e.status); });
  }).then(function () {
    return obj.refresh({
      success: function () { throw new Error("boom"); },
      failure: function () { seen.push("failure?"); }
    }).then(function () { seen.push("resolved?"); }, function (e) { seen.push("rejected " + e.message); });
  }).then(function () { done(seen); }, function (e) { done(["error " + e]); });
}`)
	res := w.ok(v, "order", `{}`)
	want := `["returned","success 1","then true","failure true OBJECT_NOT_FOUND","rejected 404","rejected boom"]`
	if string(res.ReturnedValue) != want {
		t.Errorf("order = %s; want %s", res.ReturnedValue, want)
	}
}
