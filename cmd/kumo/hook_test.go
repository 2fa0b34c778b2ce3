package main

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/kumo-iot/kumo"
)

// hookRecorder is a server code runtime recording the runs the node's
// hook worker makes (the engine is internal/servercode's): a run answers
// 200, or what answer says.
type hookRecorder struct {
	mu     sync.Mutex
	calls  []kumo.ServerCodeCall
	answer func(kumo.ServerCodeCall) (kumo.ServerCodeResult, error)
}

func (r *hookRecorder) Check(string) error { return nil }

func (r *hookRecorder) Run(_ context.Context, c kumo.ServerCodeCall) (kumo.ServerCodeResult, error) {
	r.mu.Lock()
	r.calls = append(r.calls, c)
	answer := r.answer
	r.mu.Unlock()
	if answer != nil {
		return answer(c)
	}
	return kumo.ServerCodeResult{ReturnedValue: json.RawMessage(`200`)}, nil
}

func (r *hookRecorder) snapshot() []kumo.ServerCodeCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]kumo.ServerCodeCall(nil), r.calls...)
}

// TestHooksOverREST: objects created over REST by a user run the current
// version's DATA_OBJECT_CREATED hook exactly once each, with the user as
// the actor and the object's params; a version deployed and made current
// over the store's service switches the hooks on.
func TestHooksOverREST(t *testing.T) {
	forEachStore(t, func(t *testing.T, cfg config) {
		rec := &hookRecorder{}
		cfg.serverCode = rec
		f := newFixture(t, cfg)
		admin := kumo.Caller{AppID: f.n.app.AppID, Kind: kumo.Admin, ID: f.n.app.ClientID}
		ctx := t.Context()
		v, err := f.n.db.ServerCode.Deploy(ctx, admin, "function created(params, context) { return 1; }", "")
		if err != nil {
			t.Fatal(err)
		}
		hc, err := kumo.ParseHookConfig([]byte(`{"kiicloud://users/*/buckets/notes":[{"when":"DATA_OBJECT_CREATED","what":"EXECUTE_SERVER_CODE","endpoint":"created"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		if err := f.n.db.ServerCode.PutHookConfig(ctx, admin, v.ID, hc); err != nil {
			t.Fatal(err)
		}
		if err := f.n.db.ServerCode.SetCurrent(ctx, admin, v.ID); err != nil {
			t.Fatal(err)
		}
		const objects = 30
		ids := make(chan string, objects)
		var wg sync.WaitGroup
		for range objects {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := do(t, "POST", f.n.base+"/api/apps/"+f.n.app.AppID+"/users/me/buckets/notes/objects", `{"n":1}`,
					"Authorization", "Bearer "+f.userToken, "Content-Type", "application/json")
				wantStatus(t, r, 201)
				ids <- r.Str(t, "objectID")
			}()
		}
		wg.Wait()
		close(ids)
		waitUntil(t, "the hooks' runs", func() bool {
			n, err := f.n.db.Hooks.Pending(ctx)
			return err == nil && n == 0 && len(rec.snapshot()) >= objects
		})
		runs := map[string]int{}
		for _, c := range rec.snapshot() {
			var p struct {
				ObjectID, URI string
				ObjectScope   map[string]string
			}
			json.Unmarshal(c.Params, &p)
			runs[p.ObjectID]++
			if c.Version != v.ID || c.Endpoint != "created" || c.Trigger != kumo.RunHook || c.Actor != (kumo.Principal{Kind: kumo.UserCaller, ID: f.userID}) ||
				p.URI != "kiicloud://users/"+f.userID+"/buckets/notes/objects/"+p.ObjectID || p.ObjectScope["userID"] != f.userID {
				t.Errorf("run %+v (params %s)", c, c.Params)
			}
		}
		for id := range ids {
			if runs[id] != 1 {
				t.Errorf("the hook of object %s ran %d times, want 1", id, runs[id])
			}
		}
		if len(runs) != objects {
			t.Errorf("hooks ran for %d objects, want %d", len(runs), objects)
		}
	})
}

// TestThingIFServerCodeTrigger: a state upload that fires a SERVER_CODE
// trigger runs its endpoint with its parameters and executor token, and
// the result shows in …/results/server-code at once (the Thing-IF SDK's
// test waits 3 s).
func TestThingIFServerCodeTrigger(t *testing.T) {
	forEachStore(t, func(t *testing.T, cfg config) {
		rec := &hookRecorder{}
		cfg.serverCode = rec
		f := triggerFixture(t, cfg)
		id := f.postTrigger(t, `{"predicate":{"eventSource":"STATES","triggersWhen":"CONDITION_FALSE_TO_TRUE","condition":{"type":"range","alias":"AC","field":"temp","lowerLimit":30,"lowerIncluded":true}},`+
			`"triggersWhat":"SERVER_CODE","serverCode":{"endpoint":"alertTemperature","executorAccessToken":"{usertoken}","parameters":{"caller":"trigger"}}}`)
		put := func(state string) { putState(t, f.n.base, f.n.app.AppID, f.thing.ThingID, f.thing.Token, state) }
		put(`{"AC":{"temp":25}}`)
		put(`{"AC":{"temp":31}}`)
		url := f.triggersURL(f.thing.ThingID) + "/" + id + "/results/server-code"
		var body string
		waitUntil(t, "the trigger's result", func() bool {
			r := do(t, "GET", url, "", "Authorization", "Bearer "+f.userToken)
			wantStatus(t, r, 200)
			var page struct {
				Results []json.RawMessage `json:"triggerServerCodeResults"`
			}
			json.Unmarshal(r.Body, &page)
			if len(page.Results) == 0 {
				return false
			}
			body = string(r.Body)
			var res []map[string]any
			json.Unmarshal(mustJSON(t, page.Results), &res)
			if len(res) != 1 || res[0]["succeeded"] != true || res[0]["returnedValue"] != 200.0 || res[0]["endpoint"] != "alertTemperature" ||
				res[0]["executedAt"] == nil || res[0]["error"] != nil {
				t.Errorf("results = %s", r.Body)
			}
			return true
		})
		calls := rec.snapshot()
		if len(calls) != 1 || calls[0].Trigger != kumo.RunThingIF || calls[0].Token != f.userToken || calls[0].Version != kumo.CurrentVersion ||
			calls[0].AppID != f.n.app.AppID || string(calls[0].Params) != `{"caller":"trigger"}` {
			t.Errorf("runs = %+v (results %s)", calls, body)
		}
	})
}
