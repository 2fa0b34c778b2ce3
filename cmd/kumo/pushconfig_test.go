package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kumo-iot/kumo/internal/sqlstore/storetest"
)

// TestPushConfigAPI checks PUT/GET/DELETE /api/apps/{appID}/configuration/push.
func TestPushConfigAPI(t *testing.T) { forEachStore(t, testPushConfigAPI) }

func testPushConfigAPI(t *testing.T, cfg config) {
	f := newFixture(t, cfg)
	sa, p8 := storetest.PushKeys(t)
	body, _ := json.Marshal(map[string]any{
		"fcm":  map[string]any{"serviceAccount": json.RawMessage(sa)},
		"apns": map[string]any{"keyID": "KEY1234567", "teamID": "TEAM123456", "bundleID": "com.example.app", "key": string(p8)},
	})
	asString, _ := json.Marshal(map[string]any{"fcm": map[string]any{"serviceAccount": string(sa), "projectID": "other-proj"}})
	path := "/api/apps/{app}/configuration/push"
	admin := []string{"Authorization", "Bearer {admin}"}
	public := []string{`"projectID" : "proj-1"`, `"clientEmail" : "kumo@proj-1.iam.gserviceaccount.com"`, `"privateKeyID" : "kid-1"`,
		`"keyID" : "KEY1234567"`, `"teamID" : "TEAM123456"`, `"bundleID" : "com.example.app"`}
	f.run(t, []apiCase{
		{name: "nothing set", method: "GET", path: path, headers: admin, status: 200, ctype: "application/json"},
		{name: "a user may not read it", method: "GET", path: path, headers: []string{"Authorization", "Bearer {usertoken}"}, status: 401, code: "UNAUTHORIZED"},
		{name: "a thing may not set it", method: "PUT", path: path, body: string(body), headers: []string{"Authorization", "Bearer {token}"}, status: 401, code: "UNAUTHORIZED"},
		{name: "anonymous may not delete it", method: "DELETE", path: path, headers: []string{"Authorization", "Bearer {anon}"}, status: 401, code: "UNAUTHORIZED"},
		{name: "set", method: "PUT", path: path, body: string(body), headers: admin, status: 200, bodyHas: public},
		{name: "read back", method: "GET", path: path, headers: admin, status: 200, bodyHas: public},
		{name: "a bad key", method: "PUT", path: path, body: `{"apns":{"keyID":"K","teamID":"T","bundleID":"B","key":"nope"}}`, headers: admin,
			status: 400, code: "INVALID_INPUT_DATA"},
		{name: "not JSON", method: "PUT", path: path, body: `{"fcm":`, headers: admin, status: 400, code: "INVALID_JSON"},
		{name: "null", method: "PUT", path: path, body: `null`, headers: admin, status: 400, code: "INVALID_JSON"},
		{name: "an array", method: "PUT", path: path, body: `[]`, headers: admin, status: 400, code: "INVALID_JSON"},
		{name: "kept after a refusal", method: "GET", path: path, headers: admin, status: 200, bodyHas: public},
		{name: "the key file as a string replaces all", method: "PUT", path: path, body: string(asString), headers: admin, status: 200,
			bodyHas: []string{`"projectID" : "other-proj"`}},
		{name: "delete", method: "DELETE", path: path, headers: admin, status: 204},
		{name: "deleted", method: "GET", path: path, headers: admin, status: 200, bodyHas: []string{"{ }"}},
	})
	// No answer carries a private key.
	for _, method := range []string{"PUT", "GET"} {
		r := do(t, method, f.n.base+f.expand(path), string(body), f.expand(admin[0]), f.expand(admin[1]))
		if r.Status != 200 || strings.Contains(string(r.Body), "PRIVATE KEY") || strings.Contains(string(r.Body), "private_key\"") {
			t.Errorf("%s = %d %s, want 200 without a private key", method, r.Status, r.Body)
		}
	}
	r := do(t, "GET", f.n.base+f.expand(path), "", f.expand(admin[0]), f.expand(admin[1]))
	if string(r.Body) == "{ }" || !strings.Contains(string(r.Body), `"apns"`) {
		t.Errorf("GET = %s", r.Body)
	}
}

// TestPushConfigCLI checks kumo app push-config.
func TestPushConfigCLI(t *testing.T) {
	forEachStore(t, func(t *testing.T, cfg config) {
		sa, p8 := storetest.PushKeys(t)
		dir := t.TempDir()
		saFile, p8File := filepath.Join(dir, "sa.json"), filepath.Join(dir, "AuthKey.p8")
		if err := os.WriteFile(saFile, sa, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p8File, p8, 0o600); err != nil {
			t.Fatal(err)
		}
		store := []string{"--data-dir", cfg.DataDir, "--database", cfg.Database}
		cli := func(args ...string) (string, error) {
			t.Helper()
			out, errOut, err := runCLI(t, append(append([]string{"app"}, args...), store...)...)
			if strings.Contains(out+errOut, "PRIVATE KEY") {
				t.Errorf("kumo app %v printed a private key", args)
			}
			return out, err
		}
		if _, err := cli("create", "--id", "phones1"); err != nil {
			t.Fatal(err)
		}
		out, err := cli("push-config", "phones1", "--fcm-service-account", saFile)
		if err != nil || !strings.Contains(out, `"projectID": "proj-1"`) || strings.Contains(out, "apns") {
			t.Fatalf("push-config --fcm-service-account = %s, %v", out, err)
		}
		out, err = cli("push-config", "phones1", "--apns-key", p8File, "--apns-key-id", "KEY1234567", "--apns-team-id", "TEAM123456", "--apns-bundle-id", "com.example.app")
		if err != nil || !strings.Contains(out, `"projectID": "proj-1"`) || !strings.Contains(out, `"bundleID": "com.example.app"`) {
			t.Fatalf("push-config --apns-key (FCM kept) = %s, %v", out, err)
		}
		if out, err = cli("push-config", "phones1", "--delete", "fcm"); err != nil || strings.Contains(out, "fcm") || !strings.Contains(out, "apns") {
			t.Errorf("push-config --delete fcm = %s, %v", out, err)
		}
		if out, err = cli("push-config", "phones1"); err != nil || !strings.Contains(out, `"keyID": "KEY1234567"`) {
			t.Errorf("push-config (show) = %s, %v", out, err)
		}
		for _, bad := range [][]string{
			{"push-config", "phones1", "--apns-key", saFile, "--apns-key-id", "K", "--apns-team-id", "T", "--apns-bundle-id", "B"},
			{"push-config", "phones1", "--apns-key-id", "K"},
			{"push-config", "phones1", "--delete", "everything"},
			{"push-config", "nosuchapp"},
			{"push-config"},
		} {
			if _, err := cli(bad...); err == nil {
				t.Errorf("kumo app %v succeeded", bad)
			}
		}
	})
}
