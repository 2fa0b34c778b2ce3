package storetest

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kumo-iot/kumo"
)

// triggerBody parses a trigger body for thing thingID.
func (f *fixture) triggerBody(thingID, body string) kumo.Trigger {
	f.t.Helper()
	d := json.NewDecoder(strings.NewReader(body))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		f.t.Fatal(err)
	}
	tr, err := kumo.ParseTrigger(thingID, m, 0)
	if err != nil {
		f.t.Fatalf("ParseTrigger(%s): %v", body, err)
	}
	return tr
}

// ownedThing registers a thing owned by user u.
func (f *fixture) ownedThing(vid string, u kumo.User) kumo.Thing {
	f.t.Helper()
	th, _ := f.mustThing(vid)
	if err := f.db.Things.AddThingOwner(f.ctx, f.admin, th.ID, kumo.OwnershipRequest{Owner: kumo.ThingOwner{Kind: kumo.OwnerUser, ID: u.ID}, Legacy: true}); err != nil {
		f.t.Fatal(err)
	}
	return th
}

// testTriggers checks kumo.TriggerService: the owner and the admin
// create, read, patch, enable, disable, list and delete a thing's
// triggers; strangers and the thing's other callers may not; bad
// triggers are WRONG_TRIGGER; a thing's triggers go with it.
func testTriggers(t *testing.T, s suite) {
	f := newFixture(t, s)
	alice, aliceC := f.mustUser("alice")
	_, bobC := f.mustUser("bob")
	th := f.ownedThing("lamp", alice)
	other := f.ownedThing("fan", alice)
	_, thingC := f.mustThing("stranger-thing")
	cmd := `"command":{"issuer":"user:` + alice.ID + `","actions":[{"AC":[{"turnPower":true}]}]}`
	state := f.triggerBody(th.ID, `{"predicate":{"eventSource":"STATES","triggersWhen":"CONDITION_FALSE_TO_TRUE","condition":{"type":"range","alias":"AC","field":"temp","lowerLimit":30}},"triggersWhat":"COMMAND",`+cmd+`,"title":"cool down","metadata":{"k":"v"}}`)

	// Who may create.
	for _, c := range []kumo.Caller{bobC, thingC, f.anon} {
		_, err := f.db.Triggers.CreateTrigger(f.ctx, c, state)
		wantCode(t, "CreateTrigger by "+c.ID, err, kumo.ErrUnauthorized)
	}
	_, err := f.db.Triggers.CreateTrigger(f.ctx, aliceC, f.triggerBody("th.missing", `{"predicate":{"eventSource":"SCHEDULE","schedule":"* * * * *"},`+cmd+`}`))
	wantCode(t, "CreateTrigger of a missing thing", err, kumo.ErrThingNotFound)
	_, err = f.db.Triggers.CreateTrigger(f.ctx, aliceC, f.triggerBody(th.ID, `{"predicate":{"eventSource":"SCHEDULE","schedule":"* * * * *"},"command":{"issuer":"user:someone","actions":[{"a":[{"on":true}]}]}}`))
	wantCode(t, "CreateTrigger with an issuer who is no owner", err, kumo.ErrWrongTrigger)
	_, err = f.db.Triggers.CreateTrigger(f.ctx, aliceC, f.triggerBody(th.ID, `{"predicate":{"eventSource":"SCHEDULE_ONCE","scheduleAt":1000},`+cmd+`}`))
	wantCode(t, "CreateTrigger of a past SCHEDULE_ONCE", err, kumo.ErrWrongTrigger)

	created, err := f.db.Triggers.CreateTrigger(f.ctx, aliceC, state)
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.db.Triggers.Trigger(f.ctx, aliceC, th.ID, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != created.ID || got.Disabled || got.Title != "cool down" || got.Metadata["k"] != "v" ||
		got.Predicate.Condition == nil || got.Predicate.Condition.Alias != "AC" || got.Command["target"] != "thing:"+th.ID {
		t.Errorf("Trigger = %+v", got)
	}
	_, err = f.db.Triggers.Trigger(f.ctx, bobC, th.ID, created.ID)
	wantCode(t, "Trigger by a stranger", err, kumo.ErrUnauthorized)
	_, err = f.db.Triggers.Trigger(f.ctx, aliceC, other.ID, created.ID)
	wantCode(t, "Trigger of another thing", err, kumo.ErrTriggerNotFound)
	_, err = f.db.Triggers.Trigger(f.ctx, f.admin, th.ID, "nope")
	wantCode(t, "a missing trigger", err, kumo.ErrTriggerNotFound)

	// A command to another thing the caller owns.
	cross, err := f.db.Triggers.CreateTrigger(f.ctx, aliceC, f.triggerBody(th.ID, `{"predicate":{"eventSource":"SCHEDULE","schedule":"0 12 1 * *"},"command":{"target":"THING:`+other.ID+`","issuer":"user:`+alice.ID+`","actions":[{"a":[{"on":true}]}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if cross.CommandThingID() != other.ID {
		t.Errorf("cross-thing trigger's command goes to %s", cross.CommandThingID())
	}

	// PATCH, enable, disable.
	err = f.db.Triggers.UpdateTrigger(f.ctx, aliceC, th.ID, created.ID, map[string]any{"title": "warm", "predicate": map[string]any{"eventSource": "BAD"}})
	wantCode(t, "a bad PATCH", err, kumo.ErrWrongTrigger)
	if err := f.db.Triggers.UpdateTrigger(f.ctx, aliceC, th.ID, created.ID, map[string]any{"title": "warm"}); err != nil {
		t.Fatal(err)
	}
	// A new predicate (a schedule, then the state condition again).
	if err := f.db.Triggers.UpdateTrigger(f.ctx, aliceC, th.ID, cross.ID, map[string]any{"predicate": map[string]any{"eventSource": "SCHEDULE", "schedule": "5 * * * *"}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.db.Triggers.Trigger(f.ctx, aliceC, th.ID, cross.ID); got.Predicate.Schedule != "5 * * * *" {
		t.Errorf("patched schedule = %q", got.Predicate.Schedule)
	}
	if err := f.db.Triggers.UpdateTrigger(f.ctx, aliceC, th.ID, created.ID, map[string]any{"predicate": map[string]any{"eventSource": "STATES",
		"triggersWhen": "CONDITION_FALSE_TO_TRUE", "condition": map[string]any{"type": "range", "alias": "AC", "field": "temp", "lowerLimit": json.Number("30")}}}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "PATCH by a stranger", f.db.Triggers.UpdateTrigger(f.ctx, bobC, th.ID, created.ID, map[string]any{"title": "x"}), kumo.ErrUnauthorized)
	wantCode(t, "PATCH of a missing trigger", f.db.Triggers.UpdateTrigger(f.ctx, aliceC, th.ID, "nope", map[string]any{"title": "x"}), kumo.ErrTriggerNotFound)
	if err := f.db.Triggers.SetTriggerEnabled(f.ctx, f.admin, th.ID, created.ID, false); err != nil {
		t.Fatal(err)
	}
	got, _ = f.db.Triggers.Trigger(f.ctx, aliceC, th.ID, created.ID)
	if got.Title != "warm" || !got.Disabled || got.Predicate.TriggersWhen != kumo.WhenConditionFalseToTrue {
		t.Errorf("after PATCH and disable: %+v", got)
	}
	if err := f.db.Triggers.SetTriggerEnabled(f.ctx, aliceC, th.ID, created.ID, true); err != nil {
		t.Fatal(err)
	}
	if got, _ = f.db.Triggers.Trigger(f.ctx, aliceC, th.ID, created.ID); got.Disabled {
		t.Error("enabled trigger still disabled")
	}
	wantCode(t, "enable a missing trigger", f.db.Triggers.SetTriggerEnabled(f.ctx, aliceC, th.ID, "nope", true), kumo.ErrTriggerNotFound)

	// List with pagination.
	for i := range 3 {
		if _, err := f.db.Triggers.CreateTrigger(f.ctx, aliceC, f.triggerBody(th.ID, `{"predicate":{"eventSource":"SCHEDULE","schedule":"`+string(rune('1'+i))+` * * * *"},`+cmd+`}`)); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	key := ""
	for pages := 0; ; pages++ {
		ts, next, err := f.db.Triggers.Triggers(f.ctx, aliceC, th.ID, key, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, tr := range ts {
			if seen[tr.ID] {
				t.Errorf("trigger %s listed twice", tr.ID)
			}
			seen[tr.ID] = true
		}
		if next == "" {
			break
		}
		if pages > 5 {
			t.Fatal("listing does not end")
		}
		key = next
	}
	if len(seen) != 5 {
		t.Errorf("listed %d triggers, want 5", len(seen))
	}
	_, _, err = f.db.Triggers.Triggers(f.ctx, bobC, th.ID, "", 10)
	wantCode(t, "list by a stranger", err, kumo.ErrUnauthorized)
	rs, _, err := f.db.Triggers.ServerCodeResults(f.ctx, aliceC, th.ID, created.ID, "", 10)
	if err != nil || len(rs) != 0 {
		t.Errorf("ServerCodeResults of a command trigger = %v, %v", rs, err)
	}

	// Delete one; the thing's delete takes the rest.
	wantCode(t, "delete by a stranger", f.db.Triggers.DeleteTrigger(f.ctx, bobC, th.ID, created.ID), kumo.ErrUnauthorized)
	if err := f.db.Triggers.DeleteTrigger(f.ctx, aliceC, th.ID, created.ID); err != nil {
		t.Fatal(err)
	}
	_, err = f.db.Triggers.Trigger(f.ctx, aliceC, th.ID, created.ID)
	wantCode(t, "a deleted trigger", err, kumo.ErrTriggerNotFound)
	wantCode(t, "delete twice", f.db.Triggers.DeleteTrigger(f.ctx, aliceC, th.ID, created.ID), kumo.ErrTriggerNotFound)
	if err := f.db.Things.DeleteThing(f.ctx, f.admin, th.ID); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := f.db.ReadDB().QueryRow("SELECT COUNT(*) FROM triggers WHERE thing_id = '" + th.ID + "'").Scan(&n); err != nil || n != 0 {
		t.Errorf("triggers of a deleted thing: %d, %v", n, err)
	}
}

// testTriggerSchedules checks FireDue on SERVER_CODE schedule triggers
// (each fire queues a run, here completed by runJobs): a SCHEDULE_ONCE
// fires once and disables itself; a SCHEDULE fires once per due time
// however many schedulers race for it, a due time missed while the store
// was closed fires once after it opens again, and a disabled schedule
// does not fire.
func testTriggerSchedules(t *testing.T, s suite) {
	f := newFixture(t, s)
	alice, aliceC := f.mustUser("alice")
	th := f.ownedThing("lamp", alice)
	sc := `"triggersWhat":"SERVER_CODE","serverCode":{"endpoint":"cool","parameters":{"to":20}}`
	results := func(id string) []kumo.TriggerServerCodeResult {
		t.Helper()
		f.runJobs(notRun)
		rs, _, err := f.db.Triggers.ServerCodeResults(f.ctx, aliceC, th.ID, id, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}
	fire := func() int {
		t.Helper()
		n, err := f.db.Triggers.FireDue(f.ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	once, err := f.db.Triggers.CreateTrigger(f.ctx, aliceC, f.triggerBody(th.ID, `{"predicate":{"eventSource":"SCHEDULE_ONCE","scheduleAt":`+jsonInt(f.clock.Millis()+5000)+`},`+sc+`}`))
	if err != nil {
		t.Fatal(err)
	}
	if n := fire(); n != 0 {
		t.Errorf("FireDue before the time fired %d", n)
	}
	f.clock.Advance(5 * time.Second)
	if n := fire(); n != 1 {
		t.Errorf("FireDue at the time fired %d, want 1", n)
	}
	if n := fire(); n != 0 {
		t.Errorf("FireDue again fired %d, want 0", n)
	}
	rs := results(once.ID)
	if len(rs) != 1 || rs[0].Succeeded || rs[0].Endpoint != "cool" || rs[0].ExecutedAt != f.clock.Millis() || rs[0].Error == nil {
		t.Errorf("results = %+v", rs)
	}
	got, _ := f.db.Triggers.Trigger(f.ctx, aliceC, th.ID, once.ID)
	if !got.Disabled || got.DisabledReason != kumo.DisabledScheduleOnceFired {
		t.Errorf("a fired SCHEDULE_ONCE: disabled %v (%q)", got.Disabled, got.DisabledReason)
	}

	// Every minute: schedulers racing fire each due time once.
	every, err := f.db.Triggers.CreateTrigger(f.ctx, aliceC, f.triggerBody(th.ID, `{"predicate":{"eventSource":"SCHEDULE","schedule":"* * * * *"},`+sc+`}`))
	if err != nil {
		t.Fatal(err)
	}
	for tick := 1; tick <= 3; tick++ {
		f.clock.Advance(time.Minute)
		var fired atomic.Int64
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n, err := f.db.Triggers.FireDue(f.ctx, 100)
				if err != nil {
					t.Error(err)
				}
				fired.Add(int64(n))
			}()
		}
		wg.Wait()
		if fired.Load() != 1 {
			t.Errorf("tick %d: the racing schedulers fired %d times, want 1", tick, fired.Load())
		}
		if n := len(results(every.ID)); n != tick {
			t.Errorf("tick %d: %d results", tick, n)
		}
	}

	// Ten minutes pass while the store is closed: one fire after.
	f.reopen()
	f.clock.Advance(10 * time.Minute)
	if n := fire(); n != 1 {
		t.Errorf("after a restart, the missed times fired %d, want 1", n)
	}
	if n := fire(); n != 0 {
		t.Errorf("fired again: %d", n)
	}
	if n := len(results(every.ID)); n != 4 {
		t.Errorf("%d results, want 4", n)
	}

	// Disabled: nothing; enabled again: the next time, not the missed ones.
	if err := f.db.Triggers.SetTriggerEnabled(f.ctx, aliceC, th.ID, every.ID, false); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(5 * time.Minute)
	if n := fire(); n != 0 {
		t.Errorf("a disabled schedule fired %d", n)
	}
	if err := f.db.Triggers.SetTriggerEnabled(f.ctx, aliceC, th.ID, every.ID, true); err != nil {
		t.Fatal(err)
	}
	if n := fire(); n != 0 {
		t.Errorf("an enabled schedule fired the times it missed: %d", n)
	}
	f.clock.Advance(time.Minute)
	if n := fire(); n != 1 {
		t.Errorf("enabled again, the next time fired %d, want 1", n)
	}

	// Results page newest first.
	f.runJobs(notRun)
	page, next, err := f.db.Triggers.ServerCodeResults(f.ctx, aliceC, th.ID, every.ID, "", 2)
	if err != nil || len(page) != 2 || next == "" || page[0].ExecutedAt < page[1].ExecutedAt {
		t.Errorf("first page = %+v, %q, %v", page, next, err)
	}
	rest, next2, err := f.db.Triggers.ServerCodeResults(f.ctx, aliceC, th.ID, every.ID, next, 10)
	if err != nil || len(rest) != 3 || next2 != "" {
		t.Errorf("second page = %d results, %q, %v", len(rest), next2, err)
	}
}

// runJobs runs the queued jobs of server code as a worker does (lease
// one minute), each giving the result run returns (nil: none recorded).
func (f *fixture) runJobs(run func(j kumo.ServerCodeJob) *kumo.TriggerServerCodeResult) []kumo.ServerCodeJob {
	f.t.Helper()
	jobs, err := f.db.Hooks.Claim(f.ctx, 1000, time.Minute.Milliseconds())
	if err != nil {
		f.t.Fatal(err)
	}
	for i := range jobs {
		jobs[i].Result = run(jobs[i])
	}
	if len(jobs) > 0 {
		if err := f.db.Hooks.Done(f.ctx, jobs...); err != nil {
			f.t.Fatal(err)
		}
	}
	return jobs
}

// notRun is a run that failed at the time the trigger fired.
func notRun(j kumo.ServerCodeJob) *kumo.TriggerServerCodeResult {
	return &kumo.TriggerServerCodeResult{ExecutedAt: j.CreatedAt, Endpoint: j.Endpoint,
		Error: &kumo.ServerCodeError{ErrorMessage: kumo.ServerCodeErrorMessage, Details: kumo.ServerCodeErrorDetails{ErrorCode: "TEST", Message: "not run"}}}
}

// testTriggerServerCodeJobs checks that a SERVER_CODE trigger's fire
// queues a run of its server code, with the trigger's endpoint,
// parameters and executor token, in the fire's write; that the run's
// result is recorded when the job is done, once, and not for a trigger
// deleted since; that a claimed job is not claimed again until its lease
// ends, and is then (a worker that crashed); and that Retry makes it due
// again at the time given.
func testTriggerServerCodeJobs(t *testing.T, s suite) {
	f := newFixture(t, s)
	alice, aliceC := f.mustUser("alice")
	th := f.ownedThing("lamp", alice)
	tr, err := f.db.Triggers.CreateTrigger(f.ctx, aliceC, f.triggerBody(th.ID, `{"predicate":{"eventSource":"SCHEDULE_ONCE","scheduleAt":`+
		jsonInt(f.clock.Millis())+`},"triggersWhat":"SERVER_CODE","serverCode":{"endpoint":"sum","executorAccessToken":"tok1","parameters":{"answer":42}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := f.db.Triggers.FireDue(f.ctx, 10); err != nil || n != 1 {
		t.Fatalf("FireDue = %d, %v", n, err)
	}
	if rs, _, _ := f.db.Triggers.ServerCodeResults(f.ctx, aliceC, th.ID, tr.ID, "", 10); len(rs) != 0 {
		t.Errorf("results before the run: %+v", rs)
	}
	const lease = int64(60_000)
	jobs, err := f.db.Hooks.Claim(f.ctx, 10, lease)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("Claim = %+v, %v", jobs, err)
	}
	j := jobs[0]
	if j.Trigger != kumo.RunThingIF || j.AppID != f.app.AppID || j.TriggerAppID != f.app.AppID || j.Version != kumo.CurrentVersion ||
		j.Endpoint != "sum" || string(j.Params) != `{"answer":42}` || j.Token != "tok1" || j.ThingID != th.ID || j.TriggerID != tr.ID ||
		j.Attempts != 1 || j.CreatedAt != f.clock.Millis() {
		t.Errorf("job = %+v", j)
	}
	// Leased: no other claim; after the lease: claimed again.
	if again, err := f.db.Hooks.Claim(f.ctx, 10, lease); err != nil || len(again) != 0 {
		t.Errorf("a leased job claimed again: %+v, %v", again, err)
	}
	f.clock.Advance(time.Duration(lease) * time.Millisecond)
	again, err := f.db.Hooks.Claim(f.ctx, 10, lease)
	if err != nil || len(again) != 1 || again[0].ID != j.ID || again[0].Attempts != 2 {
		t.Fatalf("after the lease, Claim = %+v, %v", again, err)
	}
	// Retry: due at the time given, not before.
	if err := f.db.Hooks.Retry(f.ctx, again[0], f.clock.Millis()+5000); err != nil {
		t.Fatal(err)
	}
	if early, _ := f.db.Hooks.Claim(f.ctx, 10, lease); len(early) != 0 {
		t.Errorf("a job retried later claimed at once: %+v", early)
	}
	f.clock.Advance(5 * time.Second)
	jobs, err = f.db.Hooks.Claim(f.ctx, 10, lease)
	if err != nil || len(jobs) != 1 || jobs[0].Attempts != 3 {
		t.Fatalf("Claim after the retry time = %+v, %v", jobs, err)
	}
	r := &kumo.TriggerServerCodeResult{Succeeded: true, ReturnedValue: 42.0, ExecutedAt: f.clock.Millis(), Endpoint: "sum"}
	for range 2 { // the second Done finds the job gone: no second result
		jobs[0].Result = r
		if err := f.db.Hooks.Done(f.ctx, jobs[0]); err != nil {
			t.Fatal(err)
		}
	}
	rs, _, err := f.db.Triggers.ServerCodeResults(f.ctx, aliceC, th.ID, tr.ID, "", 10)
	if err != nil || len(rs) != 1 || !rs[0].Succeeded || fmt.Sprint(rs[0].ReturnedValue) != "42" || rs[0].Endpoint != "sum" ||
		rs[0].Error != nil || rs[0].ExecutedAt != f.clock.Millis() {
		t.Errorf("results = %+v, %v", rs, err)
	}
	if n, err := f.db.Hooks.Pending(f.ctx); err != nil || n != 0 {
		t.Errorf("jobs left: %d, %v", n, err)
	}

	// targetAppID: the code of that app runs; the result is the trigger's.
	other, err := f.db.Triggers.CreateTrigger(f.ctx, aliceC, f.triggerBody(th.ID, `{"predicate":{"eventSource":"SCHEDULE_ONCE","scheduleAt":`+
		jsonInt(f.clock.Millis())+`},"triggersWhat":"SERVER_CODE","serverCode":{"endpoint":"e","targetAppID":"app2","executorAccessToken":"t2"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := f.db.Triggers.FireDue(f.ctx, 10); err != nil || n != 1 {
		t.Fatalf("FireDue = %d, %v", n, err)
	}
	ran := f.runJobs(func(j kumo.ServerCodeJob) *kumo.TriggerServerCodeResult {
		return &kumo.TriggerServerCodeResult{Succeeded: true, ExecutedAt: f.clock.Millis(), Endpoint: j.Endpoint}
	})
	if len(ran) != 1 || ran[0].AppID != "app2" || ran[0].TriggerAppID != f.app.AppID || string(ran[0].Params) != "{}" {
		t.Errorf("jobs of a targetAppID trigger = %+v", ran)
	}
	if rs, _, _ := f.db.Triggers.ServerCodeResults(f.ctx, aliceC, th.ID, other.ID, "", 10); len(rs) != 1 {
		t.Errorf("results of a targetAppID trigger = %+v", rs)
	}

	// A trigger deleted before its run is done: no result row is left.
	gone, err := f.db.Triggers.CreateTrigger(f.ctx, aliceC, f.triggerBody(th.ID, `{"predicate":{"eventSource":"SCHEDULE_ONCE","scheduleAt":`+
		jsonInt(f.clock.Millis())+`},"triggersWhat":"SERVER_CODE","serverCode":{"endpoint":"e"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := f.db.Triggers.FireDue(f.ctx, 10); err != nil || n != 1 {
		t.Fatalf("FireDue = %d, %v", n, err)
	}
	if err := f.db.Triggers.DeleteTrigger(f.ctx, aliceC, th.ID, gone.ID); err != nil {
		t.Fatal(err)
	}
	if ran := f.runJobs(notRun); len(ran) != 1 {
		t.Errorf("ran %d jobs", len(ran))
	}
	var n int
	if err := f.db.ReadDB().QueryRow("SELECT COUNT(*) FROM trigger_server_code_results WHERE trigger_id = '" + gone.ID + "'").Scan(&n); err != nil || n != 0 {
		t.Errorf("results of a deleted trigger: %d, %v", n, err)
	}
}

func jsonInt(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// testStateTriggers checks that a state write fires the enabled STATES
// triggers of its thing whose predicate fires, in its own transaction:
// the command is in the store (firedByTriggerID set, the trigger's
// issuer and actions, to the command's target) once the write returns,
// once per firing write; a disabled trigger and one whose condition does
// not fire send nothing; a SCHEDULE trigger fires its command too.
func testStateTriggers(t *testing.T, s suite) {
	f := newFixture(t, s)
	alice, aliceC := f.mustUser("alice")
	th := f.ownedThing("ac", alice)
	other := f.ownedThing("fan", alice)
	thC := kumo.Caller{AppID: f.app.AppID, Kind: kumo.ThingCaller, ID: th.ID}
	cmd := func(target string) string {
		return `"command":{"target":"thing:` + target + `","issuer":"user:` + alice.ID + `","actions":[{"AC":[{"turnPower":false}]}],"title":"t"}`
	}
	rise, err := f.db.Triggers.CreateTrigger(f.ctx, aliceC, f.triggerBody(th.ID, `{"predicate":{"eventSource":"STATES","triggersWhen":"CONDITION_FALSE_TO_TRUE",`+
		`"condition":{"type":"range","alias":"AC","field":"temp","lowerLimit":30,"lowerIncluded":true}},"triggersWhat":"COMMAND",`+cmd(th.ID)+`}`))
	if err != nil {
		t.Fatal(err)
	}
	always, err := f.db.Triggers.CreateTrigger(f.ctx, aliceC, f.triggerBody(th.ID, `{"predicate":{"eventSource":"STATES","triggersWhen":"CONDITION_TRUE",`+
		`"condition":{"type":"eq","alias":"AC","field":"power","value":true}},"triggersWhat":"COMMAND",`+cmd(other.ID)+`}`))
	if err != nil {
		t.Fatal(err)
	}
	off, err := f.db.Triggers.CreateTrigger(f.ctx, aliceC, f.triggerBody(th.ID, `{"predicate":{"eventSource":"STATES","triggersWhen":"CONDITION_TRUE",`+
		`"condition":{"type":"all"}},"triggersWhat":"COMMAND",`+cmd(th.ID)+`}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.db.Triggers.SetTriggerEnabled(f.ctx, aliceC, th.ID, off.ID, false); err != nil {
		t.Fatal(err)
	}
	write := func(state string) {
		t.Helper()
		var m map[string]any
		d := json.NewDecoder(strings.NewReader(state))
		d.UseNumber()
		if err := d.Decode(&m); err != nil {
			t.Fatal(err)
		}
		if _, err := f.db.States.WriteStates(f.ctx, thC, th.ID, []kumo.StateWrite{{Kind: kumo.StatePut, Trait: true, State: m}}); err != nil {
			t.Fatal(err)
		}
	}
	fired := func(thingID string) map[string]int {
		t.Helper()
		cs, _, err := f.db.Commands.List(f.ctx, f.admin, thingID, 100, "")
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]int{}
		for _, c := range cs {
			out[c.FiredByTriggerID]++
			if c.Issuer != "user:"+alice.ID || c.ThingID != thingID || !strings.Contains(string(c.Actions), "turnPower") || c.Title != "t" {
				t.Errorf("fired command %+v", c)
			}
		}
		return out
	}

	write(`{"AC":{"temp":25,"power":false}}`) // neither
	write(`{"AC":{"temp":31,"power":true}}`)  // rises; power on
	write(`{"AC":{"temp":33,"power":true}}`)  // stays hot: only power
	write(`{"AC":{"temp":20,"power":false}}`) // neither
	write(`{"AC":{"temp":30,"power":false}}`) // rises again
	if got := fired(th.ID); got[rise.ID] != 2 || got[off.ID] != 0 || len(got) != 1 {
		t.Errorf("commands to %s by trigger: %v; want 2 by %s", th.ID, got, rise.ID)
	}
	if got := fired(other.ID); got[always.ID] != 2 || len(got) != 1 {
		t.Errorf("commands to %s by trigger: %v; want 2 by %s", other.ID, got, always.ID)
	}

	// A schedule sends its command too.
	every, err := f.db.Triggers.CreateTrigger(f.ctx, aliceC, f.triggerBody(other.ID, `{"predicate":{"eventSource":"SCHEDULE","schedule":"* * * * *"},"triggersWhat":"COMMAND",`+cmd(other.ID)+`}`))
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Minute)
	if n, err := f.db.Triggers.FireDue(f.ctx, 100); err != nil || n != 1 {
		t.Fatalf("FireDue = %d, %v", n, err)
	}
	if got := fired(other.ID); got[every.ID] != 1 {
		t.Errorf("commands of the schedule: %v", got)
	}

	// An issuer who no longer owns the thing: the state write succeeds,
	// no command is sent.
	if err := f.db.Things.RemoveThingOwner(f.ctx, f.admin, th.ID, kumo.ThingOwner{Kind: kumo.OwnerUser, ID: alice.ID}); err != nil {
		t.Fatal(err)
	}
	write(`{"AC":{"temp":10,"power":false}}`)
	write(`{"AC":{"temp":40,"power":false}}`) // rises
	if got := fired(th.ID); got[rise.ID] != 2 {
		t.Errorf("commands of an issuer who no longer owns the thing: %v", got)
	}

	// A trigger whose command goes to a thing deleted goes with it.
	if err := f.db.Things.DeleteThing(f.ctx, f.admin, other.ID); err != nil {
		t.Fatal(err)
	}
	_, err = f.db.Triggers.Trigger(f.ctx, f.admin, th.ID, always.ID)
	wantCode(t, "a trigger whose command's thing was deleted", err, kumo.ErrTriggerNotFound)
	write(`{"AC":{"temp":20,"power":true}}`)
}
