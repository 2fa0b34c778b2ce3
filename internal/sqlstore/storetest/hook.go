package storetest

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/kumo-iot/kumo"
)

// hookConfigs is a HookConfigs giving app, at version "v1", a hook on
// every event of every path (endpoint "h"); other apps have none.
type hookConfigs struct{ app string }

func (h hookConfigs) CurrentHookConfig(_ context.Context, appID string) (kumo.HookConfig, string, bool, error) {
	if appID != h.app {
		return kumo.HookConfig{}, "", false, nil
	}
	var cfg kumo.HookConfig
	for _, p := range []string{"kiicloud://users", "kiicloud://groups", "kiicloud://things", "kiicloud://installations",
		"kiicloud://buckets/b", "kiicloud://users/*/buckets/b", "kiicloud://groups/*/buckets/b", "kiicloud://things/*/buckets/b"} {
		for _, when := range kumo.HookEvents(p) {
			cfg.Triggers = append(cfg.Triggers, kumo.TriggerHook{Path: p, When: when, Endpoint: "h"})
		}
	}
	return cfg, "v1", true, nil
}

// hookRun is what a test expects of a queued hook run.
type hookRun struct {
	path, when string
	params     map[string]any
	actor      kumo.Principal
}

// hookRuns claims, completes and returns the queued hook runs.
func (f *fixture) hookRuns() []hookRun {
	f.t.Helper()
	var out []hookRun
	for _, j := range f.runJobs(func(kumo.ServerCodeJob) *kumo.TriggerServerCodeResult { return nil }) {
		if j.Trigger != kumo.RunHook || j.Version != "v1" || j.Endpoint != "h" || j.AppID != f.app.AppID || j.Attempts != 1 {
			f.t.Errorf("hook job = %+v", j)
		}
		var params map[string]any
		if err := json.Unmarshal(j.Params, &params); err != nil {
			f.t.Errorf("params %s: %v", j.Params, err)
		}
		out = append(out, hookRun{j.Path, j.When, params, j.Actor})
	}
	return out
}

