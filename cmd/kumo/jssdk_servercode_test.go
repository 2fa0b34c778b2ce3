package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestJSSDKServerCode deploys server code (testdata/jssdk/
// servercode_script.js) with the admin's token, as Kii's tools do, then
// calls it with Kii's own JavaScript SDK (Kii.serverCodeEntry(...).execute,
// testdata/jssdk/servercode_test.js): anonymous and as a user, both
// environment versions, the callback and promise forms, an exception and
// an unknown version.
func TestJSSDKServerCode(t *testing.T) { forEachStore(t, testJSSDKServerCode) }

func testJSSDKServerCode(t *testing.T, cfg config) {
	dir, err := filepath.Abs(filepath.Join("testdata", "jssdk"))
	if err != nil {
		t.Fatal(err)
	}
	node, err := exec.LookPath("node")
	_, sdkErr := os.Stat(filepath.Join(dir, "node_modules", "kii-cloud-sdk", "KiiSDK.js"))
	if err != nil || sdkErr != nil {
		msg := "Node.js or the Kii JS SDK is missing: run ./scripts/test (it runs npm ci in cmd/kumo/testdata/jssdk)"
		if os.Getenv("KUMO_REQUIRE_NODE") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	n := mustStartNodeConfig(t, cfg)
	script, err := os.ReadFile(filepath.Join(dir, "servercode_script.js"))
	if err != nil {
		t.Fatal(err)
	}
	app := n.base + "/api/apps/" + n.app.AppID
	r := do(t, "POST", app+"/oauth2/token",
		fmt.Sprintf(`{"grant_type":"client_credentials","client_id":%q,"client_secret":%q}`, n.app.ClientID, n.app.ClientSecret))
	wantStatus(t, r, 200)
	admin := r.Str(t, "access_token")
	r = do(t, "POST", app+"/server-code", string(script), "Authorization", "Bearer "+admin, "Content-Type", "application/javascript")
	wantStatus(t, r, 201)
	version := r.Str(t, "versionID")
	r = do(t, "PUT", app+"/server-code/versions/current", version, "Authorization", "Bearer "+admin, "Content-Type", "text/plain")
	wantStatus(t, r, 204)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "servercode_test.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "KUMO_URL="+n.base, "KUMO_APP_ID="+n.app.AppID, "KUMO_APP_KEY="+n.app.AppKey, "KUMO_VERSION_ID="+version)
	out, err := cmd.CombinedOutput()
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if strings.HasPrefix(line, "FAIL") {
			t.Error(line)
		} else {
			t.Log(line)
		}
	}
	if err != nil {
		t.Fatalf("node servercode_test.js: %v", err)
	}
	if !strings.Contains(string(out), "all steps passed") {
		t.Fatalf("the SDK script did not finish:\n%s", out)
	}
}
