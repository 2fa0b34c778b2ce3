package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kumo-iot/kumo/internal/auth"
	"github.com/kumo-iot/kumo/internal/sqlstore/postgres"
	"github.com/kumo-iot/kumo/internal/storecopy"
)

const copyUsage = `Usage: kumo copy --from sqlite:PATH --to postgres://user:password@host:5432/kumo

Copies every app and all its data (users, things, tokens, buckets,
objects and their bodies, installations, push subscriptions, the push
events not sent yet, and the server secret that devices' MQTT passwords
derive from) from an embedded SQLite store to a PostgreSQL database, then
verifies the copy: every table must have the same rows on both sides (the
same count and the same SHA-256 checksum), and the bytes of the object
bodies (files in the data directory's bodies/) the same SHA-256. It prints a summary, and exits non-zero when a
table differs.

PATH is the kumo.db file or the data directory holding it. Both databases
are brought to this version's schema first (as kumo serve would). The
PostgreSQL database should be empty, or hold an earlier copy of the same
store: before writing anything, the copy refuses a database holding an app
with the same ID (or key, or client ID) but other credentials, or another
server's secret (a server ran on it).

The source is read in one transaction: a consistent snapshot of all its
tables, even while a server runs on it. What that server writes after the
snapshot is not copied, though. So to move a server: stop it, run kumo
copy, then start the servers on PostgreSQL (kumo serve --database ...);
do not start them before the copy has verified.

Until then, the copy can run again, safely: it copies the rows missing (an
interrupted copy completes), and after a complete copy it changes nothing.
It never updates or deletes a row: when the source has changed since an
earlier copy into the same database (rows updated or deleted), the
verification names the tables that differ; copy into an empty database
then. Once a server has run on the destination, do not copy into it
again: the push events it has sent would be sent again.

Flags:
`

// runCopy copies a SQLite store into a PostgreSQL database and verifies
// the copy.
func runCopy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("kumo copy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, copyUsage)
		fs.PrintDefaults()
	}
	from := fs.String("from", "", "the store to copy: sqlite:PATH, PATH being its kumo.db file or the data directory holding it")
	to := fs.String("to", "", "the PostgreSQL database to copy into: postgres://user:password@host:5432/kumo")
	chunk := fs.Int("chunk-rows", 1000, "rows read, and written in one transaction, at a time")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	srcPath, err := copySource(*from)
	if err != nil {
		return err
	}
	if !postgres.IsURL(*to) {
		// The value is not repeated: it may hold a password.
		return errors.New("--to must be the postgres:// or postgresql:// URL of the database to copy into")
	}
	if *chunk < 1 {
		return errors.New("--chunk-rows must be at least 1")
	}
	source := storeTarget{sqlitePath: srcPath}
	dest := storeTarget{postgresURL: *to}

	// Neither store hashes a password here.
	src, err := source.open(ctx, auth.Hasher{})
	if err != nil {
		return fmt.Errorf("open the source %s: %w", source, err)
	}
	defer src.Close()
	dst, err := dest.open(ctx, auth.Hasher{})
	if err != nil {
		return fmt.Errorf("open the destination %s: %w", dest, err)
	}
	defer dst.Close()

	fmt.Fprintf(stderr, "kumo copy: from %s to %s\n", source, dest)
	p := &copyProgress{w: stderr}
	start := time.Now()
	rep, err := storecopy.Copy(ctx, src.DB, dst.DB, storecopy.Options{ChunkRows: *chunk, Progress: p.copied, Verifying: p.verifying})
	var mismatch *storecopy.MismatchError
	if err != nil && !errors.As(err, &mismatch) {
		return err
	}
	printCopyReport(stdout, rep)
	if mismatch != nil {
		fmt.Fprintf(stdout, "\nThe copy did NOT verify: %d table(s) differ. Do not serve from %s as it is.\n", len(mismatch.Tables), dest)
		return err
	}
	fmt.Fprintf(stdout, "\nCopied %d rows in %s; every table verified (same rows, same checksum) in %s.\n",
		rep.Copied(), time.Since(start).Round(time.Millisecond), dest)
	return nil
}

// copySource returns the SQLite file that --from names: sqlite:PATH,
// PATH being the file or the data directory holding kumo.db. The file
// must exist (opening a store creates a missing one).
func copySource(from string) (string, error) {
	p, ok := strings.CutPrefix(from, "sqlite:")
	if !ok || p == "" {
		return "", errors.New("--from must be sqlite:PATH, PATH being a kumo.db file or the data directory holding it")
	}
	if strings.HasPrefix(p, "//") { // sqlite:///var/lib/kumo/kumo.db
		p = p[2:]
	}
	fi, err := os.Stat(p)
	if err == nil && fi.IsDir() {
		p = filepath.Join(p, "kumo.db")
		fi, err = os.Stat(p)
	}
	if err != nil {
		return "", fmt.Errorf("--from: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("--from: %s is not a file", p)
	}
	return p, nil
}

// copyProgress prints the copy's progress: each table's final count, and
// in between at most one line a second.
type copyProgress struct {
	w         io.Writer
	last      time.Time
	verifyHdr bool
}

func (p *copyProgress) copied(table string, done, total int64) {
	if done < total && time.Since(p.last) < time.Second {
		return
	}
	p.last = time.Now()
	fmt.Fprintf(p.w, "  %-22s %d/%d rows\n", table, done, total)
}

func (p *copyProgress) verifying(string) {
	if !p.verifyHdr {
		p.verifyHdr = true
		fmt.Fprintln(p.w, "verifying: row counts and SHA-256 checksums of every table")
	}
}

// printCopyReport prints the table of what was copied and verified.
func printCopyReport(w io.Writer, rep storecopy.Report) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TABLE\tSOURCE\tCOPIED\tDESTINATION\tSHA-256\tRESULT")
	for _, t := range rep.Tables {
		result := "ok"
		if t.Mismatch != "" {
			result = "MISMATCH: " + t.Mismatch
		}
		sum := t.DestinationSum
		if len(sum) > 12 {
			sum = sum[:12]
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\n", t.Table, t.Source, t.Copied, t.Destination, sum, result)
	}
	tw.Flush()
}
