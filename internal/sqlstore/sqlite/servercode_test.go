package sqlite_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kumo-iot/kumo"
)

// TestServerCodeOtherNode checks that a change of the current version
// made on one node is seen on another once its CheckInterval has passed,
// and not served from the other node's cache forever: two stores over one
// database file, each with its own clock.
func TestServerCodeOtherNode(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "kumo.db")
	a := MustOpen(t, path)
	b := MustOpen(t, path)
	var ms atomic.Int64
	ms.Store(1_700_000_000_000)
	b.Now = func() time.Time { return time.UnixMilli(ms.Load()) }
	b.ServerCode.SetCheckInterval(2 * time.Second)

	creds, err := a.Apps.CreateApp(ctx, kumo.AppCreate{ID: "app1"})
	if err != nil {
		t.Fatal(err)
	}
	admin := kumo.Caller{AppID: creds.AppID, Kind: kumo.Admin, ID: creds.ClientID}
	v1, err := a.ServerCode.Deploy(ctx, admin, "function one(){}", "")
	if err != nil {
		t.Fatal(err)
	}
	v2, err := a.ServerCode.Deploy(ctx, admin, "function two(){}", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.ServerCode.SetCurrent(ctx, admin, v1.ID); err != nil {
		t.Fatal(err)
	}
	// b reads (and caches) v1 as current.
	if _, script, err := b.ServerCode.LoadVersion(ctx, "app1", kumo.CurrentVersion); err != nil || script != "function one(){}" {
		t.Fatalf("b: LoadVersion(current) = %q, %v", script, err)
	}
	if err := a.ServerCode.SetCurrent(ctx, admin, v2.ID); err != nil {
		t.Fatal(err)
	}
	// Within the interval b may still answer v1 (its clock has not moved);
	// once the interval has passed it reads the counter and sees v2.
	ms.Add((2 * time.Second).Milliseconds())
	if _, id, _, err := b.ServerCode.CurrentHookConfig(ctx, "app1"); err != nil || id != v2.ID {
		t.Errorf("b: CurrentHookConfig after the interval = %q, %v, want %s", id, err, v2.ID)
	}
	if _, script, err := b.ServerCode.LoadVersion(ctx, "app1", kumo.CurrentVersion); err != nil || script != "function two(){}" {
		t.Errorf("b: LoadVersion(current) after the interval = %q, %v", script, err)
	}
	// A version deleted on a is gone on b after the interval too.
	if err := a.ServerCode.DeleteVersion(ctx, admin, v2.ID); err != nil {
		t.Fatal(err)
	}
	ms.Add((2 * time.Second).Milliseconds())
	if _, _, err := b.ServerCode.LoadVersion(ctx, "app1", v2.ID); kumo.ErrorCode(err) != kumo.ErrServerCodeVersionNotFound {
		t.Errorf("b: LoadVersion of a version deleted on a = %v, want %s", err, kumo.ErrServerCodeVersionNotFound)
	}
}
