package main

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestTokenExpiresAtRefused: a login's expiresAt that is not a time in
// the future (past, 0, negative, not a number) is 400
// INVALID_INPUT_DATA with the token endpoint's OAuth fields, on JSON and
// form bodies: it issued a token dead at once, or one that never expires.
// Absent is no expiry; one beyond 64 bits is clamped to the year 9999.
func TestTokenExpiresAtRefused(t *testing.T) {
	n := mustStartNode(t)
	n.mustDevice("expiry-dev")
	token := n.base + "/api/apps/" + n.app.AppID + "/oauth2/token"
	creds := `"username":"VENDOR_THING_ID:expiry-dev","password":"pass-1234"`
	past := time.Now().Add(-time.Minute).UnixMilli()
	for _, at := range []string{"1000", "1.5", fmt.Sprint(past), "-1", "0", `"abc"`, `"0"`, "true", "{}"} {
		t.Run("json "+at, func(t *testing.T) {
			r := do(t, "POST", token, `{`+creds+`,"expiresAt":`+at+`}`, "Content-Type", "application/json")
			wantKiiError(t, r, 400, "INVALID_INPUT_DATA")
			if r.Str(t, "error") != "invalid_request" || r.Str(t, "error_description") == "" {
				t.Errorf("body %s: want error invalid_request and an error_description", r.Body)
			}
		})
	}
	for _, at := range []string{"1000", "abc", "-1"} {
		t.Run("form "+at, func(t *testing.T) {
			r := do(t, "POST", token, "username=VENDOR_THING_ID:expiry-dev&password=pass-1234&expires_at="+at,
				"Content-Type", "application/x-www-form-urlencoded")
			wantKiiError(t, r, 400, "INVALID_INPUT_DATA")
		})
	}
	future := time.Now().Add(time.Hour).UnixMilli()
	for _, tt := range []struct {
		body     string
		min, max float64 // expires_in
	}{
		{`{` + creds + `}`, 2147483647, 2147483647},
		{`{` + creds + `,"expiresAt":null}`, 2147483647, 2147483647},
		{fmt.Sprintf(`{%s,"expiresAt":%d}`, creds, future), 3000, 3600},
		{fmt.Sprintf(`{%s,"expiresAt":"%d"}`, creds, future), 3000, 3600},
		{`{` + creds + `,"expiresAt":1e999}`, 3600 * 24 * 365 * 100, 1e12},
	} {
		t.Run(tt.body, func(t *testing.T) {
			r := do(t, "POST", token, tt.body, "Content-Type", "application/json")
			wantStatus(t, r, 200)
			if in, err := strconv.ParseFloat(fmt.Sprint(r.JSON(t)["expires_in"]), 64); err != nil || in < tt.min || in > tt.max {
				t.Errorf("expires_in = %v, want within [%v, %v]", r.JSON(t)["expires_in"], tt.min, tt.max)
			}
		})
	}
}

// TestPublishExpiryZeroRefused: publishing a body with an expiresIn or
// expiresAt of 0 is an expiry not in the future, 400 INVALID_INPUT_DATA
// (it made a link that never expires); without either, the link has no
// expiry.
func TestPublishExpiryZeroRefused(t *testing.T) {
	n := mustStartNode(t)
	d := n.mustDevice("publish-zero")
	obj := n.base + "/api/apps/" + n.app.AppID + "/things/" + d.ThingID + "/buckets/files/objects/" + n.createObject(d, "files", `{}`)
	auth := []string{"Authorization", "Bearer " + d.Token}
	wantStatus(t, do(t, "PUT", obj+"/body", "hello world", append(auth, "Content-Type", "text/plain")...), 200)
	for _, body := range []string{`{"expiresIn":0}`, `{"expiresIn":"0"}`, `{"expiresAt":0}`, `{"expiresIn":-1}`} {
		t.Run(body, func(t *testing.T) {
			wantKiiError(t, do(t, "POST", obj+"/body/publish", body, auth...), 400, "INVALID_INPUT_DATA")
		})
	}
	for _, body := range []string{`{}`, `{"expiresIn":null}`} {
		t.Run(body, func(t *testing.T) {
			r := do(t, "POST", obj+"/body/publish", body, auth...)
			wantStatus(t, r, 201)
			if e := r.Header.Get("Expires"); e != "" {
				t.Errorf("Expires = %q, want none", e)
			}
		})
	}
}

// TestPublicationErrorsHideIDs: the errors of a publication link (a
// range outside the body, a changed body, an expired or unknown link)
// keep their code and message but name none of the IDs behind the link
// (app, thing, bucket, object), which its holder is not told.
func TestPublicationErrorsHideIDs(t *testing.T) { forEachStore(t, testPublicationErrorsHideIDs) }

func testPublicationErrorsHideIDs(t *testing.T, cfg config) {
	n := mustStartNodeConfig(t, cfg)
	d := n.mustDevice("publication-ids")
	objectID := n.createObject(d, "secretbucket", `{}`)
	obj := n.base + "/api/apps/" + n.app.AppID + "/things/" + d.ThingID + "/buckets/secretbucket/objects/" + objectID
	auth := []string{"Authorization", "Bearer " + d.Token}
	wantStatus(t, do(t, "PUT", obj+"/body", "hello world", append(auth, "Content-Type", "text/plain")...), 200)
	publish := func(body string) string {
		r := do(t, "POST", obj+"/body/publish", body, auth...)
		wantStatus(t, r, 201)
		return r.Str(t, "url")
	}
	url, short := publish(`{}`), publish(`{"expiresIn":1}`)
	hidden := []string{n.app.AppID, d.ThingID, "secretbucket", objectID, "appID", "thingID", "bucketID", "objectID", "objectScope"}
	check := func(t *testing.T, r response, status int, code string) {
		t.Helper()
		wantKiiError(t, r, status, code)
		if r.Str(t, "message") == "" {
			t.Errorf("no message: %s", r.Body)
		}
		for _, h := range hidden {
			if strings.Contains(string(r.Body), h) {
				t.Errorf("the error names %q: %s", h, r.Body)
			}
		}
	}
	t.Run("range", func(t *testing.T) {
		r := do(t, "GET", url, "", "Range", "bytes=5000-")
		check(t, r, 416, "OBJECT_BODY_RANGE_NOT_SATISFIABLE")
		if cr := r.Header.Get("Content-Range"); cr != "bytes */11" {
			t.Errorf("Content-Range = %q, want bytes */11", cr)
		}
	})
	t.Run("changed", func(t *testing.T) {
		r := do(t, "GET", url, "", "If-Match", `"not-the-etag"`)
		check(t, r, r.Status, "OBJECT_BODY_INTEGRITY_NOT_ASSURED")
	})
	t.Run("unknown", func(t *testing.T) {
		check(t, do(t, "GET", n.base+"/api/x/nosuchpublication", ""), 404, "PUBLICATION_NOT_FOUND")
	})
	t.Run("expired", func(t *testing.T) {
		deadline := time.Now().Add(10 * time.Second)
		r := do(t, "GET", short, "")
		for r.Status == 200 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond) // polling: the link expires a second after it was made
			r = do(t, "GET", short, "")
		}
		check(t, r, 410, "PUBLICATION_EXPIRED")
	})
}
