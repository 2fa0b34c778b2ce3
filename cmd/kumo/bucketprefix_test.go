package main

import (
	"strings"
	"testing"
)

func TestBucketTypePrefixAPI(t *testing.T) { forEachStore(t, testBucketTypePrefixAPI) }

// testBucketTypePrefixAPI addresses one user bucket by "tp", "rw:tp" and
// "default:tp" through every kind of bucket path (objects, query, bucket,
// ACL, subscriptions): all name the same plain bucket. CRYPTO: stays a
// bucket of its own; other prefixes are refused.
func testBucketTypePrefixAPI(t *testing.T, cfg config) {
	f := newFixture(t, cfg)
	base := f.n.base + "/api/apps/" + f.n.app.AppID + "/users/me/buckets/"
	user := []string{"Authorization", "Bearer " + f.userToken}
	wantStatus(t, do(t, "PUT", base+"rw:tp/objects/o1", `{"n":1}`, append(user, "Content-Type", "application/json")...), 201)
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		want                     string // in the body without its white space
	}{
		{"the object by the plain name", "GET", "tp/objects/o1", "", 200, `"_id":"o1"`},
		{"the object by default:", "GET", "default:tp/objects/o1", "", 200, `"_id":"o1"`},
		{"the object by RW:", "GET", "RW:tp/objects/o1", "", 200, `"_id":"o1"`},
		{"a query by default:", "POST", "default:tp/query", `{"bucketQuery":{"clause":{"type":"all"}}}`, 200, `"_id":"o1"`},
		{"the bucket by rw:", "GET", "rw:tp", "", 200, `"size":1`},
		{"the bucket is plain", "GET", "rw:tp", "", 200, `"bucketType":"rw"`},
		{"an ACL entry by rw:", "PUT", "rw:tp/acl/QUERY_OBJECTS_IN_BUCKET/UserID:ANONYMOUS_USER", "", 204, ""},
		{"the ACL by the plain name", "GET", "tp/acl", "", 200, `ANONYMOUS_USER`},
		{"a subscription by default:", "PUT", "default:tp/filters/all/push/subscriptions/users/" + f.userID, "", 204, ""},
		{"the subscription by the plain name", "GET", "tp/filters/all/push/subscriptions/users/" + f.userID, "", 204, ""},
		{"the subscription again by rw:", "PUT", "rw:tp/filters/all/push/subscriptions/users/" + f.userID, "", 409, ""},
		{"the object deleted by rw:", "DELETE", "rw:tp/objects/o1", "", 204, ""},
		{"and gone by the plain name", "GET", "tp/objects/o1", "", 404, "OBJECT_NOT_FOUND"},
		{"CRYPTO: is another bucket", "GET", "CRYPTO:tp", "", 404, "BUCKET_NOT_FOUND"},
		{"sync: is refused", "GET", "sync:tp/objects/o1", "", 400, "INVALID_BUCKET"},
		{"rw:CRYPTO: is refused", "GET", "rw:CRYPTO:tp/objects/o1", "", 400, "INVALID_BUCKET"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			headers := user
			if tc.body != "" {
				headers = append(headers, "Content-Type", "application/vnd.kii.QueryRequest+json")
			}
			r := do(t, tc.method, base+tc.path, tc.body, headers...)
			compact := strings.Join(strings.Fields(string(r.Body)), "")
			if r.Status != tc.status || !strings.Contains(compact, tc.want) {
				t.Errorf("%s %s: %d %s, want %d with %s", tc.method, tc.path, r.Status, r.Body, tc.status, tc.want)
			}
		})
	}
}
