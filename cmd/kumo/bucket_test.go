package main

import (
	"testing"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/kumo-iot/kumo/internal/broker"
)

// TestBucketAPI: read, create and drop buckets; a drop pushes
// BUCKET_DELETED to the subscribers.
func TestBucketAPI(t *testing.T) { forEachStore(t, testBucketAPI) }

func testBucketAPI(t *testing.T, cfg config) {
	f := newFixture(t, cfg)
	bkt := "/api/apps/{app}/things/{thing}/buckets/bb"
	auth := []string{"Authorization", thingAuth}
	f.run(t, []apiCase{
		{name: "missing bucket", method: "GET", path: bkt, headers: auth, status: 404, code: "BUCKET_NOT_FOUND", bodyHas: []string{`"bucketID" : "bb"`}},
		{name: "create", method: "PUT", path: bkt, body: `{"bucketType":"rw"}`, headers: append([]string{"Content-Type", "application/vnd.kii.BucketCreationRequest+json"}, auth...), status: 204},
		{name: "create again", method: "PUT", path: bkt, headers: auth, status: 409, code: "BUCKET_ALREADY_EXISTS"},
		{name: "empty bucket", method: "GET", path: bkt, headers: auth, status: 200, ctype: "application/vnd.kii.BucketRetrievalResponse+json",
			bodyHas: []string{`"bucketType" : "rw"`, `"size" : 0`}},
		{name: "an object", method: "POST", path: bkt + "/objects", body: `{}`, headers: auth, status: 201},
		{name: "size 1", method: "GET", path: bkt, headers: auth, status: 200, bodyHas: []string{`"size" : 1`}},
		{name: "HEAD of a bucket that exists", method: "HEAD", path: bkt, headers: auth, status: 204},
		{name: "HEAD of a missing bucket", method: "HEAD", path: bkt + "x", headers: auth, status: 404},
		{name: "another bucket", method: "POST", path: "/api/apps/{app}/things/{thing}/buckets/ba/objects", body: `{}`, headers: auth, status: 201},
		{name: "list the thing's buckets", method: "GET", path: "/api/apps/{app}/things/{thing}/buckets", headers: auth, status: 200,
			ctype: "application/vnd.kii.BucketsRetrievalResponse+json", bodyHas: []string{`"bucketID" : "ba"`, `"bucketID" : "bb"`}},
		{name: "list, a page of one", method: "GET", path: "/api/apps/{app}/things/{thing}/buckets?limit=1", headers: auth, status: 200,
			bodyHas: []string{`"bucketID" : "ba"`, `"paginationKey" : "ba"`}},
		{name: "list, the next page", method: "GET", path: "/api/apps/{app}/things/{thing}/buckets?limit=1&paginationKey=ba", headers: auth, status: 200,
			bodyHas: []string{`"bucketID" : "bb"`}},
		{name: "another thing may not list", method: "GET", path: "/api/apps/{app}/things/{thing}/buckets", headers: []string{"Authorization", "Bearer {othertoken}"},
			status: 401, code: "UNAUTHORIZED"},
		{name: "the app's buckets: admin only", method: "GET", path: "/api/apps/{app}/buckets", headers: auth, status: 401, code: "UNAUTHORIZED"},
		{name: "the app's buckets, admin", method: "GET", path: "/api/apps/{app}/buckets", headers: []string{"Authorization", "Bearer {admin}"}, status: 200},
		{name: "crypto bucket type", method: "PUT", path: "/api/apps/{app}/things/{thing}/buckets/CRYPTO:cb", body: `{"bucketType":"rw"}`, headers: auth,
			status: 400, code: "INVALID_INPUT_DATA"},
		{name: "crypto bucket", method: "PUT", path: "/api/apps/{app}/things/{thing}/buckets/crypto:cb", headers: auth, status: 204},
		{name: "crypto bucket reads as crypto", method: "GET", path: "/api/apps/{app}/things/{thing}/buckets/CRYPTO:cb", headers: auth, status: 200,
			bodyHas: []string{`"bucketType" : "crypto"`}},
		{name: "another thing may not drop it", method: "DELETE", path: bkt, headers: []string{"Authorization", "Bearer {othertoken}"}, status: 401, code: "UNAUTHORIZED"},
		{name: "anonymous may not drop an app bucket", method: "DELETE", path: "/api/apps/{app}/buckets/bb", status: 401, code: "UNAUTHORIZED"},
		{name: "drop", method: "DELETE", path: bkt, headers: auth, status: 204},
		{name: "dropped", method: "GET", path: bkt, headers: auth, status: 404, code: "BUCKET_NOT_FOUND"},
		{name: "drop again", method: "DELETE", path: bkt, headers: auth, status: 404, code: "BUCKET_NOT_FOUND"},
		{name: "created anew", method: "PUT", path: bkt, headers: auth, status: 204},
		{name: "its old objects went with it", method: "GET", path: bkt, headers: auth, status: 200, bodyHas: []string{`"size" : 0`}},
	})

	t.Run("drop pushes BUCKET_DELETED", func(t *testing.T) {
		n, d := f.n, f.thing
		n.subscribe(d, "doomed")
		_, in := connectDevice(t, n.mqttURL(broker.TCP), d, 4)
		n.createObject(d, "doomed", `{}`)
		wantStatus(t, do(t, "DELETE", n.base+"/api/apps/"+n.app.AppID+"/things/"+d.ThingID+"/buckets/doomed", "", "Authorization", "Bearer "+d.Token), 204)
		msgs := in.waitFor(t, "the BUCKET_DELETED push", func(m []paho.Message) bool { return len(m) >= 2 })
		p := pushesByObject(t, msgs[1:2])[""]
		if p == nil || p["type"] != "BUCKET_DELETED" || p["bucketID"] != "doomed" {
			t.Errorf("second push = %s, want BUCKET_DELETED of doomed without objectID", msgs[1].Payload())
		}
	})
}