// testHooks checks that every write of spec §4.2 queues its hooks' runs,
// with the params of §4.3 and the actor, in the write's transaction (a
// write that fails queues nothing), and that writes made by server code a
// hook or a schedule runs queue none.
func testHooks(t *testing.T, s suite) {
	f := newFixture(t, s)
	f.db.Hooks.Configs = hookConfigs{app: f.app.AppID}
	app := f.app.AppID
	alice, aliceC := f.mustUser("alice")
	bob, bobC := f.mustUser("bob")
	th, thC := f.mustThing("lamp")
	f.hookRuns()

	one := func(name string, want hookRun) {
		t.Helper()
		got := f.hookRuns()
		if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
			t.Errorf("%s: queued %+v\nwant one %+v", name, got, want)
		}
	}
	none := func(name string) {
		t.Helper()
		if got := f.hookRuns(); len(got) != 0 {
			t.Errorf("%s: queued %+v, want none", name, got)
		}
	}
	objectRun := func(when string, b kumo.BucketRef, id string, actor kumo.Principal) hookRun {
		scope, uri := map[string]any{"appID": app}, "kiicloud://"
		if b.Scope.Kind != kumo.ScopeApp {
			kind := map[kumo.ScopeKind]string{kumo.ScopeUser: "user", kumo.ScopeGroup: "group", kumo.ScopeThing: "thing"}[b.Scope.Kind]
			scope[kind+"ID"], uri = b.Scope.ID, uri+kind+"s/"+b.Scope.ID+"/"
		}
		return hookRun{kumo.BucketHookPath(b), when, map[string]any{"objectScope": scope, "bucketID": "b", "objectID": id,
			"uri": uri + "buckets/b/objects/" + id}, actor}
	}

	// Users.
	carol, _, err := f.db.Users.RegisterUser(f.ctx, f.anon, kumo.UserRegistration{LoginName: "carol", Password: "pw-carol"}, false)
	ok(f, "RegisterUser", err)
	userRun := func(when, id string, actor kumo.Principal) hookRun {
		return hookRun{"kiicloud://users", when, map[string]any{"userID": id, "uri": "kiicloud://users/" + id}, actor}
	}
	carolP := kumo.Principal{Kind: kumo.UserCaller, ID: carol.ID}
	one("a user registers", userRun("USER_CREATED", carol.ID, carolP))
	_, _, err = f.db.Users.RegisterUser(f.ctx, f.anon, kumo.UserRegistration{LoginName: "carol", Password: "pw-carol"}, false)
	wantCode(t, "register again", err, kumo.ErrUserAlreadyExists)
	none("a registration that failed")
	name := "Carol"
	carolC := kumo.Caller{AppID: app, Kind: kumo.UserCaller, ID: carol.ID}
	_, err = f.db.Users.UpdateUser(f.ctx, carolC, carol.ID, kumo.UserUpdate{DisplayName: &name})
	ok(f, "UpdateUser", err)
	one("a user updated", userRun("USER_UPDATED", carol.ID, carolP))
	ok(f, "ChangePassword", f.db.Users.ChangePassword(f.ctx, carolC, carol.ID, "pw-carol", "pw-carol2"))
	one("a password changed", userRun("USER_PASSWORD_CHANGED", carol.ID, carolP))
	wantCode(t, "a wrong password", f.db.Users.ChangePassword(f.ctx, carolC, carol.ID, "wrong", "pw-carol3"), kumo.ErrWrongPassword)
	none("a password change that failed")
	ok(f, "DeleteUser", f.db.Users.DeleteUser(f.ctx, f.admin, carol.ID))
	one("a user deleted", userRun("USER_DELETED", carol.ID, f.admin.Principal()))

	// Objects in every scope, bodies.
	for _, sc := range []struct {
		scope kumo.Scope
		c     kumo.Caller
	}{{kumo.AppScope, aliceC}, {kumo.Scope{Kind: kumo.ScopeUser, ID: alice.ID}, aliceC}, {thingScope(th.ID), thC}} {
		b := f.bucket(sc.scope, "b")
		actor := sc.c.Principal()
		o, err := f.db.Objects.CreateObject(f.ctx, sc.c, kumo.ObjectCreate{Bucket: b, Data: map[string]any{"n": 1}})
		ok(f, "CreateObject", err)
		one("an object created", objectRun("DATA_OBJECT_CREATED", b, o.ID, actor))
		_, _, err = f.db.Objects.ReplaceObject(f.ctx, sc.c, kumo.ObjectWrite{Bucket: b, ID: o.ID, Data: map[string]any{"n": 2}})
		ok(f, "ReplaceObject", err)
		one("an object replaced", objectRun("DATA_OBJECT_UPDATED", b, o.ID, actor))
		_, err = f.db.Objects.PatchObject(f.ctx, sc.c, kumo.ObjectWrite{Bucket: b, ID: o.ID, Data: map[string]any{"m": 3}})
		ok(f, "PatchObject", err)
		one("an object patched", objectRun("DATA_OBJECT_UPDATED", b, o.ID, actor))
		_, err = f.db.Objects.PatchObject(f.ctx, sc.c, kumo.ObjectWrite{Bucket: b, ID: o.ID, Data: map[string]any{"m": 4}, IfMatch: "1"})
		wantCode(t, "a patch of another version", err, kumo.ErrObjectVersionIsStale)
		none("a patch that failed")
		_, _, err = f.db.Objects.ReplaceObject(f.ctx, sc.c, kumo.ObjectWrite{Bucket: b, ID: "made-by-put", Data: map[string]any{}})
		ok(f, "ReplaceObject", err)
		one("an object created by PUT", objectRun("DATA_OBJECT_CREATED", b, "made-by-put", actor))
		ref := kumo.BodyRef{Bucket: b, ObjectID: o.ID}
		f.mustPutBody(sc.c, ref, "text/plain", []byte("x"))
		one("a body put", objectRun("DATA_OBJECT_BODY_UPDATED", b, o.ID, actor))
		_, err = f.db.Bodies.PublishBody(f.ctx, sc.c, kumo.BodyPublish{Ref: ref})
		ok(f, "PublishBody", err)
		one("a body published", objectRun("DATA_OBJECT_BODY_PUBLISHED", b, o.ID, actor))
		ok(f, "DeleteBody", f.db.Bodies.DeleteBody(f.ctx, sc.c, ref))
		one("a body deleted", objectRun("DATA_OBJECT_BODY_DELETED", b, o.ID, actor))
		ok(f, "DeleteObject", f.db.Objects.DeleteObject(f.ctx, sc.c, b, o.ID, ""))
		one("an object deleted", objectRun("DATA_OBJECT_DELETED", b, o.ID, actor))
		wantCode(t, "delete again", f.db.Objects.DeleteObject(f.ctx, sc.c, b, o.ID, ""), kumo.ErrObjectNotFound)
		none("a delete that failed")
		f.mustObject(sc.c, f.bucket(sc.scope, "other"), nil)
		none("an object of a bucket without hooks")
	}

	// Groups, and their bucket.
	g := f.mustGroup(aliceC, kumo.GroupCreation{Name: "friends"})
	groupRun := func(when string, members []any) hookRun {
		p := map[string]any{"groupID": g.ID, "uri": "kiicloud://groups/" + g.ID}
		if members != nil {
			p["members"] = members
		}
		return hookRun{"kiicloud://groups", when, p, aliceC.Principal()}
	}
	one("a group created", groupRun("GROUP_CREATED", nil))
	ok(f, "AddGroupMember", f.db.Groups.AddGroupMember(f.ctx, aliceC, g.ID, bob.ID))
	one("a member added", groupRun("GROUP_MEMBERS_ADDED", []any{bob.ID}))
	ok(f, "AddGroupMember", f.db.Groups.AddGroupMember(f.ctx, aliceC, g.ID, bob.ID))
	none("a member added again")
	gb := f.bucket(groupScope(g.ID), "b")
	o := f.mustObject(bobC, gb, nil)
	one("a group's object created", objectRun("DATA_OBJECT_CREATED", gb, o.ID, bobC.Principal()))
	ok(f, "RemoveGroupMember", f.db.Groups.RemoveGroupMember(f.ctx, aliceC, g.ID, bob.ID))
	one("a member removed", groupRun("GROUP_MEMBERS_REMOVED", []any{bob.ID}))
	ok(f, "DeleteGroup", f.db.Groups.DeleteGroup(f.ctx, aliceC, g.ID))
	one("a group deleted", groupRun("GROUP_DELETED", nil))

	// Things.
	thingRun := func(when, id, vid string, actor kumo.Principal) hookRun {
		return hookRun{"kiicloud://things", when, map[string]any{"thingID": id, "vendorThingID": vid, "uri": "kiicloud://things/" + id}, actor}
	}
	lamp2, _, err := f.db.Things.RegisterThing(f.ctx, aliceC, kumo.ThingRegistration{VendorThingID: "lamp2", Password: "pw", Fields: map[string]any{}}, false)
	ok(f, "RegisterThing", err)
	one("a thing registered", thingRun("THING_CREATED", lamp2.ID, "lamp2", aliceC.Principal()))
	_, _, err = f.db.Things.RegisterThing(f.ctx, aliceC, kumo.ThingRegistration{VendorThingID: "lamp2", Password: "pw", Fields: map[string]any{}}, false)
	wantCode(t, "register again", err, kumo.ErrThingAlreadyExists)
	none("a registration that failed")
	ok(f, "UpdateThing", f.db.Things.UpdateThing(f.ctx, f.admin, lamp2.ID, map[string]any{"_thingType": "LED"}))
	one("a thing updated", thingRun("THING_UPDATED", lamp2.ID, "lamp2", f.admin.Principal()))
	ok(f, "SetThingDisabled", f.db.Things.SetThingDisabled(f.ctx, f.admin, lamp2.ID, true))
	one("a thing disabled", thingRun("THING_DISABLED", lamp2.ID, "lamp2", f.admin.Principal()))
	ok(f, "SetThingDisabled", f.db.Things.SetThingDisabled(f.ctx, f.admin, lamp2.ID, false))
	one("a thing enabled", thingRun("THING_ENABLED", lamp2.ID, "lamp2", f.admin.Principal()))

	// Installations.
	in := f.mustInstall(thC, kumo.InstallationCreate{DeviceType: kumo.DeviceMQTT})
	installationRun := func(when string) hookRun {
		return hookRun{"kiicloud://installations", when, map[string]any{"installationID": in.ID, "deviceType": "MQTT", "thingID": th.ID,
			"uri": "kiicloud://installations/" + in.ID}, thC.Principal()}
	}
	one("an installation created", installationRun("INSTALLATION_CREATED"))
	f.mustInstall(thC, kumo.InstallationCreate{DeviceType: kumo.DeviceMQTT})
	none("the MQTT installation asked for again")
	ok(f, "DeleteInstallation", f.db.Installations.DeleteInstallation(f.ctx, thC, in.ID))
	one("an installation deleted", installationRun("INSTALLATION_DELETED"))

	ok(f, "DeleteThing", f.db.Things.DeleteThing(f.ctx, f.admin, lamp2.ID))
	one("a thing deleted", thingRun("THING_DELETED", lamp2.ID, "lamp2", f.admin.Principal()))

	// Server code run by a hook or a schedule fires no hooks; run by hand
	// or by a Thing-IF trigger, it does.
	b := f.bucket(kumo.AppScope, "b")
	for _, tr := range []kumo.ServerCodeTrigger{kumo.RunHook, kumo.RunSchedule} {
		_, err := f.db.Objects.CreateObject(kumo.WithServerCode(f.ctx, tr), aliceC, kumo.ObjectCreate{Bucket: b, Data: map[string]any{}})
		ok(f, "CreateObject", err)
		none("an object created by server code run by " + string(tr))
	}
	for _, tr := range []kumo.ServerCodeTrigger{kumo.RunManual, kumo.RunThingIF} {
		o, err := f.db.Objects.CreateObject(kumo.WithServerCode(f.ctx, tr), aliceC, kumo.ObjectCreate{Bucket: b, Data: map[string]any{}})
		ok(f, "CreateObject", err)
		one("an object created by server code run by "+string(tr), objectRun("DATA_OBJECT_CREATED", b, o.ID, aliceC.Principal()))
	}

	// The jobs are committed with the write: the worker is told then.
	for len(f.db.Hooks.Notify()) > 0 {
		<-f.db.Hooks.Notify()
	}
	f.mustObject(aliceC, b, nil)
	select {
	case <-f.db.Hooks.Notify():
	default:
		t.Error("a write that queued a hook's run did not notify")
	}
	f.hookRuns()

	// An app without hooks: nothing is queued.
	other := f.mustApp(kumo.AppCreate{ID: "app2", Key: "key2", Name: "App Two"})
	otherC := kumo.Caller{AppID: other.AppID, Kind: kumo.Admin, ID: other.ClientID}
	_, err = f.db.Objects.CreateObject(f.ctx, otherC, kumo.ObjectCreate{Bucket: kumo.BucketRef{AppID: other.AppID, Name: "b"}})
	ok(f, "CreateObject", err)
	if n, err := f.db.Hooks.Pending(f.ctx); err != nil || n != 0 {
		t.Errorf("an app without hooks queued %d runs, %v", n, err)
	}
}

