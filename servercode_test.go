package kumo

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

func TestParseHookConfig(t *testing.T) {
	cfg, err := ParseHookConfig([]byte(`{
	  "kiicloud://users": [{"when": "USER_CREATED", "what": "EXECUTE_SERVER_CODE", "endpoint": "userCreated"}],
	  "kiicloud://groups/*/buckets/shop": [{"when": "DATA_OBJECT_UPDATED", "what": "EXECUTE_SERVER_CODE", "endpoint": "shop", "extra": 1}],
	  "kiicloud://scheduler": {
	    "Hourly": {"what": "EXECUTE_SERVER_CODE", "cron": "0 0/2 * * MON-FRI", "endpoint": "check", "parameters": {"k": "v"}, "name": "ignored"},
	    "Daily": {"what": "EXECUTE_SERVER_CODE", "cron": "30 2 * * *", "endpoint": "check"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Triggers) != 2 || len(cfg.Schedules) != 2 {
		t.Fatalf("config %+v", cfg)
	}
	if cfg.Schedules[0].Name != "Daily" || string(cfg.Schedules[0].Parameters) != "{}" || string(cfg.Schedules[1].Parameters) != `{"k": "v"}` {
		t.Errorf("schedules %+v", cfg.Schedules)
	}
	ev := HookEvent{Path: BucketHookPath(BucketRef{Scope: Scope{Kind: ScopeGroup, ID: "g1"}, Name: "shop"}), When: "DATA_OBJECT_UPDATED"}
	if hs := cfg.Hooks(ev); len(hs) != 1 || hs[0].Endpoint != "shop" {
		t.Errorf("hooks of %+v: %+v", ev, hs)
	}
	ev.When = "DATA_OBJECT_CREATED"
	if hs := cfg.Hooks(ev); len(hs) != 0 {
		t.Errorf("hooks of %+v: %+v", ev, hs)
	}

	var many strings.Builder
	many.WriteString(`{"kiicloud://scheduler": {`)
	for i := range MaxScheduleJobs + 1 {
		if i > 0 {
			many.WriteString(",")
		}
		fmt.Fprintf(&many, `"j%d": {"what": "EXECUTE_SERVER_CODE", "cron": "* * * * *", "endpoint": "e"}`, i)
	}
	many.WriteString("}}")
	for _, bad := range []string{
		many.String(),
		`[]`, `null`, `{`,
		`{"kiicloud://nowhere": []}`,
		`{"kiicloud://users": [{"when": "DATA_OBJECT_CREATED", "what": "EXECUTE_SERVER_CODE", "endpoint": "e"}]}`,
		`{"kiicloud://users": [{"when": "USER_CREATED", "what": "SEND_MAIL", "endpoint": "e"}]}`,
		`{"kiicloud://users": [{"when": "USER_CREATED", "what": "EXECUTE_SERVER_CODE", "endpoint": "1e"}]}`,
		`{"kiicloud://users": {"when": "USER_CREATED"}}`,
		`{"kiicloud://scheduler": {"j": {"what": "EXECUTE_SERVER_CODE", "cron": "* * *", "endpoint": "e"}}}`,
		`{"kiicloud://scheduler": {"j": {"what": "EXECUTE_SERVER_CODE", "cron": "* * * * *", "endpoint": "e", "parameters": [1]}}}`,
		`{"kiicloud://scheduler": []}`,
	} {
		if _, err := ParseHookConfig([]byte(bad)); ErrorCode(err) != ErrInvalidInputData {
			t.Errorf("ParseHookConfig(%s) = %v, want INVALID_INPUT_DATA", bad, err)
		}
	}
}

func TestHooksSuppressed(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		trigger    ServerCodeTrigger
		suppressed bool
	}{{RunManual, false}, {RunThingIF, false}, {RunHook, true}, {RunSchedule, true}} {
		if got := HooksSuppressed(WithServerCode(ctx, c.trigger)); got != c.suppressed {
			t.Errorf("HooksSuppressed(%s) = %v", c.trigger, got)
		}
	}
	if HooksSuppressed(ctx) {
		t.Error("a plain context suppresses hooks")
	}
	if _, ok := ServerCodeFrom(ctx); ok {
		t.Error("a plain context is server code")
	}
}
