package storetest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kumo-iot/kumo"
)

// commandWorld is a thing with a user owner (u1), a group owner (g, of
// which u2 is a member), a stranger (u3), another thing and the thing's
// MQTT installation.
type commandWorld struct {
	th, th2      kumo.Caller
	u1, u2, u3   kumo.Caller
	group        string
	installation kumo.Installation
}

func newCommandWorld(f *fixture) commandWorld {
	f.t.Helper()
	var w commandWorld
	_, w.th = f.mustThing("vt-cmd")
	_, w.th2 = f.mustThing("vt-cmd-2")
	_, w.u1 = f.mustUser("cmd-u1")
	_, w.u2 = f.mustUser("cmd-u2")
	_, w.u3 = f.mustUser("cmd-u3")
	g, _, err := f.db.Groups.CreateGroup(f.ctx, w.u2, kumo.GroupCreation{Name: "cmd"})
	ok(f, "CreateGroup", err)
	w.group = g.ID
	for _, o := range []kumo.ThingOwner{{Kind: kumo.OwnerUser, ID: w.u1.ID}, {Kind: kumo.OwnerGroup, ID: w.group}} {
		ok(f, "AddThingOwner", f.db.Things.AddThingOwner(f.ctx, f.admin, w.th.ID, kumo.OwnershipRequest{Owner: o, Legacy: true}))
	}
	w.installation = f.mustInstall(w.th, kumo.InstallationCreate{DeviceType: kumo.DeviceMQTT})
	f.drainOutbox()
	return w
}

// parseCommand is kumo.ParseCommand of a JSON body, for thing thingID.
func parseCommand(f *fixture, thingID, body string) kumo.Command {
	f.t.Helper()
	d := json.NewDecoder(strings.NewReader(body))
	d.UseNumber()
	var m map[string]any
	ok(f, "decode "+body, d.Decode(&m))
	cmd, err := kumo.ParseCommand(m)
	ok(f, "ParseCommand", err)
	cmd.ThingID = thingID
	return cmd
}

