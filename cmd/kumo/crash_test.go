package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/kumo-iot/kumo"
)

// child is "kumo serve" running as a separate process (the test binary
// standing in for kumo; see TestMain).
type child struct {
	cmd      *exec.Cmd
	base     string // http://127.0.0.1:port
	mqttPort int
	done     chan error
	mu       sync.Mutex
	log      strings.Builder
}

// kumoCmd returns a command running the kumo CLI with args.
func kumoCmd(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "KUMO_TEST_MAIN=1")
	return cmd
}

var readyLine = regexp.MustCompile(`msg="kumo is ready" .*http=(\S+) mqtt=(\d+)`)

// startChild starts kumo serve on dir with random ports and waits until it
// is ready.
func startChild(t *testing.T, dir string, env ...string) *child {
	t.Helper()
	cmd := kumoCmd("serve", "--data-dir", dir, "--http-addr", "127.0.0.1:0", "--mqtt-addr", "127.0.0.1:0",
		"--mqtt-tls-addr", "", "--mqtt-ws-addr", "", "--mqtt-wss-addr", "", "--password-iterations", "1000")
	// A node restarted with the same ID releases its old outbox claims at
	// once (on PostgreSQL); the test's own env may name another.
	cmd.Env = append(cmd.Env, "KUMO_NODE_ID=test-node-"+filepath.Base(dir))
	cmd.Env = append(cmd.Env, env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, done: make(chan error, 1)}
	ready := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			c.mu.Lock()
			c.log.WriteString(line + "\n")
			c.mu.Unlock()
			if m := readyLine.FindStringSubmatch(line); m != nil {
				ready <- m
			}
		}
		c.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-c.done
	})
	select {
	case m := <-ready:
		c.base = "http://" + m[1]
		fmt.Sscan(m[2], &c.mqttPort)
	case err := <-c.done:
		t.Fatalf("kumo serve exited before it was ready: %v\n%s", err, c.Log())
	case <-time.After(20 * time.Second):
		t.Fatalf("kumo serve not ready after 20s:\n%s", c.Log())
	}
	return c
}

// Log returns what the child logged so far.
func (c *child) Log() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.log.String()
}

// kill9 kills the child with SIGKILL and waits for it.
func (c *child) kill9(t *testing.T) {
	t.Helper()
	c.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-c.done:
		c.done <- nil // let the cleanup's wait return
	case <-time.After(10 * time.Second):
		t.Fatal("kumo did not die")
	}
}

// createAppCLI runs "kumo app create" on dir, with the environment
// variable env (KUMO_DATABASE=…, see storeEnv).
func createAppCLI(t *testing.T, dir, env string, args ...string) kumo.AppCredentials {
	t.Helper()
	cmd := kumoCmd(append([]string{"app", "create", "--data-dir", dir}, args...)...)
	cmd.Env = append(cmd.Env, env)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kumo app create: %v", err)
	}
	var app kumo.AppCredentials
	if err := json.Unmarshal(out, &app); err != nil || app.AppID == "" || app.ClientSecret == "" {
		t.Fatalf("kumo app create printed %q: %v", out, err)
	}
	return app
}

// childNode is a testNode view of a child, for the REST helpers.
func childNode(t *testing.T, c *child, app kumo.AppCredentials) *testNode {
	return &testNode{t: t, app: app, base: c.base}
}

// TestCrashRecovery: objects committed before a SIGKILL survive it, and the
// pushes of events committed but not delivered are delivered after the
// restart, to the devices that reconnect.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	forEachStore(t, testCrashRecovery)
}

func testCrashRecovery(t *testing.T, cfg config) {
	dir, db := cfg.DataDir, storeEnv(cfg)
	app := createAppCLI(t, dir, db)

	// First life: dispatch is paused, so no push can leave before the kill.
	c1 := startChild(t, dir, db, "KUMO_FAULT_PAUSE_DISPATCH=1")
	n1 := childNode(t, c1, app)
	devs := []device{n1.mustDevice("crash-a"), n1.mustDevice("crash-b")}
	for _, d := range devs {
		n1.subscribe(d, "log")
	}
	var ids []string
	for i := 0; i < 30; i++ {
		ids = append(ids, n1.createObject(devs[i%2], "log", fmt.Sprintf(`{"i":%d}`, i)))
	}
	c1.kill9(t)

	// Second life: the devices reconnect (after the restart) and get every
	// push that was committed.
	c2 := startChild(t, dir, db)
	n2 := childNode(t, c2, app)
	url := fmt.Sprintf("tcp://127.0.0.1:%d", c2.mqttPort)
	inboxes := make([]*inbox, len(devs))
	for i, d := range devs {
		_, inboxes[i] = connectDevice(t, url, d, 3)
	}
	for i, d := range devs {
		var want []string
		for j, id := range ids {
			if j%2 == i {
				want = append(want, id)
			}
		}
		msgs := inboxes[i].waitFor(t, "recovered pushes", func(m []paho.Message) bool { return len(pushesByObject(t, m)) >= len(want) })
		got := pushesByObject(t, msgs)
		for _, id := range want {
			if got[id] == nil {
				t.Errorf("device %s never got the push for %s", d.VendorID, id)
			}
		}
	}
	for i, id := range ids {
		d := devs[i%2]
		r := do(t, "GET", n2.base+"/api/apps/"+app.AppID+"/things/"+d.ThingID+"/buckets/log/objects/"+id, "", "Authorization", "Bearer "+d.Token)
		wantStatus(t, r, 200)
	}
}

