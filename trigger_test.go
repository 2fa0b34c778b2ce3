package kumo

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestCronNext(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse("2006-01-02 15:04", s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		cron, after, want string
	}{
		{"* * * * *", "2026-12-07 18:16", "2026-12-07 18:17"},
		{"0 * * * *", "2026-12-07 18:16", "2026-12-07 19:00"},
		{"1 0 * * *", "2026-12-07 18:16", "2026-12-08 00:01"},
		{"*/15 * * * *", "2026-12-07 18:16", "2026-12-07 18:30"},
		{"0/2 * * * *", "2026-12-07 18:16", "2026-12-07 18:18"},
		{"5/20 * * * *", "2026-12-07 18:26", "2026-12-07 18:45"},
		{"10-30/10 3 * * *", "2026-12-07 03:10", "2026-12-07 03:20"},
		{"0,30 8,20 * * *", "2026-12-07 08:30", "2026-12-07 20:00"},
		{"0 5 * * MON-FRI", "2026-12-05 06:00", "2026-12-07 05:00"}, // Saturday → Monday
		{"0 5 * * 7", "2026-12-07 06:00", "2026-12-13 05:00"},       // Sunday as 7
		{"0 5 * * sun", "2026-12-07 06:00", "2026-12-13 05:00"},
		{"0 0 1 jan *", "2026-12-07 06:00", "2027-01-01 00:00"},
		{"0 0 29 2 *", "2026-03-01 00:00", "2028-02-29 00:00"},
		{"0 0 13 * 5", "2026-12-07 00:00", "2026-12-11 00:00"}, // dom or dow: Friday 11th
		{"59 23 31 12 *", "2026-12-31 23:59", "2027-12-31 23:59"},
	} {
		c, err := ParseCron(tc.cron)
		if err != nil {
			t.Errorf("ParseCron(%q): %v", tc.cron, err)
			continue
		}
		if got := c.Next(at(tc.after)); !got.Equal(at(tc.want)) {
			t.Errorf("%q after %s: got %s, want %s", tc.cron, tc.after, got.Format("2006-01-02 15:04 Mon"), tc.want)
		}
	}
	never, err := ParseCron("0 0 30 2 *")
	if err != nil {
		t.Fatal(err)
	}
	if got := never.Next(at("2026-01-01 00:00")); !got.IsZero() {
		t.Errorf("February 30th: got %s, want never", got)
	}
	for _, bad := range []string{"", "* * * *", "* * * * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *",
		"* * * * 8", "*/0 * * * *", "5-1 * * * *", "a * * * *", "* * * FOO *", "1-2-3 * * * *"} {
		if _, err := ParseCron(bad); err == nil {
			t.Errorf("ParseCron(%q) succeeded", bad)
		}
	}
}

