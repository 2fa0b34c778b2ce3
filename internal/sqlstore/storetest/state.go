package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/sqlstore"
)

// jsonMap decodes a JSON object the way the API does (numbers as
// json.Number).
func jsonMap(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		t.Fatalf("bad JSON %s: %v", s, err)
	}
	return m
}

// sameJSON compares two values by their JSON.
func sameJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	var u, v any
	json.Unmarshal(x, &u)
	json.Unmarshal(y, &v)
	return reflect.DeepEqual(u, v)
}

// testStates checks kumo.StateService: the state document, 201-then-204
// (created), merges, aliases, bulk uploads with their times, who may read
// and write, the history query, its pruning, and the stateWritten hooks
// called inside each write's transaction.
func testStates(t *testing.T, s suite) {
	f := newFixture(t, s)
	th, thC := f.mustThing("st-1")
	alice, aliceC := f.mustUser("alice")
	_, bobC := f.mustUser("bob")
	if err := f.db.Things.AddThingOwner(f.ctx, thC, th.ID, kumo.OwnershipRequest{Owner: kumo.ThingOwner{Kind: kumo.OwnerUser, ID: alice.ID}}); err != nil {
		t.Fatal(err)
	}
	var changes []kumo.StateChange
	fail := false
	f.db.States.OnStateWritten(func(ctx context.Context, tx *sqlstore.Tx, ch kumo.StateChange) error {
		if fail {
			return errors.New("hook failed")
		}
		changes = append(changes, ch)
		return nil
	})
	write := func(c kumo.Caller, ws ...kumo.StateWrite) (bool, error) {
		return f.db.States.WriteStates(f.ctx, c, th.ID, ws)
	}
	put := func(doc string) kumo.StateWrite {
		return kumo.StateWrite{Kind: kumo.StatePut, Trait: true, State: jsonMap(t, doc)}
	}
	state := func(c kumo.Caller, alias string) map[string]any {
		t.Helper()
		m, err := f.db.States.State(f.ctx, c, th.ID, alias)
		if err != nil {
			t.Fatalf("State(%q): %v", alias, err)
		}
		return m
	}

	// Before any write: the empty document.
	if m := state(thC, ""); len(m) != 0 {
		t.Fatalf("state before any write = %v, want {}", m)
	}
	// The first write creates, the next ones do not.
	t0 := f.clock.Millis()
	if created, err := write(thC, put(`{"ac":{"power":true,"temp":20}}`)); err != nil || !created {
		t.Fatalf("first PUT: created %v, %v; want created", created, err)
	}
	f.clock.Advance(time.Second)
	if created, err := write(thC, put(`{"ac":{"power":true,"temp":22}}`)); err != nil || created {
		t.Fatalf("second PUT: created %v, %v; want not created", created, err)
	}
	f.clock.Advance(time.Second)
	if _, err := write(thC, kumo.StateWrite{Kind: kumo.StatePatch, Trait: true, State: jsonMap(t, `{"ac":{"temp":25},"hum":{"level":40}}`)}); err != nil {
		t.Fatal(err)
	}
	want := `{"ac":{"power":true,"temp":25},"hum":{"level":40}}`
	if m := state(aliceC, ""); !sameJSON(m, jsonMap(t, want)) {
		t.Errorf("state after PATCH = %v, want %s", m, want)
	}
	f.clock.Advance(time.Second)
	if _, err := write(f.admin, kumo.StateWrite{Kind: kumo.StateAliasPut, Alias: "hum", State: jsonMap(t, `{"level":41}`)}); err != nil {
		t.Fatal(err)
	}
	if m := state(thC, "hum"); !sameJSON(m, map[string]any{"level": 41}) {
		t.Errorf("alias hum = %v", m)
	}
	_, err := f.db.States.State(f.ctx, thC, th.ID, "nope")
	wantCode(t, "an alias never written", err, kumo.ErrStateNotFound)

	// The hooks saw every write, with its before and after documents.
	if len(changes) != 4 || changes[0].Before != nil || changes[0].At != t0 || changes[0].ThingID != th.ID || changes[0].AppID != f.app.AppID ||
		!sameJSON(changes[1].Before, changes[0].After) || !sameJSON(changes[3].After, jsonMap(t, `{"ac":{"power":true,"temp":25},"hum":{"level":41}}`)) {
		t.Errorf("state changes = %+v", changes)
	}
	// A failing hook rolls its write back.
	fail = true
	_, err = write(thC, put(`{"ac":{"power":false}}`))
	fail = false
	if err == nil {
		t.Error("a write whose hook failed succeeded")
	}
	if m := state(thC, "ac"); !sameJSON(m, map[string]any{"power": true, "temp": 25}) {
		t.Errorf("state after a failed hook = %v, want unchanged", m)
	}

	// Bulk: each state with its generatedAt, in one transaction.
	base := t0 - 10*60_000
	changes = nil
	if _, err := write(thC,
		kumo.StateWrite{Kind: kumo.StatePatch, Trait: true, State: jsonMap(t, `{"ac":{"temp":10}}`), At: base},
		kumo.StateWrite{Kind: kumo.StatePatch, Trait: true, State: jsonMap(t, `{"ac":{"temp":11}}`), At: base + 1000}); err != nil {
		t.Fatal(err)
	}
	if len(changes) != 2 || changes[0].At != base || changes[1].At != base+1000 {
		t.Errorf("bulk changes = %+v", changes)
	}

	// Who may write and read.
	_, err = write(bobC, put(`{"ac":{}}`))
	wantCode(t, "a stranger's write", err, kumo.ErrUnauthorized)
	_, err = f.db.States.State(f.ctx, bobC, th.ID, "")
	wantCode(t, "a stranger's read", err, kumo.ErrUnauthorized)
	_, err = f.db.States.WriteStates(f.ctx, thC, "th.nope", []kumo.StateWrite{put(`{"ac":{}}`)})
	wantCode(t, "an unknown thing", err, kumo.ErrTargetNotFound)

	// The history: ac was written at base, base+1s, t0, t0+1s, t0+2s.
	q := func(alias string, body string) (kumo.StateQueryResult, error) {
		query, err := kumo.ParseStateQuery(jsonMap(t, body))
		if err != nil {
			t.Fatalf("ParseStateQuery(%s): %v", body, err)
		}
		return f.db.States.QueryStates(f.ctx, aliceC, th.ID, alias, query)
	}
	temps := func(r kumo.StateQueryResult) []any {
		var out []any
		for _, m := range r.Results {
			n, _ := m["temp"].(json.Number).Int64()
			out = append(out, n)
		}
		return out
	}
	r, err := q("ac", `{"query":{"clause":{"type":"all"}}}`)
	if err != nil || !reflect.DeepEqual(temps(r), []any{int64(10), int64(11), int64(20), int64(22), int64(25)}) || r.NextPaginationKey != "" {
		t.Fatalf("all of ac = %v (%+v), %v", temps(r), r, err)
	}
	if r.Results[0]["_created"] != base {
		t.Errorf("_created of the first = %v, want %d", r.Results[0]["_created"], base)
	}
	r, err = q("ac", `{"query":{"clause":{"type":"range","field":"temp","lowerLimit":11,"lowerIncluded":false}},"bestEffortLimit":2}`)
	if err != nil || !reflect.DeepEqual(temps(r), []any{int64(20), int64(22)}) || r.NextPaginationKey == "" {
		t.Fatalf("page 1 = %v (%+v), %v", temps(r), r, err)
	}
	r, err = q("ac", `{"query":{"clause":{"type":"range","field":"temp","lowerLimit":11,"lowerIncluded":false}},"bestEffortLimit":2,"paginationKey":"`+r.NextPaginationKey+`"}`)
	if err != nil || !reflect.DeepEqual(temps(r), []any{int64(25)}) || r.NextPaginationKey != "" {
		t.Fatalf("page 2 = %v (%+v), %v", temps(r), r, err)
	}
	_, err = q("never", `{"query":{"clause":{"type":"all"}}}`)
	wantCode(t, "an alias without history", err, kumo.ErrStateHistoryNotAvailable)
	_, err = f.db.States.QueryStates(f.ctx, bobC, th.ID, "ac", kumo.StateQuery{Clause: kumo.StateClause{Type: "all"}, Limit: 10})
	wantCode(t, "a stranger's query", err, kumo.ErrUnauthorized)

	// Pruning drops what was generated before the limit.
	n, err := f.db.States.PruneStateHistory(f.ctx, t0)
	if err != nil || n != 2 {
		t.Fatalf("PruneStateHistory = %d, %v; want the 2 bulk states", n, err)
	}
	r, err = q("ac", `{"query":{"clause":{"type":"all"}}}`)
	if err != nil || !reflect.DeepEqual(temps(r), []any{int64(20), int64(22), int64(25)}) {
		t.Fatalf("ac after pruning = %v, %v", temps(r), err)
	}

	// Concurrent first writes of another thing: all succeed, one creates.
	th2, th2C := f.mustThing("st-2")
	var (
		wg      sync.WaitGroup
		created atomic.Int32
		failed  atomic.Int32
	)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := f.db.States.WriteStates(f.ctx, th2C, th2.ID, []kumo.StateWrite{{Kind: kumo.StatePatch, Trait: true, State: map[string]any{"a": map[string]any{strconv.Itoa(i): i}}}})
			if err != nil {
				failed.Add(1)
			} else if c {
				created.Add(1)
			}
		}()
	}
	wg.Wait()
	if created.Load() != 1 || failed.Load() != 0 {
		t.Errorf("concurrent first writes: %d created, %d failed; want 1 created, none failed", created.Load(), failed.Load())
	}
	if m, err := f.db.States.State(f.ctx, th2C, th2.ID, "a"); err != nil || len(m) != 8 {
		t.Errorf("after concurrent patches: %v, %v; want the 8 fields", m, err)
	}

	// Deleting the thing deletes its state and history.
	for _, id := range []string{th.ID, th2.ID} {
		if err := f.db.Things.DeleteThing(f.ctx, f.admin, id); err != nil {
			t.Fatal(err)
		}
	}
	for _, table := range []string{"states", "state_history"} {
		var count int
		if err := f.db.ReadDB().QueryRow("SELECT COUNT(*) FROM " + table).Scan(&count); err != nil || count != 0 {
			t.Errorf("%s after the thing's delete: %d rows, %v", table, count, err)
		}
	}
}

