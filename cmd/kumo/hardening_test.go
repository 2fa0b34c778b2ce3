package main

import (
	"strings"
	"testing"
)

// deepJSON returns a field value nested depth levels deep ({"a":…}).
func deepJSON(depth int) string {
	return strings.Repeat(`{"a":`, depth) + `1` + strings.Repeat(`}`, depth)
}

// wantKiiError fails the test unless r is a Kii error of status and code.
func wantKiiError(t *testing.T, r response, status int, code string) {
	t.Helper()
	wantStatus(t, r, status)
	if got := r.Str(t, "errorCode"); got != code {
		t.Fatalf("errorCode = %q, want %q; body: %s", got, code, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/vnd.kii.") || !strings.HasSuffix(ct, "Exception+json") {
		t.Fatalf("Content-Type = %q, want a Kii exception type", ct)
	}
}

// TestDeepJSONRefused: a JSON body nested 9,990 levels deep (D1) is
// refused with 400 INVALID_JSON wherever a client sends one, anonymous
// thing registration first; a body at the depth limit (64, the body itself
// counting as one level) is accepted and one level more is refused.
func TestDeepJSONRefused(t *testing.T) {
	n := mustStartNode(t)
	base := n.base + "/api/apps/" + n.app.AppID
	d := n.mustDevice("deep-dev")
	auth := []string{"Authorization", "Bearer " + d.Token, "Content-Type", "application/json"}
	objects := base + "/things/" + d.ThingID + "/buckets/deep/objects"

	deep := deepJSON(9990)
	tests := []struct {
		name, method, url, body string
		headers                 []string
	}{
		{"thing registration", "POST", base + "/things", `{"_vendorThingID":"deep-1","_password":"pass-1234","custom":` + deep + `}`,
			[]string{"Content-Type", "application/vnd.kii.ThingRegistrationAndAuthorizationRequest+json"}},
		{"user registration", "POST", base + "/users", `{"loginName":"deep","password":"deep-pass","custom":` + deep + `}`, nil},
		{"object create", "POST", objects, `{"custom":` + deep + `}`, auth},
		{"object put", "PUT", objects + "/deep-o", `{"custom":` + deep + `}`, auth},
		{"query", "POST", base + "/things/" + d.ThingID + "/buckets/deep/query", `{"bucketQuery":{"clause":` + deep + `}}`, auth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantKiiError(t, do(t, tt.method, tt.url, tt.body, tt.headers...), 400, "INVALID_JSON")
		})
	}

	t.Run("limit", func(t *testing.T) {
		// The object is level 1, its field's value the levels under it.
		wantStatus(t, do(t, "POST", objects, `{"custom":`+deepJSON(63)+`}`, auth...), 201)
		wantKiiError(t, do(t, "POST", objects, `{"custom":`+deepJSON(64)+`}`, auth...), 400, "INVALID_JSON")
	})
}
