package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/kumo-iot/kumo"
)

// testDevLogs checks the developer log: records appended with generated
// IDs and times, read back filtered (level at least, user, time, after a
// sequence number, the newest), and pruned by age and per app.
func testDevLogs(t *testing.T, s suite) {
	f := newFixture(t, s)
	f.mustApp(kumo.AppCreate{ID: "app2", Key: "key2", Name: "App Two"})
	logs := []kumo.DevLog{
		{AppID: "app1", Key: "servercode.log", Level: kumo.DevLogDebug, Description: "d1", Fields: map[string]any{"entry-name": "main"}},
		{AppID: "app1", Key: "servercode.invoke", Level: kumo.DevLogInfo, Description: "i1", UserID: "u1"},
		{AppID: "app1", Key: "servercode.log", Level: kumo.DevLogError, Description: "e1", UserID: "u1"},
		{AppID: "app2", Key: "servercode.log", Description: "other app"},
		{AppID: "app1", ID: "given", Key: "servercode.log", Level: kumo.DevLogWarn, Description: "w1", Time: epoch - 1000},
	}
	if err := f.db.DevLogs.AppendDevLogs(f.ctx, logs); err != nil {
		t.Fatal(err)
	}
	descs := func(es []kumo.DevLogEntry) string {
		out := ""
		for _, e := range es {
			out += e.Description + " "
		}
		return out
	}
	for _, tt := range []struct {
		name string
		app  string
		f    kumo.DevLogFilter
		want string
	}{
		{"all", "app1", kumo.DevLogFilter{}, "d1 i1 e1 w1 "},
		{"other app", "app2", kumo.DevLogFilter{}, "other app "},
		{"level WARN", "app1", kumo.DevLogFilter{Level: kumo.DevLogWarn}, "e1 w1 "},
		{"level INFO", "app1", kumo.DevLogFilter{Level: kumo.DevLogInfo}, "i1 e1 w1 "},
		{"user", "app1", kumo.DevLogFilter{UserID: "u1"}, "i1 e1 "},
		{"from", "app1", kumo.DevLogFilter{From: epoch}, "d1 i1 e1 "},
		{"to", "app1", kumo.DevLogFilter{To: epoch - 1}, "w1 "},
		{"limit", "app1", kumo.DevLogFilter{Limit: 2}, "d1 i1 "},
		{"latest", "app1", kumo.DevLogFilter{Limit: 2, Latest: true}, "e1 w1 "},
	} {
		got, err := f.db.DevLogs.DevLogs(f.ctx, tt.app, tt.f)
		if err != nil {
			t.Fatal(err)
		}
		if descs(got) != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, descs(got), tt.want)
		}
	}
	all, err := f.db.DevLogs.DevLogs(f.ctx, "app1", kumo.DevLogFilter{})
	if err != nil {
		t.Fatal(err)
	}
	first := all[0]
	if first.ID == "" || first.Time != epoch || first.AppID != "app1" || first.Fields["entry-name"] != "main" {
		t.Errorf("first record = %+v, want a generated ID, the store's time and its fields", first)
	}
	if all[3].ID != "given" || all[3].Time != epoch-1000 {
		t.Errorf("last record = %+v, want its own ID and time", all[3])
	}
	after, err := f.db.DevLogs.DevLogs(f.ctx, "app1", kumo.DevLogFilter{AfterSeq: all[1].Seq})
	if err != nil {
		t.Fatal(err)
	}
	if descs(after) != "e1 w1 " {
		t.Errorf("after the second: got %q", descs(after))
	}

	// Pruning: by age (w1 is older), then to 2 records per app.
	n, err := f.db.DevLogs.PruneDevLogs(f.ctx, epoch, 0)
	if err != nil || n != 1 {
		t.Fatalf("PruneDevLogs by age = %d, %v; want 1", n, err)
	}
	more := make([]kumo.DevLog, 5)
	for i := range more {
		more[i] = kumo.DevLog{AppID: "app1", Key: "servercode.log", Description: fmt.Sprint("m", i)}
	}
	if err := f.db.DevLogs.AppendDevLogs(f.ctx, more); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Minute)
	n, err = f.db.DevLogs.PruneDevLogs(f.ctx, epoch-1, 2)
	if err != nil || n != 6 {
		t.Fatalf("PruneDevLogs per app = %d, %v; want 6 (app1 had 8)", n, err)
	}
	for app, want := range map[string]string{"app1": "m3 m4 ", "app2": "other app "} {
		got, err := f.db.DevLogs.DevLogs(f.ctx, app, kumo.DevLogFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if descs(got) != want {
			t.Errorf("%s after pruning: got %q, want %q", app, descs(got), want)
		}
	}
}
