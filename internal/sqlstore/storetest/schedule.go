package storetest

import (
	"strconv"
	"testing"
	"time"

	"github.com/kumo-iot/kumo"
)

// testScheduleExecutions checks the schedule execution records: a tick is
// claimed once (the cluster's lease), finished, queried with the bucket
// query grammar and pages, read by ID by the admin only; executions left
// RUNNING are failed after a while; old ones are pruned.
func testScheduleExecutions(t *testing.T, s suite) {
	f := newFixture(t, s)
	sc := f.db.Schedules
	tick := epoch - epoch%60_000
	e1, ok, err := sc.ClaimScheduleTick(f.ctx, "app1", "JobA", tick)
	if err != nil || !ok {
		t.Fatalf("first claim = %v, %v", ok, err)
	}
	if len(e1.ID) != kumo.ScheduleExecutionIDLength || e1.Status != kumo.ScheduleRunning || e1.StartedAt != epoch {
		t.Errorf("claimed execution = %+v", e1)
	}
	if _, ok, err := sc.ClaimScheduleTick(f.ctx, "app1", "JobA", tick); err != nil || ok {
		t.Fatalf("second claim of the same tick = %v, %v; want false", ok, err)
	}
	if claimed, err := sc.ScheduleTickClaimed(f.ctx, "app1", "JobA", tick); err != nil || !claimed {
		t.Errorf("ScheduleTickClaimed = %v, %v", claimed, err)
	}
	if claimed, err := sc.ScheduleTickClaimed(f.ctx, "app1", "JobA", tick+60_000); err != nil || claimed {
		t.Errorf("ScheduleTickClaimed of the next tick = %v, %v", claimed, err)
	}
	f.clock.Advance(time.Second)
	if err := sc.FinishScheduleExecution(f.ctx, "app1", e1.ID, kumo.ScheduleSuccess, `{"ok":1}`); err != nil {
		t.Fatal(err)
	}
	e2, _, _ := sc.ClaimScheduleTick(f.ctx, "app1", "JobB", tick)
	f.clock.Advance(time.Second)
	sc.FinishScheduleExecution(f.ctx, "app1", e2.ID, kumo.ScheduleFailed, `{"errorMessage":"x"}`)
	e3, ok, _ := sc.ClaimScheduleTick(f.ctx, "app1", "TestJob-1", tick+60_000)
	if !ok {
		t.Fatal("claim of another job's tick failed")
	}
	if _, ok, _ := sc.ClaimScheduleTick(f.ctx, "app2", "JobA", tick); !ok {
		t.Fatal("the same job and tick in another app was not claimable")
	}

	got, err := sc.ScheduleExecution(f.ctx, f.admin, e1.ID)
	if err != nil || got.Status != kumo.ScheduleSuccess || got.Result != `{"ok":1}` || got.FinishedAt != epoch+1000 || got.Name != "JobA" {
		t.Errorf("ScheduleExecution = %+v, %v", got, err)
	}
	_, err = sc.ScheduleExecution(f.ctx, f.admin, "nosuchexecution")
	wantCode(t, "unknown execution", err, kumo.ErrScheduleExecutionNotFound)
	_, err = sc.ScheduleExecution(f.ctx, f.anon, e1.ID)
	wantCode(t, "anonymous read", err, kumo.ErrUnauthorized)
	_, _, err = sc.QueryScheduleExecutions(f.ctx, f.anon, kumo.Query{Clause: kumo.Clause{Type: kumo.ClauseAll}, Limit: 10})
	wantCode(t, "anonymous query", err, kumo.ErrUnauthorized)

	names := func(es []kumo.ScheduleExecution) string {
		out := ""
		for _, e := range es {
			out += e.Name + " "
		}
		return out
	}
	for _, tt := range []struct{ name, body, want string }{
		{"all by startedAt", `{}`, "JobA JobB TestJob-1 "},
		{"prefix", `{"scheduleExecutionQuery":{"clause":{"type":"prefix","field":"name","prefix":"TestJob-"}}}`, "TestJob-1 "},
		{"eq status", `{"scheduleExecutionQuery":{"clause":{"type":"eq","field":"status","value":"FAILED"}}}`, "JobB "},
		{"not", `{"scheduleExecutionQuery":{"clause":{"type":"not","clause":{"type":"eq","field":"status","value":"FAILED"}}}}`, "JobA TestJob-1 "},
		{"in", `{"scheduleExecutionQuery":{"clause":{"type":"in","field":"status","values":["RUNNING","SUCCESS"]}}}`, "JobA TestJob-1 "},
		{"or", `{"scheduleExecutionQuery":{"clause":{"type":"or","clauses":[{"type":"eq","field":"name","value":"JobB"},{"type":"eq","field":"scheduleExecutionID","value":"` + e3.ID + `"}]}}}`, "JobB TestJob-1 "},
		{"range finishedAt", `{"scheduleExecutionQuery":{"clause":{"type":"range","field":"finishedAt","lowerLimit":` + itoa(epoch+1500) + `}}}`, "JobB "},
		{"and + order desc", `{"scheduleExecutionQuery":{"clause":{"type":"and","clauses":[{"type":"range","field":"startedAt","upperLimit":` + itoa(epoch+5000) + `,"upperIncluded":true},{"type":"prefix","field":"name","prefix":"Job"}]},"orderBy":"name","descending":true}}`, "JobB JobA "},
		{"result eq", `{"scheduleExecutionQuery":{"clause":{"type":"eq","field":"result","value":"{\"ok\":1}"}}}`, "JobA "},
	} {
		q, err := kumo.ParseScheduleExecutionQuery([]byte(tt.body))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		es, next, err := sc.QueryScheduleExecutions(f.ctx, f.admin, q)
		if err != nil || next != "" {
			t.Fatalf("%s: %v, next %q", tt.name, err, next)
		}
		if names(es) != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, names(es), tt.want)
		}
	}
	// Pages.
	var paged string
	key := ""
	for pages := 0; ; pages++ {
		q, _ := kumo.ParseScheduleExecutionQuery([]byte(`{"bestEffortLimit":2}`))
		q.PaginationKey = key
		es, next, err := sc.QueryScheduleExecutions(f.ctx, f.admin, q)
		if err != nil || pages > 3 {
			t.Fatalf("page %d: %v", pages, err)
		}
		paged += names(es)
		if key = next; key == "" {
			break
		}
	}
	if paged != "JobA JobB TestJob-1 " {
		t.Errorf("paged: %q", paged)
	}

	// A RUNNING execution whose node stopped is failed; finishing it later changes nothing.
	f.clock.Advance(time.Minute)
	n, err := sc.FailStaleScheduleExecutions(f.ctx, epoch+10_000)
	if err != nil || n != 2 { // TestJob-1 and app2's JobA
		t.Fatalf("FailStaleScheduleExecutions = %d, %v; want 2", n, err)
	}
	sc.FinishScheduleExecution(f.ctx, "app1", e3.ID, kumo.ScheduleSuccess, "1")
	if got, _ := sc.ScheduleExecution(f.ctx, f.admin, e3.ID); got.Status != kumo.ScheduleFailed || got.Result == "1" {
		t.Errorf("stale execution = %+v, want FAILED", got)
	}
	// Pruning by start time.
	n, err = sc.PruneScheduleExecutions(f.ctx, epoch+1500)
	if err != nil || n != 2 { // JobA (started at epoch), JobB (epoch+1000)
		t.Fatalf("PruneScheduleExecutions = %d, %v; want 2", n, err)
	}
	if _, err := sc.ScheduleExecution(f.ctx, f.admin, e3.ID); err != nil {
		t.Errorf("the newest execution was pruned: %v", err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
