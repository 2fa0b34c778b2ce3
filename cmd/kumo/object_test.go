package main

import (
	"testing"
)

func TestObjectAPI(t *testing.T) { forEachStore(t, testObjectAPI) }

func testObjectAPI(t *testing.T, cfg config) {
	f := newFixture(t, cfg)
	tb := "/api/apps/{app}/things/{thing}/buckets"
	auth := []string{"Authorization", thingAuth}
	with := func(h ...string) []string { return append(append([]string{}, auth...), h...) }
	f.run(t, []apiCase{
		{name: "create untyped", method: "POST", path: tb + "/b1/objects", body: `{"a":1}`, headers: with("Content-Type", "application/json"),
			status: 201, ctype: "application/vnd.kii.ObjectCreationResponse+json", hdrEqual: map[string]string{"ETag": `"1"`},
			bodyHas: []string{`"dataType" : "application/json"`, `"objectID" : "`, `"createdAt" : `}},
		{name: "create typed", method: "POST", path: tb + "/b1/objects", body: `{"a":1}`, headers: with("Content-Type", "application/vnd.{app}.mydata+json"),
			status: 201, bodyHas: []string{`"dataType" : "application/vnd.{app}.mydata+json"`}},
		{name: "create with charset parameter", method: "POST", path: tb + "/b1/objects", body: `{"a":1}`, headers: with("Content-Type", "application/json; charset=utf-8"), status: 201},
		{name: "create with no Content-Type", method: "POST", path: tb + "/b1/objects", body: `{"a":1}`, headers: auth, status: 201},
		{name: "create in app scope", method: "POST", path: "/api/apps/{app}/buckets/appbucket/objects", body: `{"a":1}`, headers: auth, status: 201},
		{name: "create via vendor thing ID scope", method: "POST", path: "/api/apps/{app}/things/VENDOR_THING_ID:{vendor}/buckets/b1/objects", body: `{}`, headers: auth, status: 201},
		{name: "create in a CRYPTO bucket", method: "POST", path: tb + "/CRYPTO:secret/objects", body: `{}`, headers: auth, status: 201},
		{name: "empty object", method: "POST", path: tb + "/b1/objects", body: `{}`, headers: auth, status: 201},
		{name: "body not an object", method: "POST", path: tb + "/b1/objects", body: `[1,2]`, headers: auth, status: 400, code: "INVALID_JSON"},
		{name: "body not JSON", method: "POST", path: tb + "/b1/objects", body: `score=1`, headers: auth, status: 400, code: "INVALID_JSON"},
		{name: "empty body", method: "POST", path: tb + "/b1/objects", headers: auth, status: 400, code: "INVALID_JSON"},
		{name: "trailing garbage", method: "POST", path: tb + "/b1/objects", body: `{"a":1} {"b":2}`, headers: auth, status: 400, code: "INVALID_JSON"},
		{name: "object too large", method: "POST", path: tb + "/b1/objects", body: `{"a":"` + string(make([]byte, 0)) + repeat("x", 70000) + `"}`, headers: auth, status: 413, code: "REQUEST_ENTITY_TOO_LARGE"},
		{name: "bucket name too short", method: "POST", path: tb + "/b/objects", body: `{}`, headers: auth, status: 400, code: "INVALID_BUCKET"},
		{name: "reserved bucket name", method: "POST", path: tb + "/users/objects", body: `{}`, headers: auth, status: 400, code: "INVALID_BUCKET"},
		{name: "bucket name with underscore first", method: "POST", path: tb + "/_b1/objects", body: `{}`, headers: auth, status: 400, code: "INVALID_BUCKET"},
		{name: "get missing object", method: "GET", path: tb + "/b1/objects/nope", headers: auth, status: 404, code: "OBJECT_NOT_FOUND",
			bodyHas: []string{`"objectID" : "nope"`, `"bucketID" : "b1"`, `"type" : "APP_AND_THING"`, `"thingID" : "{thing}"`}},
		{name: "unknown thing scope for the admin", method: "POST", path: "/api/apps/{app}/things/th.nope/buckets/b1/objects", body: `{}`,
			headers: []string{"Authorization", "Bearer {admin}"}, status: 404, code: "THING_NOT_FOUND"},
	})

	t.Run("round trip", func(t *testing.T) {
		n := f.n
		r := do(t, "POST", n.base+f.expand(tb+"/b2/objects"), `{"score":1800,"name":"game1","big":12345678901234567890,"_id":"x","_owner":"y","nested":{"_type":"point","lat":1.5,"lon":2}}`,
			"Authorization", "Bearer "+f.thing.Token, "Content-Type", "application/vnd."+n.app.AppID+".mydata+json")
		wantStatus(t, r, 201)
		id := r.Str(t, "objectID")
		loc := r.Header.Get("Location")
		if want := n.base + "/api/apps/" + n.app.AppID + "/things/" + f.thing.ThingID + "/buckets/b2/objects/" + id; loc != want {
			t.Errorf("Location = %q, want %q", loc, want)
		}
		r = do(t, "GET", loc, "", "Authorization", "Bearer "+f.thing.Token)
		wantStatus(t, r, 200)
		m := r.JSON(t)
		want := map[string]string{"_id": id, "_owner": f.thing.ThingID, "_version": "1", "_dataType": "mydata", "name": "game1"}
		for k, v := range want {
			if m[k] != v {
				t.Errorf("%s = %v, want %q", k, m[k], v)
			}
		}
		if got := string(m["big"].(jsonNumber)); got != "12345678901234567890" {
			t.Errorf("big = %s, want the exact number", got)
		}
		if got := string(m["score"].(jsonNumber)); got != "1800" {
			t.Errorf("score = %s", got)
		}
		if r.Header.Get("ETag") != `"1"` || r.Header.Get("Last-Modified") == "" {
			t.Errorf("ETag = %q, Last-Modified = %q", r.Header.Get("ETag"), r.Header.Get("Last-Modified"))
		}
		// Anonymous callers may read app-scope objects, not thing-scope ones.
		r = do(t, "GET", loc, "")
		wantStatus(t, r, 401)
	})

	t.Run("user scope Location names the real user", func(t *testing.T) {
		r := do(t, "POST", f.n.base+f.expand("/api/apps/{app}/users/me/buckets/ub/objects"), `{}`, "Authorization", "Bearer "+f.userToken)
		wantStatus(t, r, 201)
		if loc := r.Header.Get("Location"); !contains(loc, "/users/"+f.userID+"/buckets/ub/objects/") {
			t.Errorf("Location = %q, want the user ID instead of me", loc)
		}
	})
}

func repeat(s string, n int) string {
	b := make([]byte, 0, len(s)*n)
	for i := 0; i < n; i++ {
		b = append(b, s...)
	}
	return string(b)
}
