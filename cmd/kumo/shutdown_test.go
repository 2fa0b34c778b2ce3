package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestShutdownCutsSlowClients: at the end of --shutdown-timeout, a client
// whose request body trickles is cut off, the node stops cleanly, one log
// line says how many connections were cut, and kumo serve returns nil
// (exit status 0).
func TestShutdownCutsSlowClients(t *testing.T) {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	args := append(serveArgs(t.TempDir()), "--shutdown-timeout", "200ms")
	t.Setenv("KUMO_DATABASE", "")
	go func() { done <- runServe(ctx, args[1:], &stdout, &stderr) }()

	var httpAddr, appID string
	deadline := time.Now().Add(20 * time.Second)
	appLine := regexp.MustCompile(`App ID: +(\S+)`)
	for httpAddr == "" || appID == "" {
		if m := readyLine.FindStringSubmatch(stderr.String()); m != nil {
			httpAddr = m[1]
		}
		if m := appLine.FindStringSubmatch(stdout.String()); m != nil {
			appID = m[1]
		}
		select {
		case err := <-done:
			t.Fatalf("kumo serve returned before it was ready: %v\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("kumo serve not ready:\n%s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}

	// The slow client: a token request whose body never completes.
	conn, err := net.Dial("tcp", httpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"grant_type":"client_credentials","client_id":"x","client_secret":"` // never closed
	fmt.Fprintf(conn, "POST /api/apps/%s/oauth2/token HTTP/1.1\r\nHost: kumo\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		appID, len(body)+1000, body)
	// The server has accepted the slow connection once it has answered a
	// request on a connection dialled after it (connections are accepted
	// in the order they arrive).
	do(t, "GET", "http://"+httpAddr+"/api/apps/"+appID+"/things/nope", "")

	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("kumo serve returned %v after the shutdown timeout, want nil\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("kumo serve did not stop\n%s", stderr.String())
	}
	log := stderr.String()
	if n := strings.Count(log, "closed the connections of clients"); n != 1 || !strings.Contains(log, "connections=1") {
		t.Errorf("want one log line saying one connection was cut:\n%s", log)
	}
	if strings.Contains(log, "deadline exceeded") {
		t.Errorf("the log speaks of a deadline exceeded:\n%s", log)
	}
	if !strings.Contains(log, "msg=stopped") {
		t.Errorf("no 'stopped' line:\n%s", log)
	}
	// The slow client's connection is closed (whatever was written to it).
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, bufio.NewReader(conn)); err != nil {
		t.Errorf("the slow client's connection was not closed: %v", err)
	}
}
