package postgres_test

import (
	"context"
	"regexp"
	"testing"

	"github.com/kumo-iot/kumo/internal/sqlstore/postgres"
	"github.com/kumo-iot/kumo/internal/sqlstore/postgres/pgtest"
)

// TestServerLock: a node alone on a database excludes every other node;
// the nodes of a cluster share the database, and exclude a node alone;
// the refusal names the holders; a released lock is free again.
func TestServerLock(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	lock := func(name string, cluster bool) (*postgres.ServerLock, error) {
		l, err := postgres.LockServer(ctx, url, name, cluster)
		if err == nil {
			t.Cleanup(func() { l.Close() })
		}
		return l, err
	}
	holder := func(name string) *regexp.Regexp {
		return regexp.MustCompile(`kumo serve "` + name + `" \(PostgreSQL backend pid \d+, from .+, since \d{4}-\d\d-\d\dT`)
	}

	alone, err := lock("node-alone", false)
	if err != nil {
		t.Fatalf("the first node: %v", err)
	}
	for _, cluster := range []bool{false, true} {
		_, err := lock("node-second", cluster)
		if err == nil {
			t.Fatalf("a second node (cluster %v) got the lock of a node alone", cluster)
		}
		if !holder("node-alone").MatchString(err.Error()) {
			t.Errorf("second node (cluster %v): %v; want it to name node-alone", cluster, err)
		}
	}
	if err := alone.Close(); err != nil {
		t.Fatal(err)
	}

	// A cluster shares the database, and keeps a node alone out.
	if _, err := lock("node-a", true); err != nil {
		t.Fatalf("cluster node a: %v", err)
	}
	b, err := lock("node-b", true)
	if err != nil {
		t.Fatalf("cluster node b: %v", err)
	}
	_, err = lock("node-alone", false)
	if err == nil || !holder("node-a").MatchString(err.Error()) || !holder("node-b").MatchString(err.Error()) {
		t.Errorf("a node alone beside a cluster: %v; want a refusal naming node-a and node-b", err)
	}
	b.Close()

	// Another database is another lock.
	other, err := postgres.LockServer(ctx, pgtest.NewDatabase(t), "elsewhere", false)
	if err != nil {
		t.Fatalf("a node alone on another database: %v", err)
	}
	other.Close()
}
