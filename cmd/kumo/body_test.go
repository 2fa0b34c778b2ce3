package main

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/kumo-iot/kumo/internal/broker"
)

func TestBodyAPI(t *testing.T) { forEachStore(t, testBodyAPI) }

func testBodyAPI(t *testing.T, cfg config) {
	cfg.MaxBodySize = 1 << 20
	f := newFixture(t, cfg)
	n := f.n
	obj := n.createObject(f.thing, "files", `{}`)
	bare := n.createObject(f.thing, "files", `{}`)
	body := "/api/apps/{app}/things/{thing}/buckets/files/objects/" + obj + "/body"
	bareBody := "/api/apps/{app}/things/{thing}/buckets/files/objects/" + bare + "/body"
	auth := []string{"Authorization", thingAuth}
	with := func(h ...string) []string { return append(append([]string{}, auth...), h...) }
	f.run(t, []apiCase{
		{name: "put", method: "PUT", path: body, body: "hello world", headers: with("Content-Type", "text/plain"),
			status: 200, bodyHas: []string{`"modifiedAt" : `}},
		{name: "get", method: "GET", path: body, headers: auth, status: 200, ctype: "text/plain",
			hdrEqual: map[string]string{"Content-Length": "11", "Accept-Ranges": "bytes"}, bodyHas: []string{"hello world"}},
		{name: "get with Accept */*", method: "GET", path: body, headers: with("Accept", "*/*"), status: 200, bodyHas: []string{"hello world"}},
		{name: "range", method: "GET", path: body, headers: with("Range", "bytes=0-4"), status: 206,
			hdrEqual: map[string]string{"Content-Range": "bytes 0-4/11", "Content-Length": "5"}, bodyHas: []string{"hello"}},
		{name: "range to the end", method: "GET", path: body, headers: with("Range", "bytes=6-"), status: 206,
			hdrEqual: map[string]string{"Content-Range": "bytes 6-10/11"}, bodyHas: []string{"world"}},
		{name: "range past the end", method: "GET", path: body, headers: with("Range", "bytes=6-100"), status: 206,
			hdrEqual: map[string]string{"Content-Range": "bytes 6-10/11"}, bodyHas: []string{"world"}},
		{name: "suffix range", method: "GET", path: body, headers: with("Range", "bytes=-5"), status: 206,
			hdrEqual: map[string]string{"Content-Range": "bytes 6-10/11"}, bodyHas: []string{"world"}},
		{name: "range not satisfiable", method: "GET", path: body, headers: with("Range", "bytes=11-"), status: 416,
			code: "OBJECT_BODY_RANGE_NOT_SATISFIABLE", ctype: "application/vnd.kii.ObjectBodyRangeNotSatisfiableException+json",
			hdrEqual: map[string]string{"Content-Range": "bytes */11"}},
		{name: "several ranges: the whole body", method: "GET", path: body, headers: with("Range", "bytes=0-1,3-4"), status: 200, bodyHas: []string{"hello world"}},
		{name: "stale If-Match", method: "GET", path: body, headers: with("If-Match", `"stale"`, "Range", "bytes=0-1"), status: 412,
			code: "OBJECT_BODY_INTEGRITY_NOT_ASSURED"},
		{name: "head", method: "HEAD", path: body, headers: auth, status: 204, ctype: "text/plain"},
		{name: "head, no body", method: "HEAD", path: bareBody, headers: auth, status: 404},
		{name: "get, no body", method: "GET", path: bareBody, headers: auth, status: 404, code: "OBJECT_BODY_NOT_FOUND",
			bodyHas: []string{`"objectID" : "` + bare + `"`}},
		{name: "get, no object", method: "GET", path: "/api/apps/{app}/things/{thing}/buckets/files/objects/nope/body", headers: auth,
			status: 404, code: "OBJECT_NOT_FOUND"},
		{name: "put, no object", method: "PUT", path: "/api/apps/{app}/things/{thing}/buckets/files/objects/nope/body", body: "x", headers: auth,
			status: 404, code: "OBJECT_NOT_FOUND"},
		{name: "get, another thing", method: "GET", path: body, headers: []string{"Authorization", "Bearer {othertoken}"}, status: 401, code: "UNAUTHORIZED"},
		{name: "put, anonymous", method: "PUT", path: body, body: "x", status: 401, code: "UNAUTHORIZED"},
		{name: "put, too large", method: "PUT", path: bareBody, body: strings.Repeat("x", 1<<20+1), headers: auth,
			status: 413, code: "REQUEST_ENTITY_TOO_LARGE"},
		{name: "too large put left nothing", method: "GET", path: bareBody, headers: auth, status: 404, code: "OBJECT_BODY_NOT_FOUND"},
		{name: "put without Content-Type", method: "PUT", path: bareBody, body: "raw", headers: auth, status: 200},
		{name: "octet-stream by default", method: "GET", path: bareBody, headers: auth, status: 200, ctype: "application/octet-stream"},
		{name: "delete", method: "DELETE", path: bareBody, headers: auth, status: 204},
		{name: "deleted", method: "GET", path: bareBody, headers: auth, status: 404, code: "OBJECT_BODY_NOT_FOUND"},
		{name: "delete again", method: "DELETE", path: bareBody, headers: auth, status: 404, code: "OBJECT_BODY_NOT_FOUND"},
		{name: "publish, no body", method: "POST", path: bareBody + "/publish", body: `{}`, headers: with("Content-Type", "application/vnd.kii.ObjectBodyPublicationRequest+json"),
			status: 404, code: "OBJECT_BODY_NOT_FOUND"},
		{name: "publish, both expiries", method: "POST", path: body + "/publish", body: `{"expiresAt":99999999999999,"expiresIn":60}`, headers: auth,
			status: 400, code: "INVALID_INPUT_DATA"},
		{name: "publish, expiresAt past", method: "POST", path: body + "/publish", body: `{"expiresAt":1000}`, headers: auth,
			status: 400, code: "INVALID_INPUT_DATA"},
		{name: "publication, unknown", method: "GET", path: "/api/x/nosuchpublication", status: 404, code: "PUBLICATION_NOT_FOUND"},
		{name: "upload, bad Content-Range", method: "PUT", path: body + "/uploads/x/data", body: "abc", headers: with("Content-Range", "0-2/3"),
			status: 400, code: "INVALID_INPUT_DATA"},
		{name: "upload, unknown", method: "PUT", path: body + "/uploads/nosuchupload/data", body: "abc", headers: with("Content-Range", "bytes=0-2/3"),
			status: 404, code: "OBJECT_BODY_UPLOAD_NOT_FOUND"},
		{name: "commit, unknown upload", method: "POST", path: body + "/uploads/nosuchupload/status/committed", headers: auth,
			status: 404, code: "OBJECT_BODY_UPLOAD_NOT_FOUND"},
	})

	t.Run("ETag and If-Match", func(t *testing.T) {
		r := do(t, "GET", n.base+f.expand(body), "", "Authorization", "Bearer "+f.thing.Token)
		etag := r.Header.Get("ETag")
		if len(etag) < 3 || etag[0] != '"' || r.Header.Get("Last-Modified") == "" {
			t.Fatalf("ETag %q, Last-Modified %q: want a quoted ETag and a date", etag, r.Header.Get("Last-Modified"))
		}
		r = do(t, "GET", n.base+f.expand(body), "", "Authorization", "Bearer "+f.thing.Token, "If-Match", etag, "Range", "bytes=0-1")
		wantStatus(t, r, 206)
		h := do(t, "HEAD", n.base+f.expand(body), "", "Authorization", "Bearer "+f.thing.Token)
		if h.Header.Get("ETag") != etag || h.Header.Get("Last-Modified") != r.Header.Get("Last-Modified") {
			t.Errorf("HEAD ETag %q Last-Modified %q, GET %q %q", h.Header.Get("ETag"), h.Header.Get("Last-Modified"), etag, r.Header.Get("Last-Modified"))
		}
	})

	t.Run("chunked put (ebisu)", func(t *testing.T) {
		req, _ := http.NewRequest("PUT", n.base+f.expand(bareBody), io.MultiReader(strings.NewReader("chunked "), strings.NewReader("bytes")))
		req.Header.Set("Authorization", "Bearer "+f.thing.Token)
		req.Header.Set("Content-Type", "text/plain")
		resp, err := testHTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || req.ContentLength != 0 && req.ContentLength != -1 {
			t.Fatalf("status %d (content length %d), want 200 for a chunked request", resp.StatusCode, req.ContentLength)
		}
		r := do(t, "GET", n.base+f.expand(bareBody), "", "Authorization", "Bearer "+f.thing.Token)
		if string(r.Body) != "chunked bytes" {
			t.Errorf("body = %q", r.Body)
		}
	})

	t.Run("publish", func(t *testing.T) {
		r := do(t, "POST", n.base+f.expand(body+"/publish"), "", "Authorization", "Bearer "+f.thing.Token,
			"Content-Type", "application/vnd.kii.ObjectBodyPublicationRequest+json")
		wantStatus(t, r, 201)
		if ct := r.Header.Get("Content-Type"); ct != "application/vnd.kii.ObjectBodyPublicationResponse+json" {
			t.Errorf("Content-Type = %q", ct)
		}
		id, url := r.Str(t, "publicationID"), r.Str(t, "url")
		if url != n.base+"/api/x/"+id || r.Header.Get("Location") != url || r.Header.Get("Expires") != "" {
			t.Errorf("url %q, Location %q, Expires %q; want %s/api/x/%s and no Expires", url, r.Header.Get("Location"), r.Header.Get("Expires"), n.base, id)
		}
		g := do(t, "GET", url, "") // no app, no credentials
		if g.Status != 200 || string(g.Body) != "hello world" || g.Header.Get("Content-Type") != "text/plain" {
			t.Errorf("GET publication = %d %q %q", g.Status, g.Header.Get("Content-Type"), g.Body)
		}
		g = do(t, "GET", url, "", "Range", "bytes=0-4")
		if g.Status != 206 || string(g.Body) != "hello" {
			t.Errorf("GET publication range = %d %q", g.Status, g.Body)
		}

		// Expiring ones: expiresIn (a string of digits, as the reference's sample) and expiresAt.
		r = do(t, "POST", n.base+f.expand(body+"/publish"), `{"expiresIn":"1"}`, "Authorization", "Bearer "+f.thing.Token)
		wantStatus(t, r, 201)
		if _, err := http.ParseTime(r.Header.Get("Expires")); err != nil {
			t.Errorf("Expires = %q: %v", r.Header.Get("Expires"), err)
		}
		short := r.Str(t, "url")
		at := time.Now().Add(time.Hour).UnixMilli()
		r = do(t, "POST", n.base+f.expand(body+"/publish"), fmt.Sprintf(`{"expiresAt":%d}`, at), "Authorization", "Bearer "+f.thing.Token)
		wantStatus(t, r, 201)
		if want := time.UnixMilli(at).UTC().Format(http.TimeFormat); r.Header.Get("Expires") != want {
			t.Errorf("Expires = %q, want %q", r.Header.Get("Expires"), want)
		}
		long := r.Str(t, "url")
		deadline := time.Now().Add(10 * time.Second)
		for {
			g = do(t, "GET", short, "")
			if g.Status == 410 || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if g.Status != 410 || !strings.Contains(string(g.Body), `"PUBLICATION_EXPIRED"`) {
			t.Errorf("GET an expired publication = %d %s, want 410 PUBLICATION_EXPIRED", g.Status, g.Body)
		}
		if g = do(t, "GET", long, ""); g.Status != 200 {
			t.Errorf("GET a publication before its expiresAt = %d", g.Status)
		}
	})

	t.Run("resumable upload", func(t *testing.T) {
		up := n.createObject(f.thing, "files", `{}`)
		ub := n.base + f.expand("/api/apps/{app}/things/{thing}/buckets/files/objects/"+up+"/body")
		tok := "Bearer " + f.thing.Token
		r := do(t, "POST", ub+"/uploads", `{}`, "Authorization", tok, "Content-Type", "application/vnd.kii.StartObjectBodyUploadRequest+json")
		wantStatus(t, r, 200)
		if ct := r.Header.Get("Content-Type"); ct != "application/vnd.kii.StartObjectBodyUploadResponse+json" {
			t.Errorf("Content-Type = %q", ct)
		}
		id := r.Str(t, "uploadID")
		wantStatus(t, do(t, "PUT", ub+"/uploads/"+id+"/data", "012345", "Authorization", tok, "Content-Type", "video/mp4", "Content-Range", "bytes=0-5/10"), 204)
		r = do(t, "PUT", ub+"/uploads/"+id+"/data", "6789", "Authorization", tok, "Content-Type", "video/mp4", "Content-Range", "bytes=7-9/10")
		if r.Status != 400 {
			t.Errorf("a chunk with a gap: %d, want 400", r.Status)
		}
		wantStatus(t, do(t, "PUT", ub+"/uploads/"+id+"/data", "6789", "Authorization", tok, "Content-Type", "video/mp4", "Content-Range", "bytes 6-9/10"), 204)
		wantStatus(t, do(t, "POST", ub+"/uploads/"+id+"/status/committed", "", "Authorization", tok), 204)
		g := do(t, "GET", ub, "", "Authorization", tok)
		if g.Status != 200 || string(g.Body) != "0123456789" || g.Header.Get("Content-Type") != "video/mp4" {
			t.Errorf("after commit: %d %q %q", g.Status, g.Header.Get("Content-Type"), g.Body)
		}

		// Cancelled on an object without a body: publishing then finds none (k4j).
		other := n.createObject(f.thing, "files", `{}`)
		ob := n.base + f.expand("/api/apps/{app}/things/{thing}/buckets/files/objects/"+other+"/body")
		id = do(t, "POST", ob+"/uploads", `{}`, "Authorization", tok).Str(t, "uploadID")
		wantStatus(t, do(t, "PUT", ob+"/uploads/"+id+"/data", "abc", "Authorization", tok, "Content-Range", "bytes=0-2/6"), 204)
		wantStatus(t, do(t, "POST", ob+"/uploads/"+id+"/status/cancelled", "", "Authorization", tok), 204)
		r = do(t, "POST", ob+"/publish", `{}`, "Authorization", tok)
		if r.Status != 404 || !strings.Contains(string(r.Body), "OBJECT_BODY_NOT_FOUND") {
			t.Errorf("publish after cancel: %d %s, want 404", r.Status, r.Body)
		}
		r = do(t, "PUT", ob+"/uploads/"+id+"/data", "def", "Authorization", tok, "Content-Range", "bytes=3-5/6")
		if r.Status != 404 || !strings.Contains(string(r.Body), "OBJECT_BODY_UPLOAD_NOT_FOUND") {
			t.Errorf("chunk after cancel: %d %s, want 404", r.Status, r.Body)
		}
		id = do(t, "POST", ob+"/uploads", `{}`, "Authorization", tok).Str(t, "uploadID")
		r = do(t, "PUT", ob+"/uploads/"+id+"/data", "def", "Authorization", tok, "Content-Range", "bytes=0-2/2000000")
		if r.Status != 413 || !strings.Contains(string(r.Body), "REQUEST_ENTITY_TOO_LARGE") {
			t.Errorf("chunk of an upload over the size limit: %d %s, want 413", r.Status, r.Body)
		}
	})

	t.Run("move", func(t *testing.T) {
		tok := "Bearer " + f.thing.Token
		thingObj := func() (id, url string) {
			id = n.createObject(f.thing, "files", `{}`)
			return id, n.base + f.expand("/api/apps/{app}/things/{thing}/buckets/files/objects/"+id+"/body")
		}
		src, srcBody := thingObj()
		_, emptyBody := thingObj()
		wantStatus(t, do(t, "PUT", srcBody, "moving bytes", "Authorization", tok, "Content-Type", "text/csv"), 200)
		pub := do(t, "POST", srcBody+"/publish", `{}`, "Authorization", tok).Str(t, "url")
		// The target: an object of the user's own bucket, which already has a body.
		userObjects := n.base + "/api/apps/" + n.app.AppID + "/users/" + f.userID + "/buckets/inbox/objects"
		r := do(t, "POST", userObjects, `{}`, "Authorization", "Bearer "+f.userToken)
		wantStatus(t, r, 201)
		dst := r.Str(t, "objectID")
		wantStatus(t, do(t, "PUT", userObjects+"/"+dst+"/body", "old target body", "Authorization", "Bearer "+f.userToken), 200)
		req := func(typ, idField, id, bucket, object string) string {
			scope := map[string]any{"appID": n.app.AppID, "type": typ}
			if idField != "" {
				scope[idField] = id
			}
			b, _ := json.Marshal(map[string]any{"targetObjectScope": scope, "targetBucketID": bucket, "targetObjectID": object})
			return string(b)
		}
		move := req("APP_AND_USER", "userID", f.userID, "inbox", dst)
		ct := []string{"Content-Type", "application/vnd.kii.ObjectBodyMoveRequest+json"}
		for _, tc := range []struct {
			name, from, body, token string
			status                  int
			code                    string
		}{
			{"the thing may not write the user's object", srcBody, move, tok, 401, "UNAUTHORIZED"},
			{"no target object", srcBody, req("APP_AND_USER", "userID", f.userID, "inbox", "nope"), "Bearer " + f.adminToken, 404, "OBJECT_NOT_FOUND"},
			{"no scope ID", srcBody, req("APP_AND_USER", "", "", "inbox", dst), "Bearer " + f.adminToken, 400, "INVALID_INPUT_DATA"},
			{"unknown scope type", srcBody, req("APP_AND_PLANET", "", "", "inbox", dst), "Bearer " + f.adminToken, 400, "INVALID_INPUT_DATA"},
			{"no bucket", srcBody, `{"targetObjectScope":{"type":"APP"},"targetObjectID":"x"}`, "Bearer " + f.adminToken, 400, "INVALID_INPUT_DATA"},
			{"not JSON", srcBody, `{`, "Bearer " + f.adminToken, 400, "INVALID_JSON"},
			{"a source without a body", emptyBody, move, "Bearer " + f.adminToken, 404, "OBJECT_BODY_NOT_FOUND"},
		} {
			r := do(t, "POST", tc.from+"/move", tc.body, append([]string{"Authorization", tc.token}, ct...)...)
			if r.Status != tc.status || !strings.Contains(string(r.Body), `"`+tc.code+`"`) {
				t.Errorf("%s: %d %s, want %d %s", tc.name, r.Status, r.Body, tc.status, tc.code)
			}
		}
		wantStatus(t, do(t, "POST", srcBody+"/move", move, append([]string{"Authorization", "Bearer " + f.adminToken}, ct...)...), 204)
		g := do(t, "GET", userObjects+"/"+dst+"/body", "", "Authorization", "Bearer "+f.userToken)
		if g.Status != 200 || string(g.Body) != "moving bytes" || g.Header.Get("Content-Type") != "text/csv" {
			t.Errorf("the target's body after the move: %d %q %q", g.Status, g.Header.Get("Content-Type"), g.Body)
		}
		if g := do(t, "GET", srcBody, "", "Authorization", tok); g.Status != 404 || !strings.Contains(string(g.Body), "OBJECT_BODY_NOT_FOUND") {
			t.Errorf("the source's body after the move: %d %s, want 404 OBJECT_BODY_NOT_FOUND", g.Status, g.Body)
		}
		if g := do(t, "GET", pub, ""); g.Status != 404 {
			t.Errorf("the source's publication after the move: %d, want 404", g.Status)
		}
		// Moving back, within one scope and onto itself.
		back := req("APP_AND_THING", "thingID", f.thing.ThingID, "files", src)
		wantStatus(t, do(t, "POST", userObjects+"/"+dst+"/body/move", back, "Authorization", "Bearer "+f.adminToken), 204)
		wantStatus(t, do(t, "POST", srcBody+"/move", back, "Authorization", tok), 204)
		if g := do(t, "GET", srcBody, "", "Authorization", tok); g.Status != 200 || string(g.Body) != "moving bytes" {
			t.Errorf("the body moved back onto itself: %d %q", g.Status, g.Body)
		}
	})

	t.Run("deleting the object deletes the body", func(t *testing.T) {
		tok := "Bearer " + f.thing.Token
		r := do(t, "POST", n.base+f.expand(body+"/publish"), `{}`, "Authorization", tok)
		wantStatus(t, r, 201)
		url := r.Str(t, "url")
		wantStatus(t, do(t, "DELETE", n.base+f.expand("/api/apps/{app}/things/{thing}/buckets/files/objects/"+obj), "", "Authorization", tok), 204)
		if g := do(t, "GET", url, ""); g.Status != 404 {
			t.Errorf("publication of a deleted object: %d, want 404", g.Status)
		}
		if g := do(t, "GET", n.base+f.expand(body), "", "Authorization", tok); g.Status != 404 || !strings.Contains(string(g.Body), "OBJECT_NOT_FOUND") {
			t.Errorf("body of a deleted object: %d %s", g.Status, g.Body)
		}
	})
}

// TestBodyPush checks that body changes push DATA_OBJECT_BODY_UPDATED and
// DATA_OBJECT_BODY_DELETED to a subscribed thing over MQTT.
func TestBodyPush(t *testing.T) { forEachStore(t, testBodyPush) }

func testBodyPush(t *testing.T, cfg config) {
	n := mustStartNodeConfig(t, cfg)
	d := n.mustDevice("body-push")
	n.subscribe(d, "photos")
	_, in := connectDevice(t, n.mqttURL(broker.TCP), d, 4)
	obj := n.createObject(d, "photos", `{}`)
	in.waitFor(t, "the object's push", func(ms []paho.Message) bool { return len(ms) >= 1 })
	url := n.base + "/api/apps/" + n.app.AppID + "/things/" + d.ThingID + "/buckets/photos/objects/" + obj + "/body"
	r := do(t, "PUT", url, "jpeg bytes", "Authorization", "Bearer "+d.Token, "Content-Type", "image/jpeg")
	wantStatus(t, r, 200)
	modified := r.JSON(t)["modifiedAt"].(json.Number).String()
	wantStatus(t, do(t, "DELETE", url, "", "Authorization", "Bearer "+d.Token), 204)
	msgs := in.waitFor(t, "the body pushes", func(ms []paho.Message) bool { return len(ms) >= 3 })
	var p []map[string]any
	for _, m := range msgs[1:3] {
		var v map[string]any
		d := json.NewDecoder(strings.NewReader(string(m.Payload())))
		d.UseNumber()
		if err := d.Decode(&v); err != nil {
			t.Fatalf("push %s: %v", m.Payload(), err)
		}
		p = append(p, v)
	}
	if p[0]["type"] != "DATA_OBJECT_BODY_UPDATED" || p[0]["objectID"] != obj || fmt.Sprint(p[0]["modifiedAt"]) != modified ||
		p[0]["bucketID"] != "photos" || p[0]["objectScopeThingID"] != d.ThingID {
		t.Errorf("first body push = %v, want DATA_OBJECT_BODY_UPDATED of %s, modifiedAt %s", p[0], obj, modified)
	}
	if _, has := p[1]["modifiedAt"]; p[1]["type"] != "DATA_OBJECT_BODY_DELETED" || p[1]["objectID"] != obj || has {
		t.Errorf("second body push = %v, want DATA_OBJECT_BODY_DELETED of %s without modifiedAt", p[1], obj)
	}

	// A move pushes the source's DATA_OBJECT_BODY_DELETED, then the target's DATA_OBJECT_BODY_UPDATED.
	target := n.createObject(d, "photos", `{}`)
	wantStatus(t, do(t, "PUT", url, "jpeg bytes", "Authorization", "Bearer "+d.Token, "Content-Type", "image/jpeg"), 200)
	move := fmt.Sprintf(`{"targetObjectScope":{"appID":%q,"type":"APP_AND_THING","thingID":%q},"targetBucketID":"photos","targetObjectID":%q}`,
		n.app.AppID, d.ThingID, target)
	wantStatus(t, do(t, "POST", url+"/move", move, "Authorization", "Bearer "+d.Token), 204)
	msgs = in.waitFor(t, "the move's pushes", func(ms []paho.Message) bool { return len(ms) >= 7 })
	var types []string
	for _, m := range msgs[5:7] {
		var v map[string]any
		if err := json.Unmarshal(m.Payload(), &v); err != nil {
			t.Fatalf("push %s: %v", m.Payload(), err)
		}
		types = append(types, fmt.Sprint(v["type"], " ", v["objectID"]))
	}
	if want := []string{"DATA_OBJECT_BODY_DELETED " + obj, "DATA_OBJECT_BODY_UPDATED " + target}; !slices.Equal(types, want) {
		t.Errorf("the move's pushes = %v, want %v", types, want)
	}
}

// TestBodyStreaming puts and gets a 100 MB body through the HTTP API and
// checks that the process's heap stays far below the body's size: bodies
// stream, on both stores.
func TestBodyStreaming(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 200 MB")
	}
	forEachStore(t, testBodyStreaming)
}

