package main

// server code: sched — kumo servercode logs: the developer log over its
// WebSocket (/logs), as Kii's CLIs read it.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// runServerCodeLogs runs kumo servercode logs.
func runServerCodeLogs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("kumo servercode logs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: kumo servercode logs [--tail] [--level L] [--limit N] [--user-id ID] [--from T] [--to T] [--json] [flags]\n\n"+
			"Prints the app's developer log (console.log lines and errors of its server code), oldest first:\n"+
			"the newest --limit records, and with --tail the new ones as they come, until interrupted.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	var cl adminClient
	cl.flags(fs)
	tail := fs.Bool("tail", false, "keep printing new records as they are written")
	level := fs.String("level", "", "only records of this level or higher: DEBUG, INFO, WARN or ERROR")
	limit := fs.Int("limit", 100, "how many of the newest records to print first (at most 1500)")
	userID := fs.String("user-id", "", "only the records of this user")
	from := fs.String("from", "", "only records from this time (UTC, YYYY-MM-DD:HH:mm:ss)")
	to := fs.String("to", "", "only records up to this time (UTC, YYYY-MM-DD:HH:mm:ss)")
	asJSON := fs.Bool("json", false, "print each record as a line of JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("kumo servercode logs takes no arguments")
	}
	if cl.AppID == "" || cl.ClientID == "" || cl.ClientSecret == "" {
		return usagef("--app-id, --client-id and --client-secret are needed (or KUMO_APP_ID, KUMO_CLIENT_ID, KUMO_CLIENT_SECRET)")
	}
	u, err := url.Parse(strings.TrimSuffix(cl.BaseURL, "/") + "/logs")
	if err != nil {
		return usagef("--url: %v", err)
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	}
	command := "cat"
	if *tail {
		command = "tail"
	}
	req := map[string]any{"appID": cl.AppID, "clientID": cl.ClientID, "clientSecret": cl.ClientSecret,
		"command": command, "limit": *limit}
	for k, v := range map[string]string{"appKey": cl.AppKey, "level": *level, "userID": *userID, "dateFrom": *from, "dateTo": *to} {
		if v != "" {
			req[k] = v
		}
	}
	dialer := websocket.Dialer{HandshakeTimeout: 30 * time.Second}
	conn, _, err := dialer.DialContext(ctx, u.String(), nil)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", u, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() }) // Ctrl-C ends a tail
	defer stop()
	if err := conn.WriteJSON(req); err != nil {
		return err
	}
	for {
		_, b, err := conn.ReadMessage()
		if err != nil {
			if ctx.Err() != nil || websocket.IsCloseError(err, websocket.CloseNormalClosure) {
				return nil
			}
			return fmt.Errorf("developer log: %w", err)
		}
		var records []map[string]any
		if err := json.Unmarshal(b, &records); err != nil {
			var e struct {
				Err string `json:"err"`
			}
			if json.Unmarshal(b, &e) == nil && e.Err != "" {
				return errors.New(e.Err)
			}
			return fmt.Errorf("developer log: unexpected frame %q", b)
		}
		for _, r := range records {
			printDevLog(stdout, r, *asJSON)
		}
		if !*tail {
			return nil
		}
	}
}

// printDevLog prints a record: "time level key [entry] description", then
// its other fields as name=value; or its JSON.
func printDevLog(w io.Writer, r map[string]any, asJSON bool) {
	if asJSON {
		b, _ := json.Marshal(r)
		fmt.Fprintf(w, "%s\n", b)
		return
	}
	line := fmt.Sprintf("%v %v %v", r["time"], r["level"], r["key"])
	if e, ok := r["entry-name"]; ok {
		line += fmt.Sprintf(" [%v]", e)
	}
	line += fmt.Sprintf(" %v", r["description"])
	var extra []string
	for k, v := range r {
		switch k {
		case "_id", "time", "level", "key", "entry-name", "description", "appID":
			continue
		}
		extra = append(extra, fmt.Sprintf("%s=%v", k, v))
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		line += "  " + strings.Join(extra, " ")
	}
	fmt.Fprintln(w, line)
}
