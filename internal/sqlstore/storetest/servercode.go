package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/kumo-iot/kumo"
)

// mustHookConfig parses a hook configuration of the test.
func mustHookConfig(t testing.TB, raw string) kumo.HookConfig {
	t.Helper()
	cfg, err := kumo.ParseHookConfig([]byte(raw))
	if err != nil {
		t.Fatalf("ParseHookConfig(%s): %v", raw, err)
	}
	return cfg
}

const (
	hooksOnUsers = `{"kiicloud://users":[{"when":"USER_CREATED","what":"EXECUTE_SERVER_CODE","endpoint":"onUser"}]}`
	hooksOnTimer = `{"kiicloud://scheduler":{"tick":{"cron":"*/5 * * * *","endpoint":"tick","what":"EXECUTE_SERVER_CODE"}}}`
)

// testServerCode checks ServerCodeService: versions, the current pointer,
// hook configurations, the admin-only rule and the caches this node
// invalidates at once.
func testServerCode(t *testing.T, s suite) {
	f := newFixture(t, s)
	sc := f.db.ServerCode
	ctx := f.ctx

	// Only the admin manages server code.
	_, user := f.mustUser("scuser")
	cfgUsers := mustHookConfig(t, hooksOnUsers)
	for name, call := range map[string]func(c kumo.Caller) error{
		"Deploy":           func(c kumo.Caller) error { _, err := sc.Deploy(ctx, c, "function f(){}", ""); return err },
		"Versions":         func(c kumo.Caller) error { _, err := sc.Versions(ctx, c); return err },
		"Script":           func(c kumo.Caller) error { _, err := sc.Script(ctx, c, "x"); return err },
		"DeleteVersion":    func(c kumo.Caller) error { return sc.DeleteVersion(ctx, c, "x") },
		"SetCurrent":       func(c kumo.Caller) error { return sc.SetCurrent(ctx, c, "x") },
		"Current":          func(c kumo.Caller) error { _, err := sc.Current(ctx, c); return err },
		"ClearCurrent":     func(c kumo.Caller) error { return sc.ClearCurrent(ctx, c) },
		"PutHookConfig":    func(c kumo.Caller) error { return sc.PutHookConfig(ctx, c, "x", cfgUsers) },
		"HookConfig":       func(c kumo.Caller) error { _, err := sc.HookConfig(ctx, c, "x"); return err },
		"DeleteHookConfig": func(c kumo.Caller) error { return sc.DeleteHookConfig(ctx, c, "x") },
	} {
		for _, c := range []kumo.Caller{user, f.anon} {
			err := call(c)
			if wantCode(t, name+" by "+string(c.Kind.String()), err, kumo.ErrUnauthorized) {
				wantFields(t, name, err, map[string]any{"authenticatedAppID": f.app.AppID})
			}
		}
	}

	// Deploy: 25 lower-case alphanumerics, environment "0" by default.
	_, err := sc.Deploy(ctx, f.admin, "x", "8")
	wantCode(t, "Deploy with environment 8", err, kumo.ErrInvalidInputData)
	v1, err := sc.Deploy(ctx, f.admin, "function a(p){ return 1; }\n", "")
	if err != nil {
		t.Fatalf("Deploy: %v", err)
	}
	wantShape(t, "version ID", v1.ID, 25, "abcdefghijklmnopqrstuvwxyz0123456789")
	if v1.EnvironmentVersion != "0" || v1.CreatedAt != epoch || v1.ModifiedAt != epoch || v1.Current {
		t.Errorf("Deploy = %+v, want environment 0, created and modified at %d, not current", v1, epoch)
	}
	f.clock.Advance(time.Second)
	v2, err := sc.Deploy(ctx, f.admin, "function b(p){ return 2; }", "6")
	if err != nil {
		t.Fatalf("Deploy: %v", err)
	}
	if v2.EnvironmentVersion != "6" || v2.ID == v1.ID {
		t.Errorf("second Deploy = %+v (first %s), want environment 6 and a new ID", v2, v1.ID)
	}

	// No current version yet.
	_, err = sc.Current(ctx, f.admin)
	wantCode(t, "Current with none", err, kumo.ErrServerCodeVersionNotFound)
	_, _, err = sc.LoadVersion(ctx, f.app.AppID, kumo.CurrentVersion)
	wantCode(t, "LoadVersion(current) with none", err, kumo.ErrServerCodeVersionNotFound)
	if _, id, ok, err := sc.CurrentHookConfig(ctx, f.app.AppID); err != nil || ok || id != "" {
		t.Errorf("CurrentHookConfig with none = %q, %v, %v", id, ok, err)
	}
	wantCode(t, "SetCurrent(unknown)", sc.SetCurrent(ctx, f.admin, "nosuchversion"), kumo.ErrServerCodeVersionNotFound)

	// The script comes back as uploaded; versions are listed oldest first.
	if script, err := sc.Script(ctx, f.admin, v1.ID); err != nil || script != "function a(p){ return 1; }\n" {
		t.Errorf("Script = %q, %v", script, err)
	}
	_, err = sc.Script(ctx, f.admin, "nosuchversion")
	wantCode(t, "Script(unknown)", err, kumo.ErrServerCodeVersionNotFound)

	if err := sc.SetCurrent(ctx, f.admin, v1.ID); err != nil {
		t.Fatalf("SetCurrent: %v", err)
	}
	if id, err := sc.Current(ctx, f.admin); err != nil || id != v1.ID {
		t.Errorf("Current = %q, %v, want %s", id, err, v1.ID)
	}
	v, script, err := sc.LoadVersion(ctx, f.app.AppID, kumo.CurrentVersion)
	if err != nil || v.ID != v1.ID || !v.Current || script != "function a(p){ return 1; }\n" || v.EnvironmentVersion != "0" {
		t.Errorf("LoadVersion(current) = %+v, %q, %v", v, script, err)
	}
	// A second SetCurrent moves the pointer: seen at once, the cache too.
	if err := sc.SetCurrent(ctx, f.admin, v2.ID); err != nil {
		t.Fatalf("SetCurrent: %v", err)
	}
	v, script, err = sc.LoadVersion(ctx, f.app.AppID, kumo.CurrentVersion)
	if err != nil || v.ID != v2.ID || !v.Current || script != "function b(p){ return 2; }" || v.EnvironmentVersion != "6" {
		t.Errorf("LoadVersion(current) after a SetCurrent = %+v, %q, %v", v, script, err)
	}
	if v, _, err := sc.LoadVersion(ctx, f.app.AppID, v1.ID); err != nil || v.Current || v.CreatedAt != epoch {
		t.Errorf("LoadVersion(v1) = %+v, %v, want it not current", v, err)
	}
	list, err := sc.Versions(ctx, f.admin)
	want := []kumo.ServerCodeVersion{v1, v2}
	want[1].Current = true
	if err != nil || !reflect.DeepEqual(list, want) {
		t.Errorf("Versions = %+v, %v, want %+v", list, err, want)
	}

	// Hook configurations: "current" is an alias; the current one is
	// cached and a change is seen at once.
	_, err = sc.HookConfig(ctx, f.admin, v2.ID)
	wantCode(t, "HookConfig with none", err, kumo.ErrHookConfigNotFound)
	if _, id, ok, err := sc.CurrentHookConfig(ctx, f.app.AppID); err != nil || ok || id != v2.ID {
		t.Errorf("CurrentHookConfig without a configuration = %q, %v, %v", id, ok, err)
	}
	wantCode(t, "PutHookConfig(unknown)", sc.PutHookConfig(ctx, f.admin, "nosuchversion", cfgUsers), kumo.ErrServerCodeVersionNotFound)
	if err := sc.PutHookConfig(ctx, f.admin, kumo.CurrentVersion, cfgUsers); err != nil {
		t.Fatalf("PutHookConfig(current): %v", err)
	}
	cfg, id, ok, err := sc.CurrentHookConfig(ctx, f.app.AppID)
	if err != nil || !ok || id != v2.ID || !reflect.DeepEqual(cfg.Triggers, cfgUsers.Triggers) {
		t.Errorf("CurrentHookConfig = %+v, %q, %v, %v", cfg, id, ok, err)
	}
	if got, err := sc.HookConfig(ctx, f.admin, v2.ID); err != nil || string(got.Raw) != hooksOnUsers {
		t.Errorf("HookConfig = %s, %v", got.Raw, err)
	}
	if apps, err := sc.AppsWithSchedules(ctx); err != nil || len(apps) != 0 {
		t.Errorf("AppsWithSchedules without schedules = %v, %v", apps, err)
	}
	// A second PUT replaces the configuration.
	if err := sc.PutHookConfig(ctx, f.admin, v2.ID, mustHookConfig(t, hooksOnTimer)); err != nil {
		t.Fatalf("PutHookConfig: %v", err)
	}
	cfg, _, ok, err = sc.CurrentHookConfig(ctx, f.app.AppID)
	if err != nil || !ok || len(cfg.Triggers) != 0 || len(cfg.Schedules) != 1 || cfg.Schedules[0].Name != "tick" {
		t.Errorf("CurrentHookConfig after a second PUT = %+v, %v, %v", cfg, ok, err)
	}
	if apps, err := sc.AppsWithSchedules(ctx); err != nil || !reflect.DeepEqual(apps, []string{f.app.AppID}) {
		t.Errorf("AppsWithSchedules = %v, %v, want [%s]", apps, err, f.app.AppID)
	}
	// A schedule on a version that is not current does not count.
	if err := sc.PutHookConfig(ctx, f.admin, v1.ID, mustHookConfig(t, hooksOnTimer)); err != nil {
		t.Fatalf("PutHookConfig(v1): %v", err)
	}
	if err := sc.ClearCurrent(ctx, f.admin); err != nil {
		t.Fatalf("ClearCurrent: %v", err)
	}
	if apps, err := sc.AppsWithSchedules(ctx); err != nil || len(apps) != 0 {
		t.Errorf("AppsWithSchedules with no current version = %v, %v", apps, err)
	}
	if _, id, ok, err := sc.CurrentHookConfig(ctx, f.app.AppID); err != nil || ok || id != "" {
		t.Errorf("CurrentHookConfig after ClearCurrent = %q, %v, %v", id, ok, err)
	}
	_, err = sc.Current(ctx, f.admin)
	wantCode(t, "Current after ClearCurrent", err, kumo.ErrServerCodeVersionNotFound)
	_, err = sc.HookConfig(ctx, f.admin, kumo.CurrentVersion)
	wantCode(t, "HookConfig(current) with none", err, kumo.ErrServerCodeVersionNotFound)

	// DeleteHookConfig: 404 when there is none.
	if err := sc.SetCurrent(ctx, f.admin, v2.ID); err != nil {
		t.Fatalf("SetCurrent: %v", err)
	}
	if _, _, ok, _ := sc.CurrentHookConfig(ctx, f.app.AppID); !ok {
		t.Error("CurrentHookConfig after SetCurrent(v2): no configuration")
	}
	if err := sc.DeleteHookConfig(ctx, f.admin, kumo.CurrentVersion); err != nil {
		t.Fatalf("DeleteHookConfig(current): %v", err)
	}
	if _, id, ok, err := sc.CurrentHookConfig(ctx, f.app.AppID); err != nil || ok || id != v2.ID {
		t.Errorf("CurrentHookConfig after DeleteHookConfig = %q, %v, %v", id, ok, err)
	}
	wantCode(t, "DeleteHookConfig twice", sc.DeleteHookConfig(ctx, f.admin, v2.ID), kumo.ErrHookConfigNotFound)

	// Deleting the current version leaves none current, takes its hook
	// configuration, and LoadVersion (cached before) no longer finds it.
	if err := sc.PutHookConfig(ctx, f.admin, v2.ID, cfgUsers); err != nil {
		t.Fatalf("PutHookConfig: %v", err)
	}
	if err := sc.DeleteVersion(ctx, f.admin, v2.ID); err != nil {
		t.Fatalf("DeleteVersion: %v", err)
	}
	_, _, err = sc.LoadVersion(ctx, f.app.AppID, v2.ID)
	wantCode(t, "LoadVersion of a deleted version", err, kumo.ErrServerCodeVersionNotFound)
	_, err = sc.Current(ctx, f.admin)
	wantCode(t, "Current after deleting it", err, kumo.ErrServerCodeVersionNotFound)
	_, err = sc.HookConfig(ctx, f.admin, v2.ID)
	wantCode(t, "HookConfig of a deleted version", err, kumo.ErrHookConfigNotFound)
	wantCode(t, "DeleteHookConfig of a deleted version", sc.DeleteHookConfig(ctx, f.admin, v2.ID), kumo.ErrHookConfigNotFound)
	wantCode(t, "DeleteVersion twice", sc.DeleteVersion(ctx, f.admin, v2.ID), kumo.ErrServerCodeVersionNotFound)
	if list, err := sc.Versions(ctx, f.admin); err != nil || len(list) != 1 || list[0].ID != v1.ID || list[0].Current {
		t.Errorf("Versions after a delete = %+v, %v", list, err)
	}

	// Another app sees none of it.
	other := f.mustApp(kumo.AppCreate{ID: "app2", Key: "key2"})
	admin2 := kumo.Caller{AppID: other.AppID, Kind: kumo.Admin, ID: other.ClientID}
	if list, err := sc.Versions(ctx, admin2); err != nil || len(list) != 0 {
		t.Errorf("Versions of another app = %+v, %v", list, err)
	}
	_, _, err = sc.LoadVersion(ctx, other.AppID, v1.ID)
	wantCode(t, "LoadVersion of another app's version", err, kumo.ErrServerCodeVersionNotFound)

	// Everything survives a restart.
	if err := sc.SetCurrent(ctx, f.admin, v1.ID); err != nil {
		t.Fatalf("SetCurrent: %v", err)
	}
	f.reopen()
	cfg, id, ok, err = f.db.ServerCode.CurrentHookConfig(ctx, f.app.AppID)
	if err != nil || !ok || id != v1.ID || len(cfg.Schedules) != 1 {
		t.Errorf("CurrentHookConfig after a restart = %+v, %q, %v, %v", cfg, id, ok, err)
	}
}
