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
	n := mustStartNodeConfig(t, cfg)
	runSDKScript(t, "sdk_test.js", "KUMO_URL="+n.base, "KUMO_APP_ID="+n.app.AppID, "KUMO_APP_KEY="+n.app.AppKey)
}

// jssdkDir returns testdata/jssdk, where Kii's JavaScript SDK is
// installed, and the node binary; it skips the test (fails it under
// KUMO_REQUIRE_NODE=1) when either is missing.
func jssdkDir(t *testing.T) (dir, node string) {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("testdata", "jssdk"))
	if err != nil {
		t.Fatal(err)
	}
	node, err = exec.LookPath("node")
	_, sdkErr := os.Stat(filepath.Join(dir, "node_modules", "kii-cloud-sdk", "KiiSDK.js"))
	if err != nil || sdkErr != nil {
		msg := "Node.js or the Kii JS SDK is missing: run ./scripts/test (it runs npm ci in cmd/kumo/testdata/jssdk)"
		if os.Getenv("KUMO_REQUIRE_NODE") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return dir, node
}

// runSDKScript runs a script of testdata/jssdk with Node.js and the
// environment env: each "FAIL" line it prints fails the test, the others
// are logged, and it must end with "all steps passed".
func runSDKScript(t *testing.T, script string, env ...string) {
	t.Helper()
	dir, node := jssdkDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if strings.HasPrefix(line, "FAIL") {
			t.Error(line)
		} else {
			t.Log(line)
		}
	}
	if err != nil {
		t.Fatalf("node %s: %v", script, err)
	}
	if !strings.Contains(string(out), "all steps passed") {
		t.Fatalf("the SDK script did not finish:\n%s", out)
	}
}
