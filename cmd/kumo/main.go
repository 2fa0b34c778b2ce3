// Command kumo is a self-hosted server that speaks the Kii Cloud API.
//
//	kumo serve        run the server (REST API + MQTT broker + SQLite or PostgreSQL)
//	kumo app create   create an app and print its credentials as JSON
//	kumo app list     list the apps
//	kumo app rotate-secret APPID  give an app a new client secret
//	kumo app push-config APPID  show or set an app's FCM and APNs keys
//	kumo migrate      bring the database schema up to date
//	kumo copy         copy a SQLite store into PostgreSQL, and verify the copy
//	kumo bench        measure objects/s and POST-to-push latency
//	kumo bench topic  measure a topic's fan-out to N MQTT devices
//	kumo bench command  measure Thing-IF commands' round trip to N devices
//	kumo bench servercode  measure server-code endpoint calls and hook cost
//	kumo servercode   deploy, list and read the log of an app's server code on a running server
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

const usage = `kumo: a self-hosted Kii Cloud-compatible server

Usage:
  kumo serve [flags]          run the server
  kumo app create [flags]     create an app; prints {"appID","appKey","clientID","clientSecret"}
  kumo app list [flags]       list the apps
  kumo app rotate-secret APPID
                              give the app a new client secret (printed once)
  kumo app push-config APPID [--fcm-service-account FILE] [--apns-key FILE --apns-key-id ID --apns-team-id ID --apns-bundle-id ID] [--delete fcm|apns|all]
                              show or set the app's phone push keys (printed without the keys)
  kumo migrate [flags]        bring the database schema up to date
  kumo copy [flags]           copy everything from SQLite to PostgreSQL and verify it (--from sqlite:PATH --to postgres://...)
  kumo bench [flags]          measure objects/s and POST-to-push latency
  kumo bench topic [flags]    measure a topic's fan-out to N MQTT devices against the raw broker's
  kumo bench command [flags]  measure commands/s and latency of the command round trip (POST, push, action
                              results over REST over MQTT) beside object → push in the same run
  kumo bench servercode [flags]
                              measure calls/s of a server-code endpoint reading an object beside a REST
                              GET of it, and object writes/s with and without a no-op server hook
  kumo servercode deploy FILE [--hook-config FILE] [--set-current] [--environment-version 0|6]
                              deploy server code to a running server (--url, --app-id, --client-id, --client-secret)
  kumo servercode list        list the app's server code versions
  kumo servercode logs [--tail]
                              print (and follow) the app's developer log
  kumo help                   show this

Data lives in the SQLite file kumo.db in --data-dir, or in PostgreSQL when
--database is a postgres:// URL (serve, app and migrate take the flag).
One kumo serve at a time may use a data directory; kumo app and kumo
migrate may run beside it.

Every flag can also be set as an environment variable KUMO_<NAME>
(upper case, dashes to underscores): --data-dir is KUMO_DATA_DIR,
--database is KUMO_DATABASE.
Run "kumo <command> -h" for the flags of a command.
`

// errNoCommand is run's answer to a command line without a command: the
// usage went to stderr, and kumo exits with status 2.
var errNoCommand = errors.New("no command")

// usageError is a command line kumo does not understand (an unknown
// command or flag, a missing argument): kumo says why and exits with
// status 2, as for a command line without a command. Status 1 is for a
// command that ran and failed.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// usagef returns a usageError.
func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.Is(err, errNoCommand):
		os.Exit(2)
	case errors.As(err, new(usageError)):
		fmt.Fprintln(os.Stderr, "kumo:", err)
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "kumo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		// No server without being asked: "kumo" alone would listen on
		// every interface.
		fmt.Fprint(stderr, usage)
		return errNoCommand
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "serve":
		return runServe(ctx, args, stdout, stderr)
	case "app":
		return runApp(ctx, args, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, args, stdout, stderr)
	case "copy":
		return runCopy(ctx, args, stdout, stderr)
	case "bench":
		return runBench(ctx, args, stdout, stderr)
	case "servercode": // server code: scapi (deploy, list; sched adds logs in runServerCode)
		return runServerCode(ctx, args, stdout, stderr)
	case "help", "-h", "-help", "--help":
		if len(args) > 0 && cmd == "help" && !strings.HasPrefix(args[0], "-") {
			// "kumo help serve" is "kumo serve -h".
			return run(ctx, append(args[:1:1], "-h"), stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	if strings.HasPrefix(cmd, "-") {
		return usagef("unknown command %q: the flags follow the command, as in \"kumo serve %s\"", cmd, cmd)
	}
	return usagef("unknown command %q", cmd)
}

// parseFlags parses args into fs, then fills every flag not given on the
// command line from its KUMO_<NAME> environment variable.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		env := "KUMO_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s: %w", env, e)
			}
		}
	})
	return err
}
