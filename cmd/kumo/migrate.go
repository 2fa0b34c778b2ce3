package main

import (
	"context"
	"flag"
	"fmt"
	"io"
)

// runMigrate brings the store's schema up to date without serving: for a
// PostgreSQL database, before the nodes of a new version start (they
// would migrate too, one at a time, under the migration lock).
func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("kumo migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", "./kumo-data", "directory of the embedded SQLite database")
	database := fs.String("database", "", databaseUsage)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	store, err := chooseStore(*dataDir, *database)
	if err != nil {
		return err
	}
	v, err := store.migrate(ctx)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", store, err)
	}
	fmt.Fprintf(stdout, "%s: schema version %d\n", store, v)
	return nil
}
