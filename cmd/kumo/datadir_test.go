package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kumo-iot/kumo/internal/sqlstore/postgres/pgtest"
)

// serveArgs are the flags of a child "kumo serve" on dir with random
// ports (as startChild's).
func serveArgs(dir string) []string {
	return []string{"serve", "--data-dir", dir, "--http-addr", "127.0.0.1:0", "--mqtt-addr", "127.0.0.1:0",
		"--mqtt-tls-addr", "", "--mqtt-ws-addr", "", "--mqtt-wss-addr", "", "--password-iterations", "1000"}
}

// runSecondServe runs "kumo serve" on dir, expecting it to give up at
// once, and returns its exit error and stderr.
func runSecondServe(t *testing.T, dir string) (string, error) {
	t.Helper()
	cmd := kumoCmd(serveArgs(dir)...)
	cmd.Env = append(cmd.Env, "KUMO_DATABASE=")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return stderr.String(), err
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("a second kumo serve on %s did not give up:\n%s", dir, stderr.String())
	}
	return "", nil
}

// TestServeDataDirLock: a second server on a data directory fails at once,
// naming the first; once the first stops (cleanly or killed), a new one
// starts; tools (kumo app) still run beside a server.
func TestServeDataDirLock(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	dir := t.TempDir()
	c1 := startChild(t, dir, "KUMO_DATABASE=")
	pid := c1.cmd.Process.Pid

	stderr, err := runSecondServe(t, dir)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Errorf("second kumo serve: %v, want exit status 1", err)
	}
	want := fmt.Sprintf("data directory %s is in use by another kumo serve (pid %d since ", dir, pid)
	if !strings.Contains(stderr, want) {
		t.Errorf("second kumo serve said:\n%s\nwant it to contain %q", stderr, want)
	}
	if strings.Contains(stderr, "kumo is ready") {
		t.Errorf("second kumo serve got ready:\n%s", stderr)
	}

	// In-process too: the lock is per open file, not per process.
	cfg := testConfig(dir)
	if n, err := startNode(context.Background(), cfg, testLogger(t)); err == nil {
		n.Close(context.Background())
		t.Error("startNode on a data directory in use succeeded")
	} else if !strings.Contains(err.Error(), fmt.Sprintf("(pid %d since ", pid)) {
		t.Errorf("startNode on a data directory in use: %v", err)
	}

	// A tool runs beside the server.
	if out, errOut, err := runCLI(t, "app", "create", "--data-dir", dir, "--database", ""); err != nil {
		t.Errorf("kumo app create beside a server: %v\n%s%s", err, out, errOut)
	}

	// After a clean stop, a new server starts.
	c1.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-c1.done:
		c1.done <- nil
		if err != nil {
			t.Fatalf("first kumo serve: %v\n%s", err, c1.Log())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("first kumo serve did not stop")
	}
	c2 := startChild(t, dir, "KUMO_DATABASE=")

	// A dead server's lock file blocks nothing: the kernel released its
	// lock.
	c2.kill9(t)
	b, err := os.ReadFile(filepath.Join(dir, lockFileName))
	if err != nil || !strings.Contains(string(b), fmt.Sprintf("pid %d\n", c2.cmd.Process.Pid)) {
		t.Fatalf("lock file of the killed server = %q, %v; want its pid", b, err)
	}
	startChild(t, dir, "KUMO_DATABASE=")
}