func TestParseTrigger(t *testing.T) {
	const thing = "th.1"
	now := int64(1_800_000_000_000)
	cmd := `"command":{"issuer":"user:u1","actions":[{"a":[{"on":true}]}]}`
	for _, tc := range []struct {
		name, body string
		wantErr    bool
		check      func(t *testing.T, tr Trigger)
	}{
		{"state", `{"predicate":{"eventSource":"STATES","triggersWhen":"CONDITION_FALSE_TO_TRUE","condition":{"type":"range","alias":"A","field":"t","lowerLimit":30,"lowerIncluded":true}},"triggersWhat":"COMMAND",` + cmd + `,"title":"cool"}`, false,
			func(t *testing.T, tr Trigger) {
				if tr.Predicate.Condition.Alias != "A" || tr.Title != "cool" || tr.Command["target"] != "thing:th.1" || tr.TriggersWhat != TriggersCommand {
					t.Errorf("got %+v", tr)
				}
			}},
		{"command target any case", `{"predicate":{"eventSource":"STATES","triggersWhen":"CONDITION_TRUE","condition":{"type":"all"}},"triggersWhat":"COMMAND","command":{"target":"THING:th.2","issuer":"USER:u1","actions":[{"x":[{"on":true}]}]}}`, false,
			func(t *testing.T, tr Trigger) {
				if tr.CommandThingID() != "th.2" || tr.CommandIssuer() != "user:u1" {
					t.Errorf("got %v", tr.Command)
				}
			}},
		{"schedule", `{"predicate":{"eventSource":"SCHEDULE","schedule":"0 5 * * MON-FRI"},"triggersWhat":"COMMAND",` + cmd + `}`, false, nil},
		{"schedule once", `{"predicate":{"eventSource":"SCHEDULE_ONCE","scheduleAt":1800000060000},"triggersWhat":"COMMAND",` + cmd + `}`, false,
			func(t *testing.T, tr Trigger) {
				if at, ok := tr.Predicate.FirstFire(now); !ok || at != 1800000060000 {
					t.Errorf("FirstFire = %d, %v", at, ok)
				}
			}},
		{"server code", `{"predicate":{"eventSource":"STATES","triggersWhen":"CONDITION_CHANGED","condition":{"type":"and","clauses":[{"type":"eq","field":"p","value":true},{"type":"not","clause":{"type":"eq","field":"m","value":"x"}}]}},"triggersWhat":"SERVER_CODE","serverCode":{"endpoint":"f","parameters":{"k":1}}}`, false,
			func(t *testing.T, tr Trigger) {
				if tr.ServerCode == nil || tr.ServerCode.Endpoint != "f" || tr.Command != nil {
					t.Errorf("got %+v", tr)
				}
			}},
		{"no predicate", `{"triggersWhat":"COMMAND",` + cmd + `}`, true, nil},
		{"bad event source", `{"predicate":{"eventSource":"WHEN"},` + cmd + `}`, true, nil},
		{"bad triggersWhen", `{"predicate":{"eventSource":"STATES","triggersWhen":"ALWAYS","condition":{"type":"all"}},` + cmd + `}`, true, nil},
		{"no condition", `{"predicate":{"eventSource":"STATES","triggersWhen":"CONDITION_TRUE"},` + cmd + `}`, true, nil},
		{"bad clause", `{"predicate":{"eventSource":"STATES","triggersWhen":"CONDITION_TRUE","condition":{"type":"like","field":"a"}},` + cmd + `}`, true, nil},
		{"not range", `{"predicate":{"eventSource":"STATES","triggersWhen":"CONDITION_TRUE","condition":{"type":"not","clause":{"type":"range","field":"a","upperLimit":1}}},` + cmd + `}`, true, nil},
		{"range no limits", `{"predicate":{"eventSource":"STATES","triggersWhen":"CONDITION_TRUE","condition":{"type":"range","field":"a"}},` + cmd + `}`, true, nil},
		{"eq no value", `{"predicate":{"eventSource":"STATES","triggersWhen":"CONDITION_TRUE","condition":{"type":"eq","field":"a"}},` + cmd + `}`, true, nil},
		{"empty and", `{"predicate":{"eventSource":"STATES","triggersWhen":"CONDITION_TRUE","condition":{"type":"and","clauses":[]}},` + cmd + `}`, true, nil},
		{"bad cron", `{"predicate":{"eventSource":"SCHEDULE","schedule":"every day"},` + cmd + `}`, true, nil},
		{"never cron", `{"predicate":{"eventSource":"SCHEDULE","schedule":"0 0 31 4 *"},` + cmd + `}`, true, nil},
		{"past once", `{"predicate":{"eventSource":"SCHEDULE_ONCE","scheduleAt":1700000000000},` + cmd + `}`, true, nil},
		{"bad what", `{"predicate":{"eventSource":"SCHEDULE","schedule":"* * * * *"},"triggersWhat":"EMAIL",` + cmd + `}`, true, nil},
		{"no command", `{"predicate":{"eventSource":"SCHEDULE","schedule":"* * * * *"},"triggersWhat":"COMMAND"}`, true, nil},
		{"no issuer", `{"predicate":{"eventSource":"SCHEDULE","schedule":"* * * * *"},"command":{"actions":[{"a":[{"on":true}]}]}}`, true, nil},
		{"no actions", `{"predicate":{"eventSource":"SCHEDULE","schedule":"* * * * *"},"command":{"issuer":"user:u","actions":[]}}`, true, nil},
		{"bad target", `{"predicate":{"eventSource":"SCHEDULE","schedule":"* * * * *"},"command":{"target":"user:u","issuer":"user:u","actions":[{"a":[{"on":true}]}]}}`, true, nil},
		{"no endpoint", `{"predicate":{"eventSource":"SCHEDULE","schedule":"* * * * *"},"triggersWhat":"SERVER_CODE","serverCode":{}}`, true, nil},
		{"long title", `{"predicate":{"eventSource":"SCHEDULE","schedule":"* * * * *"},` + cmd + `,"title":"` + strings.Repeat("x", 51) + `"}`, true, nil},
		{"metadata not object", `{"predicate":{"eventSource":"SCHEDULE","schedule":"* * * * *"},` + cmd + `,"metadata":[1]}`, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := ParseTrigger(thing, jsonBody(t, tc.body), now)
			if tc.wantErr {
				if ErrorCode(err) != ErrWrongTrigger {
					t.Fatalf("got %v, want WRONG_TRIGGER", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.check != nil {
				tc.check(t, tr)
			}
		})
	}
}

func TestPatchTrigger(t *testing.T) {
	tr, err := ParseTrigger("th.1", jsonBody(t, `{"predicate":{"eventSource":"SCHEDULE_ONCE","scheduleAt":1000},"triggersWhat":"COMMAND","command":{"issuer":"user:u1","actions":[{"a":[{"on":true}]}]},"title":"t"}`), 0)
	if err != nil {
		t.Fatal(err)
	}
	tr.ID, tr.Disabled, tr.DisabledReason = "tr1", true, DisabledScheduleOnceFired
	// A past schedule stays when the predicate is not patched.
	out, err := PatchTrigger(tr, jsonBody(t, `{"title":"new","metadata":{"k":"v"}}`), 5000)
	if err != nil {
		t.Fatal(err)
	}
	if out.Title != "new" || out.Metadata["k"] != "v" || out.ID != "tr1" || !out.Disabled || out.Predicate.ScheduleAt != 1000 {
		t.Errorf("got %+v", out)
	}
	// A new past schedule is refused.
	if _, err := PatchTrigger(tr, jsonBody(t, `{"predicate":{"eventSource":"SCHEDULE_ONCE","scheduleAt":1000}}`), 5000); ErrorCode(err) != ErrWrongTrigger {
		t.Errorf("past schedule: got %v", err)
	}
	// Switching to server code drops the command.
	out, err = PatchTrigger(tr, jsonBody(t, `{"triggersWhat":"SERVER_CODE","serverCode":{"endpoint":"e"}}`), 5000)
	if err != nil {
		t.Fatal(err)
	}
	if out.Command != nil || out.ServerCode == nil || out.TriggersWhat != TriggersServerCode {
		t.Errorf("got %+v", out)
	}
	if _, err := PatchTrigger(tr, jsonBody(t, `{"command":{"issuer":"nobody"}}`), 5000); ErrorCode(err) != ErrWrongTrigger {
		t.Errorf("bad command: got %v", err)
	}
	// null is no change; a command without a target keeps the old target.
	cross, err := ParseTrigger("th.1", jsonBody(t, `{"predicate":{"eventSource":"SCHEDULE","schedule":"* * * * *"},"command":{"target":"thing:th.2","issuer":"user:u1","actions":[{"a":[{"on":true}]}]}}`), 0)
	if err != nil {
		t.Fatal(err)
	}
	out, err = PatchTrigger(cross, jsonBody(t, `{"command":null,"predicate":null,"title":"x"}`), 5000)
	if err != nil || out.CommandThingID() != "th.2" || out.Predicate.Schedule != "* * * * *" || out.Title != "x" {
		t.Errorf("PATCH with nulls = %+v, %v", out, err)
	}
	out, err = PatchTrigger(cross, jsonBody(t, `{"command":{"issuer":"user:u1","actions":[{"b":[{"off":true}]}]}}`), 5000)
	if err != nil || out.CommandThingID() != "th.2" {
		t.Errorf("PATCH of a command without target = %+v, %v", out, err)
	}
}

func TestPredicateFires(t *testing.T) {
	pred := func(when TriggersWhen, cond string) Predicate {
		tr, err := ParseTrigger("th", jsonBody(t, `{"predicate":{"eventSource":"STATES","triggersWhen":"`+string(when)+`","condition":`+cond+`},"command":{"issuer":"user:u","actions":[{"a":[{"on":true}]}]}}`), 0)
		if err != nil {
			t.Fatal(err)
		}
		return tr.Predicate
	}
	hot := `{"type":"range","alias":"AC","field":"temp","lowerLimit":30,"lowerIncluded":true}`
	st := func(temp any) map[string]any { return map[string]any{"AC": map[string]any{"temp": temp}} }
	for _, tc := range []struct {
		name          string
		when          TriggersWhen
		cond          string
		before, after map[string]any
		want          bool
	}{
		{"true: holds", WhenConditionTrue, hot, st(31.0), st(32.0), true},
		{"true: holds first", WhenConditionTrue, hot, nil, st(json.Number("30")), true},
		{"true: not", WhenConditionTrue, hot, st(35.0), st(29.5), false},
		{"false→true: rises", WhenConditionFalseToTrue, hot, st(20.0), st(30.0), true},
		{"false→true: first state", WhenConditionFalseToTrue, hot, nil, st(30.0), true},
		{"false→true: stays", WhenConditionFalseToTrue, hot, st(31.0), st(32.0), false},
		{"false→true: falls", WhenConditionFalseToTrue, hot, st(31.0), st(2.0), false},
		{"false→true: field was absent", WhenConditionFalseToTrue, hot, map[string]any{"AC": map[string]any{}}, st(40), true},
		{"changed: rises", WhenConditionChanged, hot, st(20.0), st(30.0), true},
		{"changed: falls", WhenConditionChanged, hot, st(30.0), st(20.0), true},
		{"changed: stays true", WhenConditionChanged, hot, st(31.0), st(33.0), false},
		{"changed: stays false", WhenConditionChanged, hot, st(1.0), st(3.0), false},
		{"changed: first state false", WhenConditionChanged, hot, nil, st(3.0), false},
		{"range excluded", WhenConditionTrue, `{"type":"range","alias":"AC","field":"temp","lowerLimit":30,"lowerIncluded":false}`, nil, st(30.0), false},
		{"range upper", WhenConditionTrue, `{"type":"range","alias":"AC","field":"temp","upperLimit":10,"upperIncluded":true}`, nil, st(10.0), true},
		{"range upper excluded", WhenConditionTrue, `{"type":"range","alias":"AC","field":"temp","upperLimit":10,"upperIncluded":false}`, nil, st(10.0), false},
		{"range not a number", WhenConditionTrue, hot, nil, st("hot"), false},
		{"eq number", WhenConditionTrue, `{"type":"eq","field":"n","value":3}`, nil, map[string]any{"n": 3.0}, true},
		{"eq string", WhenConditionTrue, `{"type":"eq","field":"m","value":"cool"}`, nil, map[string]any{"m": "cool"}, true},
		{"eq bool mismatch", WhenConditionTrue, `{"type":"eq","field":"p","value":true}`, nil, map[string]any{"p": "true"}, false},
		{"eq wrong alias", WhenConditionTrue, `{"type":"eq","alias":"B","field":"p","value":true}`, nil, map[string]any{"A": map[string]any{"p": true}}, false},
		{"not eq", WhenConditionTrue, `{"type":"not","clause":{"type":"eq","field":"p","value":true}}`, nil, map[string]any{"p": false}, true},
		{"and", WhenConditionTrue, `{"type":"and","clauses":[{"type":"eq","field":"p","value":true},{"type":"eq","field":"q","value":1}]}`, nil, map[string]any{"p": true, "q": 2.0}, false},
		{"or", WhenConditionTrue, `{"type":"or","clauses":[{"type":"eq","field":"p","value":true},{"type":"eq","field":"q","value":1}]}`, nil, map[string]any{"p": false, "q": 1.0}, true},
		{"all", WhenConditionFalseToTrue, `{"type":"all"}`, map[string]any{}, map[string]any{}, false},
	} {
		if got := pred(tc.when, tc.cond).Fires(tc.before, tc.after); got != tc.want {
			t.Errorf("%s: Fires = %v, want %v", tc.name, got, tc.want)
		}
	}
	sched := Predicate{EventSource: EventSchedule, Schedule: "* * * * *"}
	if sched.Fires(nil, map[string]any{}) {
		t.Error("a schedule fired on a state")
	}
	if next, ok := sched.NextFire(90_000); !ok || next != 120_000 {
		t.Errorf("NextFire = %d, %v", next, ok)
	}
}
