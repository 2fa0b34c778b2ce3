package push

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/kumo-iot/kumo"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const (
	appID   = "a1b2c3d4"
	thingID = "th.12ab34cd56ef-7890-ab12-cd34-ef567890"
	userID  = "0123456789ab-cdef-0123-4567-89abcdef"
	groupID = "grp7k2m9q4w8e1r5t3y6u0i"
	objID   = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
)

var (
	userSender  = kumo.Principal{Kind: kumo.UserCaller, ID: userID}
	thingSender = kumo.Principal{Kind: kumo.ThingCaller, ID: thingID}
	adminSender = kumo.Principal{Kind: kumo.Admin, ID: "3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c"}
	anonSender  = kumo.Principal{Kind: kumo.Anonymous}
)

// event returns a test event of type typ in bucket name of scope s.
func event(typ kumo.EventType, s kumo.Scope, name string, sender kumo.Principal) kumo.Event {
	return kumo.Event{Seq: 7, Type: typ, Bucket: kumo.BucketRef{AppID: appID, Scope: s, Name: name},
		ObjectID: objID, Sender: sender, When: 1466154835100, ModifiedAt: 1466154835092}
}

var (
	appScope   = kumo.AppScope
	userScope  = kumo.Scope{Kind: kumo.ScopeUser, ID: userID}
	groupScope = kumo.Scope{Kind: kumo.ScopeGroup, ID: groupID}
	thingScope = kumo.Scope{Kind: kumo.ScopeThing, ID: thingID}
)

// payloadTests are the golden cases: every scope kind, every sender kind
// and every event type.
var payloadTests = []struct {
	name string
	e    kumo.Event
}{
	// One per scope kind.
	{"scope-app", event(kumo.DataObjectCreated, appScope, "status", thingSender)},
	{"scope-user", event(kumo.DataObjectCreated, userScope, "notes", userSender)},
	{"scope-group", event(kumo.DataObjectCreated, groupScope, "shared", userSender)},
	{"scope-thing", event(kumo.DataObjectCreated, thingScope, "myBucket", thingSender)},
	// One per sender kind.
	{"sender-user", event(kumo.DataObjectUpdated, appScope, "status", userSender)},
	{"sender-thing", event(kumo.DataObjectUpdated, appScope, "status", thingSender)},
	{"sender-admin", event(kumo.DataObjectUpdated, thingScope, "myBucket", adminSender)},
	{"sender-anonymous", event(kumo.DataObjectUpdated, appScope, "status", anonSender)},
	// Every other event type.
	{"object-deleted", event(kumo.DataObjectDeleted, thingScope, "myBucket", thingSender)},
	{"body-updated", event(kumo.DataObjectBodyUpdated, userScope, "notes", userSender)},
	{"body-deleted", event(kumo.DataObjectBodyDeleted, userScope, "notes", userSender)},
	{"acl-modified", event(kumo.DataObjectACLModified, appScope, "status", adminSender)},
	{"bucket-deleted", event(kumo.BucketDeleted, thingScope, "myBucket", adminSender)},
	// An encrypted bucket.
	{"crypto-bucket", event(kumo.DataObjectCreated, appScope, "CRYPTO:secrets", userSender)},
}