// genReader produces size deterministic bytes without holding them.
type genReader struct{ left, i int64 }

func (g *genReader) Read(p []byte) (int, error) {
	if g.left <= 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), g.left)]
	for k := range p {
		p[k] = byte(g.i*7 + g.i>>13)
		g.i++
	}
	g.left -= int64(len(p))
	return len(p), nil
}

func testBodyStreaming(t *testing.T, cfg config) {
	const size = 100 << 20
	const bound = 40 << 20
	n := mustStartNodeConfig(t, cfg)
	d := n.mustDevice("big")
	obj := n.createObject(d, "big", `{}`)
	url := n.base + "/api/apps/" + n.app.AppID + "/things/" + d.ThingID + "/buckets/big/objects/" + obj + "/body"

	// The heap grows by what the transfers hold, not by the garbage the
	// collector has not reached yet: collect often, and measure from what
	// the process held before (other tests' nodes included).
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()

	want := sha256.New()
	io.Copy(want, &genReader{left: size})
	start := time.Now()
	req, _ := http.NewRequest("PUT", url, &genReader{left: size})
	req.ContentLength = size
	req.Header.Set("Authorization", "Bearer "+d.Token)
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := testHTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("PUT 100 MB: %d", resp.StatusCode)
	}
	put := time.Since(start)

	start = time.Now()
	req, _ = http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+d.Token)
	resp, err = testHTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got := sha256.New()
	k, err := io.Copy(got, resp.Body)
	resp.Body.Close()
	if err != nil || k != size || resp.StatusCode != 200 {
		t.Fatalf("GET 100 MB: %d, %d bytes, %v", resp.StatusCode, k, err)
	}
	if string(got.Sum(nil)) != string(want.Sum(nil)) {
		t.Error("the body read back differs from the body put (SHA-256)")
	}
	grew := peak.Load() - min(peak.Load(), base.HeapInuse)
	t.Logf("100 MB: put %v, get %v; heap in use %.1f MB before, at most %.1f MB more during the transfers",
		put.Round(time.Millisecond), time.Since(start).Round(time.Millisecond), float64(base.HeapInuse)/(1<<20), float64(grew)/(1<<20))
	if grew > bound {
		t.Errorf("heap in use grew by %.1f MB, want under %d MB: a body must stream", float64(grew)/(1<<20), bound>>20)
	}
}
