package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// lockFileName is the file in the data directory that "kumo serve" holds
// locked while it runs: one server per data directory. It holds the PID
// and start time of the server, for the message a second one gives.
const lockFileName = "kumo.lock"

// dataDirLock is a held lock on a data directory.
type dataDirLock struct{ f *os.File }

// lockDataDir takes the exclusive lock of the data directory dir (which
// exists), or fails at once, naming the server that holds it. The kernel
// releases the lock when the process ends, however it ends: a lock file
// left by a dead server blocks nothing.
func lockDataDir(dir string) (*dataDirLock, error) {
	path := filepath.Join(dir, lockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data directory %s: lock file: %w", dir, err)
	}
	held, err := tryLock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("data directory %s: lock %s: %w", dir, path, err)
	}
	if !held {
		holder, _ := os.ReadFile(path)
		f.Close()
		return nil, errDataDirInUse(dir, path, string(holder))
	}
	now := time.Now().UTC().Format(time.RFC3339)
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt([]byte(fmt.Sprintf("pid %d\nstarted %s\n", os.Getpid(), now)), 0)
	}
	if err != nil {
		unlock(f)
		f.Close()
		return nil, fmt.Errorf("data directory %s: write %s: %w", dir, path, err)
	}
	return &dataDirLock{f: f}, nil
}

// Release releases the lock. The file stays: removing it could race with
// a server starting.
func (l *dataDirLock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	unlock(l.f)
	err := l.f.Close()
	l.f = nil
	return err
}

// errDataDirInUse says which server holds the data directory, from the
// lock file's content ("pid N\nstarted T\n").
func errDataDirInUse(dir, path, holder string) error {
	var pid, started string
	for _, line := range strings.Split(holder, "\n") {
		k, v, _ := strings.Cut(line, " ")
		switch k {
		case "pid":
			if _, err := strconv.Atoi(v); err == nil {
				pid = v
			}
		case "started":
			started = v
		}
	}
	who := "another kumo serve"
	if pid != "" {
		who += " (pid " + pid
		if started != "" {
			who += " since " + started
		}
		who += ")"
	}
	return fmt.Errorf("data directory %s is in use by %s: one server per data directory (lock file %s); stop it, or give this server another --data-dir",
		dir, who, path)
}

// checkDataDir makes sure that the data directory dir exists and that
// this process may create and write files there, and that the database
// files already in it are writable, so that a permission problem is told
// as one (with the path, its owner and mode, and who Kumo runs as) rather
// than as SQLite's "unable to open database file".
func checkDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return dataDirError(dir, err)
	}
	if fi, err := os.Stat(dir); err != nil {
		return dataDirError(dir, err)
	} else if !fi.IsDir() {
		return fmt.Errorf("data directory %s: not a directory", dir)
	}
	f, err := os.CreateTemp(dir, ".kumo-write-check-*")
	if err != nil {
		return dataDirError(dir, err)
	}
	f.Close()
	os.Remove(f.Name())
	for _, name := range []string{"kumo.db", "kumo.db-wal", "kumo.db-shm", "ledger.db", "ledger.db-wal", "ledger.db-shm", lockFileName} {
		path := filepath.Join(dir, name)
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			what := "database file "
			if name == lockFileName {
				what = "lock file "
			}
			return permissionError(what+path, path, "read and write it", err)
		}
		f.Close()
	}
	return checkBodiesDir(filepath.Join(dir, "bodies"))
}

// checkBodiesDir makes sure that this process may write in the directory
// of object bodies (sqlite.BodiesDir) and in each of its directories
// (tmp, where an upload is written, and those a body is renamed into),
// when they exist: else a server would start and answer every upload
// with an error.
func checkBodiesDir(bodies string) error {
	entries, err := os.ReadDir(bodies)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // made when needed, in a directory checked writable
	}
	if err != nil {
		return permissionError("bodies directory "+bodies, bodies, "read and write it", err)
	}
	dirs := []string{bodies}
	for _, e := range entries {
		path := filepath.Join(bodies, e.Name())
		if e.IsDir() {
			dirs = append(dirs, path)
		} else if e.Name() == "tmp" {
			return fmt.Errorf("bodies directory %s: not a directory", path)
		}
	}
	for _, d := range dirs {
		f, err := os.CreateTemp(d, ".kumo-write-check-*")
		if err != nil {
			return permissionError("bodies directory "+d, d, "create and write files there", err)
		}
		f.Close()
		os.Remove(f.Name())
	}
	return nil
}

// dataDirError describes a failure to create or write in the data
// directory dir.
func dataDirError(dir string, err error) error {
	// The part of the path that exists is what refused.
	at := dir
	for {
		if _, serr := os.Stat(at); serr == nil || filepath.Dir(at) == at {
			break
		}
		at = filepath.Dir(at)
	}
	what := "data directory " + dir
	if at != dir {
		what += " (in " + at + ")"
	}
	return permissionError(what, at, "create and write files there", err)
}

// permissionError names what failed and why: for a permission error
// (EACCES, EPERM) or a read-only file system, with what Kumo needs of path
// and path's owner and mode, and the user Kumo runs as.
func permissionError(what, path, need string, err error) error {
	var cause string
	switch {
	case errors.Is(err, fs.ErrPermission):
		cause = "permission denied"
	case isReadOnlyFS(err):
		cause = "read-only file system"
	default:
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is said already
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("%s: %s: kumo needs to %s (%s, running as %s)", what, cause, need, describeFile(path), describeUser())
}
