package main

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/kumo-iot/kumo"
)

// runCLI runs the kumo CLI in-process and returns what it printed.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), err
}

// TestMigrateAndAppCommands runs "kumo migrate" and "kumo app" on each
// store, with --database and with KUMO_DATABASE.
func TestMigrateAndAppCommands(t *testing.T) {
	forEachStore(t, func(t *testing.T, cfg config) {
		pw := databasePassword(t, cfg)
		noSecret := func(what, s string) {
			t.Helper()
			if pw != "" && strings.Contains(s, pw) {
				t.Errorf("%s shows the database password: %s", what, s)
			}
		}
		version := regexp.MustCompile(`: schema version ([1-9][0-9]*)\n$`)
		out, errOut, err := runCLI(t, "migrate", "--data-dir", cfg.DataDir, "--database", cfg.Database)
		if err != nil || !version.MatchString(out) {
			t.Fatalf("kumo migrate = %q, %v (stderr %q); want the schema version", out, err, errOut)
		}
		noSecret("kumo migrate", out+errOut)
		again, _, err := runCLI(t, "migrate", "--data-dir", cfg.DataDir, "--database", cfg.Database)
		if err != nil || again != out {
			t.Errorf("kumo migrate again = %q, %v; want %q", again, err, out)
		}

		out, _, err = runCLI(t, "app", "create", "--data-dir", cfg.DataDir, "--database", cfg.Database, "--id", "cliapp")
		var creds kumo.AppCredentials
		if err != nil || json.Unmarshal([]byte(out), &creds) != nil || creds.AppID != "cliapp" {
			t.Fatalf("kumo app create = %q, %v", out, err)
		}
		t.Setenv("KUMO_DATABASE", cfg.Database)
		t.Setenv("KUMO_DATA_DIR", cfg.DataDir)
		out, _, err = runCLI(t, "app", "list")
		if err != nil || !strings.Contains(out, "cliapp") || !strings.Contains(out, creds.ClientID) {
			t.Errorf("kumo app list (KUMO_DATABASE) = %q, %v; want the app created", out, err)
		}
		noSecret("kumo app list", out)
	})
}

func TestDatabaseFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"migrate", "--database", "mysql://kumo:s3cret@db/kumo"},
		{"app", "list", "--database", "host=db password=s3cret"},
		{"serve", "--database", "sqlite:///tmp/kumo.db?password=s3cret", "--http-addr", "127.0.0.1:0"},
	} {
		_, errOut, err := runCLI(t, args...)
		if err == nil || !strings.Contains(err.Error(), "postgres://") {
			t.Errorf("kumo %s: error %v, want one naming postgres:// URLs", strings.Join(args, " "), err)
		}
		if strings.Contains(errOut, "s3cret") || err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("kumo %s shows the password: %v %s", strings.Join(args, " "), err, errOut)
		}
	}
	// An unreachable server: the error names the database without its password.
	_, _, err := runCLI(t, "migrate", "--database", "postgres://kumo:s3cret@127.0.0.1:1/kumo?connect_timeout=5")
	if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "kumo:xxxxx@127.0.0.1:1") {
		t.Errorf("kumo migrate on a closed port: error %v, want one naming the redacted URL", err)
	}
}
