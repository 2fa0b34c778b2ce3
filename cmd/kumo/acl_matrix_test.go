package main

// The ACL tests, written from rest-core §7 (with §1.5, §3, §4.3, §5.1, §6)
// and the ACL choices recorded in docs/compat.md, independently of the
// implementation: who may do what by scope and caller under the default
// ACLs (TestACLMatrix), what GET …/acl lists for fresh targets
// (TestACLListings), what grants and revocations change (TestACLChanges),
// the ACL endpoints' errors (TestACLErrors), the push an object ACL
// change sends (TestACLPush), and a change reaching another node
// (TestACLAcrossNodes).

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/kumo-iot/kumo/internal/broker"
	"github.com/kumo-iot/kumo/internal/sqlstore/postgres/pgtest"
)

// aclWorld is the cast of the ACL tests, on a fixture:
//
//   - alice (the fixture's user) owns her user scope and the group crew,
//     and creates the app-scope objects;
//   - bob is a member of crew (not its owner);
//   - carol owns the thing {thing} herself;
//   - erin owns the group fleet, which owns {thing};
//   - dave and zed are users with no relation to anything;
//   - the thing {thing} owns its thing scope; {other} is another thing.
type aclWorld struct {
	f      *fixture
	tokens map[string]string // caller → bearer token; "anon" has none
	vars   map[string]string // placeholder name → value: user IDs, saved object IDs
}

// newACLWorld starts a node on cfg's store and sets the cast up.
func newACLWorld(t *testing.T, cfg config) *aclWorld {
	t.Helper()
	f := newFixture(t, cfg)
	w := &aclWorld{f: f,
		tokens: map[string]string{"admin": f.adminToken, "alice": f.userToken, "thing": f.thing.Token, "other": f.other.Token,
			"anontoken": f.anonToken, "anon": ""},
		vars: map[string]string{"alice": f.userID},
	}
	for _, name := range []string{"bob", "carol", "dave", "erin", "zed"} {
		w.vars[name], w.tokens[name] = f.mustUser(t, name)
	}
	w.must(t, "alice", "PUT", "/groups/crew", `{"name":"Crew","members":["{bob}"]}`, 201)
	w.must(t, "carol", "POST", "/things/{thing}/ownership", `{"userID":"{carol}","thingPassword":"pass-1234"}`, 204)
	w.must(t, "erin", "PUT", "/groups/fleet", `{"name":"Fleet"}`, 201)
	w.must(t, "erin", "POST", "/things/{thing}/ownership", `{"groupID":"fleet","thingPassword":"pass-1234"}`, 204)
	return w
}

// expand replaces the world's placeholders, then the fixture's.
func (w *aclWorld) expand(s string) string {
	var pairs []string
	for _, k := range slices.Sorted(maps.Keys(w.vars)) {
		pairs = append(pairs, "{"+k+"}", w.vars[k])
	}
	return w.f.expandPlain(strings.NewReplacer(pairs...).Replace(s))
}

// queryAll is the query of every object (rest-core §6).
const queryAll = `{"bucketQuery":{"clause":{"type":"all"}}}`

// call sends a request as who to path below the app's URL
// (/api/apps/{app}), placeholders expanded. A query gets queryAll when it
// has no body, and its media type; other bodies are sent as
// application/json.
func (w *aclWorld) call(t *testing.T, who, method, path, body string) response {
	t.Helper()
	return w.callOn(t, w.f.n.base, who, method, path, body)
}

// callOn is call on the node at base.
func (w *aclWorld) callOn(t *testing.T, base, who, method, path, body string) response {
	t.Helper()
	tok, ok := w.tokens[who]
	if !ok {
		t.Fatalf("unknown caller %q", who)
	}
	var h []string
	if tok != "" {
		h = append(h, "Authorization", "Bearer "+tok)
	}
	if strings.HasSuffix(path, "/query") {
		if body == "" {
			body = queryAll
		}
		h = append(h, "Content-Type", "application/vnd.kii.QueryRequest+json")
	} else if body != "" {
		h = append(h, "Content-Type", "application/json")
	}
	return do(t, method, base+"/api/apps/"+w.f.n.app.AppID+w.expand(path), w.expand(body), h...)
}

// must sends a setup request and fails the test unless it has the status.
func (w *aclWorld) must(t *testing.T, who, method, path, body string, status int) response {
	t.Helper()
	r := w.call(t, who, method, path, body)
	if r.Status != status {
		t.Fatalf("setup: %s %s as %s: status %d, want %d; body: %s", method, path, who, r.Status, status, r.Body)
	}
	return r
}

// object creates an object as who in the bucket at path (below the app)
// and returns its ID.
func (w *aclWorld) object(t *testing.T, who, bucket string) string {
	t.Helper()
	return w.must(t, who, "POST", bucket+"/objects", `{"v":1}`, 201).Str(t, "objectID")
}

// wantDenied fails unless r is Kii's 401 UNAUTHORIZED (rest-core §1.5).
func wantDenied(t *testing.T, r response) {
	t.Helper()
	if r.Status != 401 {
		t.Fatalf("status = %d, want 401 UNAUTHORIZED; body: %s", r.Status, r.Body)
	}
	wantError(t, r, "UNAUTHORIZED")
}

// wantError checks Kii's error format: errorCode (code, or any when
// code is ""), a message, and the exception media type
// (UnauthorizedAccessException for UNAUTHORIZED).
func wantError(t *testing.T, r response, code string) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("error body is not a JSON object: %v: %s", err, r.Body)
	}
	if c, _ := m["errorCode"].(string); c == "" || code != "" && c != code {
		t.Errorf("errorCode = %v, want %s; body: %s", m["errorCode"], code, r.Body)
	}
	if _, ok := m["message"].(string); !ok {
		t.Errorf("error body has no message: %s", r.Body)
	}
	ct := r.Header.Get("Content-Type")
	switch {
	case code == "UNAUTHORIZED" && ct != "application/vnd.kii.UnauthorizedAccessException+json":
		t.Errorf("Content-Type = %q, want application/vnd.kii.UnauthorizedAccessException+json", ct)
	case !strings.HasPrefix(ct, "application/vnd.kii.") || !strings.HasSuffix(ct, "Exception+json"):
		t.Errorf("error Content-Type = %q, want application/vnd.kii.<Name>Exception+json", ct)
	}
}

// queryIDs returns the _id of every object of a query response.
func queryIDs(t *testing.T, r response) []string {
	t.Helper()
	var q struct {
		Results []struct {
			ID string `json:"_id"`
		} `json:"results"`
	}
	if err := json.Unmarshal(r.Body, &q); err != nil {
		t.Fatalf("query response: %v: %s", err, r.Body)
	}
	ids := make([]string, 0, len(q.Results))
	for _, o := range q.Results {
		ids = append(ids, o.ID)
	}
	slices.Sort(ids)
	return ids
}

// subjectPath returns the path form of an ACL entry's JSON form
// ({"userID":"x"} → "UserID:x"), failing on anything else.
func subjectPath(t *testing.T, e map[string]string) string {
	t.Helper()
	if len(e) != 1 {
		t.Fatalf("ACL entry %v: want exactly one of userID, groupID, thingID", e)
	}
	for k, v := range e {
		switch k {
		case "userID":
			return "UserID:" + v
		case "groupID":
			return "GroupID:" + v
		case "thingID":
			return "ThingID:" + v
		}
	}
	t.Fatalf("ACL entry %v: want exactly one of userID, groupID, thingID", e)
	return ""
}

// aclListing reads a GET …/acl response: verb → its subjects in path form,
// sorted (duplicates kept); verbs without entries are left out (rest-core
// §7.3 lets a server omit them).
func aclListing(t *testing.T, r response) map[string][]string {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/vnd.kii.ACLRetrievalResponse+json" {
		t.Errorf("Content-Type = %q, want application/vnd.kii.ACLRetrievalResponse+json", ct)
	}
	var m map[string][]map[string]string
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("ACL listing: %v: %s", err, r.Body)
	}
	out := map[string][]string{}
	for verb, entries := range m {
		if len(entries) == 0 {
			continue
		}
		for _, e := range entries {
			out[verb] = append(out[verb], subjectPath(t, e))
		}
		slices.Sort(out[verb])
	}
	return out
}

// wantListing fails unless the listing is want (subjects with
// placeholders, in any order).
func (w *aclWorld) wantListing(t *testing.T, got map[string][]string, want map[string][]string) {
	t.Helper()
	exp := map[string][]string{}
	for verb, subjects := range want {
		for _, s := range subjects {
			exp[verb] = append(exp[verb], w.expand(s))
		}
		slices.Sort(exp[verb])
	}
	if !maps.EqualFunc(got, exp, slices.Equal) {
		t.Errorf("ACL = %v,\nwant %v", got, exp)
	}
}

// Subjects in path form, for the expected listings.
const (
	anyAuth   = "UserID:ANY_AUTHENTICATED_USER"
	anonymous = "UserID:ANONYMOUS_USER"
)

// aclOp is an operation of the matrix.
type aclOp int

// The matrix's operations, in the order of its columns.
const (
	opCreate    aclOp = iota // POST {bucket}/objects in an existing bucket
	opCreateNew              // POST {bucket}/objects in a bucket that does not exist yet
	opRead                   // GET {bucket}/objects/{id}
	opPatch                  // PATCH {bucket}/objects/{id}
	opPut                    // PUT {bucket}/objects/{id} (replace an existing object)
	opDelete                 // DELETE {bucket}/objects/{id}
	opQuery                  // POST {bucket}/query, all
	opDrop                   // DELETE {bucket}
	opACLRead                // GET {bucket}/acl
	opACLGrant               // PUT {bucket}/acl/QUERY_OBJECTS_IN_BUCKET/UserID:{zed}
	numOps
)

var opNames = [numOps]string{"create", "createNew", "read", "patch", "put", "delete", "query", "drop", "aclRead", "aclGrant"}

// opOK is the status of each operation when allowed.
var opOK = [numOps]int{201, 201, 200, 200, 200, 204, 200, 204, 200, 204}

