package main

import (
	"fmt"
	"strings"
	"testing"
)

func TestPaginationLoopStops(t *testing.T) { forEachStore(t, testPaginationLoopStops) }

// testPaginationLoopStops runs the listing loop of Kii's Java thing
// emulator (KiiPlatform/VirtualDevice Device.listDevices) against every
// query endpoint that takes a paginationKey in its body: the client reads
// an absent nextPaginationKey as "" (org.json's optString), sends it back,
// and stops only on an error answer. It must stop after one extra request
// with every result read once; Kumo used to answer "" with the first page
// again, forever. The GET lists, which take ?paginationKey=, are checked
// to omit the key on their last page (the loop condition of Kii's SDKs).
func testPaginationLoopStops(t *testing.T, cfg config) {
	f := newFixture(t, cfg)
	base := f.n.base + "/api/apps/" + f.n.app.AppID
	admin, user := "Bearer "+f.adminToken, "Bearer "+f.userToken
	for i := range 2 {
		for _, path := range []string{"/buckets/pg/objects", "/users/me/buckets/pg/objects"} {
			wantStatus(t, do(t, "POST", base+path, fmt.Sprintf(`{"n":%d}`, i), "Authorization", user, "Content-Type", "application/json"), 201)
		}
		wantStatus(t, do(t, "POST", base+"/things", fmt.Sprintf(`{"_vendorThingID":"pg-%d","_password":"pw"}`, i),
			"Content-Type", "application/vnd.kii.ThingRegistrationRequest+json"), 201)
		wantStatus(t, do(t, "POST", base+"/users", fmt.Sprintf(`{"loginName":"pg%d","password":"pw-1234"}`, i)), 201)
		wantStatus(t, do(t, "PUT", base+"/topics/pg"+fmt.Sprint(i), "", "Authorization", admin), 204)
		wantStatus(t, do(t, "PUT", base+"/users/me/buckets/pgb"+fmt.Sprint(i), "", "Authorization", user), 204)
	}

	// listLikeTheEmulator is Device.listDevices: it returns the results
	// read and the number of requests made (bounded, to fail instead of
	// looping).
	listLikeTheEmulator := func(t *testing.T, path, auth, query string, limit int) (results, requests int) {
		var key *string
		for {
			if requests == 20 {
				t.Fatalf("%s: still looping after %d requests (%d results)", path, requests, results)
			}
			body := fmt.Sprintf(`{%s,"bestEffortLimit":%d`, query, limit)
			if key != nil {
				body += fmt.Sprintf(`,"paginationKey":%q`, *key)
			}
			key = nil
			r := do(t, "POST", base+path, body+"}", "Authorization", auth, "Content-Type", "application/json")
			requests++
			if r.Status/100 != 2 {
				if requests == 1 || r.Status != 400 || r.JSON(t)["errorCode"] != "INVALID_INPUT_DATA" {
					t.Fatalf("%s: request %d: %d %s, want 400 INVALID_INPUT_DATA for the empty key", path, requests, r.Status, r.Body)
				}
				return results, requests
			}
			m := r.JSON(t)
			results += len(m["results"].([]any))
			next, _ := m["nextPaginationKey"].(string) // optString: "" when absent
			key = &next
		}
	}
	for _, tc := range []struct {
		name, path, auth, query string
		results                 int
	}{
		{"an app bucket query", "/buckets/pg/query", admin, `"bucketQuery":{"clause":{"type":"all"}}`, 2},
		{"a user bucket query (the emulator's)", "/users/me/buckets/pg/query", user, `"bucketQuery":{"clause":{"type":"all"}}`, 2},
		{"a thing query", "/things/query", admin, `"thingQuery":{"clause":{"type":"prefix","field":"_vendorThingID","prefix":"pg-"}}`, 2},
		{"a user query", "/users/query", admin, `"userQuery":{"clause":{"type":"prefix","field":"loginName","prefix":"pg"}}`, 2},
	} {
		for _, limit := range []int{1, 200} {
			t.Run(fmt.Sprintf("%s, %d a page", tc.name, limit), func(t *testing.T) {
				results, requests := listLikeTheEmulator(t, tc.path, tc.auth, tc.query, limit)
				// a page per result (limit 1) or one page, then the "" request
				wantRequests := 2
				if limit == 1 {
					wantRequests = tc.results + 1
				}
				if results != tc.results || requests != wantRequests {
					t.Errorf("%d results in %d requests, want %d in %d", results, requests, tc.results, wantRequests)
				}
			})
		}
	}

	for _, tc := range []struct {
		name, path, auth, key string
	}{
		{"app topics", "/topics", admin, "paginationKey"},
		{"a user's buckets", "/users/me/buckets", user, "paginationKey"},
		{"the delivery ledger", "/push/deliveries", admin, "nextPaginationKey"},
	} {
		t.Run(tc.name+": the last page has no key", func(t *testing.T) {
			r := do(t, "GET", base+tc.path, "", "Authorization", tc.auth)
			wantStatus(t, r, 200)
			if _, ok := r.JSON(t)[tc.key]; ok || strings.Contains(string(r.Body), `""`) {
				t.Errorf("GET %s: %s", tc.path, r.Body)
			}
		})
	}
}
