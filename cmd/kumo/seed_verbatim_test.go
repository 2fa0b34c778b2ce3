package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSeedVerbatim runs the founding document's commands with the real curl
// and mosquitto_sub (testdata/seed.sh): the seed's step 4 gives
// mosquitto_sub no port, so the broker must listen on 1883. mosquitto_sub
// gets "-C 1" (exit after one message, which flushes its output) from its
// own configuration file, so that its command line stays the seed's.
func TestSeedVerbatim(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "mosquitto_sub"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("KUMO_REQUIRE_TOOLS") == "1" {
				t.Fatalf("%s is not installed (./scripts/test installs it)", tool)
			}
			t.Skipf("%s is not installed: run ./scripts/test, which installs it", tool)
		}
	}
	cfg := config{DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", MQTTAddr: "127.0.0.1:1883", PasswordIterations: 1000,
		PublicHost: "127.0.0.1"}
	n, err := startNode(context.Background(), cfg, testLogger(t))
	if err != nil {
		t.Skipf("port 1883 is taken, so mosquitto_sub cannot reach Kumo as the seed writes it: %v", err)
	}
	t.Cleanup(func() { n.Close(context.Background()) })
	tn := &testNode{node: n, t: t, base: n.baseURL}
	tn.app, err = n.db.Apps.CreateApp(context.Background(), kumoAppCreate("seed"))
	if err != nil {
		t.Fatal(err)
	}

	// The seed starts from a registered thing and its token.
	r := do(t, "POST", tn.base+"/api/apps/"+tn.app.AppID+"/things", `{"_vendorThingID":"seed-device","_password":"pass"}`,
		"Content-Type", "application/vnd.kii.ThingRegistrationAndAuthorizationRequest+json")
	wantStatus(t, r, 201)
	vars := map[string]string{
		"{ACCESS_TOKEN}": r.Str(t, "_accessToken"), "{APP_ID }": tn.app.AppID, "{APP_ID}": tn.app.AppID,
		"{APP_KEY}": tn.app.AppKey, "{Things_ID}": r.Str(t, "_thingID"), "{THING_ID}": r.Str(t, "_thingID"),
	}
	script, err := os.ReadFile("testdata/seed.sh")
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	if err := os.MkdirAll(home+"/.config", 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(home+"/.config/mosquitto_sub", []byte("-C 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	command := func(step string) *exec.Cmd {
		s := string(script)
		for k, v := range vars {
			s = strings.ReplaceAll(s, k, v)
		}
		cmd := exec.Command("bash", "-c", s+"\n"+step)
		cmd.Env = append(os.Environ(), "KUMO_BASE="+tn.base, "HOME="+home, "XDG_CONFIG_HOME="+home+"/.config")
		cmd.WaitDelay = 5 * time.Second
		return cmd
	}
	run := func(step string) (string, string) {
		cmd := command(step)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: %v\n%s\n%s", step, err, out.String(), errOut.String())
		}
		return out.String(), errOut.String()
	}
	field := func(body, key string) string {
		var m map[string]any
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatalf("not JSON: %s", body)
		}
		return fmt.Sprint(m[key])
	}

	out, verbose := run("step_install")
	if !strings.Contains(verbose, "< HTTP/1.1 201") {
		t.Fatalf("installation: %s", verbose)
	}
	vars["{installationID}"] = field(out, "installationID")
	out, _ = run("step_check_install")
	if field(out, "deviceType") != "MQTT" || field(out, "development") != "true" {
		t.Errorf("installation read back: %s", out)
	}
	if _, verbose = run("step_subscribe"); !strings.Contains(verbose, "< HTTP/1.1 204") {
		t.Fatalf("subscription: %s", verbose)
	}
	// The seed checks the app-scope bucket "test", which was not the one
	// subscribed to (docs/compat.md): Kumo, like Kii, says 404.
	if _, verbose = run("step_check_subscription"); !strings.Contains(verbose, "< HTTP/1.1 404") {
		t.Errorf("app-scope subscription check: %s", verbose)
	}
	out, _ = run("step_endpoint")
	for _, k := range []string{"host", "username", "password", "mqttTopic"} {
		vars["{"+k+"}"] = field(out, k)
	}

	sub := command("step_subscribe_mqtt")
	var subOut syncBuffer
	sub.Stdout, sub.Stderr = &subOut, &subOut
	if err := sub.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- sub.Wait() }()
	t.Cleanup(func() {
		sub.Process.Kill()
		<-exited
	})
	deadline := time.Now().Add(10 * time.Second)
	for !n.broker.Subscribed(vars["{mqttTopic}"]) {
		if time.Now().After(deadline) {
			t.Fatalf("mosquitto_sub did not subscribe; it printed:\n%s", subOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	out, _ = run("step_push")
	objectID := field(out, "objectID")
	select {
	case err := <-exited:
		exited <- err
		if err != nil {
			t.Fatalf("mosquitto_sub: %v\n%s", err, subOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("mosquitto_sub got no message; it printed:\n%s", subOut.String())
	}
	printed := subOut.String()
	for _, want := range []string{`"objectID":"` + objectID + `"`, `"type":"DATA_OBJECT_CREATED"`, "received PUBLISH"} {
		if !strings.Contains(printed, want) {
			t.Errorf("mosquitto_sub's output lacks %s:\n%s", want, printed)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for a child process and a test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
