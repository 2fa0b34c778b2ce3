package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/auth"
	"github.com/kumo-iot/kumo/internal/sqlstore"
	"github.com/kumo-iot/kumo/internal/sqlstore/sqlite"
)

func runApp(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: kumo app create|list [flags]")
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("kumo app "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", "./kumo-data", "directory of the embedded SQLite database")
	var name, id, key *string
	if sub == "create" {
		name = fs.String("name", "", "app name (default: the app ID)")
		id = fs.String("id", "", "app ID to use, e.g. one your devices already carry (default: 8 random hex digits)")
		key = fs.String("key", "", "app key to use (default: 32 random hex digits)")
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	db, err := openStore(ctx, *dataDir, auth.Hasher{})
	if err != nil {
		return err
	}
	defer db.Close()
	switch sub {
	case "create":
		creds, err := db.CreateApp(ctx, kumo.AppCreate{ID: *id, Key: *key, Name: *name})
		if err != nil {
			return err
		}
		return json.NewEncoder(stdout).Encode(creds)
	case "list":
		apps, err := db.ListApps(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "APP ID\tAPP KEY\tCLIENT ID\tNAME\tCREATED")
		for _, a := range apps {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.ID, a.Key, a.ClientID, a.Name, time.UnixMilli(a.Created).UTC().Format(time.RFC3339))
		}
		return tw.Flush()
	}
	return fmt.Errorf("unknown app command %q: use create or list", sub)
}

// openStore opens the embedded store in dataDir, creating the directory.
func openStore(ctx context.Context, dataDir string, hasher kumo.PasswordHasher) (*sqlstore.DB, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	db, err := sqlite.Open(ctx, filepath.Join(dataDir, "kumo.db"))
	if err != nil {
		return nil, err
	}
	db.Hasher = hasher
	if err := db.Open(); err != nil {
		return nil, err
	}
	return db, nil
}
