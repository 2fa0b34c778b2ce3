package sqlstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/auth"
	"github.com/kumo-iot/kumo/internal/sqlstore"
	"github.com/kumo-iot/kumo/internal/sqlstore/sqlite"
)

// cacheNodes opens two stores over one SQLite file, as two nodes share a
// database, each with a clock the test moves (epoch ms), and a cache of
// the counter "test" on the first (created before any write).
func cacheNodes(t *testing.T, interval int64, max int) (node, other *sqlstore.Store, c *sqlstore.TestCache, clock *atomic.Int64) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kumo.db")
	clock = &atomic.Int64{}
	clock.Store(1_000_000)
	open := func(setup func(*sqlstore.Store)) *sqlstore.Store {
		db, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		db.Hasher, db.KeepBlobs = auth.Hasher{Iterations: 1000}, true
		db.Now = func() time.Time { return time.UnixMilli(clock.Load()) }
		setup(db)
		if err := db.Open(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	node = open(func(db *sqlstore.Store) { c = sqlstore.NewTestCache(db.DB, "test", interval, max) })
	other = open(func(*sqlstore.Store) {})
	if err := sqlstore.BumpCounter(other.DB, "test"); err != nil { // creates the counter
		t.Fatal(err)
	}
	return node, other, c, clock
}

// cached reads k from c, putting value on a miss as a service puts what it
// read from the database, and reports whether it was a hit.
func cached(t *testing.T, c *sqlstore.TestCache, k, value string) (string, bool) {
	t.Helper()
	v, ok, gen, err := c.Get(context.Background(), k)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		c.Put(gen, k, value)
		return value, false
	}
	return v, true
}

// TestVersionedCacheFollowsTheCounter checks that entries stay while the
// counter keeps its value and go when another node bumps it: at the next
// lookup without a check interval, once the interval has passed with one.
func TestVersionedCacheFollowsTheCounter(t *testing.T) {
	for _, tc := range []struct {
		name     string
		interval int64
	}{{"every lookup", 0}, {"interval", 1000}} {
		t.Run(tc.name, func(t *testing.T) {
			_, other, c, clock := cacheNodes(t, tc.interval, 100)
			cached(t, c, "k", "v1")
			if v, hit := cached(t, c, "k", "v2"); !hit || v != "v1" {
				t.Fatalf("second lookup: %q, hit %v; want v1 from the cache", v, hit)
			}
			if err := sqlstore.BumpCounter(other.DB, "test"); err != nil {
				t.Fatal(err)
			}
			if tc.interval > 0 {
				clock.Add(tc.interval - 1)
				if v, hit := cached(t, c, "k", "v2"); !hit || v != "v1" {
					t.Fatalf("within the interval after another node's change: %q, hit %v; want v1 still cached", v, hit)
				}
				clock.Add(1)
			}
			if v, hit := cached(t, c, "k", "v2"); hit {
				t.Fatalf("after another node's change: %q from the cache; want a miss", v)
			}
			if v, hit := cached(t, c, "k", "v3"); !hit || v != "v2" {
				t.Fatalf("after the change was read: %q, hit %v; want v2 cached", v, hit)
			}
		})
	}
}

// TestVersionedCacheForgetsLocalChanges checks that a change committed on
// this node empties the cache at once, whatever the check interval, and
// that a value read before it (a read racing with the write) is not
// cached after it: its generation is old.
func TestVersionedCacheForgetsLocalChanges(t *testing.T) {
	node, _, c, _ := cacheNodes(t, 1000, 100)
	cached(t, c, "k", "old")
	if _, hit := cached(t, c, "k", "x"); !hit {
		t.Fatal("the value was not cached")
	}
	// A read misses, and reads the database before the change commits.
	_, ok, gen, err := c.Get(context.Background(), "other")
	if err != nil || ok {
		t.Fatalf("Get(other) = %v, %v; want a miss", ok, err)
	}
	if err := sqlstore.BumpCounter(node.DB, "test"); err != nil {
		t.Fatal(err)
	}
	c.Put(gen, "other", "read before the change")
	if v, hit := cached(t, c, "other", "read after"); hit {
		t.Errorf("a value read before a local change was cached: %q", v)
	}
	if v, hit := cached(t, c, "k", "new"); hit {
		t.Errorf("after a local change, %q came from the cache within the check interval; want a miss", v)
	}
	if v, hit := cached(t, c, "k", "newer"); !hit || v != "new" {
		t.Errorf("after the change: %q, hit %v; want new cached", v, hit)
	}
}

