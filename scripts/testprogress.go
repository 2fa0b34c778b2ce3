//go:build ignore

// Testprogress reads "go test -json" on stdin and prints what a person
// wants to see of it: go test's own package lines ("ok", "FAIL"), the
// output of every test that failed, build errors, and, at least every
// interval (KUMO_PROGRESS_INTERVAL, default 30s), a line saying how long
// the run has taken and which packages (and tests) are still running.
// It exits 0 whatever the tests did: go test's own exit status says that
// (scripts/test runs with pipefail). When KUMO_TEST_COUNTS names a file,
// it appends to it a line "passed failed skipped" with the counts of the
// tests (and subtests) it saw, for scripts/test's closing line.
//
// scripts/test runs it as: go test -json ... | go run scripts/testprogress.go
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// event is one line of go test -json (cmd/test2json).
type event struct {
	Time       time.Time
	Action     string
	Package    string
	Test       string
	Output     string
	ImportPath string // build-output events
}

// progress is the state of the run.
type progress struct {
	mu      sync.Mutex
	start   time.Time
	running map[string]time.Time            // package → its start
	tests   map[string]map[string]time.Time // package → top-level test running → its start
	output  map[string][]string             // package + "\x00" + test → its output so far
	done    int
	// passed, failed and skipped count the tests and subtests.
	passed, failed, skipped int
}

func main() {
	interval := 30 * time.Second
	if v := os.Getenv("KUMO_PROGRESS_INTERVAL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			fmt.Fprintf(os.Stderr, "testprogress: KUMO_PROGRESS_INTERVAL=%q is not a duration\n", v)
			os.Exit(2)
		}
		interval = d
	}
	p := &progress{start: time.Now(), running: map[string]time.Time{}, tests: map[string]map[string]time.Time{}, output: map[string][]string{}}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				p.heartbeat()
			case <-stop:
				return
			}
		}
	}()
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			// Not an event (go test's own failure to start): pass it on.
			p.print(sc.Text() + "\n")
			continue
		}
		p.handle(e)
	}
	close(stop)
	wg.Wait()
	if err := sc.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "testprogress:", err)
		os.Exit(2)
	}
	if path := os.Getenv("KUMO_TEST_COUNTS"); path != "" {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			_, err = fmt.Fprintf(f, "%d %d %d\n", p.passed, p.failed, p.skipped)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "testprogress:", err)
			os.Exit(2)
		}
	}
}

// print writes s to stdout under the lock (heartbeats come from another
// goroutine).
func (p *progress) print(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Print(s)
}

func (p *progress) handle(e event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	key := e.Package + "\x00" + e.Test
	switch {
	case e.Action == "build-output":
		fmt.Print(e.Output)
	case e.Test == "":
		p.handlePackage(e)
	default:
		switch e.Action {
		case "run":
			if !strings.Contains(e.Test, "/") {
				if p.tests[e.Package] == nil {
					p.tests[e.Package] = map[string]time.Time{}
				}
				p.tests[e.Package][e.Test] = time.Now()
			}
		case "output":
			p.output[key] = append(p.output[key], e.Output)
		case "pass", "skip", "fail":
			switch e.Action {
			case "pass":
				p.passed++
			case "skip":
				p.skipped++
			case "fail":
				p.failed++
			}
			if e.Action == "fail" {
				// A parent's output holds its subtests' "--- FAIL" lines;
				// each failed subtest prints its own output.
				fmt.Print(strings.Join(p.output[key], ""))
			}
			delete(p.output, key)
			delete(p.tests[e.Package], e.Test)
		}
	}
}

// handlePackage handles a package-level event: its start, its output
// (kept: the "ok"/"FAIL" lines, panics, TestMain's messages), its end.
func (p *progress) handlePackage(e event) {
	switch e.Action {
	case "start":
		p.running[e.Package] = time.Now()
	case "output":
		if line := e.Output; line != "PASS\n" && line != "FAIL\n" && !strings.HasPrefix(line, "=== ") {
			fmt.Print(line)
		}
	case "pass", "fail", "skip":
		if e.Action == "fail" {
			// A test still running when the package failed (a panic, a
			// timeout) has not printed its output: print it now.
			prefix := e.Package + "\x00"
			var keys []string
			for k := range p.output {
				if strings.HasPrefix(k, prefix) {
					keys = append(keys, k)
				}
			}
			sort.Strings(keys)
			for _, k := range keys {
				fmt.Print(strings.Join(p.output[k], ""))
			}
		}
		for k := range p.output {
			if strings.HasPrefix(k, e.Package+"\x00") {
				delete(p.output, k)
			}
		}
		delete(p.running, e.Package)
		delete(p.tests, e.Package)
		p.done++
	}
}

// heartbeat prints how long the run has taken and what is running, the
// longest-running test of each package first.
func (p *progress) heartbeat() {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	elapsed := now.Sub(p.start).Round(time.Second)
	if len(p.running) == 0 {
		fmt.Printf("... %s: %d packages done; building\n", elapsed, p.done)
		return
	}
	pkgs := make([]string, 0, len(p.running))
	for pkg := range p.running {
		pkgs = append(pkgs, pkg)
	}
	slices.Sort(pkgs)
	parts := make([]string, 0, len(pkgs))
	for _, pkg := range pkgs {
		part := pkg
		var longest string
		var since time.Time
		for test, t := range p.tests[pkg] {
			if longest == "" || t.Before(since) || (t.Equal(since) && test < longest) {
				longest, since = test, t
			}
		}
		if longest != "" {
			part += fmt.Sprintf(" (%s, %s", longest, now.Sub(since).Round(time.Second))
			if n := len(p.tests[pkg]); n > 1 {
				part += fmt.Sprintf(", and %d more", n-1)
			}
			part += ")"
		}
		parts = append(parts, part)
	}
	fmt.Printf("... %s: %d packages done; running %s\n", elapsed, p.done, strings.Join(parts, ", "))
}
