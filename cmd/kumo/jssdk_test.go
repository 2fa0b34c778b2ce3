package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestJSSDK drives the server with Kii's own JavaScript SDK (npm
// kii-cloud-sdk 2.4.19, testdata/jssdk/sdk_test.js): sign-up and login,
// objects in user and app scope, query with pagination and count, ACL
// changes, and a bucket subscription. ./scripts/test installs the SDK
// (npm ci) and sets KUMO_REQUIRE_NODE=1, so that a missing Node.js or SDK
// fails the test instead of skipping it.
func TestJSSDK(t *testing.T) { forEachStore(t, testJSSDK) }

func testJSSDK(t *testing.T, cfg config) {
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
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "sdk_test.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "KUMO_URL="+n.base, "KUMO_APP_ID="+n.app.AppID, "KUMO_APP_KEY="+n.app.AppKey)
	out, err := cmd.CombinedOutput()
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if strings.HasPrefix(line, "FAIL") {
			t.Error(line)
		} else {
			t.Log(line)
		}
	}
	if err != nil {
		t.Fatalf("node sdk_test.js: %v", err)
	}
	if !strings.Contains(string(out), "all steps passed") {
		t.Fatalf("the SDK script did not finish:\n%s", out)
	}
}
