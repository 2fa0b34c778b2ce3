package main

import (
	"testing"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/kumo-iot/kumo/internal/broker"
)

// TestObjectWriteAPI: create-or-replace with PUT, partial update with
// PATCH and with POST + X-HTTP-Method-Override, HEAD and DELETE, with
// If-Match and If-None-Match, in the order ebisu's live tests send them.
func TestObjectWriteAPI(t *testing.T) { forEachStore(t, testObjectWriteAPI) }

func testObjectWriteAPI(t *testing.T, cfg config) {
	f := newFixture(t, cfg)
	obj := "/api/apps/{app}/things/{thing}/buckets/wb/objects/my-obj.1"
	auth := []string{"Authorization", thingAuth}
	with := func(h ...string) []string { return append(append([]string{}, auth...), h...) }
	f.run(t, []apiCase{
		{name: "PATCH of a missing object", method: "PATCH", path: obj, body: `{"a":1}`, headers: auth, status: 404, code: "OBJECT_NOT_FOUND"},
		{name: "PUT with If-Match on a missing object", method: "PUT", path: obj, body: `{"a":1}`, headers: with("If-Match", "1"), status: 404, code: "OBJECT_NOT_FOUND"},
		{name: "PUT creates", method: "PUT", path: obj, body: `{"a":1,"b":"x"}`, headers: with("Content-Type", "application/vnd.{app}.mydata+json"),
			status: 201, ctype: "application/vnd.kii.ObjectCreationResponse+json", hdrEqual: map[string]string{"ETag": `"1"`},
			bodyHas: []string{`"objectID" : "my-obj.1"`, `"createdAt" : `, `"modifiedAt" : `}},
		{name: "PUT with If-None-Match: * on an existing object", method: "PUT", path: obj, body: `{}`, headers: with("If-None-Match", "*"),
			status: 409, code: "OBJECT_ALREADY_EXISTS"},
		{name: "PUT replaces with a good quoted If-Match", method: "PUT", path: obj, body: `{"a":2}`, headers: with("If-Match", `"1"`),
			status: 200, ctype: "application/vnd.kii.ObjectUpdateResponse+json", hdrEqual: map[string]string{"ETag": `"2"`}, bodyHas: []string{`"modifiedAt" : `}},
		{name: "PUT with a stale If-Match", method: "PUT", path: obj, body: `{"a":3}`, headers: with("If-Match", `"1"`),
			status: 409, code: "OBJECT_VERSION_IS_STALE", ctype: "application/vnd.kii.ObjectVersionIsStaleException+json"},
		{name: "replacing without Content-Type keeps the data type", method: "GET", path: obj, headers: auth, status: 200,
			ctype: "application/vnd.{app}.mydata+json", bodyHas: []string{`"a" : 2`, `"_version" : "2"`, `"_dataType" : "mydata"`}},
		{name: "PATCH merges and returns the whole object", method: "PATCH", path: obj, body: `{"c":true}`, headers: with("If-Match", "2"),
			status: 200, ctype: "application/vnd.{app}.mydata+json", hdrEqual: map[string]string{"ETag": `"3"`},
			bodyHas: []string{`"a" : 2`, `"c" : true`, `"_id" : "my-obj.1"`, `"_version" : "3"`, `"_created" : `, `"_modified" : `, `"_owner" : "{thing}"`}},
		{name: "POST with X-HTTP-Method-Override: PATCH", method: "POST", path: obj, body: `{"d":4}`, headers: with("X-HTTP-Method-Override", "PATCH"),
			status: 200, hdrEqual: map[string]string{"ETag": `"4"`}, bodyHas: []string{`"c" : true`, `"d" : 4`}},
		{name: "PATCH with a stale unquoted If-Match", method: "PATCH", path: obj, body: `{"e":5}`, headers: with("If-Match", "2"),
			status: 409, code: "OBJECT_VERSION_IS_STALE"},
		{name: "POST on an object without the override", method: "POST", path: obj, body: `{}`, headers: auth, status: 405, code: "METHOD_NOT_ALLOWED"},
		{name: "another thing may not write", method: "PATCH", path: obj, body: `{"x":1}`, headers: []string{"Authorization", "Bearer {othertoken}"},
			status: 401, code: "UNAUTHORIZED"},
		{name: "anonymous may not delete", method: "DELETE", path: obj, status: 401, code: "UNAUTHORIZED"},
		{name: "HEAD exists", method: "HEAD", path: obj, headers: auth, status: 200, hdrEqual: map[string]string{"ETag": `"4"`}},
		{name: "DELETE with a stale If-Match", method: "DELETE", path: obj, headers: with("If-Match", "3"), status: 409, code: "OBJECT_VERSION_IS_STALE"},
		{name: "DELETE", method: "DELETE", path: obj, headers: with("If-Match", `"4"`), status: 204},
		{name: "deleted is gone", method: "GET", path: obj, headers: auth, status: 404, code: "OBJECT_NOT_FOUND"},
		{name: "HEAD of a deleted object", method: "HEAD", path: obj, headers: auth, status: 404},
		{name: "DELETE again", method: "DELETE", path: obj, headers: auth, status: 404, code: "OBJECT_NOT_FOUND"},
		{name: "bad object ID", method: "PUT", path: "/api/apps/{app}/things/{thing}/buckets/wb/objects/x", body: `{}`, headers: auth,
			status: 400, code: "INVALID_OBJECT_ID"},
		{name: "PUT creates in an app bucket with no Content-Type (k4j)", method: "PUT", path: "/api/apps/{app}/buckets/appwb/objects/o-1", body: `{"v":1}`,
			headers: auth, status: 201, hdrEqual: map[string]string{"ETag": `"1"`}},
	})

	// Every change is pushed to the bucket's subscribers.
	t.Run("pushes", func(t *testing.T) {
		n, d := f.n, f.thing
		n.subscribe(d, "pushed")
		_, in := connectDevice(t, n.mqttURL(broker.TCP), d, 4)
		base := n.base + "/api/apps/" + n.app.AppID + "/things/" + d.ThingID + "/buckets/pushed/objects/"
		tok := "Bearer " + d.Token
		wantStatus(t, do(t, "PUT", base+"p-1", `{"v":1}`, "Authorization", tok), 201)
		wantStatus(t, do(t, "PUT", base+"p-1", `{"v":2}`, "Authorization", tok), 200)
		wantStatus(t, do(t, "PATCH", base+"p-1", `{"w":3}`, "Authorization", tok), 200)
		wantStatus(t, do(t, "DELETE", base+"p-1", "", "Authorization", tok), 204)
		msgs := in.waitFor(t, "four pushes", func(m []paho.Message) bool { return len(m) >= 4 })
		want := []string{"DATA_OBJECT_CREATED", "DATA_OBJECT_UPDATED", "DATA_OBJECT_UPDATED", "DATA_OBJECT_DELETED"}
		for i, m := range msgs[:4] {
			p := pushesByObject(t, []paho.Message{m})["p-1"]
			if p == nil || p["type"] != want[i] {
				t.Errorf("push %d = %s, want type %s for p-1", i, m.Payload(), want[i])
			}
			if _, has := p["modifiedAt"]; has == (want[i] == "DATA_OBJECT_DELETED") {
				t.Errorf("push %d (%s): modifiedAt present = %v", i, want[i], has)
			}
		}
	})
}