// TestACLMatrix: every scope × kind of caller × operation under the
// default ACLs: allowed (the operation's 2xx) or denied (401
// UNAUTHORIZED). Each cell runs on a bucket of its own, made by the
// scope's object creator with one object in it.
func TestACLMatrix(t *testing.T) { forEachStore(t, testACLMatrix) }

func testACLMatrix(t *testing.T, cfg config) {
	w := newACLWorld(t, cfg)
	const Y, N = true, false
	scopes := map[string]struct {
		buckets string // the scope's bucket collection, below the app
		creator string // who makes each cell's bucket and object
	}{
		"app":   {"/buckets", "alice"}, // an authenticated user, not "another user" (dave)
		"user":  {"/users/{alice}/buckets", "alice"},
		"group": {"/groups/crew/buckets", "alice"}, // alice owns crew
		"thing": {"/things/{thing}/buckets", "thing"},
	}
	// Expected by hand from rest-core §7.4 and docs/compat.md: the admin may
	// do everything; the scope owner (the user, the group owner, the thing
	// and its owners) everything in its scope; group members everything but
	// drop; an app-scope bucket and its objects are open to every
	// authenticated user or thing (ANY_AUTHENTICATED_USER) and readable and
	// queryable by everyone (ANONYMOUS_USER); only the admin reads or
	// changes an app-scope bucket's ACL.
	type allow = [numOps]bool
	matrix := []struct {
		scope, role, who string
		want             allow
	}{
		// cr create, nb create in a new bucket, rd read, pa patch, pu put, de delete, qu query, dr drop, ar read the bucket ACL, ag grant on it
		//                                                                 cr nb rd pa pu de qu dr ar ag
		{"app", "admin", "admin" /*                              */, allow{Y, Y, Y, Y, Y, Y, Y, Y, Y, Y}},
		{"app", "object creator (alice)", "alice" /*             */, allow{Y, Y, Y, Y, Y, Y, Y, Y, N, N}},
		{"app", "another user (dave)", "dave" /*                 */, allow{Y, Y, Y, Y, Y, Y, Y, Y, N, N}},
		{"app", "another thing", "other" /*                      */, allow{Y, Y, Y, Y, Y, Y, Y, Y, N, N}},
		{"app", "anonymous", "anon" /*                           */, allow{N, N, Y, N, N, N, Y, N, N, N}},
		{"app", "anonymous with an app token", "anontoken" /*    */, allow{N, N, Y, N, N, N, Y, N, N, N}},

		{"user", "admin", "admin" /*                             */, allow{Y, Y, Y, Y, Y, Y, Y, Y, Y, Y}},
		{"user", "the user (alice)", "alice" /*                  */, allow{Y, Y, Y, Y, Y, Y, Y, Y, Y, Y}},
		{"user", "another user (dave)", "dave" /*                */, allow{N, N, N, N, N, N, N, N, N, N}},
		{"user", "another thing", "other" /*                     */, allow{N, N, N, N, N, N, N, N, N, N}},
		{"user", "anonymous", "anon" /*                          */, allow{N, N, N, N, N, N, N, N, N, N}},

		{"group", "admin", "admin" /*                            */, allow{Y, Y, Y, Y, Y, Y, Y, Y, Y, Y}},
		{"group", "the group owner (alice)", "alice" /*          */, allow{Y, Y, Y, Y, Y, Y, Y, Y, Y, Y}},
		{"group", "a member (bob)", "bob" /*                     */, allow{Y, Y, Y, Y, Y, Y, Y, N, N, N}},
		{"group", "another user (dave)", "dave" /*               */, allow{N, N, N, N, N, N, N, N, N, N}},
		{"group", "another thing", "other" /*                    */, allow{N, N, N, N, N, N, N, N, N, N}},
		{"group", "anonymous", "anon" /*                         */, allow{N, N, N, N, N, N, N, N, N, N}},

		{"thing", "admin", "admin" /*                            */, allow{Y, Y, Y, Y, Y, Y, Y, Y, Y, Y}},
		{"thing", "the thing", "thing" /*                        */, allow{Y, Y, Y, Y, Y, Y, Y, Y, Y, Y}},
		{"thing", "a thing owner (carol)", "carol" /*            */, allow{Y, Y, Y, Y, Y, Y, Y, Y, Y, Y}},
		{"thing", "a member of an owner group (erin)", "erin" /* */, allow{Y, Y, Y, Y, Y, Y, Y, Y, Y, Y}},
		{"thing", "another user (dave)", "dave" /*               */, allow{N, N, N, N, N, N, N, N, N, N}},
		{"thing", "another thing", "other" /*                    */, allow{N, N, N, N, N, N, N, N, N, N}},
		{"thing", "anonymous", "anon" /*                         */, allow{N, N, N, N, N, N, N, N, N, N}},
	}
	for i, row := range matrix {
		sc := scopes[row.scope]
		for op := range numOps {
			t.Run(row.scope+"/"+row.role+"/"+opNames[op], func(t *testing.T) {
				bucket := fmt.Sprintf("%s/m%02d%s", sc.buckets, i, opNames[op])
				var id string
				if op == opCreateNew {
					bucket = fmt.Sprintf("%s/new%02d", sc.buckets, i)
				} else {
					id = w.object(t, sc.creator, bucket)
				}
				r := w.matrixOp(t, row.who, op, bucket, id)
				if !row.want[op] {
					wantDenied(t, r)
					return
				}
				if r.Status != opOK[op] {
					t.Fatalf("status = %d, want %d; body: %s", r.Status, opOK[op], r.Body)
				}
				switch op {
				case opRead:
					if got := r.Str(t, "_id"); got != id {
						t.Errorf("_id = %q, want %q", got, id)
					}
				case opQuery: // every caller allowed to query may also read the bucket
					if got := queryIDs(t, r); !slices.Contains(got, id) {
						t.Errorf("query results %v lack the object %s", got, id)
					}
				case opACLRead:
					aclListing(t, r)
				}
			})
		}
	}
}

// matrixOp does op as who on the bucket at path (below the app) and its
// object id.
func (w *aclWorld) matrixOp(t *testing.T, who string, op aclOp, bucket, id string) response {
	t.Helper()
	obj := bucket + "/objects/" + id
	switch op {
	case opCreate, opCreateNew:
		return w.call(t, who, "POST", bucket+"/objects", `{"v":1}`)
	case opRead:
		return w.call(t, who, "GET", obj, "")
	case opPatch:
		return w.call(t, who, "PATCH", obj, `{"v":2}`)
	case opPut:
		return w.call(t, who, "PUT", obj, `{"v":3}`)
	case opDelete:
		return w.call(t, who, "DELETE", obj, "")
	case opQuery:
		return w.call(t, who, "POST", bucket+"/query", "")
	case opDrop:
		return w.call(t, who, "DELETE", bucket, "")
	case opACLRead:
		return w.call(t, who, "GET", bucket+"/acl", "")
	case opACLGrant:
		return w.call(t, who, "PUT", bucket+"/acl/QUERY_OBJECTS_IN_BUCKET/UserID:{zed}", "")
	}
	t.Fatalf("unknown op %d", op)
	return response{}
}

// aclStep is one request of a sequence and what must come back.
type aclStep struct {
	name         string
	who          string // admin, alice, bob, carol, dave, erin, zed, thing, other, anon, anontoken
	method, path string // path below /api/apps/{app}, with placeholders
	body         string
	status       int
	code         string              // errorCode; a 401 without one means UNAUTHORIZED
	ctype        string              // the Content-Type, when set
	save         string              // keep the created objectID as {save}
	results      []string            // a query's objectIDs, exactly, in any order (placeholders)
	acl          map[string][]string // a GET …/acl listing, exactly (subjects in path form)
	json         string              // the exact JSON body (as values, arrays in any order; placeholders)
}

// run runs the steps in order, each as a subtest.
func (w *aclWorld) run(t *testing.T, steps []aclStep) {
	t.Helper()
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			r := w.call(t, s.who, s.method, s.path, s.body)
			if r.Status != s.status {
				t.Fatalf("%s %s as %s: status = %d, want %d; body: %s", s.method, s.path, s.who, r.Status, s.status, r.Body)
			}
			code := s.code
			if code == "" && s.status == 401 {
				code = "UNAUTHORIZED"
			}
			if code != "" || s.status >= 400 {
				wantError(t, r, code)
			} else if strings.Contains(string(r.Body), `"errorCode"`) {
				t.Errorf("a 2xx body must never carry errorCode: %s", r.Body)
			}
			if s.ctype != "" && r.Header.Get("Content-Type") != s.ctype {
				t.Errorf("Content-Type = %q, want %q", r.Header.Get("Content-Type"), s.ctype)
			}
			if s.save != "" {
				w.vars[s.save] = r.Str(t, "objectID")
			}
			if s.results != nil {
				want := make([]string, len(s.results))
				for i, id := range s.results {
					want[i] = w.expand(id)
				}
				slices.Sort(want)
				if got := queryIDs(t, r); !slices.Equal(got, want) {
					t.Errorf("query results = %v, want %v", got, want)
				}
			}
			if s.acl != nil {
				w.wantListing(t, aclListing(t, r), s.acl)
			}
			if s.json != "" {
				var got, want any
				if err := json.Unmarshal(r.Body, &got); err != nil {
					t.Fatalf("body is not JSON: %v: %s", err, r.Body)
				}
				if err := json.Unmarshal([]byte(w.expand(s.json)), &want); err != nil {
					t.Fatalf("bad expected JSON %s: %v", s.json, err)
				}
				if g, x := canonicalJSON(got), canonicalJSON(want); g != x {
					t.Errorf("body = %s, want %s", r.Body, w.expand(s.json))
				}
			}
		})
	}
}

