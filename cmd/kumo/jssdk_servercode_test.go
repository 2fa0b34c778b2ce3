package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestJSSDKServerCode deploys server code (testdata/jssdk/
// servercode_script.js) with the admin's token, as Kii's tools do, then
// calls it with Kii's own JavaScript SDK (Kii.serverCodeEntry(...).execute,
// testdata/jssdk/servercode_test.js): anonymous and as a user, both
// environment versions, the callback and promise forms, an exception and
// an unknown version.
func TestJSSDKServerCode(t *testing.T) { forEachStore(t, testJSSDKServerCode) }

func testJSSDKServerCode(t *testing.T, cfg config) {
	dir, _ := jssdkDir(t)
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
	runSDKScript(t, "servercode_test.js", "KUMO_URL="+n.base, "KUMO_APP_ID="+n.app.AppID, "KUMO_APP_KEY="+n.app.AppKey, "KUMO_VERSION_ID="+version)
}