// testThingIFConfig checks kumo.ThingTypeService and kumo.TraitService:
// admin-only writes, trait versions and finalize, aliases, and the
// checks of states against them.
func testThingIFConfig(t *testing.T, s suite) {
	f := newFixture(t, s)
	_, userC := f.mustUser("carol")
	_, err := f.db.ThingTypes.PutThingType(f.ctx, userC, kumo.ThingType{Name: "LAMP", Config: map[string]any{}})
	wantCode(t, "a user's PutThingType", err, kumo.ErrUnauthorized)
	if created, err := f.db.ThingTypes.PutThingType(f.ctx, f.admin, kumo.ThingType{Name: "LAMP", Config: map[string]any{"simpleFlow": true}}); err != nil || !created {
		t.Fatalf("PutThingType = %v, %v", created, err)
	}
	if created, err := f.db.ThingTypes.PutThingType(f.ctx, f.admin, kumo.ThingType{Name: "LAMP", Config: map[string]any{"simpleFlow": false}}); err != nil || created {
		t.Fatalf("PutThingType again = %v, %v", created, err)
	}
	_, err = f.db.ThingTypes.PutFirmwareVersion(f.ctx, f.admin, "NOPE", "v1")
	wantCode(t, "a firmware version of an unknown thing type", err, kumo.ErrThingTypeNotFound)
	if _, err := f.db.ThingTypes.PutFirmwareVersion(f.ctx, f.admin, "LAMP", "v1"); err != nil {
		t.Fatal(err)
	}
	if fws, err := f.db.ThingTypes.FirmwareVersions(f.ctx, userC, "LAMP"); err != nil || !reflect.DeepEqual(fws, []string{"v1"}) {
		t.Fatalf("FirmwareVersions = %v, %v", fws, err)
	}

	// Trait versions: one open version at a time; finalized is immutable.
	def, err := kumo.ParseTraitDefinition(jsonMap(t, `{"dataGroupingInterval":"1_MINUTE","actions":[{"turnPower":{"payloadSchema":{"type":"boolean"}}}],"states":[{"power":{"payloadSchema":{"type":"boolean"}}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	def.Trait = "Light"
	if v, err := f.db.Traits.CreateTraitVersion(f.ctx, f.admin, def); err != nil || v != 1 {
		t.Fatalf("CreateTraitVersion = %d, %v", v, err)
	}
	_, err = f.db.Traits.CreateTraitVersion(f.ctx, f.admin, def)
	wantCode(t, "a second version while the first is open", err, kumo.ErrTraitVersionOpen)
	def.Version = 1
	if err := f.db.Traits.UpdateTraitVersion(f.ctx, f.admin, def); err != nil {
		t.Fatal(err)
	}
	if err := f.db.Traits.FinalizeTraitVersion(f.ctx, f.admin, "Light", 1); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "changing a finalized version", f.db.Traits.UpdateTraitVersion(f.ctx, f.admin, def), kumo.ErrTraitVersionFinalized)
	wantCode(t, "finalizing twice", f.db.Traits.FinalizeTraitVersion(f.ctx, f.admin, "Light", 1), kumo.ErrTraitVersionFinalized)
	if v, err := f.db.Traits.CreateTraitVersion(f.ctx, f.admin, def); err != nil || v != 2 {
		t.Fatalf("CreateTraitVersion after finalize = %d, %v", v, err)
	}
	if tv, err := f.db.Traits.TraitVersion(f.ctx, userC, "Light", 1); err != nil || !tv.Finalized || tv.DataGroupingInterval != "1_MINUTE" {
		t.Fatalf("TraitVersion = %+v, %v", tv, err)
	}
	_, err = f.db.Traits.TraitVersions(f.ctx, userC, "Nope")
	wantCode(t, "an unknown trait", err, kumo.ErrTraitNotFound)

	// Aliases.
	alias := kumo.TraitAlias{ThingType: "LAMP", FirmwareVersion: "v1", Alias: "light", Trait: "Light", TraitVersion: 1}
	if err := f.db.ThingTypes.PutTraitAlias(f.ctx, f.admin, alias); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "an alias twice", f.db.ThingTypes.PutTraitAlias(f.ctx, f.admin, alias), kumo.ErrTraitAliasExists)
	bad := alias
	bad.Alias, bad.TraitVersion = "other", 9
	wantCode(t, "an alias of an unknown trait version", f.db.ThingTypes.PutTraitAlias(f.ctx, f.admin, bad), kumo.ErrTraitVersionNotFound)
	if list, err := f.db.ThingTypes.TraitAliases(f.ctx, userC, "LAMP", "v1"); err != nil || len(list) != 1 || list[0].Trait != "Light" {
		t.Fatalf("TraitAliases = %+v, %v", list, err)
	}

	// A thing of that type and firmware may only write known aliases; a
	// thing without configuration any.
	th, _, err := f.db.Things.RegisterThing(f.ctx, f.anon, kumo.ThingRegistration{VendorThingID: "lamp-1", Password: "pw",
		Fields: map[string]any{"_thingType": "LAMP", "_firmwareVersion": "v1"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	thC := kumo.Caller{AppID: f.app.AppID, Kind: kumo.ThingCaller, ID: th.ID}
	_, err = f.db.States.WriteStates(f.ctx, thC, th.ID, []kumo.StateWrite{{Kind: kumo.StatePut, Trait: true, State: jsonMap(t, `{"heater":{"on":true}}`)}})
	wantCode(t, "a state of an unknown alias", err, kumo.ErrTraitAliasNotFound)
	wantCode(t, "CheckAliases(unknown)", f.db.ThingTypes.CheckAliases(f.ctx, f.app.AppID, th.ID, []string{"light", "heater"}), kumo.ErrTraitAliasNotFound)
	wantCode(t, "CheckAliases(known)", f.db.ThingTypes.CheckAliases(f.ctx, f.app.AppID, th.ID, []string{"light"}), "")
	_, plainC := f.mustThing("plain-1")
	wantCode(t, "CheckAliases(a thing without configuration)", f.db.ThingTypes.CheckAliases(f.ctx, f.app.AppID, plainC.ID, []string{"anything"}), "")

	// The alias's trait version groups its history by 1 minute.
	for i, temp := range []int{1, 2, 3} {
		at := epoch + int64(i)*40_000
		if _, err := f.db.States.WriteStates(f.ctx, thC, th.ID, []kumo.StateWrite{{Kind: kumo.StatePut, Trait: true, State: map[string]any{"light": map[string]any{"power": temp}}, At: at}}); err != nil {
			t.Fatal(err)
		}
	}
	query, err := kumo.ParseStateQuery(jsonMap(t, `{"query":{"grouped":true,"clause":{"type":"withinTimeRange","lowerLimit":1700000000000,"upperLimit":1700000200000},
		"aggregations":[{"type":"SUM","field":"power","fieldType":"INTEGER","putAggregationInto":"total"}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	r, err := f.db.States.QueryStates(f.ctx, thC, th.ID, "light", query)
	if err != nil {
		t.Fatal(err)
	}
	want := []kumo.StateGroup{
		{Range: kumo.StateRange{From: epoch - epoch%60_000, To: epoch - epoch%60_000 + 59_999}, Aggregations: []kumo.StateAggregated{{Name: "total", Value: int64(1)}}},
		{Range: kumo.StateRange{From: epoch - epoch%60_000 + 60_000, To: epoch - epoch%60_000 + 119_999}, Aggregations: []kumo.StateAggregated{{Name: "total", Value: int64(5)}}},
	}
	if !sameJSON(r.GroupedResults, want) {
		b, _ := json.Marshal(r.GroupedResults)
		t.Errorf("grouped by the trait's interval = %s", b)
	}

	// Deleting the thing type deletes its firmware versions and aliases.
	if err := f.db.ThingTypes.DeleteThingType(f.ctx, f.admin, "LAMP"); err != nil {
		t.Fatal(err)
	}
	_, err = f.db.ThingTypes.TraitAliases(f.ctx, userC, "LAMP", "v1")
	wantCode(t, "the aliases of a deleted thing type", err, kumo.ErrFirmwareVersionNotFound)
}
