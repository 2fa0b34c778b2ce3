package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/auth"
	"github.com/kumo-iot/kumo/internal/sqlstore"
	"github.com/kumo-iot/kumo/internal/sqlstore/postgres"
	"github.com/kumo-iot/kumo/internal/sqlstore/sqlite"
)

// appUsage is what "kumo app -h" prints.
const appUsage = `Usage:
  kumo app create [--id ID] [--key KEY] [--name NAME] [flags]
                              create an app; prints {"appID","appKey","clientID","clientSecret"}
  kumo app list [flags]       list the apps
  kumo app rotate-secret APPID [flags]
                              give the app a new client secret, printed once; the old
                              one, and the admin tokens issued with it, stop working
  kumo app push-config APPID [flags]
                              show or set the app's phone push keys

Every command takes --data-dir or --database (the store). Run
"kumo app <command> -h" for the flags of a command.
`

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "help":
		return true
	}
	return false
}

func runApp(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, appUsage)
		return usagef("kumo app needs a command: create, list, rotate-secret or push-config")
	}
	sub, args := args[0], args[1:]
	if isHelp(sub) {
		fmt.Fprint(stdout, appUsage)
		return nil
	}
	var appID string
	switch sub {
	case "create", "list":
	case "push-config", "rotate-secret":
		if len(args) > 0 && isHelp(args[0]) {
			break // the flag set prints the usage
		}
		if len(args) == 0 || strings.HasPrefix(args[0], "-") {
			return usagef("usage: kumo app %s APPID [flags]", sub)
		}
		appID, args = args[0], args[1:]
	default:
		fmt.Fprint(stderr, appUsage)
		return usagef("unknown app command %q: use create, list, rotate-secret or push-config", sub)
	}
	fs := flag.NewFlagSet("kumo app "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		operand := ""
		if sub == "push-config" || sub == "rotate-secret" {
			operand = " APPID"
		}
		fmt.Fprintf(stderr, "Usage: kumo app %s%s [flags]\n\nFlags:\n", sub, operand)
		fs.PrintDefaults()
	}
	dataDir := fs.String("data-dir", "./kumo-data", "directory of the embedded SQLite database")
	database := fs.String("database", "", databaseUsage)
	var name, id, key *string
	if sub == "create" {
		name = fs.String("name", "", "app name (default: the app ID)")
		id = fs.String("id", "", "app ID to use, e.g. one your devices already carry: "+kumo.AppIDRule+" (default: 8 random hex digits)")
		key = fs.String("key", "", "app key to use: "+kumo.AppKeyRule+" (default: 32 random hex digits)")
	}
	var pf *pushConfigFlags
	if sub == "push-config" {
		pf = newPushConfigFlags(fs)
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if sub == "create" {
		// Checked before the store opens: a typo creates nothing.
		if err := kumo.CheckAppIDAndKey(*id, *key); err != nil {
			var ke *kumo.Error
			if errors.As(err, &ke) {
				return errors.New(ke.Message)
			}
			return err
		}
	}
	store, err := chooseStore(*dataDir, *database)
	if err != nil {
		return err
	}
	db, err := store.open(ctx, auth.Hasher{})
	if err != nil {
		return fmt.Errorf("open store %s: %w", store, err)
	}
	defer db.Close()
	switch sub {
	case "create":
		creds, err := db.Apps.CreateApp(ctx, kumo.AppCreate{ID: *id, Key: *key, Name: *name})
		if err != nil {
			return err
		}
		return json.NewEncoder(stdout).Encode(creds)
	case "list":
		apps, err := db.Apps.ListApps(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "APP ID\tAPP KEY\tCLIENT ID\tNAME\tCREATED")
		for _, a := range apps {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.ID, a.Key, a.ClientID, a.Name, time.UnixMilli(a.Created).UTC().Format(time.RFC3339))
		}
		return tw.Flush()
	case "rotate-secret":
		creds, err := db.Apps.RotateClientSecret(ctx, appID)
		if err != nil {
			return err
		}
		return json.NewEncoder(stdout).Encode(creds)
	}
	return pf.run(ctx, db, appID, stdout)
}

// pushConfigFlags are the flags of kumo app push-config.
type pushConfigFlags struct {
	fcmAccount, fcmProject                     *string
	apnsKey, apnsKeyID, apnsTeamID, apnsBundle *string
	remove                                     *string
}

func newPushConfigFlags(fs *flag.FlagSet) *pushConfigFlags {
	return &pushConfigFlags{
		fcmAccount: fs.String("fcm-service-account", "", "FCM: the Firebase service account key file (JSON) to send with"),
		fcmProject: fs.String("fcm-project", "", "FCM: the Firebase project ID (default: the key's project_id)"),
		apnsKey:    fs.String("apns-key", "", "APNs: the .p8 authentication key file"),
		apnsKeyID:  fs.String("apns-key-id", "", "APNs: the key's ID"),
		apnsTeamID: fs.String("apns-team-id", "", "APNs: the developer team ID"),
		apnsBundle: fs.String("apns-bundle-id", "", "APNs: the app's bundle ID (apns-topic)"),
		remove:     fs.String("delete", "", "remove a section: fcm, apns or all"),
	}
}