func TestEventPayloadGolden(t *testing.T) {
	for _, tt := range payloadTests {
		t.Run(tt.name, func(t *testing.T) {
			got := EventPayload(tt.e)
			checkPayload(t, tt.e, got)
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, got, "", "  "); err != nil {
				t.Fatalf("payload is not JSON: %v\n%s", err, got)
			}
			pretty.WriteByte('\n')
			path := filepath.Join("testdata", tt.name+".golden.json")
			if *update {
				if err := os.WriteFile(path, pretty.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(pretty.Bytes(), want) {
				t.Errorf("EventPayload(%s) =\n%s\nwant (%s)\n%s", tt.name, pretty.Bytes(), path, want)
			}
		})
	}
}

// TestEventPayloadSpecExample renders the example of spec push-mqtt §9.4
// (testdata/spec-9.4.json, copied from the spec) and expects it byte for
// byte, key order included.
func TestEventPayloadSpecExample(t *testing.T) {
	e := kumo.Event{Type: kumo.DataObjectCreated,
		Bucket:   kumo.BucketRef{AppID: appID, Scope: thingScope, Name: "myBucket"},
		ObjectID: "STATUS_TEMPERATURE", Sender: thingSender, When: 1466154835100, ModifiedAt: 1466154835092}
	spec, err := os.ReadFile(filepath.Join("testdata", "spec-9.4.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := json.Compact(&want, spec); err != nil {
		t.Fatalf("the spec example is not JSON: %v", err)
	}
	if got := EventPayload(e); !bytes.Equal(got, want.Bytes()) {
		t.Errorf("EventPayload =\n%s\nwant (spec §9.4)\n%s", got, want.Bytes())
	}
}

// specKeys are the long metadata keys of a push-to-app message, in the
// order of the spec's §9.4 example; appID is optional (§5.2) and Kumo
// leaves it out.
var specKeys = []string{
	"type", "origin", "when", "sender",
	"objectScopeType", "objectScopeAppID", "objectScopeUserID", "objectScopeGroupID", "objectScopeThingID",
	"bucketID", "bucketType", "objectID", "modifiedAt", "sourceURI", "senderURI",
}

// checkPayload checks a payload against spec push-mqtt §5.1, §5.2 and §9.4.
func checkPayload(t *testing.T, e kumo.Event, p []byte) {
	t.Helper()
	if !json.Valid(p) {
		t.Fatalf("payload is not valid JSON: %s", p)
	}
	if len(p) > kumo.MaxPushPayload {
		t.Errorf("payload is %d bytes, want at most %d", len(p), kumo.MaxPushPayload)
	}
	if p[0] != '{' {
		t.Errorf("payload starts with %q, want '{' (clients tell pushes from API responses by it)", p[0])
	}
	m, keys := decodeFlat(t, p)

	// Only the spec's keys, in the spec's order.
	pos := -1
	for _, k := range keys {
		i := slices.Index(specKeys, k)
		if i < 0 {
			t.Errorf("key %q is not a push-to-app key of spec §5.2", k)
			continue
		}
		if i < pos {
			t.Errorf("key %q comes after %q; want the order of spec §9.4 %v", k, specKeys[pos], specKeys)
		}
		pos = max(pos, i)
	}

	b := e.Bucket
	bucketType := "rw" // Kii's default type; encrypted buckets are "crypto" (rest-core)
	if strings.HasPrefix(b.Name, "CRYPTO:") {
		bucketType = "crypto"
	}
	want := map[string]any{
		"type":             string(e.Type),
		"origin":           "EVENT",
		"when":             json.Number(itoa(e.When)),
		"objectScopeType":  string(b.Scope.Kind),
		"objectScopeAppID": b.AppID,
		"bucketID":         b.Name,
		"bucketType":       bucketType,
	}
	switch b.Scope.Kind {
	case kumo.ScopeUser:
		want["objectScopeUserID"] = b.Scope.ID
	case kumo.ScopeGroup:
		want["objectScopeGroupID"] = b.Scope.ID
	case kumo.ScopeThing:
		want["objectScopeThingID"] = b.Scope.ID
	}
	if e.Type != kumo.BucketDeleted {
		want["objectID"] = e.ObjectID
	}
	switch e.Type {
	case kumo.DataObjectCreated, kumo.DataObjectUpdated, kumo.DataObjectBodyUpdated:
		want["modifiedAt"] = json.Number(itoa(e.ModifiedAt))
	}
	switch e.Sender.Kind {
	case kumo.UserCaller:
		want["sender"], want["senderURI"] = e.Sender.ID, "kiicloud://users/"+e.Sender.ID
	case kumo.ThingCaller:
		want["sender"], want["senderURI"] = e.Sender.ID, "kiicloud://things/"+e.Sender.ID
	case kumo.Admin:
		want["senderURI"] = "kiicloud://admins/APP_ADMIN"
	}
	source := "kiicloud:/" + b.Scope.Path() + "/buckets/" + b.Name
	if e.Type != kumo.BucketDeleted {
		source += "/objects/" + e.ObjectID
	}
	want["sourceURI"] = source
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %#v, want %#v", k, m[k], v)
		}
	}
	for k := range m {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected key %s = %#v", k, m[k])
		}
	}
	// How clients classify messages (§5.2): a push-to-app message must not
	// look like a push-to-user one.
	if _, ok := m["topic"]; ok {
		t.Error("payload has a topic key: clients would take it for push-to-user")
	}
}

// decodeFlat decodes a JSON object whose values are all strings or
// numbers, and returns it with its keys in document order.
func decodeFlat(t *testing.T, p []byte) (map[string]any, []string) {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(p))
	d.UseNumber()
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("payload is not a JSON object: %s", p)
	}
	m := map[string]any{}
	var keys []string
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		k := tok.(string)
		tok, err = d.Token()
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		switch v := tok.(type) {
		case string, json.Number:
			m[k] = v
		default:
			t.Fatalf("key %q has value %v: the payload must be flat (strings and numbers only)", k, tok)
		}
		if slices.Contains(keys, k) {
			t.Errorf("key %q appears twice", k)
		}
		keys = append(keys, k)
	}
	return m, keys
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestEventPayloadSize renders an event with the longest names Kumo allows
// and checks it still fits an MQTT push.
func TestEventPayloadSize(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	e := kumo.Event{Type: kumo.DataObjectBodyUpdated,
		Bucket: kumo.BucketRef{AppID: long(64), Scope: kumo.Scope{Kind: kumo.ScopeThing, ID: "th." + long(36)},
			Name: "CRYPTO:" + long(64)},
		ObjectID: long(100), Sender: kumo.Principal{Kind: kumo.ThingCaller, ID: "th." + long(36)},
		When: 1<<53 - 1, ModifiedAt: 1<<53 - 1}
	p := EventPayload(e)
	if len(p) > kumo.MaxPushPayload {
		t.Errorf("payload is %d bytes, want at most %d", len(p), kumo.MaxPushPayload)
	}
	checkPayload(t, e, p)
}

// TestEventPayloadEscaping checks that names are JSON-escaped, never
// spliced.
func TestEventPayloadEscaping(t *testing.T) {
	e := event(kumo.DataObjectCreated, appScope, "status", thingSender)
	e.ObjectID = `a"b\c<d>`
	p := EventPayload(e)
	checkPayload(t, e, p)
}