// TestDataDirPermission: a data directory Kumo may not write is told as
// such, naming the path, its owner and mode, and the user Kumo runs as.
func TestDataDirPermission(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	readOnly := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(readOnly, 0o500); err != nil {
		t.Fatal(err)
	}
	// Data directories whose bodies directory may not be written: a
	// subdirectory of mode 0500, and a file in place of bodies/tmp.
	roBodies := t.TempDir()
	if err := os.MkdirAll(filepath.Join(roBodies, "bodies", "ab"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(roBodies, "bodies", "ab"), 0o500); err != nil {
		t.Fatal(err)
	}
	fileTmp := t.TempDir()
	if err := os.MkdirAll(filepath.Join(fileTmp, "bodies"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(fileTmp, "bodies", "tmp"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		dir  string
		want []string
		root bool // root ignores the mode: skipped as root
	}{
		{name: "mode 0500", dir: readOnly, root: true, want: []string{
			"data directory " + readOnly + ": permission denied: kumo needs to create and write files there (owner ",
			", mode 0500, running as uid "}},
		{name: "subdirectory of mode 0500", dir: filepath.Join(readOnly, "data"), root: true, want: []string{
			"data directory " + filepath.Join(readOnly, "data") + " (in " + readOnly + "): permission denied: kumo needs to create and write files there (owner ",
			", mode 0500, running as uid "}},
		// Root may write anywhere but in such places: this case runs in CI.
		{name: "/sys", dir: "/sys", want: []string{"data directory /sys: ", ": kumo needs to create and write files there (owner root, mode 0", ", running as uid "}},
		{name: "bodies subdirectory of mode 0500", dir: roBodies, root: true, want: []string{
			"bodies directory " + filepath.Join(roBodies, "bodies", "ab") + ": permission denied: kumo needs to create and write files there (owner ",
			", mode 0500, running as uid "}},
		{name: "a file as bodies/tmp", dir: fileTmp, want: []string{"bodies directory " + filepath.Join(fileTmp, "bodies", "tmp") + ": not a directory"}},
		{name: "a file", dir: file, want: []string{"data directory " + file + ": not a directory"}},
		{name: "under a file", dir: filepath.Join(file, "data"), want: []string{"data directory " + filepath.Join(file, "data") + " (in " + file + "): not a directory"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.root && os.Geteuid() == 0 {
				t.Skip("root ignores permissions")
			}
			for _, args := range [][]string{
				{"migrate", "--data-dir", tt.dir, "--database", ""},
				{"app", "list", "--data-dir", tt.dir, "--database", ""},
			} {
				_, _, err := runCLI(t, args...)
				if err == nil {
					t.Fatalf("kumo %s succeeded", strings.Join(args, " "))
				}
				for _, w := range tt.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("kumo %s: %v\nwant it to contain %q", args[0], err, w)
					}
				}
			}
			n, err := startNode(context.Background(), testConfig(tt.dir), testLogger(t))
			if err == nil {
				n.Close(context.Background())
				t.Fatal("startNode succeeded")
			}
			if !strings.Contains(err.Error(), tt.want[0]) {
				t.Errorf("startNode: %v\nwant it to contain %q", err, tt.want[0])
			}
		})
	}
}

// TestPermissionMessage checks the message's construction where root
// ignores permissions: the path, its owner and mode, the user.
func TestPermissionMessage(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	err := dataDirError(dir, &os.PathError{Op: "open", Path: dir + "/x", Err: syscall.EACCES})
	want := fmt.Sprintf("data directory %s: permission denied: kumo needs to create and write files there (owner %s, mode 0500, running as uid %d",
		dir, userName(uint32(os.Getuid())), os.Geteuid())
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("dataDirError = %q, want it to start with %q", err, want)
	}
	err = dataDirError(dir, &os.PathError{Op: "open", Path: dir + "/x", Err: syscall.EROFS})
	if want := "data directory " + dir + ": read-only file system: kumo needs to"; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("dataDirError = %q, want it to start with %q", err, want)
	}
}

// TestServeDatabaseLock: on PostgreSQL, a node started without --nats is
// alone on its database: a second node fails at once, naming the first;
// once the first stops, a new one starts.
func TestServeDatabaseLock(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.Database = withPassword(t, pgtest.NewDatabase(t))
	cfg.NodeID = "first-node"
	first, err := startNode(context.Background(), cfg, testLogger(t))
	if err != nil {
		t.Fatalf("first node: %v", err)
	}
	second := cfg
	second.DataDir, second.NodeID = t.TempDir(), "second-node"
	n, err := startNode(context.Background(), second, testLogger(t))
	if err == nil {
		n.Close(context.Background())
		first.Close(context.Background())
		t.Fatal("a second node without --nats started on the database of another")
	}
	if !strings.Contains(err.Error(), `is in use by kumo serve "first-node" (PostgreSQL backend pid `) {
		t.Errorf("second node: %v; want it to name first-node", err)
	}
	if strings.Contains(err.Error(), testPassword) {
		t.Errorf("the error shows the database password: %v", err)
	}
	if err := first.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	n, err = startNode(context.Background(), second, testLogger(t))
	if err != nil {
		t.Fatalf("a node after the first stopped: %v", err)
	}
	n.Close(context.Background())
}
