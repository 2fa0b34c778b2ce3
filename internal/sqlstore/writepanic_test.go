package sqlstore_test

import (
	"context"
	"sync"
	"testing"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/sqlstore"
)

// TestWritePanicFailsThatWriteOnly checks that a write whose function
// panics fails alone, alone or batched with others, and that the writer
// goes on: a bug in one write must not take the server down.
func TestWritePanicFailsThatWriteOnly(t *testing.T) {
	st := newSQLiteDB(t).Store
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				errs[i] = sqlstore.WriteTx(st.DB, ctx, func(*sqlstore.Tx) error {
					var m map[string]any
					m["boom"] = 1 // a nil map: panics
					return nil
				})
				return
			}
			_, errs[i] = st.Apps.CreateApp(ctx, kumo.AppCreate{})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if i%2 == 0 && err == nil {
			t.Errorf("write %d panicked and succeeded", i)
		}
		if i%2 == 1 && err != nil {
			t.Errorf("write %d beside a panicking one: %v", i, err)
		}
	}
	if _, err := st.Apps.CreateApp(ctx, kumo.AppCreate{}); err != nil {
		t.Fatalf("the writer after a panic: %v", err)
	}
}

// TestUpdateThingWithoutFields checks that a thing registered with no
// fields at all (stored as JSON null) takes an update (it panicked the
// writer: a nil map).
func TestUpdateThingWithoutFields(t *testing.T) {
	st := newSQLiteDB(t).Store
	ctx := context.Background()
	app, err := st.Apps.CreateApp(ctx, kumo.AppCreate{})
	if err != nil {
		t.Fatal(err)
	}
	admin := kumo.Caller{AppID: app.AppID, Kind: kumo.Admin, ID: "admin"}
	th, _, err := st.Things.RegisterThing(ctx, admin, kumo.ThingRegistration{VendorThingID: "nofields", Password: "pass-1234"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Things.UpdateThing(ctx, admin, th.ID, map[string]any{"_firmwareVersion": "2"}); err != nil {
		t.Fatalf("update: %v", err)
	}
	got, err := st.Things.FindThing(ctx, admin, th.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Fields["_firmwareVersion"] != "2" {
		t.Errorf("fields after the update: %v", got.Fields)
	}
}
