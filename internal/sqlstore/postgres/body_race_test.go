package postgres_test

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/sqlstore/postgres/pgtest"
)

// TestBodyWritesAcrossNodes: two nodes write one object's body at once
// (move it two ways, or move and delete it). The writes of one object run
// one after another whichever node serves them: exactly one move wins,
// and no object is left naming a body whose bytes are gone.
func TestBodyWritesAcrossNodes(t *testing.T) {
	url := pgtest.NewDatabase(t)
	clock := time.UnixMilli(1_800_000_000_000)
	a, b := openNode(t, url, "node-a", &clock), openNode(t, url, "node-b", &clock)
	ctx := context.Background()
	creds, err := a.Apps.CreateApp(ctx, kumo.AppCreate{})
	if err != nil {
		t.Fatal(err)
	}
	admin := kumo.Caller{AppID: creds.AppID, Kind: kumo.Admin, ID: creds.ClientID}
	bucket := kumo.BucketRef{AppID: creds.AppID, Scope: kumo.AppScope, Name: "files"}
	object := func() kumo.BodyRef {
		o, err := a.Objects.CreateObject(ctx, admin, kumo.ObjectCreate{Bucket: bucket, Data: map[string]any{}})
		if err != nil {
			t.Fatal(err)
		}
		return kumo.BodyRef{Bucket: bucket, ObjectID: o.ID}
	}
	// body reads ref's body: its bytes, or "" when it has none; a body
	// whose bytes are gone fails the test.
	body := func(ref kumo.BodyRef) string {
		r, err := a.Bodies.OpenBody(ctx, admin, ref, kumo.BodyGet{})
		if kumo.ErrorCode(err) == kumo.ErrBodyNotFound {
			return ""
		}
		if err != nil {
			t.Fatalf("open the body of %s: %v", ref.ObjectID, err)
		}
		defer r.Close()
		data, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("read the body of %s: %v", ref.ObjectID, err)
		}
		return string(data)
	}
	race := func(f, g func() error) (error, error) {
		var wg sync.WaitGroup
		var ef, eg error
		wg.Go(func() { ef = f() })
		wg.Go(func() { eg = g() })
		wg.Wait()
		return ef, eg
	}
	for i := 0; i < 25; i++ {
		src, x, y := object(), object(), object()
		if _, err := a.Bodies.PutBody(ctx, admin, kumo.BodyPut{Ref: src, Data: strings.NewReader("bytes"), Size: 5}); err != nil {
			t.Fatal(err)
		}
		// Two moves of one body.
		e1, e2 := race(func() error { return a.Bodies.MoveBody(ctx, admin, src, x) }, func() error { return b.Bodies.MoveBody(ctx, admin, src, y) })
		won := 0
		for _, e := range []error{e1, e2} {
			switch kumo.ErrorCode(e) {
			case "":
				won++
			case kumo.ErrBodyNotFound:
			default:
				t.Fatalf("a move: %v", e)
			}
		}
		if got := body(x) + body(y); won != 1 || got != "bytes" {
			t.Fatalf("round %d: %d moves won (%v, %v); targets hold %q, want one move and one body", i, won, e1, e2, got)
		}
		// A move and a delete of the moved body.
		from, to := x, object()
		if body(y) == "bytes" {
			from = y
		}
		e1, e2 = race(func() error { return a.Bodies.MoveBody(ctx, admin, from, to) }, func() error { return b.Bodies.DeleteBody(ctx, admin, from) })
		switch {
		case e1 == nil && kumo.ErrorCode(e2) == kumo.ErrBodyNotFound:
			if body(to) != "bytes" {
				t.Fatalf("round %d: the move won but the target has %q", i, body(to))
			}
		case e2 == nil && kumo.ErrorCode(e1) == kumo.ErrBodyNotFound:
			if body(to) != "" {
				t.Fatalf("round %d: the delete won but the target has %q", i, body(to))
			}
		default:
			t.Fatalf("round %d: move %v, delete %v; want one to win", i, e1, e2)
		}
		if body(from) != "" {
			t.Fatalf("round %d: the source still has a body", i)
		}
	}
}