// testHooksOfCurrentVersion checks that the hooks run are those of the
// app's current version (st.ServerCode): none before a version with a
// hook configuration is current, that version's after (the version
// recorded in the job), none once the current version is cleared.
func testHooksOfCurrentVersion(t *testing.T, s suite) {
	f := newFixture(t, s)
	b := f.bucket(kumo.AppScope, "b")
	count := func() int {
		t.Helper()
		n := 0
		for _, j := range f.runJobs(func(kumo.ServerCodeJob) *kumo.TriggerServerCodeResult { return nil }) {
			if j.Endpoint != "created" {
				t.Errorf("job %+v", j)
			}
			n++
		}
		return n
	}
	f.mustObject(f.admin, b, nil)
	if n := count(); n != 0 {
		t.Errorf("an app without server code queued %d runs", n)
	}
	v1, err := f.db.ServerCode.Deploy(f.ctx, f.admin, "function created(params, context) {}", "")
	ok(f, "Deploy", err)
	cfg, err := kumo.ParseHookConfig([]byte(`{"kiicloud://buckets/b":[{"when":"DATA_OBJECT_CREATED","what":"EXECUTE_SERVER_CODE","endpoint":"created"}]}`))
	ok(f, "ParseHookConfig", err)
	ok(f, "PutHookConfig", f.db.ServerCode.PutHookConfig(f.ctx, f.admin, v1.ID, cfg))
	f.mustObject(f.admin, b, nil)
	if n := count(); n != 0 {
		t.Errorf("hooks of a version not current queued %d runs", n)
	}
	ok(f, "SetCurrent", f.db.ServerCode.SetCurrent(f.ctx, f.admin, v1.ID))
	f.mustObject(f.admin, b, nil)
	jobs := f.runJobs(func(kumo.ServerCodeJob) *kumo.TriggerServerCodeResult { return nil })
	if len(jobs) != 1 || jobs[0].Version != v1.ID || jobs[0].Endpoint != "created" {
		t.Errorf("jobs of the current version's hook = %+v", jobs)
	}
	ok(f, "ClearCurrent", f.db.ServerCode.ClearCurrent(f.ctx, f.admin))
	f.mustObject(f.admin, b, nil)
	if n := count(); n != 0 {
		t.Errorf("without a current version, %d runs were queued", n)
	}
}
