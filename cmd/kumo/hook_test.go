package main

import (
	"context"
	"encoding/json"
	"fmt"
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

// hookScript's hook copies each object created in a thing's bucket "log"
// into the app bucket "hooked" (as the admin), naming it by objectID. The
// same hook is on "hooked": were the copies to fire hooks, copies of
// copies (objectID undefined) would pile up.
const hookScript = `
function logged(params, context) {
  var o = context.getAppAdminContext().bucketWithName("hooked").createObject();
  o.set("objectID", params.objectID);
  o.set("thingID", params.objectScope.thingID);
  return o.save().then(function () { return "copied"; });
}
`

// deployHooks deploys hookScript with its hook configuration over REST,
// as the admin, and makes it current.
func deployHooks(t *testing.T, n *testNode) {
	t.Helper()
	admin := adminToken(t, n)
	api := n.base + "/api/apps/" + n.app.AppID
	r := do(t, "POST", api+"/server-code", hookScript, "Authorization", "Bearer "+admin, "Content-Type", "application/javascript")
	wantStatus(t, r, 201)
	v := r.Str(t, "versionID")
	wantStatus2xx(t, do(t, "PUT", api+"/hooks/versions/"+v,
		`{"kiicloud://things/*/buckets/log":[{"when":"DATA_OBJECT_CREATED","what":"EXECUTE_SERVER_CODE","endpoint":"logged"}],`+
			`"kiicloud://buckets/hooked":[{"when":"DATA_OBJECT_CREATED","what":"EXECUTE_SERVER_CODE","endpoint":"logged"}]}`,
		"Authorization", "Bearer "+admin, "Content-Type", "application/vnd.kii.HooksDeploymentRequest+json"))
	wantStatus2xx(t, do(t, "PUT", api+"/server-code/versions/current", v, "Authorization", "Bearer "+admin, "Content-Type", "text/plain"))
}

// hookedCopies returns, by objectID, how many copies the hook made.
func hookedCopies(t *testing.T, n *testNode) map[string]int {
	t.Helper()
	admin := adminToken(t, n)
	out := map[string]int{}
	key := ""
	for {
		q := `{"bucketQuery":{"clause":{"type":"all"}},"bestEffortLimit":200` + key + `}`
		r := do(t, "POST", n.base+"/api/apps/"+n.app.AppID+"/buckets/hooked/query", q,
			"Authorization", "Bearer "+admin, "Content-Type", "application/vnd.kii.QueryRequest+json")
		if r.Status == 404 {
			return out // no copy yet: no bucket
		}
		wantStatus(t, r, 200)
		var page struct {
			Results []struct {
				ObjectID string `json:"objectID"`
			} `json:"results"`
			NextPaginationKey string `json:"nextPaginationKey"`
		}
		if err := json.Unmarshal(r.Body, &page); err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Results {
			out[o.ObjectID]++
		}
		if page.NextPaginationKey == "" {
			return out
		}
		key = `,"paginationKey":"` + page.NextPaginationKey + `"`
	}
}

// TestHooksAcrossCrash: with the engine of a real kumo process, object
// writes run their hook (JavaScript writing a copy through the admin
// context) exactly once; hooks committed but not run when the process is
// SIGKILLed run after the restart (at least once); the copies the hooks
// write fire no hooks.
func TestHooksAcrossCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	forEachStore(t, testHooksAcrossCrash)
}

func testHooksAcrossCrash(t *testing.T, cfg config) {
	dir, db := cfg.DataDir, storeEnv(cfg)
	app := createAppCLI(t, dir, db)

	// First life: hooks run; then paused, committed, killed.
	c1 := startChild(t, dir, db)
	n1 := childNode(t, c1, app)
	deployHooks(t, n1)
	d := n1.mustDevice("hooked-thing")
	var before []string
	for i := range 10 {
		before = append(before, n1.createObject(d, "log", fmt.Sprintf(`{"i":%d}`, i)))
	}
	waitUntil(t, "the hooks of the first writes", func() bool { return len(hookedCopies(t, n1)) == len(before) })
	c1.kill9(t)

	c2 := startChild(t, dir, db, "KUMO_FAULT_PAUSE_HOOKS=1")
	n2 := childNode(t, c2, app)
	var crashed []string
	for i := range 10 {
		crashed = append(crashed, n2.createObject(d, "log", fmt.Sprintf(`{"j":%d}`, i)))
	}
	if n := len(hookedCopies(t, n2)); n != len(before) {
		t.Fatalf("%d copies with the hooks paused, want %d", n, len(before))
	}
	c2.kill9(t)

	// Third life (the same node ID): the hooks committed, and claimed by
	// the node, before the kill run at once (not after the lease).
	c3 := startChild(t, dir, db)
	n3 := childNode(t, c3, app)
	all := append(append([]string{}, before...), crashed...)
	var copies map[string]int
	waitUntil(t, "the hooks committed before the kill", func() bool {
		copies = hookedCopies(t, n3)
		return len(copies) == len(all)
	})
	if copies[""] != 0 {
		t.Errorf("%d copies of copies: the hook's writes fired hooks", copies[""])
	}
	for _, id := range before {
		if copies[id] != 1 {
			t.Errorf("object %s (normal run): %d copies, want 1", id, copies[id])
		}
	}
	for _, id := range crashed {
		if copies[id] < 1 {
			t.Errorf("object %s (committed before the kill): no copy", id)
		}
	}
}
