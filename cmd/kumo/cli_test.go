package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kumo-iot/kumo"
)

// TestHelp: "kumo" alone, "kumo -h", "kumo help" list the commands (and
// "kumo" alone starts no server); every command has -h.
func TestHelp(t *testing.T) {
	commands := []string{"kumo serve", "kumo app create", "kumo app rotate-secret", "kumo migrate", "kumo copy", "kumo bench"}
	tests := []struct {
		args    []string
		wantErr error    // nil, flag.ErrHelp or errNoCommand
		stdout  []string // what stdout must hold
		stderr  []string // what stderr must hold
	}{
		{args: nil, wantErr: errNoCommand, stderr: commands},
		{args: []string{"-h"}, stdout: commands},
		{args: []string{"--help"}, stdout: commands},
		{args: []string{"help"}, stdout: commands},
		{args: []string{"app", "-h"}, stdout: []string{"kumo app create", "kumo app list", "kumo app rotate-secret APPID", "kumo app push-config APPID"}},
		{args: []string{"app", "--help"}, stdout: []string{"kumo app rotate-secret APPID"}},
		{args: []string{"app", "create", "-h"}, wantErr: flag.ErrHelp, stderr: []string{"Usage: kumo app create", "-id", "-key", "4 to 64 letters"}},
		{args: []string{"app", "list", "-h"}, wantErr: flag.ErrHelp, stderr: []string{"Usage: kumo app list", "-data-dir"}},
		{args: []string{"app", "push-config", "-h"}, wantErr: flag.ErrHelp, stderr: []string{"Usage: kumo app push-config APPID", "-apns-key"}},
		{args: []string{"app", "rotate-secret", "-h"}, wantErr: flag.ErrHelp, stderr: []string{"Usage: kumo app rotate-secret APPID", "-database"}},
		{args: []string{"serve", "-h"}, wantErr: flag.ErrHelp, stderr: []string{"-data-dir", "-shutdown-timeout"}},
		{args: []string{"migrate", "-h"}, wantErr: flag.ErrHelp, stderr: []string{"-database"}},
		{args: []string{"copy", "-h"}, wantErr: flag.ErrHelp, stderr: []string{"Usage: kumo copy", "-from"}},
		{args: []string{"bench", "-h"}, wantErr: flag.ErrHelp, stderr: []string{"-things"}},
		{args: []string{"bench", "topic", "-h"}, wantErr: flag.ErrHelp, stderr: []string{"Usage of kumo bench topic"}},
		{args: []string{"bench", "command", "-h"}, wantErr: flag.ErrHelp, stderr: []string{"Usage of kumo bench command", "-rate", "-mqtt-rest-inflight"}},
		{args: []string{"help"}, stdout: []string{"kumo bench command [flags]"}},
		// server code: scapi
		{args: []string{"help"}, stdout: []string{"kumo servercode deploy FILE", "kumo servercode list"}},
		{args: []string{"servercode", "-h"}, stdout: []string{"kumo servercode deploy FILE [--hook-config FILE] [--set-current]", "KUMO_CLIENT_SECRET"}},
		{args: []string{"servercode", "deploy", "-h"}, wantErr: flag.ErrHelp, stderr: []string{"Usage: kumo servercode deploy FILE", "-hook-config", "-set-current", "-environment-version", "-client-secret"}},
		{args: []string{"servercode", "list", "-h"}, wantErr: flag.ErrHelp, stderr: []string{"Usage: kumo servercode list", "-url", "-app-id"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(append([]string{"kumo"}, tt.args...), " "), func(t *testing.T) {
			// Old versions started a server for "kumo" alone: this bounds it.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			t.Chdir(t.TempDir()) // a server or store would land here
			var out, errOut strings.Builder
			err := run(ctx, tt.args, &out, &errOut)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Errorf("run = %v, want %v\nstderr: %s", err, tt.wantErr, errOut.String())
			}
			for _, w := range tt.stdout {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, out.String())
				}
			}
			for _, w := range tt.stderr {
				if !strings.Contains(errOut.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut.String())
				}
			}
			if entries, _ := os.ReadDir("."); len(entries) > 0 {
				t.Errorf("kumo %s created %v in the working directory", strings.Join(tt.args, " "), entries)
			}
		})
	}
}