// TestCrashUnderLoad: SIGKILL while objects are being written; every
// acknowledged object exists afterwards and its push reaches the device
// (before the kill, or after the restart).
func TestCrashUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	forEachStore(t, testCrashUnderLoad)
}

func testCrashUnderLoad(t *testing.T, cfg config) {
	dir, db := cfg.DataDir, storeEnv(cfg)
	app := createAppCLI(t, dir, db)
	c1 := startChild(t, dir, db)
	n1 := childNode(t, c1, app)
	d := n1.mustDevice("load")
	n1.subscribe(d, "load")
	_, before := connectDevice(t, fmt.Sprintf("tcp://127.0.0.1:%d", c1.mqttPort), d, 4)

	var (
		mu    sync.Mutex
		acked []string
		wg    sync.WaitGroup
		stop  = make(chan struct{})
	)
	client := &httpClient{base: c1.base, token: d.Token}
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id, err := client.create(app.AppID, d.ThingID, "load")
				if err != nil {
					return // the server died
				}
				mu.Lock()
				acked = append(acked, id)
				mu.Unlock()
			}
		}()
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 200 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	c1.kill9(t)
	close(stop)
	wg.Wait()
	if len(acked) == 0 {
		t.Fatal("no write was acknowledged before the kill")
	}

	c2 := startChild(t, dir, db)
	_, after := connectDevice(t, fmt.Sprintf("tcp://127.0.0.1:%d", c2.mqttPort), d, 4)
	received := func() map[string]map[string]any {
		got := pushesByObject(t, before.Messages())
		for id, p := range pushesByObject(t, after.Messages()) {
			got[id] = p
		}
		return got
	}
	after.waitFor(t, "every acknowledged object's push", func([]paho.Message) bool {
		got := received()
		for _, id := range acked {
			if got[id] == nil {
				return false
			}
		}
		return true
	})
	for _, id := range acked {
		r := do(t, "GET", c2.base+"/api/apps/"+app.AppID+"/things/"+d.ThingID+"/buckets/load/objects/"+id, "", "Authorization", "Bearer "+d.Token)
		wantStatus(t, r, 200)
	}
	t.Logf("%d writes acknowledged before SIGKILL; all present and pushed", len(acked))
}

// TestGracefulShutdown: SIGTERM stops the server cleanly, and what it
// acknowledged is there after a restart.
func TestGracefulShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	forEachStore(t, testGracefulShutdown)
}

func testGracefulShutdown(t *testing.T, cfg config) {
	dir, db := cfg.DataDir, storeEnv(cfg)
	app := createAppCLI(t, dir, db, "--id", "myapp01", "--key", "mykey0001")
	if app.AppID != "myapp01" || app.AppKey != "mykey0001" {
		t.Fatalf("app create ignored --id/--key: %+v", app)
	}
	c := startChild(t, dir, db)
	n := childNode(t, c, app)
	d := n.mustDevice("graceful")
	id := n.createObject(d, "keep", `{"v":1}`)
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-c.done:
		c.done <- nil
		if err != nil {
			t.Fatalf("kumo serve exited with %v after SIGTERM\n%s", err, c.Log())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("kumo serve did not stop after SIGTERM\n%s", c.Log())
	}
	if !strings.Contains(c.Log(), `msg=stopped`) {
		t.Errorf("no 'stopped' log line:\n%s", c.Log())
	}
	if pw := databasePassword(t, cfg); pw != "" && strings.Contains(c.Log(), pw) {
		t.Errorf("the log shows the database password:\n%s", c.Log())
	}
	c2 := startChild(t, dir, db)
	r := do(t, "GET", c2.base+"/api/apps/myapp01/things/"+d.ThingID+"/buckets/keep/objects/"+id, "", "Authorization", "Bearer "+d.Token)
	wantStatus(t, r, 200)

	list := kumoCmd("app", "list", "--data-dir", dir)
	list.Env = append(list.Env, db)
	out, err := list.Output()
	if err != nil || !strings.Contains(string(out), "myapp01") || !strings.Contains(string(out), "mykey0001") {
		t.Errorf("kumo app list (while serving) = %q, %v", out, err)
	}
}

// httpClient posts objects for the load goroutines (no testing.T: they
// stop at the first error, which the kill causes).
type httpClient struct{ base, token string }

func (c *httpClient) create(appID, thingID, bucket string) (string, error) {
	req, _ := newRequest("POST", c.base+"/api/apps/"+appID+"/things/"+thingID+"/buckets/"+bucket+"/objects", `{"x":1}`)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := httpDo(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var m struct{ ObjectID string }
	if resp.StatusCode != 201 || json.NewDecoder(resp.Body).Decode(&m) != nil {
		return "", fmt.Errorf("status %d", resp.StatusCode)
	}
	return m.ObjectID, nil
}
