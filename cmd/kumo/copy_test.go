package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/auth"
	"github.com/kumo-iot/kumo/internal/broker"
	"github.com/kumo-iot/kumo/internal/sqlstore/postgres/pgtest"
)

// copiedLine matches the summary line of a table that verified.
func copiedLine(table string, source, copied int) *regexp.Regexp {
	return regexp.MustCompile(`(?m)^` + table + `\s+` + strconv.Itoa(source) + `\s+` + strconv.Itoa(copied) + `\s+` + strconv.Itoa(source) + `\s+[0-9a-f]{12}\s+ok$`)
}

// TestCopyCommand moves a server: a device registered, subscribed and
// sent a push on a SQLite node (whose push stays in the outbox), "kumo
// copy" to PostgreSQL (twice), and a node on PostgreSQL to which the device
// connects with its old MQTT credentials and token, and gets the pending
// push and new ones.
func TestCopyCommand(t *testing.T) {
	pgURL := withPassword(t, pgtest.NewDatabase(t))
	ctx := context.Background()
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.PauseDispatch = true // the push stays in the outbox
	n, err := startNode(ctx, cfg, testLogger(t))
	if err != nil {
		t.Fatalf("startNode: %v", err)
	}
	app, err := n.db.Apps.CreateApp(ctx, kumo.AppCreate{Name: "moving"})
	if err != nil {
		t.Fatal(err)
	}
	src := &testNode{node: n, t: t, app: app, base: n.baseURL}
	d := src.mustDevice("dev-1")
	src.subscribe(d, "readings")
	pending := src.createObject(d, "readings", `{"temp":21}`)
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}

	out, errOut, err := runCLI(t, "copy", "--from", "sqlite:"+dir, "--to", pgURL)
	if err != nil {
		t.Fatalf("kumo copy: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
	t.Logf("kumo copy:\n%s%s", errOut, out)
	for table, rows := range map[string]int{"meta": 1, "apps": 1, "tokens": 1, "things": 1, "buckets": 1, "objects": 1,
		"installations": 1, "bucket_subscriptions": 1, "outbox": 1} {
		if !copiedLine(table, rows, rows).MatchString(out) {
			t.Errorf("kumo copy's summary has no line for table %s with %d rows copied and verified:\n%s", table, rows, out)
		}
	}
	if !strings.Contains(out, "every table verified") {
		t.Errorf("kumo copy's summary does not say it verified:\n%s", out)
	}
	for _, want := range []string{"kumo copy: from sqlite:" + filepath.Join(dir, "kumo.db") + " to postgres://postgres:xxxxx@",
		"  objects                1/1 rows\n", "  users                  0/0 rows\n", "verifying"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("kumo copy's progress (stderr) lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(out+errOut, testPassword) {
		t.Errorf("kumo copy shows the database password")
	}

	// Again, naming the file: nothing more to copy, still verified.
	out, errOut, err = runCLI(t, "copy", "--from", "sqlite:"+filepath.Join(dir, "kumo.db"), "--to", pgURL)
	if err != nil || !strings.Contains(out, "Copied 0 rows") || !copiedLine("objects", 1, 0).MatchString(out) {
		t.Fatalf("kumo copy again: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}

	// The server on PostgreSQL.
	pgCfg := testConfig(t.TempDir())
	pgCfg.Database = pgURL
	n2, err := startNode(ctx, pgCfg, testLogger(t))
	if err != nil {
		t.Fatalf("startNode on PostgreSQL: %v", err)
	}
	t.Cleanup(func() {
		if err := n2.Close(context.Background()); err != nil {
			t.Errorf("close node: %v", err)
		}
	})
	dst := &testNode{node: n2, t: t, app: app, base: n2.baseURL}
	// The device's old credentials (its MQTT password derives from the
	// copied secret) connect, and the pending push arrives.
	_, in := connectDevice(t, dst.mqttURL(broker.TCP), d, 4)
	in.waitFor(t, "the push pending before the copy", func(msgs []paho.Message) bool {
		_, ok := pushesByObject(t, msgs)[pending]
		return ok
	})
	// Its old token works, on its old data.
	r := do(t, "GET", dst.base+"/api/apps/"+app.AppID+"/things/"+d.ThingID+"/buckets/readings/objects/"+pending, "",
		"Authorization", "Bearer "+d.Token)
	wantStatus(t, r, 200)
	if !strings.Contains(string(r.Body), `"temp"`) {
		t.Errorf("object read after the copy: %s", r.Body)
	}
	// New events are pushed too.
	fresh := dst.createObject(d, "readings", `{"temp":22}`)
	in.waitFor(t, "a push after the copy", func(msgs []paho.Message) bool {
		_, ok := pushesByObject(t, msgs)[fresh]
		return ok
	})
}

// copySourceStore makes a SQLite store in a new data directory with an
// app, a thing and an object, and returns the directory and the app.
func copySourceStore(t *testing.T) (string, kumo.AppCredentials, string) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := storeTarget{sqlitePath: filepath.Join(dir, "kumo.db")}.open(ctx, auth.Hasher{Iterations: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	app, err := db.Apps.CreateApp(ctx, kumo.AppCreate{ID: "srcapp"})
	if err != nil {
		t.Fatal(err)
	}
	admin := kumo.Caller{AppID: app.AppID, Kind: kumo.Admin, ID: app.ClientID}
	if _, _, err := db.Things.RegisterThing(ctx, admin, kumo.ThingRegistration{VendorThingID: "dev-1", Password: "pass-1234"}, true); err != nil {
		t.Fatal(err)
	}
	o, err := db.Objects.CreateObject(ctx, admin, kumo.ObjectCreate{Bucket: kumo.BucketRef{AppID: app.AppID, Scope: kumo.AppScope, Name: "b"},
		Data: map[string]any{"v": 1}})
	if err != nil {
		t.Fatal(err)
	}
	return dir, app, o.ID
}

// TestCopyCommandMismatch corrupts an object in the destination after a
// copy: the next copy's verification names the table, and kumo exits
// with status 1.
func TestCopyCommandMismatch(t *testing.T) {
	pgURL := withPassword(t, pgtest.NewDatabase(t))
	dir, _, objectID := copySourceStore(t)
	if out, errOut, err := runCLI(t, "copy", "--from", "sqlite:"+dir, "--to", pgURL); err != nil {
		t.Fatalf("kumo copy: %v\n%s%s", err, errOut, out)
	}
	raw, err := sql.Open("pgx", pgURL) // registered by pgx, which package postgres imports
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	res, err := raw.Exec(`UPDATE objects SET data = '{"v":2}' WHERE id = $1`, objectID)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("corrupted %d objects, want 1", n)
	}

	// The real command, for its exit status.
	cmd := kumoCmd("copy", "--from", "sqlite:"+dir, "--to", pgURL)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("kumo copy over a corrupted destination: %v, want exit status 1\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	if !regexp.MustCompile(`(?m)^objects\s+1\s+0\s+1\s+[0-9a-f]{12}\s+MISMATCH: the rows' checksums differ$`).MatchString(stdout.String()) ||
		!copiedLine("things", 1, 0).MatchString(stdout.String()) || !strings.Contains(stdout.String(), "did NOT verify") {
		t.Errorf("summary of the failed verification:\n%s", stdout.String())
	}
	if !strings.Contains(stderr.String(), "kumo: verification failed: the destination differs from the source in table objects") {
		t.Errorf("stderr of the failed verification:\n%s", stderr.String())
	}
	if strings.Contains(stdout.String()+stderr.String(), testPassword) {
		t.Errorf("kumo copy shows the database password")
	}
}

// TestCopyCommandErrors: bad flags, a missing source, and a destination
// holding another app with the source's app ID.
func TestCopyCommandErrors(t *testing.T) {
	empty := t.TempDir()
	notDB := filepath.Join(empty, "notes.txt")
	if err := os.WriteFile(notDB, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	pgLike := "postgres://kumo:s3cret@127.0.0.1:1/kumo"
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--to", pgLike}, "--from must be sqlite:PATH"},
		{[]string{"--from", "postgres://x/y", "--to", pgLike}, "--from must be sqlite:PATH"},
		{[]string{"--from", "sqlite:" + filepath.Join(empty, "missing.db"), "--to", pgLike}, "no such file"},
		{[]string{"--from", "sqlite:" + empty, "--to", pgLike}, "kumo.db: no such file"},
		{[]string{"--from", "sqlite:" + notDB}, "--to must be the postgres://"},
		{[]string{"--from", "sqlite:" + notDB, "--to", "mysql://kumo:s3cret@db/kumo"}, "--to must be the postgres://"},
		{[]string{"--from", "sqlite:" + notDB, "--to", pgLike, "--chunk-rows", "0"}, "--chunk-rows must be at least 1"},
	} {
		out, errOut, err := runCLI(t, append([]string{"copy"}, tt.args...)...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("kumo copy %s: %v, want an error with %q", strings.Join(tt.args, " "), err, tt.want)
		}
		if strings.Contains(out+errOut, "s3cret") || err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("kumo copy %s shows the password", strings.Join(tt.args, " "))
		}
	}
	// The source is not created when missing.
	if _, err := os.Stat(filepath.Join(empty, "kumo.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("kumo copy created the missing source: %v", err)
	}
	// An unreachable destination is named without its password.
	dir, app, _ := copySourceStore(t)
	_, _, err := runCLI(t, "copy", "--from", "sqlite:"+dir, "--to", pgLike+"?connect_timeout=5")
	if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "kumo:xxxxx@127.0.0.1:1") {
		t.Errorf("kumo copy to a closed port: %v, want an error naming the redacted URL", err)
	}

	t.Run("conflict", func(t *testing.T) {
		pgURL := withPassword(t, pgtest.NewDatabase(t))
		// The destination has an app with the same ID, of other credentials.
		if out, errOut, err := runCLI(t, "app", "create", "--database", pgURL, "--id", app.AppID); err != nil {
			t.Fatalf("kumo app create: %v\n%s%s", err, errOut, out)
		}
		out, errOut, err := runCLI(t, "copy", "--from", "sqlite:"+dir, "--to", pgURL)
		if err == nil || !strings.Contains(err.Error(), "conflicts with the source, nothing was copied") ||
			!strings.Contains(err.Error(), "app srcapp exists in the destination with another") {
			t.Errorf("kumo copy onto a conflicting app: %v\n%s%s", err, errOut, out)
		}
		list, _, err := runCLI(t, "app", "list", "--database", pgURL)
		if err != nil || strings.Count(list, "\n") != 2 {
			t.Errorf("apps after the refused copy:\n%s", list)
		}
	})
}