// TestHelpExitStatus: -h exits 0; "kumo" alone, an unknown command or
// flag, a missing or extra argument exit 2.
func TestHelpExitStatus(t *testing.T) {
	tests := []struct {
		args []string
		code int
	}{
		{[]string{"-h"}, 0},
		{[]string{"app", "-h"}, 0},
		{[]string{"app", "create", "-h"}, 0},
		{[]string{"serve", "-h"}, 0},
		{[]string{"help", "serve"}, 0},
		{nil, 2},
		{[]string{"nope"}, 2},
		{[]string{"--data-dir", "x"}, 2},
		{[]string{"app"}, 2},
		{[]string{"app", "nope"}, 2},
		{[]string{"app", "rotate-secret"}, 2},
		{[]string{"serve", "--no-such-flag"}, 2},
		{[]string{"migrate", "extra"}, 2},
	}
	for _, tt := range tests {
		t.Run(strings.Join(append([]string{"kumo"}, tt.args...), " "), func(t *testing.T) {
			cmd := kumoCmd(tt.args...)
			cmd.Dir = t.TempDir()
			done := make(chan error, 1)
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			go func() { done <- cmd.Wait() }()
			var err error
			select {
			case err = <-done:
			case <-time.After(20 * time.Second):
				cmd.Process.Kill()
				<-done
				t.Fatalf("kumo %v did not exit:\n%s", tt.args, out.String())
			}
			code := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				code = exit.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.code {
				t.Errorf("kumo %v exited with %d, want %d:\n%s", tt.args, code, tt.code, out.String())
			}
		})
	}
}

// TestAppCreateIDAndKey: kumo app create checks --id and --key before it
// opens the store.
func TestAppCreateIDAndKey(t *testing.T) {
	tests := []struct {
		name, id, key string
		want          string // the error; "" for success
	}{
		{name: "Kii's shapes", id: "1a2b3c4d", key: "0123456789abcdef0123456789abcdef"},
		{name: "names", id: "myapp", key: "my-key_01"},
		{name: "one-character key", id: "abcd1234", key: "x", want: `app key "x" is not valid: 8 to 64 letters, digits, - or _`},
		{name: "key with a space", key: "my key 0001", want: `app key "my key 0001" is not valid`},
		{name: "short ID", id: "ab", want: `app ID "ab" is not valid: 4 to 64 letters, digits, - or _`},
		{name: "ID with a dot", id: "my.app", want: `app ID "my.app" is not valid`},
		{name: "ID of 65", id: strings.Repeat("a", 65), want: `is not valid`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			args := []string{"app", "create", "--data-dir", dir, "--database", ""}
			if tt.id != "" {
				args = append(args, "--id", tt.id)
			}
			if tt.key != "" {
				args = append(args, "--key", tt.key)
			}
			out, _, err := runCLI(t, args...)
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("kumo app create: %v (printed %q), want an error with %q", err, out, tt.want)
				}
				if _, err := os.Stat(dir); err == nil {
					t.Errorf("a refused kumo app create created the store")
				}
				return
			}
			var creds kumo.AppCredentials
			if err != nil || json.Unmarshal([]byte(out), &creds) != nil {
				t.Fatalf("kumo app create: %v, %q", err, out)
			}
			if (tt.id != "" && creds.AppID != tt.id) || (tt.key != "" && creds.AppKey != tt.key) {
				t.Errorf("kumo app create = %+v, want ID %q key %q", creds, tt.id, tt.key)
			}
		})
	}
}