// TestVersionedCacheGenerationRace checks that a value read before
// another node's change (seen by a later lookup) is not cached either.
func TestVersionedCacheGenerationRace(t *testing.T) {
	_, other, c, _ := cacheNodes(t, 0, 100)
	cached(t, c, "warm", "w")
	_, ok, gen, err := c.Get(context.Background(), "k")
	if err != nil || ok {
		t.Fatalf("Get(k) = %v, %v; want a miss", ok, err)
	}
	if err := sqlstore.BumpCounter(other.DB, "test"); err != nil {
		t.Fatal(err)
	}
	if _, hit := cached(t, c, "warm", "w2"); hit { // this lookup sees the change
		t.Fatal("an entry outlived another node's change")
	}
	c.Put(gen, "k", "read before the change")
	if v, hit := cached(t, c, "k", "fresh"); hit {
		t.Errorf("a value read before the change was cached: %q", v)
	}
}

// TestVersionedCacheIsBounded checks that the cache never holds more than
// its bound, and keeps caching when full.
func TestVersionedCacheIsBounded(t *testing.T) {
	_, _, c, _ := cacheNodes(t, 0, 10)
	for i := range 25 {
		k := fmt.Sprint("k", i)
		cached(t, c, k, k)
		if n := c.Len(); n > 10 {
			t.Fatalf("%d entries after %d puts; want at most 10", n, i+1)
		}
		if v, hit := cached(t, c, k, "again"); !hit || v != k {
			t.Fatalf("the entry just put: %q, hit %v; want it cached", v, hit)
		}
	}
}

// TestTokenCacheRefillsAfterALocalRevocation checks that after this node
// revokes tokens, the token cache caches again at once, not only after the
// next check of the counter: a node that revokes a token every second (a
// refresh, a logout) would otherwise read every request's token from the
// database. The test deletes a token behind the cache's back (no counter
// moves) and sees it still accepted: it was cached after the revocation.
func TestTokenCacheRefillsAfterALocalRevocation(t *testing.T) {
	node, other, _, _ := cacheNodes(t, 0, 10) // the clock stands still: no check interval passes
	ctx := context.Background()
	app, err := node.Apps.CreateApp(ctx, kumo.AppCreate{})
	if err != nil {
		t.Fatal(err)
	}
	anon, err := node.Tokens.Login(ctx, app.AppID, kumo.LoginRequest{GrantType: "client_credentials", ClientID: app.AppID, ClientSecret: "dummy"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := node.Tokens.Authenticate(ctx, app.AppID, anon.AccessToken); err != nil {
		t.Fatal(err)
	}
	if _, err := node.Apps.RotateClientSecret(ctx, app.AppID); err != nil { // revokes the admin's tokens
		t.Fatal(err)
	}
	if _, err := node.Tokens.Authenticate(ctx, app.AppID, anon.AccessToken); err != nil {
		t.Fatalf("the app-level token after the admin's were revoked: %v", err)
	}
	if _, err := other.WriteDB().Exec("DELETE FROM tokens WHERE key = ?", kumo.TokenKey(anon.AccessToken)); err != nil {
		t.Fatal(err)
	}
	if _, err := node.Tokens.Authenticate(ctx, app.AppID, anon.AccessToken); err != nil {
		t.Errorf("the token read after the revocation was not cached (its row, deleted without a counter change, was read again): %v", err)
	}
}

// BenchmarkAuthenticate measures the token cache's hit path, which every
// API request takes, from parallel goroutines.
func BenchmarkAuthenticate(b *testing.B) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "kumo.db"))
	if err != nil {
		b.Fatal(err)
	}
	db.Hasher = auth.Hasher{Iterations: 1000}
	if err := db.Open(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	app, err := db.Apps.CreateApp(ctx, kumo.AppCreate{})
	if err != nil {
		b.Fatal(err)
	}
	tok, err := db.Tokens.Login(ctx, app.AppID, kumo.LoginRequest{GrantType: "client_credentials", ClientID: app.ClientID, ClientSecret: app.ClientSecret})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := db.Tokens.Authenticate(ctx, app.AppID, tok.AccessToken); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