// run changes the sections of the app's push configuration that the flags
// name (the others are kept) and prints the configuration without its
// keys; with no flag it only prints it.
func (f *pushConfigFlags) run(ctx context.Context, db *sqlstore.Store, appID string, stdout io.Writer) error {
	app, err := db.Apps.FindApp(ctx, appID)
	if err != nil {
		return err
	}
	admin := kumo.Caller{AppID: app.ID, Kind: kumo.Admin, ID: app.ClientID}
	p, err := db.PushConfigs.PushConfig(ctx, admin)
	if err != nil {
		return err
	}
	changed := false
	switch *f.remove {
	case "":
	case "fcm":
		p.FCM, changed = nil, true
	case "apns":
		p.APNs, changed = nil, true
	case "all":
		p, changed = kumo.PushConfig{}, true
	default:
		return fmt.Errorf("--delete must be fcm, apns or all")
	}
	if *f.fcmAccount != "" {
		b, err := os.ReadFile(*f.fcmAccount)
		if err != nil {
			return err
		}
		p.FCM, changed = &kumo.FCMConfig{ProjectID: *f.fcmProject, ServiceAccount: b}, true
	} else if *f.fcmProject != "" {
		return fmt.Errorf("--fcm-project needs --fcm-service-account")
	}
	if *f.apnsKey != "" {
		b, err := os.ReadFile(*f.apnsKey)
		if err != nil {
			return err
		}
		p.APNs, changed = &kumo.APNsConfig{KeyID: *f.apnsKeyID, TeamID: *f.apnsTeamID, BundleID: *f.apnsBundle, Key: b}, true
	} else if *f.apnsKeyID != "" || *f.apnsTeamID != "" || *f.apnsBundle != "" {
		return fmt.Errorf("--apns-key-id, --apns-team-id and --apns-bundle-id need --apns-key")
	}
	if changed {
		if p, err = db.PushConfigs.SetPushConfig(ctx, admin, p); err != nil {
			return err
		}
	}
	e := json.NewEncoder(stdout)
	e.SetIndent("", "  ")
	return e.Encode(p.Public())
}

// databaseUsage documents the --database flag of every command.
const databaseUsage = "PostgreSQL database URL (postgres://user:password@host:5432/kumo); empty: the embedded SQLite file in --data-dir"

// storeTarget is where Kumo keeps its data: a PostgreSQL database or the
// SQLite file in the data directory.
type storeTarget struct {
	postgresURL string // empty for SQLite
	sqlitePath  string
	nodeID      string        // names this node's outbox claims on a shared database
	lease       time.Duration // how long those claims last
	serving     bool          // a server's store, not a tool's (see sqlstore.DB.KeepBlobs)
}

// chooseStore is the one place that picks the store: PostgreSQL when
// database is a postgres:// or postgresql:// URL, the SQLite file
// kumo.db in dataDir when database is empty.
func chooseStore(dataDir, database string) (storeTarget, error) {
	switch {
	case database == "":
		return storeTarget{sqlitePath: filepath.Join(dataDir, "kumo.db")}, nil
	case postgres.IsURL(database):
		return storeTarget{postgresURL: database}, nil
	}
	// The value is not repeated: it may hold a password.
	return storeTarget{}, errors.New("--database (KUMO_DATABASE) must be a postgres:// or postgresql:// URL, or empty for SQLite in --data-dir")
}

// String names the store for logs and messages, never with a password.
func (s storeTarget) String() string {
	if s.postgresURL != "" {
		return postgres.Redact(s.postgresURL)
	}
	return "sqlite:" + s.sqlitePath
}

// open opens the store, applying the migrations it needs (and creating
// the SQLite file's directory), and starts it with hasher.
func (s storeTarget) open(ctx context.Context, hasher kumo.PasswordHasher) (*sqlstore.Store, error) {
	var (
		db  *sqlstore.Store
		err error
	)
	if s.postgresURL != "" {
		db, err = postgres.Open(ctx, s.postgresURL)
	} else {
		if err := checkDataDir(filepath.Dir(s.sqlitePath)); err != nil {
			return nil, err
		}
		db, err = sqlite.Open(ctx, s.sqlitePath)
	}
	if err != nil {
		return nil, err
	}
	db.Hasher = hasher
	db.NodeID, db.Lease = s.nodeID, s.lease
	db.KeepBlobs = !s.serving
	if err := db.Open(); err != nil {
		return nil, err
	}
	return db, nil
}

// migrate applies the migrations the store needs and returns its schema
// version.
func (s storeTarget) migrate(ctx context.Context) (int, error) {
	if s.postgresURL != "" {
		return postgres.Migrate(ctx, s.postgresURL)
	}
	db, err := s.open(ctx, auth.Hasher{}) // opening the SQLite file migrates it
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var v int
	err = db.ReadDB().QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&v)
	return v, err
}