// TestAppRotateSecret: kumo app rotate-secret, beside a running server,
// prints a new secret; the old one is refused and its admin tokens stop
// working; the new one logs in.
func TestAppRotateSecret(t *testing.T) {
	forEachStore(t, func(t *testing.T, cfg config) {
		n := mustStartNodeConfig(t, cfg)
		app := n.app
		login := func(secret string) response {
			return do(t, "POST", n.base+"/api/apps/"+app.AppID+"/oauth2/token",
				fmt.Sprintf(`{"grant_type":"client_credentials","client_id":%q,"client_secret":%q}`, app.ClientID, secret),
				"Content-Type", "application/json")
		}
		params := func(token string) int {
			return do(t, "GET", n.base+"/api/apps/"+app.AppID+"/configuration/parameters", "", "Authorization", "Bearer "+token).Status
		}
		r := login(app.ClientSecret)
		wantStatus(t, r, 200)
		oldToken := r.Str(t, "access_token")
		if s := params(oldToken); s != 200 {
			t.Fatalf("admin request before the rotation: %d", s)
		}

		out, errOut, err := runCLI(t, "app", "rotate-secret", app.AppID, "--data-dir", cfg.DataDir, "--database", cfg.Database)
		if err != nil {
			t.Fatalf("kumo app rotate-secret: %v\n%s", err, errOut)
		}
		var creds kumo.AppCredentials
		if err := json.Unmarshal([]byte(out), &creds); err != nil {
			t.Fatalf("kumo app rotate-secret printed %q: %v", out, err)
		}
		if creds.AppID != app.AppID || creds.ClientID != app.ClientID || creds.ClientSecret == "" || creds.ClientSecret == app.ClientSecret {
			t.Fatalf("kumo app rotate-secret = %+v (old %+v)", creds, app)
		}
		wantStatus(t, login(app.ClientSecret), 400)
		wantStatus(t, login(creds.ClientSecret), 200)
		// The server learns of the revocation within its token cache's
		// check interval.
		deadline := time.Now().Add(10 * time.Second)
		for params(oldToken) != 403 {
			if time.Now().After(deadline) {
				t.Fatal("the admin token issued with the old secret still works")
			}
			time.Sleep(50 * time.Millisecond)
		}

		_, _, err = runCLI(t, "app", "rotate-secret", "nope", "--data-dir", cfg.DataDir, "--database", cfg.Database)
		if err == nil || !strings.Contains(err.Error(), "nope") {
			t.Errorf("kumo app rotate-secret nope: %v", err)
		}
	})
}

// TestFirstStartMatchesREADME: the lines the first start prints are the
// first step of README.md's walkthrough, verbatim.
func TestFirstStartMatchesREADME(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	printed := firstThing("1a2b3c4d", "http://localhost:8080")
	first, rest, _ := strings.Cut(printed, "\n")
	if first != "APP_ID=1a2b3c4d" {
		t.Errorf("the first-start lines begin with %q, want APP_ID=1a2b3c4d", first)
	}
	if !strings.Contains(string(readme), "APP_ID=...            # from the server's first-start message\n"+rest) {
		t.Errorf("README.md's walkthrough does not start with the lines the first start prints:\n%s", printed)
	}
	// And the server prints them, with its URL.
	cfg := testConfig(t.TempDir())
	node, err := startNode(context.Background(), cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close(context.Background())
	var out strings.Builder
	if err := node.firstApp(context.Background(), &out); err != nil {
		t.Fatal(err)
	}
	apps, err := node.db.Apps.ListApps(context.Background())
	if err != nil || len(apps) != 1 {
		t.Fatalf("apps after the first start: %v, %v", apps, err)
	}
	if want := indent(firstThing(apps[0].ID, node.baseURL), "  "); !strings.Contains(out.String(), want) {
		t.Errorf("the first start printed:\n%s\nwant it to contain:\n%s", out.String(), want)
	}
}
