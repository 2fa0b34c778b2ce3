package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kumo-iot/kumo/internal/bench"
)

// TestBenchServerCodeLeavesTheApp runs kumo bench servercode's load
// against an app that has server code of its own: the run measures, then
// puts the app's current version back and deletes the version it
// deployed.
func TestBenchServerCodeLeavesTheApp(t *testing.T) {
	n := mustStartNode(t)
	app := n.base + "/api/apps/" + n.app.AppID
	r := do(t, "POST", app+"/oauth2/token",
		fmt.Sprintf(`{"grant_type":"client_credentials","client_id":%q,"client_secret":%q}`, n.app.ClientID, n.app.ClientSecret))
	wantStatus(t, r, 200)
	admin := r.Str(t, "access_token")
	r = do(t, "POST", app+"/server-code", `function mine() { return 1; }`, "Authorization", "Bearer "+admin, "Content-Type", "application/javascript")
	wantStatus(t, r, 201)
	mine := r.Str(t, "versionID")
	wantStatus(t, do(t, "PUT", app+"/server-code/versions/current", mine, "Authorization", "Bearer "+admin, "Content-Type", "text/plain"), 204)

	res, err := bench.RunServerCode(context.Background(), bench.ServerCodeConfig{BaseURL: n.base, AppID: n.app.AppID,
		ClientID: n.app.ClientID, ClientSecret: n.app.ClientSecret, Concurrency: 2, Duration: 200 * time.Millisecond, Rounds: 1})
	if err != nil {
		t.Fatal(err)
	}
	if res.EndpointPerS == 0 || res.GetPerS == 0 || res.HookRuns != res.HookObjects {
		t.Errorf("result %+v", res)
	}
	r = do(t, "GET", app+"/server-code/versions/current", "", "Authorization", "Bearer "+admin)
	wantStatus(t, r, 200)
	if got := strings.TrimSpace(string(r.Body)); got != mine {
		t.Errorf("current version after the bench: %q, want the app's own %q", got, mine)
	}
	r = do(t, "GET", app+"/server-code/versions", "", "Authorization", "Bearer "+admin)
	wantStatus(t, r, 200)
	if strings.Count(string(r.Body), "versionID") != 1 {
		t.Errorf("versions after the bench: %s", r.Body)
	}
}
