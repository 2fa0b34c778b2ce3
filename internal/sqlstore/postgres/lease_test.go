package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/auth"
	"github.com/kumo-iot/kumo/internal/sqlstore"
	"github.com/kumo-iot/kumo/internal/sqlstore/postgres"
	"github.com/kumo-iot/kumo/internal/sqlstore/postgres/pgtest"
)

// openNode opens a store on url as one node of a cluster, with its own
// clock.
func openNode(t *testing.T, url, id string, now *time.Time) *sqlstore.Store {
	t.Helper()
	db, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	db.Hasher, db.NodeID, db.Lease = auth.Hasher{Iterations: 1000}, id, 10*time.Second
	db.Now = func() time.Time { return *now }
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestLeaseTakeover: two nodes share a database. An event one node claimed
// is not handed to the other while the claim's lease lasts, and is handed
// to it (Recovered) once the lease is over, as when the first node died
// mid-dispatch. Events are claimed by one node at a time.
func TestLeaseTakeover(t *testing.T) {
	url := pgtest.NewDatabase(t)
	clock := time.UnixMilli(1_800_000_000_000)
	a, b := openNode(t, url, "node-a", &clock), openNode(t, url, "node-b", &clock)
	ctx := context.Background()
	creds, err := a.Apps.CreateApp(ctx, kumo.AppCreate{})
	if err != nil {
		t.Fatal(err)
	}
	c := kumo.Caller{AppID: creds.AppID, Kind: kumo.Admin, ID: creds.ClientID}
	bucket := kumo.BucketRef{AppID: creds.AppID, Scope: kumo.AppScope, Name: "shared"}
	for i := 0; i < 3; i++ {
		if _, err := a.Objects.CreateObject(ctx, c, kumo.ObjectCreate{Bucket: bucket, Data: map[string]any{"i": i}}); err != nil {
			t.Fatal(err)
		}
	}
	claimedA, err := a.Outbox.ClaimEvents(ctx, 2)
	if err != nil || len(claimedA) != 2 {
		t.Fatalf("node A claimed %d events (%v), want 2", len(claimedA), err)
	}
	claimedB, err := b.Outbox.ClaimEvents(ctx, 10)
	if err != nil || len(claimedB) != 1 || claimedB[0].Seq == claimedA[0].Seq || claimedB[0].Seq == claimedA[1].Seq {
		t.Fatalf("node B claimed %+v (%v), want only the event A did not claim", claimedB, err)
	}
	if again, _ := b.Outbox.ClaimEvents(ctx, 10); len(again) != 0 {
		t.Fatalf("node B claimed %d events while the leases last", len(again))
	}

	clock = clock.Add(11 * time.Second) // A's lease is over: A died mid-dispatch
	taken, err := b.Outbox.ClaimEvents(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	// B's own claim (not completed) is over too; it gets all three.
	seqs := map[int64]bool{}
	for _, e := range taken {
		seqs[e.Seq] = true
		if !e.Recovered {
			t.Errorf("event %d taken over from a dead node is not marked Recovered", e.Seq)
		}
	}
	if !seqs[claimedA[0].Seq] || !seqs[claimedA[1].Seq] {
		t.Errorf("node B took over %v, want A's events %d and %d", seqs, claimedA[0].Seq, claimedA[1].Seq)
	}
	if err := b.Outbox.CompleteEvents(ctx, taken); err != nil {
		t.Fatal(err)
	}
}

// TestLeaseOutbox: a PostgreSQL store, which the nodes of a cluster may
// share, has the lease outbox, not the cursor outbox of one node.
func TestLeaseOutbox(t *testing.T) {
	clock := time.UnixMilli(1_800_000_000_000)
	db := openNode(t, pgtest.NewDatabase(t), "node-a", &clock)
	if _, ok := db.Outbox.(*sqlstore.LeaseOutbox); !ok {
		t.Fatalf("a PostgreSQL store's outbox is a %T, want a *sqlstore.LeaseOutbox", db.Outbox)
	}
}