func testCommands(t *testing.T, s suite) {
	t.Run("Create", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, s)
		w := newCommandWorld(f)
		cmd := parseCommand(f, w.th.ID, `{"issuer":"user:`+w.u1.ID+`","actions":[{"AC":[{"turnPower":true},{"setTemp":25}]}],`+
			`"title":"t","description":"d","metadata":{"k":"v"}}`)
		got, err := f.db.Commands.Create(f.ctx, w.u1, cmd)
		ok(f, "Create", err)
		if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(got.ID) {
			t.Errorf("command ID %q is not a UUID", got.ID)
		}
		if got.State != kumo.CommandSending || got.CreatedAt != f.clock.Millis() || got.ModifiedAt != f.clock.Millis() {
			t.Errorf("created %+v; want SENDING at %d", got, f.clock.Millis())
		}
		// Its delivery was committed with it: a direct push to the thing.
		es := f.claimAll()
		if len(es) != 1 {
			t.Fatalf("events after Create: %+v; want 1", es)
		}
		e := es[0]
		if e.Type != kumo.PushMessageSent || e.ObjectID != got.ID || e.Bucket != (kumo.BucketRef{AppID: f.app.AppID, Scope: thingScope(w.th.ID)}) {
			t.Errorf("event %+v; want a PUSH_MESSAGE of %s to the thing", e, got.ID)
		}
		var d kumo.MessageDelivery
		ok(f, "decode the delivery", json.Unmarshal(e.Message, &d))
		want := `{"commandID":"` + got.ID + `","target":"thing:` + w.th.ID + `","issuer":"user:` + w.u1.ID +
			`","actions":[{"AC":[{"turnPower":true},{"setTemp":25}]}],"title":"t","description":"d","metadata":{"k":"v"}}`
		if string(d.MQTT) != want || !d.ToDevelopment || !d.ToProduction || d.Phone == nil || d.Phone.FCMData["commandID"] != got.ID {
			t.Errorf("delivery %+v (MQTT %s); want MQTT %s to development and production, and phones", d, d.MQTT, want)
		}
		rss, err := f.db.Outbox.MessageRecipients(f.ctx, []kumo.Event{e})
		ok(f, "MessageRecipients", err)
		rs := rss[0]
		if len(rs) != 1 || rs[0].MQTTTopic != w.installation.MQTTTopic {
			t.Errorf("recipients %+v; want the thing's MQTT installation %s", rs, w.installation.MQTTTopic)
		}

		// Who may command it, with which issuer.
		issuer := func(s string) string { return `{"issuer":"` + s + `","actions":[{"a":[{"b":1}]}]}` }
		tests := []struct {
			name   string
			c      kumo.Caller
			thing  string
			body   string
			status kumo.Code // "" when it succeeds
		}{
			{"member of the owner group, as the group", w.u2, w.th.ID, issuer("group:" + w.group), ""},
			{"admin, for an owner", f.admin, w.th.ID, issuer("group:" + w.group), ""},
			{"member of the owner group, as himself", w.u2, w.th.ID, issuer("user:" + w.u2.ID), kumo.ErrWrongCommand},
			{"admin, for a stranger", f.admin, w.th.ID, issuer("user:" + w.u3.ID), kumo.ErrWrongCommand},
			{"owner, as a group he is not in", w.u1, w.th.ID, issuer("group:" + w.group), kumo.ErrUnauthorized},
			{"owner, as another user", w.u1, w.th.ID, issuer("user:" + w.u2.ID), kumo.ErrUnauthorized},
			{"stranger", w.u3, w.th.ID, issuer("user:" + w.u3.ID), kumo.ErrUnauthorized},
			{"stranger, as an owner", w.u3, w.th.ID, issuer("user:" + w.u1.ID), kumo.ErrUnauthorized},
			{"the thing itself", w.th, w.th.ID, issuer("user:" + w.u1.ID), kumo.ErrUnauthorized},
			{"another thing", w.th2, w.th.ID, issuer("user:" + w.u1.ID), kumo.ErrUnauthorized},
			{"anonymous", f.anon, w.th.ID, issuer("user:" + w.u1.ID), kumo.ErrUnauthorized},
			{"unknown thing", f.admin, "th.nope", issuer("user:" + w.u1.ID), kumo.ErrTargetNotFound},
			{"owner, of another thing", w.u1, w.th2.ID, issuer("user:" + w.u1.ID), kumo.ErrUnauthorized},
			{"too large for MQTT", w.u1, w.th.ID, `{"issuer":"user:` + w.u1.ID + `","actions":[{"a":[{"b":"` +
				strings.Repeat("x", kumo.MaxPushPayload) + `"}]}]}`, kumo.ErrWrongCommand},
		}
		for _, tt := range tests {
			_, err := f.db.Commands.Create(f.ctx, tt.c, parseCommand(f, tt.thing, tt.body))
			wantCode(t, tt.name, err, tt.status)
		}
		// Only the two that succeeded were committed, each with its push.
		list, _, err := f.db.Commands.List(f.ctx, f.admin, w.th.ID, 0, "")
		ok(f, "List", err)
		if es := f.claimAll(); len(list) != 3 || len(es) != 2 {
			t.Errorf("after the cases: %d commands, %d events; want 3 and 2", len(list), len(es))
		}
	})

	// A command committed and not yet dispatched is delivered after a
	// restart: its push is an outbox event, written with it.
	t.Run("ResultsAfterTheThingWent", func(t *testing.T) {
		// A command created a moment ago, whose thing is deleted before
		// its results come: TARGET_NOT_FOUND, nothing written.
		t.Parallel()
		f := newFixture(t, s)
		w := newCommandWorld(f)
		cmd, err := f.db.Commands.Create(f.ctx, w.u1, parseCommand(f, w.th.ID, `{"issuer":"user:`+w.u1.ID+`","actions":[{"a":[{"b":1}]}]}`))
		ok(f, "Create", err)
		ok(f, "DeleteThing", f.db.Things.DeleteThing(f.ctx, f.admin, w.th.ID))
		body := map[string]any{"actionResults": []any{map[string]any{"a": []any{map[string]any{"b": map[string]any{"succeeded": true}}}}}}
		wantCode(t, "PutActionResults", f.db.Commands.PutActionResults(f.ctx, f.admin, w.th.ID, cmd.ID, body), kumo.ErrTargetNotFound)
	})
	t.Run("RecipientsOfABatch", func(t *testing.T) {
		// The dispatcher asks for the recipients of a whole batch at once:
		// each event gets its own addressee's MQTT installation, none for
		// a thing without one, whatever the order and repetitions.
		t.Parallel()
		f := newFixture(t, s)
		w := newCommandWorld(f)
		_, th3 := f.mustThing("vt-cmd-3")
		in3 := f.mustInstall(th3, kumo.InstallationCreate{DeviceType: kumo.DeviceMQTT})
		inU := f.mustInstall(w.u1, kumo.InstallationCreate{DeviceType: kumo.DeviceMQTT, Development: true})
		f.drainOutbox()
		to := func(kind kumo.ScopeKind, id string) kumo.Event {
			return kumo.Event{Type: kumo.PushMessageSent, Bucket: kumo.BucketRef{AppID: f.app.AppID, Scope: kumo.Scope{Kind: kind, ID: id}}}
		}
		events := []kumo.Event{to(kumo.ScopeThing, w.th.ID), to(kumo.ScopeUser, w.u1.ID), to(kumo.ScopeThing, w.th2.ID),
			to(kumo.ScopeThing, th3.ID), to(kumo.ScopeThing, w.th.ID), to(kumo.ScopeUser, w.u2.ID)}
		rss, err := f.db.Outbox.MessageRecipients(f.ctx, events)
		ok(f, "MessageRecipients", err)
		want := [][]kumo.Recipient{{{MQTTTopic: w.installation.MQTTTopic}}, {{MQTTTopic: inU.MQTTTopic, Development: true}}, nil,
			{{MQTTTopic: in3.MQTTTopic}}, {{MQTTTopic: w.installation.MQTTTopic}}, nil}
		if len(rss) != len(want) {
			t.Fatalf("MessageRecipients of %d events: %d answers", len(events), len(rss))
		}
		for i := range want {
			if !reflect.DeepEqual(rss[i], want[i]) {
				t.Errorf("event %d (%+v): recipients %+v, want %+v", i, events[i].Bucket.Scope, rss[i], want[i])
			}
		}
	})
	t.Run("SurvivesRestart", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, s)
		w := newCommandWorld(f)
		cmd, err := f.db.Commands.Create(f.ctx, w.u1, parseCommand(f, w.th.ID, `{"issuer":"user:`+w.u1.ID+`","actions":[{"a":[{"b":1}]}]}`))
		ok(f, "Create", err)
		f.reopen()
		es := f.claimAll()
		if len(es) != 1 || es[0].ObjectID != cmd.ID || !es[0].Recovered {
			t.Fatalf("events after a restart: %+v; want command %s's push, recovered", es, cmd.ID)
		}
		var d kumo.MessageDelivery
		ok(f, "decode the delivery", json.Unmarshal(es[0].Message, &d))
		if string(d.MQTT) != string(cmd.MQTTPayload()) {
			t.Errorf("payload after a restart %s; want %s", d.MQTT, cmd.MQTTPayload())
		}
		got, err := f.db.Commands.Get(f.ctx, w.th, w.th.ID, cmd.ID)
		if err != nil || got.State != kumo.CommandSending {
			t.Errorf("Get after a restart = %+v, %v", got, err)
		}
	})

	// A thing's phones get the command too, when the app has push
	// credentials: the event's phone recipients are the thing's.
	t.Run("Phones", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, s)
		w := newCommandWorld(f)
		sa, _ := PushKeys(t)
		_, err := f.db.PushConfigs.SetPushConfig(f.ctx, f.admin, kumo.PushConfig{FCM: &kumo.FCMConfig{ServiceAccount: sa}})
		ok(f, "SetPushConfig", err)
		phone := f.mustInstall(w.th, kumo.InstallationCreate{DeviceType: kumo.DeviceAndroid, RegistrationID: "reg-cmd"})
		f.mustInstall(w.th2, kumo.InstallationCreate{DeviceType: kumo.DeviceAndroid, RegistrationID: "reg-cmd-2"})
		f.drainOutbox()
		cmd, err := f.db.Commands.Create(f.ctx, w.u1, parseCommand(f, w.th.ID, `{"issuer":"user:`+w.u1.ID+`","actions":[{"a":[{"b":1}]}]}`))
		ok(f, "Create", err)
		es := f.claimAll()
		if len(es) != 1 {
			t.Fatalf("events: %+v; want the command's", es)
		}
		rs, err := f.db.Phones.PhoneRecipients(f.ctx, es[0])
		ok(f, "PhoneRecipients", err)
		if len(rs) != 1 || rs[0].InstallationID != phone.ID {
			t.Errorf("phone recipients of command %s: %+v; want the thing's phone %s", cmd.ID, rs, phone.ID)
		}
	})

	t.Run("GetAndResults", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, s)
		w := newCommandWorld(f)
		cmd, err := f.db.Commands.Create(f.ctx, w.u2, parseCommand(f, w.th.ID, `{"issuer":"GROUP:`+w.group+`","schema":"LED","schemaVersion":3,`+
			`"actions":[{"turnPower":{"power":true}},{"setColor":{"rgb":[1,2,3]}}],"firedByTriggerID":"tr-1"}`))
		ok(f, "Create", err)
		if cmd.Issuer != "group:"+w.group {
			t.Errorf("issuer %q; want group:%s", cmd.Issuer, w.group)
		}
		for _, c := range []kumo.Caller{w.u1, w.u2, w.th, f.admin} {
			got, err := f.db.Commands.Get(f.ctx, c, w.th.ID, cmd.ID)
			ok(f, "Get by "+c.Kind.String(), err)
			if fmt.Sprint(got) != fmt.Sprint(cmd) {
				t.Errorf("Get by %s = %+v; want %+v", c.Kind, got, cmd)
			}
		}
		for _, tt := range []struct {
			name  string
			c     kumo.Caller
			thing string
			id    string
			want  kumo.Code
		}{
			{"stranger", w.u3, w.th.ID, cmd.ID, kumo.ErrUnauthorized},
			{"another thing", w.th2, w.th.ID, cmd.ID, kumo.ErrUnauthorized},
			{"anonymous", f.anon, w.th.ID, cmd.ID, kumo.ErrUnauthorized},
			{"unknown command", w.u1, w.th.ID, "nope", kumo.ErrCommandNotFound},
			{"through another thing", f.admin, w.th2.ID, cmd.ID, kumo.ErrCommandNotFound},
			{"unknown thing", f.admin, "th.nope", cmd.ID, kumo.ErrTargetNotFound},
		} {
			_, err := f.db.Commands.Get(f.ctx, tt.c, tt.thing, tt.id)
			wantCode(t, "Get: "+tt.name, err, tt.want)
		}

		// Results: the thing reports them; the state follows.
		results := func(s string) map[string]any {
			var m map[string]any
			ok(f, "decode", json.Unmarshal([]byte(s), &m))
			return m
		}
		failed := results(`{"actionResults":[{"turnPower":{"succeeded":true}},{"setColor":{"succeeded":false,"errorMessage":"no such color"}}]}`)
		done := results(`{"actionResults":[{"turnPower":{"succeeded":true}},{"setColor":{"succeeded":true,"data":{"rgb":[1,2,3]}}}]}`)
		for _, tt := range []struct {
			name  string
			c     kumo.Caller
			thing string
			id    string
			body  map[string]any
			want  kumo.Code
		}{
			{"owner", w.u1, w.th.ID, cmd.ID, done, kumo.ErrUnauthorized},
			{"another thing", w.th2, w.th.ID, cmd.ID, done, kumo.ErrUnauthorized},
			{"another thing, its own path", w.th2, w.th2.ID, cmd.ID, done, kumo.ErrCommandNotFound},
			{"unknown command", w.th, w.th.ID, "nope", done, kumo.ErrCommandNotFound},
			{"admin, unknown thing", f.admin, "th.nope", cmd.ID, done, kumo.ErrTargetNotFound},
			{"results of another shape", w.th, w.th.ID, cmd.ID, results(`{"actionResults":[{"x":{"succeeded":true}}]}`), kumo.ErrInvalidInputData},
		} {
			wantCode(t, "PutActionResults: "+tt.name, f.db.Commands.PutActionResults(f.ctx, tt.c, tt.thing, tt.id, tt.body), tt.want)
		}
		for i, tt := range []struct {
			c     kumo.Caller
			body  map[string]any
			state kumo.CommandState
		}{
			{w.th, failed, kumo.CommandIncomplete},
			{w.th, done, kumo.CommandDone},
			{f.admin, failed, kumo.CommandIncomplete},
		} {
			f.clock.Advance(time.Second)
			ok(f, "PutActionResults", f.db.Commands.PutActionResults(f.ctx, tt.c, w.th.ID, cmd.ID, tt.body))
			got, err := f.db.Commands.Get(f.ctx, w.u1, w.th.ID, cmd.ID)
			ok(f, "Get", err)
			want, _ := json.Marshal(tt.body["actionResults"])
			if got.State != tt.state || string(got.ActionResults) != string(want) || got.ModifiedAt != f.clock.Millis() ||
				got.CreatedAt != cmd.CreatedAt {
				t.Errorf("%d: after results %s: %+v; want %s, modified at %d", i, want, got, tt.state, f.clock.Millis())
			}
		}
	})

	t.Run("List", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, s)
		w := newCommandWorld(f)
		var ids []string
		for i := range 7 {
			if i%3 == 0 {
				f.clock.Advance(time.Millisecond) // some share a millisecond
			}
			cmd, err := f.db.Commands.Create(f.ctx, w.u1, parseCommand(f, w.th.ID,
				fmt.Sprintf(`{"issuer":"user:%s","actions":[{"a":[{"n":%d}]}]}`, w.u1.ID, i)))
			ok(f, "Create", err)
			ids = append(ids, cmd.ID)
		}
		_, err := f.db.Commands.Create(f.ctx, f.admin, parseCommand(f, w.th2.ID, `{"issuer":"user:`+w.u1.ID+`","actions":[{"a":[{"b":1}]}]}`))
		wantCode(t, "Create for a thing u1 does not own", err, kumo.ErrWrongCommand)

		for _, limit := range []int{1, 2, 3, 7, 0, 1000} {
			var got []string
			key, pages := "", 0
			for {
				page, next, err := f.db.Commands.List(f.ctx, w.th, w.th.ID, limit, key)
				ok(f, "List", err)
				pages++
				if limit > 0 && len(page) > limit {
					t.Errorf("limit %d: a page of %d", limit, len(page))
				}
				for _, c := range page {
					got = append(got, c.ID)
				}
				if next == "" {
					break
				}
				if pages > len(ids) {
					t.Fatalf("limit %d: more pages than commands", limit)
				}
				key = next
			}
			if strings.Join(got, ",") != strings.Join(ids, ",") {
				t.Errorf("limit %d: listed %v; want %v (the order they were created)", limit, got, ids)
			}
		}
		page, next, err := f.db.Commands.List(f.ctx, w.u1, w.th2.ID, 0, "")
		wantCode(t, "List of a thing u1 does not own", err, kumo.ErrUnauthorized)
		page, next, err = f.db.Commands.List(f.ctx, f.admin, w.th2.ID, 0, "")
		if err != nil || len(page) != 0 || next != "" {
			t.Errorf("List of a thing without commands = %v, %q, %v", page, next, err)
		}
		_, _, err = f.db.Commands.List(f.ctx, f.admin, w.th.ID, 0, "not-a-key")
		wantCode(t, "List with a foreign paginationKey", err, kumo.ErrInvalidInputData)
		_, _, err = f.db.Commands.List(f.ctx, f.admin, "th.nope", 0, "")
		wantCode(t, "List of an unknown thing", err, kumo.ErrTargetNotFound)
	})
}
