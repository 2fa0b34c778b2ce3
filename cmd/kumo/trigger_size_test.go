package main

import (
	"strings"
	"testing"
)

// TestTriggerCommandTooLarge: POST commands refuses a command whose
// MQTT push is over 4096 bytes (400 WRONG_COMMAND), but a trigger with
// that command is created (201) and every fire is silently dropped.
func TestTriggerCommandTooLarge(t *testing.T) {
	f := newFixture(t, testConfig(t.TempDir()))
	d, _ := f.onboardOwned(t, "big-1")
	tg := f.n.base + "/thing-if/apps/" + f.n.app.AppID + "/targets/thing:" + d.ThingID
	user := []string{"Authorization", "Bearer " + f.userToken, "Content-Type", "application/json"}
	cmd := `{"issuer":"user:` + f.userID + `","actions":[{"AC":[{"say":"` + strings.Repeat("x", 5000) + `"}]}]}`
	wantStatus(t, do(t, "POST", tg+"/commands", cmd, user...), 400)
	r := do(t, "POST", tg+"/triggers", `{"predicate":{"eventSource":"STATES","triggersWhen":"CONDITION_TRUE","condition":{"type":"eq","alias":"AC","field":"on","value":true}},"triggersWhat":"COMMAND","command":`+cmd+`}`, user...)
	if r.Status == 201 {
		wantStatus(t, do(t, "PUT", tg+"/states", `{"AC":{"on":true}}`, "Authorization", "Bearer "+d.Token, "Content-Type", "application/vnd.kii.MultipleTraitState+json"), 201)
		l := do(t, "GET", tg+"/commands", "", user...)
		t.Errorf("a trigger whose command can never be sent was created (201); after it fired, commands: %.200s", l.Body)
	}
}