// canonicalJSON returns v as JSON text with object keys sorted and array
// elements sorted too (ACL entries come in no particular order).
func canonicalJSON(v any) string {
	if a, ok := v.([]any); ok {
		elems := make([]string, len(a))
		for i, e := range a {
			elems[i] = canonicalJSON(e)
		}
		slices.Sort(elems)
		return "[" + strings.Join(elems, ",") + "]"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// TestACLListings: GET …/acl of fresh scopes, buckets and objects lists
// exactly the default entries (rest-core §7.4, the k4j live tests, and
// docs/compat.md); implicit rights (the scope owner, group members,
// thing owners) are never listed.
func TestACLListings(t *testing.T) { forEachStore(t, testACLListings) }

func testACLListings(t *testing.T, cfg config) {
	w := newACLWorld(t, cfg)
	w.vars["aobj"] = w.object(t, "alice", "/buckets/ab")
	w.vars["uobj"] = w.object(t, "alice", "/users/{alice}/buckets/ub")
	w.vars["gobj"] = w.object(t, "alice", "/groups/crew/buckets/gb")
	w.vars["gmobj"] = w.object(t, "bob", "/groups/crew/buckets/gm")
	w.vars["tobj"] = w.object(t, "thing", "/things/{thing}/buckets/tb")
	w.vars["tcobj"] = w.object(t, "carol", "/things/{thing}/buckets/tc")
	w.object(t, "admin", "/users/{alice}/buckets/byadmin")
	both := func(s ...string) map[string][]string {
		return map[string][]string{"CREATE_NEW_BUCKET": s, "CREATE_NEW_TOPIC": s}
	}
	bucketVerbs := func(s ...string) map[string][]string {
		return map[string][]string{"QUERY_OBJECTS_IN_BUCKET": s, "CREATE_OBJECTS_IN_BUCKET": s, "READ_OBJECTS_IN_BUCKET": s, "DROP_BUCKET_WITH_ALL_CONTENT": s}
	}
	objectVerbs := func(s ...string) map[string][]string {
		return map[string][]string{"READ_EXISTING_OBJECT": s, "WRITE_EXISTING_OBJECT": s}
	}
	w.run(t, []aclStep{
		{name: "app scope", who: "admin", method: "GET", path: "/acl", status: 200,
			acl: map[string][]string{"CREATE_NEW_BUCKET": {anyAuth}}},
		{name: "user scope", who: "alice", method: "GET", path: "/users/{alice}/acl", status: 200, acl: both("UserID:{alice}")},
		{name: "user scope by me", who: "alice", method: "GET", path: "/users/me/acl", status: 200, acl: both("UserID:{alice}")},
		{name: "user scope, read by the admin", who: "admin", method: "GET", path: "/users/{alice}/acl", status: 200, acl: both("UserID:{alice}")},
		{name: "group scope", who: "alice", method: "GET", path: "/groups/crew/acl", status: 200, acl: both("GroupID:crew", "UserID:{alice}")},
		{name: "thing scope of a thing with no owner", who: "other", method: "GET", path: "/things/{other}/acl", status: 200, acl: both("ThingID:{other}")},
		{name: "thing scope of an owned thing lists no owner", who: "carol", method: "GET", path: "/things/{thing}/acl", status: 200, acl: both("ThingID:{thing}")},

		{name: "app bucket", who: "admin", method: "GET", path: "/buckets/ab/acl", status: 200,
			acl: map[string][]string{"CREATE_OBJECTS_IN_BUCKET": {anyAuth}, "QUERY_OBJECTS_IN_BUCKET": {anyAuth, anonymous},
				"READ_OBJECTS_IN_BUCKET": {anyAuth, anonymous}, "DROP_BUCKET_WITH_ALL_CONTENT": {anyAuth}}},
		{name: "user bucket", who: "alice", method: "GET", path: "/users/{alice}/buckets/ub/acl", status: 200, acl: bucketVerbs("UserID:{alice}")},
		{name: "user bucket made by the admin names the user", who: "alice", method: "GET", path: "/users/{alice}/buckets/byadmin/acl", status: 200,
			acl: bucketVerbs("UserID:{alice}")},
		{name: "group bucket made by the owner", who: "alice", method: "GET", path: "/groups/crew/buckets/gb/acl", status: 200,
			acl: map[string][]string{"CREATE_OBJECTS_IN_BUCKET": {"GroupID:crew", "UserID:{alice}"}, "QUERY_OBJECTS_IN_BUCKET": {"GroupID:crew", "UserID:{alice}"},
				"READ_OBJECTS_IN_BUCKET": {"GroupID:crew", "UserID:{alice}"}, "DROP_BUCKET_WITH_ALL_CONTENT": {"UserID:{alice}"}}},
		{name: "group bucket made by a member", who: "alice", method: "GET", path: "/groups/crew/buckets/gm/acl", status: 200,
			acl: map[string][]string{"CREATE_OBJECTS_IN_BUCKET": {"GroupID:crew", "UserID:{bob}"}, "QUERY_OBJECTS_IN_BUCKET": {"GroupID:crew", "UserID:{bob}"},
				"READ_OBJECTS_IN_BUCKET": {"GroupID:crew", "UserID:{bob}"}, "DROP_BUCKET_WITH_ALL_CONTENT": {"UserID:{bob}"}}},
		{name: "thing bucket made by the thing", who: "thing", method: "GET", path: "/things/{thing}/buckets/tb/acl", status: 200, acl: bucketVerbs("ThingID:{thing}")},
		{name: "thing bucket made by an owner", who: "thing", method: "GET", path: "/things/{thing}/buckets/tc/acl", status: 200,
			acl: bucketVerbs("ThingID:{thing}", "UserID:{carol}")},

		{name: "app object", who: "alice", method: "GET", path: "/buckets/ab/objects/{aobj}/acl", status: 200,
			acl: map[string][]string{"READ_EXISTING_OBJECT": {"UserID:{alice}", anyAuth, anonymous}, "WRITE_EXISTING_OBJECT": {"UserID:{alice}", anyAuth}}},
		{name: "user object", who: "alice", method: "GET", path: "/users/{alice}/buckets/ub/objects/{uobj}/acl", status: 200, acl: objectVerbs("UserID:{alice}")},
		{name: "group object of the owner", who: "alice", method: "GET", path: "/groups/crew/buckets/gb/objects/{gobj}/acl", status: 200,
			acl: objectVerbs("GroupID:crew", "UserID:{alice}")},
		{name: "group object of a member", who: "bob", method: "GET", path: "/groups/crew/buckets/gm/objects/{gmobj}/acl", status: 200,
			acl: objectVerbs("GroupID:crew", "UserID:{bob}")},
		{name: "thing object of the thing", who: "thing", method: "GET", path: "/things/{thing}/buckets/tb/objects/{tobj}/acl", status: 200,
			acl: objectVerbs("ThingID:{thing}")},
		{name: "thing object of an owner", who: "thing", method: "GET", path: "/things/{thing}/buckets/tc/objects/{tcobj}/acl", status: 200,
			acl: objectVerbs("ThingID:{thing}", "UserID:{carol}")},

		{name: "one verb", who: "alice", method: "GET", path: "/users/{alice}/buckets/ub/acl/READ_OBJECTS_IN_BUCKET", status: 200,
			ctype: "application/vnd.kii.ACLVerbRetrievalResponse+json", json: `[{"userID":"{alice}"}]`},
		{name: "one verb of the app bucket", who: "admin", method: "GET", path: "/buckets/ab/acl/QUERY_OBJECTS_IN_BUCKET", status: 200,
			json: `[{"userID":"ANY_AUTHENTICATED_USER"},{"userID":"ANONYMOUS_USER"}]`},
		{name: "a verb with no entries", who: "admin", method: "GET", path: "/acl/CREATE_NEW_TOPIC", status: 200, json: `[]`},
		{name: "one verb of a group object", who: "alice", method: "GET", path: "/groups/crew/buckets/gb/objects/{gobj}/acl/WRITE_EXISTING_OBJECT", status: 200,
			json: `[{"groupID":"crew"},{"userID":"{alice}"}]`},
		{name: "one subject", who: "alice", method: "GET", path: "/users/{alice}/buckets/ub/acl/READ_OBJECTS_IN_BUCKET/UserID:{alice}", status: 200,
			ctype: "application/vnd.kii.ACLSubjectRetrievalResponse+json", json: `{"userID":"{alice}"}`},
		{name: "anonymous as a subject", who: "admin", method: "GET", path: "/buckets/ab/acl/READ_OBJECTS_IN_BUCKET/UserID:ANONYMOUS_USER", status: 200,
			json: `{"userID":"ANONYMOUS_USER"}`},
		{name: "a group as a subject", who: "alice", method: "GET", path: "/groups/crew/acl/CREATE_NEW_BUCKET/GroupID:crew", status: 200, json: `{"groupID":"crew"}`},
		{name: "a thing as a subject", who: "thing", method: "GET", path: "/things/{thing}/buckets/tb/objects/{tobj}/acl/READ_EXISTING_OBJECT/ThingID:{thing}",
			status: 200, json: `{"thingID":"{thing}"}`},
		{name: "a subject not granted", who: "alice", method: "GET", path: "/users/{alice}/buckets/ub/acl/READ_OBJECTS_IN_BUCKET/UserID:{dave}", status: 404, code: "ACL_NOT_FOUND"},
		{name: "an implicit right is not listed", who: "carol", method: "GET", path: "/things/{thing}/buckets/tb/acl/READ_OBJECTS_IN_BUCKET/UserID:{carol}",
			status: 404, code: "ACL_NOT_FOUND"},
		{name: "a member is not listed by name", who: "alice", method: "GET", path: "/groups/crew/acl/CREATE_NEW_BUCKET/UserID:{bob}", status: 404, code: "ACL_NOT_FOUND"},
	})
}

// TestACLErrors: granting twice, revoking what is absent, malformed
// subjects, verbs of another target, and callers who may not read or
// change an ACL (rest-core §7.3, §1.5).
func TestACLErrors(t *testing.T) { forEachStore(t, testACLErrors) }

func testACLErrors(t *testing.T, cfg config) {
	w := newACLWorld(t, cfg)
	w.vars["aobj"] = w.object(t, "alice", "/buckets/ab")
	w.vars["uobj"] = w.object(t, "alice", "/users/{alice}/buckets/ub")
	w.vars["gobj"] = w.object(t, "alice", "/groups/crew/buckets/gb")
	w.vars["gmobj"] = w.object(t, "bob", "/groups/crew/buckets/gm")
	w.vars["tobj"] = w.object(t, "thing", "/things/{thing}/buckets/tb")
	w.object(t, "alice", "/users/{alice}/buckets/ubd")
	ub := "/users/{alice}/buckets/ub"
	w.run(t, []aclStep{
		{name: "revoke a default entry", who: "alice", method: "DELETE", path: "/users/{alice}/buckets/ubd/acl/READ_OBJECTS_IN_BUCKET/UserID:{alice}", status: 204},
		{name: "the verb lists nothing", who: "alice", method: "GET", path: "/users/{alice}/buckets/ubd/acl/READ_OBJECTS_IN_BUCKET", status: 200, json: `[]`},
		{name: "revoke it again", who: "alice", method: "DELETE", path: "/users/{alice}/buckets/ubd/acl/READ_OBJECTS_IN_BUCKET/UserID:{alice}", status: 404, code: "ACL_NOT_FOUND"},
		{name: "grant it back", who: "alice", method: "PUT", path: "/users/{alice}/buckets/ubd/acl/READ_OBJECTS_IN_BUCKET/UserID:{alice}", status: 204},
		{name: "the default again", who: "alice", method: "GET", path: "/users/{alice}/buckets/ubd/acl", status: 200,
			acl: map[string][]string{"QUERY_OBJECTS_IN_BUCKET": {"UserID:{alice}"}, "CREATE_OBJECTS_IN_BUCKET": {"UserID:{alice}"},
				"READ_OBJECTS_IN_BUCKET": {"UserID:{alice}"}, "DROP_BUCKET_WITH_ALL_CONTENT": {"UserID:{alice}"}}},
		{name: "a missing object, to one who may not read the bucket", who: "dave", method: "GET", path: ub + "/objects/nope", status: 401},
		{name: "a write to a missing object, by one who may not", who: "dave", method: "PATCH", path: ub + "/objects/nope", body: `{}`, status: 401},
		{name: "a missing object, to the owner", who: "alice", method: "GET", path: ub + "/objects/nope", status: 404, code: "OBJECT_NOT_FOUND"},

		{name: "grant", who: "alice", method: "PUT", path: ub + "/acl/QUERY_OBJECTS_IN_BUCKET/UserID:{dave}", status: 204},
		{name: "grant twice", who: "alice", method: "PUT", path: ub + "/acl/QUERY_OBJECTS_IN_BUCKET/UserID:{dave}", status: 409, code: "ACL_ALREADY_EXISTS"},
		{name: "grant a default entry", who: "alice", method: "PUT", path: ub + "/acl/READ_OBJECTS_IN_BUCKET/UserID:{alice}", status: 409, code: "ACL_ALREADY_EXISTS"},
		{name: "grant with a JSON content type (js)", who: "alice", method: "PUT", path: ub + "/acl/CREATE_OBJECTS_IN_BUCKET/UserID:ANONYMOUS_USER", body: "{}", status: 204},
		{name: "revoke", who: "alice", method: "DELETE", path: ub + "/acl/QUERY_OBJECTS_IN_BUCKET/UserID:{dave}", status: 204},
		{name: "revoke twice", who: "alice", method: "DELETE", path: ub + "/acl/QUERY_OBJECTS_IN_BUCKET/UserID:{dave}", status: 404, code: "ACL_NOT_FOUND"},
		{name: "revoke what was never granted", who: "alice", method: "DELETE", path: ub + "/acl/READ_OBJECTS_IN_BUCKET/UserID:{dave}", status: 404, code: "ACL_NOT_FOUND"},
		{name: "revoke an implicit right", who: "thing", method: "DELETE", path: "/things/{thing}/buckets/tb/acl/READ_OBJECTS_IN_BUCKET/UserID:{carol}",
			status: 404, code: "ACL_NOT_FOUND"},
		{name: "scope grant", who: "alice", method: "PUT", path: "/users/{alice}/acl/CREATE_NEW_BUCKET/UserID:{dave}", status: 204},
		{name: "scope grant twice", who: "alice", method: "PUT", path: "/users/{alice}/acl/CREATE_NEW_BUCKET/UserID:{dave}", status: 409, code: "ACL_ALREADY_EXISTS"},
		{name: "object grant", who: "alice", method: "PUT", path: ub + "/objects/{uobj}/acl/READ_EXISTING_OBJECT/GroupID:crew", status: 204},
		{name: "object grant twice", who: "alice", method: "PUT", path: ub + "/objects/{uobj}/acl/READ_EXISTING_OBJECT/GroupID:crew", status: 409, code: "ACL_ALREADY_EXISTS"},
		{name: "object revoke", who: "alice", method: "DELETE", path: ub + "/objects/{uobj}/acl/READ_EXISTING_OBJECT/GroupID:crew", status: 204},
		{name: "object revoke twice", who: "alice", method: "DELETE", path: ub + "/objects/{uobj}/acl/READ_EXISTING_OBJECT/GroupID:crew", status: 404, code: "ACL_NOT_FOUND"},

		{name: "subject of no kind", who: "alice", method: "PUT", path: ub + "/acl/QUERY_OBJECTS_IN_BUCKET/Nobody:x", status: 400},
		{name: "subject without an ID", who: "alice", method: "PUT", path: ub + "/acl/QUERY_OBJECTS_IN_BUCKET/UserID:", status: 400},
		{name: "subject without a colon", who: "alice", method: "PUT", path: ub + "/acl/QUERY_OBJECTS_IN_BUCKET/UserID", status: 400},
		{name: "malformed subject on a scope", who: "alice", method: "PUT", path: "/users/{alice}/acl/CREATE_NEW_BUCKET/GroupID:", status: 400},
		{name: "malformed subject in a revoke", who: "alice", method: "DELETE", path: ub + "/objects/{uobj}/acl/READ_EXISTING_OBJECT/Thing:x", status: 400},
		{name: "an object verb on a bucket", who: "alice", method: "PUT", path: ub + "/acl/READ_EXISTING_OBJECT/UserID:{dave}", status: 400, code: "INVALID_INPUT_DATA"},
		{name: "a bucket verb on an object", who: "alice", method: "PUT", path: ub + "/objects/{uobj}/acl/READ_OBJECTS_IN_BUCKET/UserID:{dave}", status: 400, code: "INVALID_INPUT_DATA"},
		{name: "a bucket verb on a scope", who: "alice", method: "PUT", path: "/users/{alice}/acl/QUERY_OBJECTS_IN_BUCKET/UserID:{dave}", status: 400, code: "INVALID_INPUT_DATA"},
		{name: "a scope verb on a bucket", who: "admin", method: "GET", path: "/buckets/ab/acl/CREATE_NEW_BUCKET", status: 400, code: "INVALID_INPUT_DATA"},
		{name: "an unknown verb", who: "alice", method: "GET", path: ub + "/acl/FLY_AWAY", status: 400, code: "INVALID_INPUT_DATA"},

		{name: "the ACL of a missing group", who: "admin", method: "GET", path: "/groups/nope/acl", status: 404, code: "GROUP_NOT_FOUND"},
		{name: "the ACL of a missing object", who: "alice", method: "GET", path: ub + "/objects/nope/acl", status: 404, code: "OBJECT_NOT_FOUND"},
		{name: "a grant creates the bucket", who: "alice", method: "PUT", path: "/users/{alice}/buckets/fresh/acl/QUERY_OBJECTS_IN_BUCKET/UserID:{dave}", status: 204},
		{name: "the bucket exists", who: "alice", method: "GET", path: "/users/{alice}/buckets/fresh", status: 200},
		{name: "with its defaults and the grant", who: "alice", method: "GET", path: "/users/{alice}/buckets/fresh/acl", status: 200,
			acl: map[string][]string{"QUERY_OBJECTS_IN_BUCKET": {"UserID:{alice}", "UserID:{dave}"}, "CREATE_OBJECTS_IN_BUCKET": {"UserID:{alice}"},
				"READ_OBJECTS_IN_BUCKET": {"UserID:{alice}"}, "DROP_BUCKET_WITH_ALL_CONTENT": {"UserID:{alice}"}}},

		// Who may not read or change an ACL.
		{name: "another user reads a user scope ACL", who: "dave", method: "GET", path: "/users/{alice}/acl", status: 401},
		{name: "another user grants on a user scope", who: "dave", method: "PUT", path: "/users/{alice}/acl/CREATE_NEW_BUCKET/UserID:{dave}", status: 401},
		{name: "another user reads a user bucket ACL", who: "dave", method: "GET", path: ub + "/acl", status: 401},
		{name: "another user reads one verb", who: "dave", method: "GET", path: ub + "/acl/READ_OBJECTS_IN_BUCKET", status: 401},
		{name: "another user reads one subject", who: "dave", method: "GET", path: ub + "/acl/READ_OBJECTS_IN_BUCKET/UserID:{alice}", status: 401},
		{name: "another user revokes on a user bucket", who: "dave", method: "DELETE", path: ub + "/acl/READ_OBJECTS_IN_BUCKET/UserID:{alice}", status: 401},
		{name: "another user reads a user object ACL", who: "dave", method: "GET", path: ub + "/objects/{uobj}/acl", status: 401},
		{name: "a thing grants itself on a user object", who: "thing", method: "PUT", path: ub + "/objects/{uobj}/acl/READ_EXISTING_OBJECT/ThingID:{thing}", status: 401},
		{name: "anonymous reads the app scope ACL", who: "anon", method: "GET", path: "/acl", status: 401},
		{name: "a user reads the app scope ACL", who: "alice", method: "GET", path: "/acl", status: 401},
		{name: "a user changes the app scope ACL", who: "alice", method: "DELETE", path: "/acl/CREATE_NEW_BUCKET/UserID:ANY_AUTHENTICATED_USER", status: 401},
		{name: "anonymous reads an app bucket ACL", who: "anon", method: "GET", path: "/buckets/ab/acl", status: 401},
		{name: "the bucket's creator reads an app bucket ACL", who: "alice", method: "GET", path: "/buckets/ab/acl", status: 401},
		{name: "a user grants on an app bucket", who: "dave", method: "PUT", path: "/buckets/ab/acl/CREATE_OBJECTS_IN_BUCKET/UserID:ANONYMOUS_USER", status: 401},
		{name: "the creator reads an app object ACL", who: "alice", method: "GET", path: "/buckets/ab/objects/{aobj}/acl", status: 200},
		{name: "the admin reads an app object ACL", who: "admin", method: "GET", path: "/buckets/ab/objects/{aobj}/acl", status: 200},
		{name: "a writer who is not the creator reads an app object ACL", who: "dave", method: "GET", path: "/buckets/ab/objects/{aobj}/acl", status: 401},
		{name: "a writer who is not the creator grants", who: "dave", method: "PUT", path: "/buckets/ab/objects/{aobj}/acl/WRITE_EXISTING_OBJECT/UserID:ANONYMOUS_USER", status: 401},
		{name: "anonymous reads an app object ACL", who: "anon", method: "GET", path: "/buckets/ab/objects/{aobj}/acl", status: 401},
		{name: "a member reads the group scope ACL", who: "bob", method: "GET", path: "/groups/crew/acl", status: 401},
		{name: "a member grants on the group scope", who: "bob", method: "PUT", path: "/groups/crew/acl/CREATE_NEW_BUCKET/UserID:{dave}", status: 401},
		{name: "a member reads a group bucket ACL", who: "bob", method: "GET", path: "/groups/crew/buckets/gb/acl", status: 401},
		{name: "a member reads the ACL of the bucket he made", who: "bob", method: "GET", path: "/groups/crew/buckets/gm/acl", status: 401},
		{name: "a member reads another's object ACL", who: "bob", method: "GET", path: "/groups/crew/buckets/gb/objects/{gobj}/acl", status: 401},
		{name: "a member reads his object's ACL", who: "bob", method: "GET", path: "/groups/crew/buckets/gm/objects/{gmobj}/acl", status: 200},
		{name: "the group owner reads a member's object ACL", who: "alice", method: "GET", path: "/groups/crew/buckets/gm/objects/{gmobj}/acl", status: 200},
		{name: "the group owner reads the scope ACL", who: "alice", method: "GET", path: "/groups/crew/acl", status: 200},
		{name: "a thing owner reads the thing scope ACL", who: "carol", method: "GET", path: "/things/{thing}/acl", status: 200},
		{name: "a member of an owner group reads it", who: "erin", method: "GET", path: "/things/{thing}/acl", status: 200},
		{name: "a thing owner reads a thing bucket ACL", who: "carol", method: "GET", path: "/things/{thing}/buckets/tb/acl", status: 200},
		{name: "a thing owner reads a thing object ACL", who: "carol", method: "GET", path: "/things/{thing}/buckets/tb/objects/{tobj}/acl", status: 200},
		{name: "another thing reads the thing scope ACL", who: "other", method: "GET", path: "/things/{thing}/acl", status: 401},
		{name: "another thing reads a thing bucket ACL", who: "other", method: "GET", path: "/things/{thing}/buckets/tb/acl", status: 401},
		{name: "another user grants on a thing scope", who: "dave", method: "PUT", path: "/things/{thing}/acl/CREATE_NEW_BUCKET/UserID:{dave}", status: 401},
		{name: "the admin changes a user bucket ACL", who: "admin", method: "PUT", path: ub + "/acl/DROP_BUCKET_WITH_ALL_CONTENT/UserID:{dave}", status: 204},
	})

	t.Run("a bad token is 403 WRONG_TOKEN", func(t *testing.T) {
		r := do(t, "GET", w.f.n.base+w.expand("/api/apps/{app}"+ub+"/acl"), "", "Authorization", "Bearer nope")
		if r.Status != 403 {
			t.Fatalf("status = %d, want 403; body: %s", r.Status, r.Body)
		}
		wantError(t, r, "WRONG_TOKEN")
	})
}

// TestACLChanges: what grants and revocations change, and that implicit
// rights survive the revocation of the listed entries.
func TestACLChanges(t *testing.T) { forEachStore(t, testACLChanges) }

func testACLChanges(t *testing.T, cfg config) {
	w := newACLWorld(t, cfg)
	ub := "/users/{alice}/buckets/ub"
	w.vars["uobj"] = w.object(t, "alice", ub)
	t.Run("READ_EXISTING_OBJECT to any authenticated user", func(t *testing.T) {
		acl := ub + "/objects/{uobj}/acl/READ_EXISTING_OBJECT/UserID:ANY_AUTHENTICATED_USER"
		w.must(t, "alice", "PUT", ub+"/objects/{uobj}/body", `{"body":1}`, 200)
		w.run(t, []aclStep{
			{name: "another user may not read it yet", who: "dave", method: "GET", path: ub + "/objects/{uobj}", status: 401},
			{name: "nor its body", who: "dave", method: "GET", path: ub + "/objects/{uobj}/body", status: 401},
			{name: "grant", who: "alice", method: "PUT", path: acl, status: 204},
			{name: "listed", who: "alice", method: "GET", path: ub + "/objects/{uobj}/acl", status: 200,
				acl: map[string][]string{"READ_EXISTING_OBJECT": {"UserID:{alice}", anyAuth}, "WRITE_EXISTING_OBJECT": {"UserID:{alice}"}}},
			{name: "another user reads it", who: "dave", method: "GET", path: ub + "/objects/{uobj}", status: 200},
			{name: "a thing reads it", who: "other", method: "GET", path: ub + "/objects/{uobj}", status: 200},
			{name: "another user reads its body", who: "dave", method: "GET", path: ub + "/objects/{uobj}/body", status: 200},
			{name: "but may not replace the body", who: "dave", method: "PUT", path: ub + "/objects/{uobj}/body", body: `{"body":2}`, status: 401},
			{name: "the user replaces the object", who: "alice", method: "PUT", path: ub + "/objects/{uobj}", body: `{"v":5}`, status: 200},
			{name: "the grant outlives the update", who: "dave", method: "GET", path: ub + "/objects/{uobj}", status: 200},
			{name: "anonymous may not", who: "anon", method: "GET", path: ub + "/objects/{uobj}", status: 401},
			{name: "another user may not patch it", who: "dave", method: "PATCH", path: ub + "/objects/{uobj}", body: `{"v":9}`, status: 401},
			{name: "nor replace it", who: "dave", method: "PUT", path: ub + "/objects/{uobj}", body: `{"v":9}`, status: 401},
			{name: "nor delete it", who: "dave", method: "DELETE", path: ub + "/objects/{uobj}", status: 401},
			{name: "nor query the bucket", who: "dave", method: "POST", path: ub + "/query", status: 401},
			{name: "revoke", who: "alice", method: "DELETE", path: acl, status: 204},
			{name: "another user may no longer read it", who: "dave", method: "GET", path: ub + "/objects/{uobj}", status: 401},
			{name: "the user still may", who: "alice", method: "GET", path: ub + "/objects/{uobj}", status: 200},
		})
	})

	t.Run("ANONYMOUS_USER off an app bucket", func(t *testing.T) {
		w.vars["p1"] = w.object(t, "alice", "/buckets/pub")
		w.vars["p2"] = w.object(t, "alice", "/buckets/pub")
		w.vars["p3"] = w.object(t, "alice", "/buckets/pub2")
		bacl := "/buckets/pub/acl/"
		w.run(t, []aclStep{
			{name: "anonymous queries", who: "anon", method: "POST", path: "/buckets/pub/query", status: 200, results: []string{"{p1}", "{p2}"}},
			{name: "revoke anonymous bucket read", who: "admin", method: "DELETE", path: bacl + "READ_OBJECTS_IN_BUCKET/UserID:ANONYMOUS_USER", status: 204},
			{name: "anonymous still reads through the object ACLs", who: "anon", method: "GET", path: "/buckets/pub/objects/{p2}", status: 200},
			{name: "and queries them", who: "anon", method: "POST", path: "/buckets/pub/query", status: 200, results: []string{"{p1}", "{p2}"}},
			{name: "the creator revokes anonymous read of one object", who: "alice", method: "DELETE", path: "/buckets/pub/objects/{p2}/acl/READ_EXISTING_OBJECT/UserID:ANONYMOUS_USER", status: 204},
			{name: "anonymous may not read it", who: "anon", method: "GET", path: "/buckets/pub/objects/{p2}", status: 401},
			{name: "nor with an app token", who: "anontoken", method: "GET", path: "/buckets/pub/objects/{p2}", status: 401},
			{name: "anonymous reads the other", who: "anon", method: "GET", path: "/buckets/pub/objects/{p1}", status: 200},
			{name: "a query shows anonymous only what it may read", who: "anon", method: "POST", path: "/buckets/pub/query", status: 200, results: []string{"{p1}"}},
			{name: "a user still reads it", who: "dave", method: "GET", path: "/buckets/pub/objects/{p2}", status: 200},
			{name: "a user still queries all", who: "dave", method: "POST", path: "/buckets/pub/query", status: 200, results: []string{"{p1}", "{p2}"}},
			{name: "revoke anonymous query", who: "admin", method: "DELETE", path: bacl + "QUERY_OBJECTS_IN_BUCKET/UserID:ANONYMOUS_USER", status: 204},
			{name: "anonymous may not query", who: "anon", method: "POST", path: "/buckets/pub/query", status: 401},
			{name: "nor with an app token", who: "anontoken", method: "POST", path: "/buckets/pub/query", status: 401},
			{name: "a user still queries", who: "dave", method: "POST", path: "/buckets/pub/query", status: 200, results: []string{"{p1}", "{p2}"}},
			{name: "a thing still queries", who: "other", method: "POST", path: "/buckets/pub/query", status: 200, results: []string{"{p1}", "{p2}"}},
			{name: "the listing", who: "admin", method: "GET", path: "/buckets/pub/acl", status: 200,
				acl: map[string][]string{"CREATE_OBJECTS_IN_BUCKET": {anyAuth}, "QUERY_OBJECTS_IN_BUCKET": {anyAuth},
					"READ_OBJECTS_IN_BUCKET": {anyAuth}, "DROP_BUCKET_WITH_ALL_CONTENT": {anyAuth}}},
			{name: "other app buckets are untouched", who: "anon", method: "POST", path: "/buckets/pub2/query", status: 200, results: []string{"{p3}"}},
		})
	})

	t.Run("a group on a user bucket", func(t *testing.T) {
		w.vars["u2"] = w.object(t, "alice", "/users/{alice}/buckets/ub2")
		b := "/users/{alice}/buckets/ub2"
		w.run(t, []aclStep{
			{name: "a member may not create yet", who: "bob", method: "POST", path: b + "/objects", body: `{}`, status: 401},
			{name: "grant the group", who: "alice", method: "PUT", path: b + "/acl/CREATE_OBJECTS_IN_BUCKET/GroupID:crew", status: 204},
			{name: "a member creates", who: "bob", method: "POST", path: b + "/objects", body: `{"by":"bob"}`, status: 201, save: "bobobj"},
			{name: "he reads what he made", who: "bob", method: "GET", path: b + "/objects/{bobobj}", status: 200},
			{name: "he updates it", who: "bob", method: "PATCH", path: b + "/objects/{bobobj}", body: `{"v":2}`, status: 200},
			{name: "he may not read the user's object", who: "bob", method: "GET", path: b + "/objects/{u2}", status: 401},
			{name: "nor query", who: "bob", method: "POST", path: b + "/query", status: 401},
			{name: "the user reads his object", who: "alice", method: "GET", path: b + "/objects/{bobobj}", status: 200},
			{name: "the user's query sees both", who: "alice", method: "POST", path: b + "/query", status: 200, results: []string{"{u2}", "{bobobj}"}},
			{name: "the verb lists the user and the group", who: "alice", method: "GET", path: b + "/acl/CREATE_OBJECTS_IN_BUCKET", status: 200,
				json: `[{"userID":"{alice}"},{"groupID":"crew"}]`},
			{name: "a non-member may not create", who: "dave", method: "POST", path: b + "/objects", body: `{}`, status: 401},
			{name: "a thing owner may not create", who: "carol", method: "POST", path: b + "/objects", body: `{}`, status: 401},
			{name: "revoke the group", who: "alice", method: "DELETE", path: b + "/acl/CREATE_OBJECTS_IN_BUCKET/GroupID:crew", status: 204},
			{name: "a member may no longer create", who: "bob", method: "POST", path: b + "/objects", body: `{}`, status: 401},
		})
	})

	t.Run("a thing on a user bucket", func(t *testing.T) {
		w.vars["u3"] = w.object(t, "alice", "/users/{alice}/buckets/ub3")
		b := "/users/{alice}/buckets/ub3"
		steps := []aclStep{
			{name: "the thing may not create yet", who: "thing", method: "POST", path: b + "/objects", body: `{}`, status: 401},
			{name: "nor query", who: "thing", method: "POST", path: b + "/query", status: 401},
			{name: "nor read", who: "thing", method: "GET", path: b + "/objects/{u3}", status: 401},
			{name: "nor drop", who: "thing", method: "DELETE", path: b, status: 401},
		}
		for _, verb := range []string{"QUERY_OBJECTS_IN_BUCKET", "CREATE_OBJECTS_IN_BUCKET", "READ_OBJECTS_IN_BUCKET", "DROP_BUCKET_WITH_ALL_CONTENT"} {
			steps = append(steps, aclStep{name: "grant " + verb, who: "alice", method: "PUT", path: b + "/acl/" + verb + "/ThingID:{thing}", status: 204})
		}
		w.run(t, append(steps, []aclStep{
			{name: "listed", who: "alice", method: "GET", path: b + "/acl", status: 200,
				acl: map[string][]string{"QUERY_OBJECTS_IN_BUCKET": {"UserID:{alice}", "ThingID:{thing}"}, "CREATE_OBJECTS_IN_BUCKET": {"UserID:{alice}", "ThingID:{thing}"},
					"READ_OBJECTS_IN_BUCKET": {"UserID:{alice}", "ThingID:{thing}"}, "DROP_BUCKET_WITH_ALL_CONTENT": {"UserID:{alice}", "ThingID:{thing}"}}},
			{name: "the thing creates", who: "thing", method: "POST", path: b + "/objects", body: `{"by":"thing"}`, status: 201, save: "thobj"},
			{name: "the thing reads the user's object", who: "thing", method: "GET", path: b + "/objects/{u3}", status: 200},
			{name: "the thing queries", who: "thing", method: "POST", path: b + "/query", status: 200, results: []string{"{u3}", "{thobj}"}},
			{name: "the thing may not patch the user's object", who: "thing", method: "PATCH", path: b + "/objects/{u3}", body: `{"v":2}`, status: 401},
			{name: "nor delete it", who: "thing", method: "DELETE", path: b + "/objects/{u3}", status: 401},
			{name: "the thing patches its own", who: "thing", method: "PATCH", path: b + "/objects/{thobj}", body: `{"v":2}`, status: 200},
			{name: "another thing may not create", who: "other", method: "POST", path: b + "/objects", body: `{}`, status: 401},
			{name: "another thing may not read", who: "other", method: "GET", path: b + "/objects/{u3}", status: 401},
			{name: "the thing may not read the bucket ACL", who: "thing", method: "GET", path: b + "/acl", status: 401},
			{name: "the thing drops the bucket", who: "thing", method: "DELETE", path: b, status: 204},
			{name: "dropped", who: "alice", method: "GET", path: b, status: 404, code: "BUCKET_NOT_FOUND"},
		}...))
	})

	t.Run("scope grant to another user", func(t *testing.T) {
		w.run(t, []aclStep{
			{name: "another user may not make a bucket yet", who: "dave", method: "POST", path: "/users/{alice}/buckets/daves/objects", body: `{}`, status: 401},
			{name: "grant CREATE_NEW_BUCKET", who: "alice", method: "PUT", path: "/users/{alice}/acl/CREATE_NEW_BUCKET/UserID:{dave}", status: 204},
			{name: "he makes a bucket with an object", who: "dave", method: "POST", path: "/users/{alice}/buckets/daves/objects", body: `{}`, status: 201, save: "daveobj"},
			{name: "he reads it as its creator", who: "dave", method: "GET", path: "/users/{alice}/buckets/daves/objects/{daveobj}", status: 200},
			{name: "its ACL lists its creator (the user's rights are implicit)", who: "alice", method: "GET", path: "/users/{alice}/buckets/daves/acl", status: 200,
				acl: map[string][]string{"QUERY_OBJECTS_IN_BUCKET": {"UserID:{dave}"}, "CREATE_OBJECTS_IN_BUCKET": {"UserID:{dave}"},
					"READ_OBJECTS_IN_BUCKET": {"UserID:{dave}"}, "DROP_BUCKET_WITH_ALL_CONTENT": {"UserID:{dave}"}}},
			{name: "the user reads it", who: "alice", method: "GET", path: "/users/{alice}/buckets/daves/objects/{daveobj}", status: 200},
			{name: "he may not create in the user's other buckets", who: "dave", method: "POST", path: ub + "/objects", body: `{}`, status: 401},
			{name: "revoke", who: "alice", method: "DELETE", path: "/users/{alice}/acl/CREATE_NEW_BUCKET/UserID:{dave}", status: 204},
			{name: "he may not make another bucket", who: "dave", method: "POST", path: "/users/{alice}/buckets/daves2/objects", body: `{}`, status: 401},
		})
	})

	t.Run("implicit rights survive revocation", func(t *testing.T) {
		w.vars["u4"] = w.object(t, "alice", "/users/{alice}/buckets/ub4")
		w.vars["g2"] = w.object(t, "alice", "/groups/crew/buckets/gb2")
		w.vars["t2"] = w.object(t, "thing", "/things/{thing}/buckets/tb2")
		var steps []aclStep
		for _, verb := range []string{"QUERY_OBJECTS_IN_BUCKET", "CREATE_OBJECTS_IN_BUCKET", "READ_OBJECTS_IN_BUCKET", "DROP_BUCKET_WITH_ALL_CONTENT"} {
			steps = append(steps,
				aclStep{name: "the user revokes herself " + verb, who: "alice", method: "DELETE", path: "/users/{alice}/buckets/ub4/acl/" + verb + "/UserID:{alice}", status: 204},
				aclStep{name: "the thing revokes itself " + verb, who: "thing", method: "DELETE", path: "/things/{thing}/buckets/tb2/acl/" + verb + "/ThingID:{thing}", status: 204})
			if verb != "DROP_BUCKET_WITH_ALL_CONTENT" {
				steps = append(steps, aclStep{name: "the owner revokes the group " + verb, who: "alice", method: "DELETE", path: "/groups/crew/buckets/gb2/acl/" + verb + "/GroupID:crew", status: 204})
			}
		}
		w.run(t, append(steps, []aclStep{
			{name: "the user bucket lists nothing", who: "alice", method: "GET", path: "/users/{alice}/buckets/ub4/acl", status: 200, acl: map[string][]string{}},
			{name: "the user revokes her own WRITE on her object", who: "alice", method: "DELETE", path: "/users/{alice}/buckets/ub4/objects/{u4}/acl/WRITE_EXISTING_OBJECT/UserID:{alice}", status: 204},
			{name: "the user revokes CREATE_NEW_BUCKET of her scope", who: "alice", method: "DELETE", path: "/users/{alice}/acl/CREATE_NEW_BUCKET/UserID:{alice}", status: 204},
			{name: "the user still creates", who: "alice", method: "POST", path: "/users/{alice}/buckets/ub4/objects", body: `{}`, status: 201},
			{name: "the user still queries", who: "alice", method: "POST", path: "/users/{alice}/buckets/ub4/query", status: 200},
			{name: "the user still patches", who: "alice", method: "PATCH", path: "/users/{alice}/buckets/ub4/objects/{u4}", body: `{"v":2}`, status: 200},
			{name: "the user still makes buckets", who: "alice", method: "POST", path: "/users/{alice}/buckets/ub5/objects", body: `{}`, status: 201},
			{name: "the user still drops", who: "alice", method: "DELETE", path: "/users/{alice}/buckets/ub4", status: 204},
			{name: "the thing still creates", who: "thing", method: "POST", path: "/things/{thing}/buckets/tb2/objects", body: `{}`, status: 201},
			{name: "the thing still reads", who: "thing", method: "GET", path: "/things/{thing}/buckets/tb2/objects/{t2}", status: 200},
			{name: "an owner still creates", who: "carol", method: "POST", path: "/things/{thing}/buckets/tb2/objects", body: `{}`, status: 201},
			{name: "an owner still queries", who: "carol", method: "POST", path: "/things/{thing}/buckets/tb2/query", status: 200},
			{name: "a member still creates", who: "bob", method: "POST", path: "/groups/crew/buckets/gb2/objects", body: `{}`, status: 201},
			{name: "a member still reads", who: "bob", method: "GET", path: "/groups/crew/buckets/gb2/objects/{g2}", status: 200},
			{name: "a member still queries", who: "bob", method: "POST", path: "/groups/crew/buckets/gb2/query", status: 200},
			{name: "a member still may not drop", who: "bob", method: "DELETE", path: "/groups/crew/buckets/gb2", status: 401},
			{name: "the owner grants the member drop", who: "alice", method: "PUT", path: "/groups/crew/buckets/gb2/acl/DROP_BUCKET_WITH_ALL_CONTENT/UserID:{bob}", status: 204},
			{name: "the member drops", who: "bob", method: "DELETE", path: "/groups/crew/buckets/gb2", status: 204},
			{name: "the thing drops", who: "thing", method: "DELETE", path: "/things/{thing}/buckets/tb2", status: 204},
		}...))
	})

	t.Run("ANONYMOUS_USER is everyone", func(t *testing.T) {
		w.vars["u6"] = w.object(t, "alice", "/users/{alice}/buckets/ub6")
		b := "/users/{alice}/buckets/ub6"
		w.run(t, []aclStep{
			{name: "grant anonymous read", who: "alice", method: "PUT", path: b + "/acl/READ_OBJECTS_IN_BUCKET/UserID:ANONYMOUS_USER", status: 204},
			{name: "anonymous reads", who: "anon", method: "GET", path: b + "/objects/{u6}", status: 200},
			{name: "so does a user", who: "dave", method: "GET", path: b + "/objects/{u6}", status: 200},
			{name: "and a thing", who: "other", method: "GET", path: b + "/objects/{u6}", status: 200},
			{name: "but none may write", who: "dave", method: "PATCH", path: b + "/objects/{u6}", body: `{}`, status: 401},
			{name: "nor query", who: "anon", method: "POST", path: b + "/query", status: 401},
		})
	})

	t.Run("WRITE_EXISTING_OBJECT off an app object", func(t *testing.T) {
		w.vars["a7"] = w.object(t, "alice", "/buckets/pub7")
		o := "/buckets/pub7/objects/{a7}"
		w.run(t, []aclStep{
			{name: "another user patches it", who: "dave", method: "PATCH", path: o, body: `{"v":2}`, status: 200},
			{name: "the creator revokes any-authenticated write", who: "alice", method: "DELETE", path: o + "/acl/WRITE_EXISTING_OBJECT/UserID:ANY_AUTHENTICATED_USER", status: 204},
			{name: "another user may not patch it", who: "dave", method: "PATCH", path: o, body: `{"v":3}`, status: 401},
			{name: "nor delete it", who: "other", method: "DELETE", path: o, status: 401},
			{name: "but still reads it", who: "dave", method: "GET", path: o, status: 200},
			{name: "the creator patches it", who: "alice", method: "PATCH", path: o, body: `{"v":4}`, status: 200},
			{name: "the admin deletes it", who: "admin", method: "DELETE", path: o, status: 204},
		})
	})

	t.Run("one ACL whatever the scope's alias", func(t *testing.T) {
		w.object(t, "thing", "/things/{thing}/buckets/tb8")
		w.object(t, "alice", "/users/{alice}/buckets/ub8")
		w.run(t, []aclStep{
			{name: "grant by vendor thing ID", who: "thing", method: "PUT", path: "/things/VENDOR_THING_ID:{vendor}/buckets/tb8/acl/READ_OBJECTS_IN_BUCKET/UserID:{dave}", status: 204},
			{name: "seen by thing ID", who: "thing", method: "GET", path: "/things/{thing}/buckets/tb8/acl/READ_OBJECTS_IN_BUCKET/UserID:{dave}", status: 200},
			{name: "grant via me", who: "alice", method: "PUT", path: "/users/me/buckets/ub8/acl/READ_OBJECTS_IN_BUCKET/UserID:{dave}", status: 204},
			{name: "seen by user ID", who: "alice", method: "GET", path: "/users/{alice}/buckets/ub8/acl/READ_OBJECTS_IN_BUCKET/UserID:{dave}", status: 200},
			{name: "and by login name", who: "alice", method: "GET", path: "/users/LOGIN_NAME:alice/buckets/ub8/acl/READ_OBJECTS_IN_BUCKET/UserID:{dave}", status: 200},
			{name: "a scope grant via me", who: "alice", method: "PUT", path: "/users/me/acl/CREATE_NEW_TOPIC/UserID:{dave}", status: 204},
			{name: "seen by user ID", who: "alice", method: "GET", path: "/users/{alice}/acl/CREATE_NEW_TOPIC/UserID:{dave}", status: 200},
		})
	})

	t.Run("grants go with what they were on", func(t *testing.T) {
		b, o := "/users/{alice}/buckets/reborn", ub+"/objects/fixed-object-1"
		w.run(t, []aclStep{
			{name: "a grant on a new bucket", who: "alice", method: "PUT", path: b + "/acl/READ_OBJECTS_IN_BUCKET/UserID:{dave}", status: 204},
			{name: "an object in it", who: "alice", method: "POST", path: b + "/objects", body: `{}`, status: 201, save: "r1"},
			{name: "the grantee reads in it", who: "dave", method: "GET", path: b + "/objects/{r1}", status: 200},
			{name: "drop the bucket", who: "alice", method: "DELETE", path: b, status: 204},
			{name: "make the bucket again", who: "alice", method: "POST", path: b + "/objects", body: `{}`, status: 201, save: "r2"},
			{name: "the grantee may not read in it", who: "dave", method: "GET", path: b + "/objects/{r2}", status: 401},
			{name: "its ACL is the default again", who: "alice", method: "GET", path: b + "/acl", status: 200,
				acl: map[string][]string{"QUERY_OBJECTS_IN_BUCKET": {"UserID:{alice}"}, "CREATE_OBJECTS_IN_BUCKET": {"UserID:{alice}"},
					"READ_OBJECTS_IN_BUCKET": {"UserID:{alice}"}, "DROP_BUCKET_WITH_ALL_CONTENT": {"UserID:{alice}"}}},
			{name: "an object with a chosen ID", who: "alice", method: "PUT", path: o, body: `{"v":1}`, status: 201},
			{name: "a grant on it", who: "alice", method: "PUT", path: o + "/acl/READ_EXISTING_OBJECT/UserID:{dave}", status: 204},
			{name: "the grantee reads the object", who: "dave", method: "GET", path: o, status: 200},
			{name: "delete the object", who: "alice", method: "DELETE", path: o, status: 204},
			{name: "make the object again", who: "alice", method: "PUT", path: o, body: `{"v":2}`, status: 201},
			{name: "the grantee may not read it", who: "dave", method: "GET", path: o, status: 401},
			{name: "the object's ACL is the default again", who: "alice", method: "GET", path: o + "/acl", status: 200,
				acl: map[string][]string{"READ_EXISTING_OBJECT": {"UserID:{alice}"}, "WRITE_EXISTING_OBJECT": {"UserID:{alice}"}}},
		})
	})

	t.Run("deleted groups, lost ownership and membership", func(t *testing.T) {
		w.vars["t3"] = w.object(t, "thing", "/things/{thing}/buckets/tb3")
		w.vars["g3"] = w.object(t, "alice", "/groups/crew/buckets/gb3")
		w.run(t, []aclStep{
			{name: "a group temp with dave", who: "bob", method: "PUT", path: "/groups/temp", body: `{"name":"Temp","members":["{dave}"]}`, status: 201},
			{name: "grant temp", who: "alice", method: "PUT", path: ub + "/acl/CREATE_OBJECTS_IN_BUCKET/GroupID:temp", status: 204},
			{name: "dave creates through temp", who: "dave", method: "POST", path: ub + "/objects", body: `{}`, status: 201},
			{name: "delete temp", who: "bob", method: "DELETE", path: "/groups/temp", status: 204},
			{name: "its entry went with it", who: "alice", method: "GET", path: ub + "/acl/CREATE_OBJECTS_IN_BUCKET", status: 200, json: `[{"userID":"{alice}"}]`},
			{name: "temp again, with carol", who: "bob", method: "PUT", path: "/groups/temp", body: `{"name":"Temp","members":["{carol}"]}`, status: 201},
			{name: "the new temp inherits nothing", who: "carol", method: "POST", path: ub + "/objects", body: `{}`, status: 401},
			{name: "nor does dave keep anything", who: "dave", method: "POST", path: ub + "/objects", body: `{}`, status: 401},

			{name: "an owner creates in a thing bucket", who: "carol", method: "POST", path: "/things/{thing}/buckets/tb3/objects", body: `{}`, status: 201, save: "c3"},
			{name: "she gives up the thing", who: "carol", method: "DELETE", path: "/things/{thing}/ownership/user:{carol}", status: 204},
			{name: "she may not create there", who: "carol", method: "POST", path: "/things/{thing}/buckets/tb3/objects", body: `{}`, status: 401},
			{name: "nor read the thing's object", who: "carol", method: "GET", path: "/things/{thing}/buckets/tb3/objects/{t3}", status: 401},
			{name: "nor the thing scope's ACL", who: "carol", method: "GET", path: "/things/{thing}/acl", status: 401},
			{name: "she still reads what she made", who: "carol", method: "GET", path: "/things/{thing}/buckets/tb3/objects/{c3}", status: 200},

			{name: "a member creates in the owner's bucket", who: "bob", method: "POST", path: "/groups/crew/buckets/gb3/objects", body: `{}`, status: 201, save: "b3"},
			{name: "a member makes a bucket", who: "bob", method: "POST", path: "/groups/crew/buckets/gm3/objects", body: `{}`, status: 201},
			{name: "he leaves the group", who: "bob", method: "DELETE", path: "/groups/crew/members/{bob}", status: 204},
			{name: "he may not create in the owner's bucket", who: "bob", method: "POST", path: "/groups/crew/buckets/gb3/objects", body: `{}`, status: 401},
			{name: "nor read the owner's object", who: "bob", method: "GET", path: "/groups/crew/buckets/gb3/objects/{g3}", status: 401},
			{name: "he still reads what he made", who: "bob", method: "GET", path: "/groups/crew/buckets/gb3/objects/{b3}", status: 200},
			{name: "and still creates in the bucket he made (its creator entry)", who: "bob", method: "POST", path: "/groups/crew/buckets/gm3/objects", body: `{}`, status: 201},
			{name: "but may not drop it", who: "bob", method: "DELETE", path: "/groups/crew/buckets/gb3", status: 401},
		})
	})

	// A group ID is the client's choice (PUT /groups/{id}): a grant naming
	// a group must not pass to a group made later with that ID (the reason
	// docs/compat.md gives for deleting the entries of a deleted group).
	t.Run("a grant to a group that does not exist", func(t *testing.T) {
		r := w.call(t, "alice", "PUT", ub+"/acl/CREATE_OBJECTS_IN_BUCKET/GroupID:later", "")
		switch r.Status {
		case 404:
			wantError(t, r, "GROUP_NOT_FOUND")
			return
		case 204:
		default:
			t.Fatalf("status = %d, want 404 GROUP_NOT_FOUND or 204; body: %s", r.Status, r.Body)
		}
		w.must(t, "zed", "PUT", "/groups/later", `{"name":"Later"}`, 201)
		if r := w.call(t, "zed", "POST", ub+"/objects", `{}`); r.Status != 401 {
			t.Errorf("the owner of a group made after the grant: status %d, want 401 (the grant passed to a new group); body: %s", r.Status, r.Body)
		}
	})

	// Last: it changes the whole app.
	t.Run("CREATE_NEW_BUCKET off the app scope", func(t *testing.T) {
		w.object(t, "alice", "/buckets/old")
		acl := "/acl/CREATE_NEW_BUCKET/UserID:ANY_AUTHENTICATED_USER"
		w.run(t, []aclStep{
			{name: "revoke", who: "admin", method: "DELETE", path: acl, status: 204},
			{name: "the app scope lists nothing", who: "admin", method: "GET", path: "/acl", status: 200, acl: map[string][]string{}},
			{name: "a user may not make a bucket", who: "alice", method: "POST", path: "/buckets/brandnew/objects", body: `{}`, status: 401},
			{name: "nor create one empty", who: "alice", method: "PUT", path: "/buckets/brandnew", status: 401},
			{name: "nor a thing", who: "thing", method: "POST", path: "/buckets/brandnew/objects", body: `{}`, status: 401},
			{name: "a user still creates in an existing bucket", who: "alice", method: "POST", path: "/buckets/old/objects", body: `{}`, status: 201},
			{name: "so does a thing", who: "other", method: "POST", path: "/buckets/old/objects", body: `{}`, status: 201},
			{name: "the admin still makes buckets", who: "admin", method: "POST", path: "/buckets/adminmade/objects", body: `{}`, status: 201},
			{name: "a user's own scope is untouched", who: "dave", method: "POST", path: "/users/{dave}/buckets/brandnew/objects", body: `{}`, status: 201},
			{name: "grant one user", who: "admin", method: "PUT", path: "/acl/CREATE_NEW_BUCKET/UserID:{alice}", status: 204},
			{name: "she makes a bucket", who: "alice", method: "POST", path: "/buckets/brandnew/objects", body: `{}`, status: 201},
			{name: "another still may not", who: "dave", method: "POST", path: "/buckets/brandnew2/objects", body: `{}`, status: 401},
			{name: "grant back", who: "admin", method: "PUT", path: acl, status: 204},
			{name: "he makes one", who: "dave", method: "POST", path: "/buckets/brandnew2/objects", body: `{}`, status: 201},
		})
	})
}

// TestACLPush: a thing subscribed to a bucket gets DATA_OBJECT_ACL_MODIFIED
// when the ACL of one of its objects changes (push-mqtt §5.2).
func TestACLPush(t *testing.T) { forEachStore(t, testACLPush) }

func testACLPush(t *testing.T, cfg config) {
	w := newACLWorld(t, cfg)
	n, d := w.f.n, w.f.thing
	n.subscribe(d, "watched")
	_, in := connectDevice(t, n.mqttURL(broker.TCP), d, 4)
	id := n.createObject(d, "watched", `{}`)
	in.waitFor(t, "DATA_OBJECT_CREATED", func(m []paho.Message) bool { return len(m) >= 1 })
	acl := "/things/{thing}/buckets/watched/objects/" + id + "/acl/READ_EXISTING_OBJECT/UserID:ANONYMOUS_USER"
	aclPushes := func(msgs []paho.Message) []map[string]any {
		var out []map[string]any
		for _, m := range msgs {
			var p map[string]any
			if err := json.Unmarshal(m.Payload(), &p); err != nil {
				t.Fatalf("push payload is not JSON: %v: %s", err, m.Payload())
			}
			if p["type"] == "DATA_OBJECT_ACL_MODIFIED" {
				out = append(out, p)
			}
		}
		return out
	}
	for i, change := range []string{"PUT", "DELETE"} {
		w.must(t, "carol", change, acl, "", 204) // by an owner, to show the sender is not the subscriber
		msgs := in.waitFor(t, fmt.Sprintf("DATA_OBJECT_ACL_MODIFIED #%d", i+1), func(m []paho.Message) bool { return len(aclPushes(m)) > i })
		p := aclPushes(msgs)[i]
		want := map[string]any{"objectID": id, "bucketID": "watched", "objectScopeType": "APP_AND_THING",
			"objectScopeThingID": d.ThingID, "objectScopeAppID": n.app.AppID}
		for k, v := range want {
			if p[k] != v {
				t.Errorf("ACL push %d: %s = %v, want %v; push: %v", i+1, k, p[k], v, p)
			}
		}
	}
	// A bucket ACL change is no object's event: no more pushes about the
	// object after it (checked by a later object write arriving next).
	w.must(t, "thing", "PUT", "/things/{thing}/buckets/watched/acl/QUERY_OBJECTS_IN_BUCKET/UserID:{dave}", "", 204)
	w.must(t, "thing", "PATCH", "/things/{thing}/buckets/watched/objects/"+id, `{"v":2}`, 200)
	msgs := in.waitFor(t, "DATA_OBJECT_UPDATED", func(m []paho.Message) bool {
		for _, x := range m {
			if strings.Contains(string(x.Payload()), "DATA_OBJECT_UPDATED") {
				return true
			}
		}
		return false
	})
	if got := len(aclPushes(msgs)); got != 2 {
		t.Errorf("%d DATA_OBJECT_ACL_MODIFIED pushes, want 2 (one per object ACL change)", got)
	}
}

// TestACLAcrossNodes: an ACL change made through one node applies on
// another node of the same PostgreSQL store, even one that has just
// used the old ACL (docs/compat.md: within a second; polled here with a
// deadline, not timed).
func TestACLAcrossNodes(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.Database = withPassword(t, pgtest.NewDatabase(t))
	// Two nodes on one database are a cluster (kumo serve refuses a
	// second node without --nats).
	cfg.NATS, cfg.NodeID = startNATS(t).ClientURL(), "node-a"
	w := newACLWorld(t, cfg)
	cfgB := testConfig(t.TempDir())
	cfgB.Database, cfgB.NATS, cfgB.NodeID = cfg.Database, cfg.NATS, "node-b"
	b, err := startNode(t.Context(), cfgB, testLogger(t))
	if err != nil {
		t.Fatalf("start node B: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		b.Close(ctx)
	})
	ub := "/users/{alice}/buckets/ub"
	w.vars["uobj"] = w.object(t, "alice", ub)
	obj, acl := ub+"/objects/{uobj}", ub+"/objects/{uobj}/acl/READ_EXISTING_OBJECT/UserID:{dave}"
	// until polls node B until dave's read of the object has the status.
	until := func(status int) {
		t.Helper()
		start := time.Now()
		for {
			r := w.callOn(t, b.baseURL, "dave", "GET", obj, "")
			if r.Status == status {
				t.Logf("node B answered %d after %v", status, time.Since(start))
				return
			}
			if time.Since(start) > 15*time.Second {
				t.Fatalf("node B still answers %d, want %d; body: %s", r.Status, status, r.Body)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	until(401) // node B has used the ACL
	w.must(t, "alice", "PUT", acl, "", 204)
	until(200)
	w.must(t, "alice", "DELETE", acl, "", 204)
	until(401)
	w.must(t, "admin", "DELETE", "/acl/CREATE_NEW_BUCKET/UserID:ANY_AUTHENTICATED_USER", "", 204)
	start := time.Now()
	for i := 0; ; i++ {
		r := w.callOn(t, b.baseURL, "dave", "POST", fmt.Sprintf("/buckets/late%d/objects", i), `{}`)
		if r.Status == 401 {
			break
		}
		if time.Since(start) > 15*time.Second {
			t.Fatalf("node B still lets a user make app buckets: %d %s", r.Status, r.Body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
