package servercode_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/servercode"
)

// TestBridge checks what the API sees of a request the SDK makes: a
// context marked as server code for the run's trigger (so that the API
// refuses nested execution and hooks can be suppressed), the acting
// identity's token, and no network.
func TestBridge(t *testing.T) {
	w := sqliteWorld(t, servercode.Config{})
	type seen struct {
		trigger kumo.ServerCodeTrigger
		marked  bool
		auth    string
		remote  string
		appID   string
	}
	var (
		mu   sync.Mutex
		reqs []seen
	)
	h := w.api.Handler()
	w.eng.SetHandler(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		tr, ok := kumo.ServerCodeFrom(r.Context())
		mu.Lock()
		reqs = append(reqs, seen{tr, ok, r.Header.Get("Authorization"), r.RemoteAddr, r.Header.Get("X-Kii-AppID")})
		mu.Unlock()
		h.ServeHTTP(rw, r)
	}))
	v := w.deploy(`
function write(params, context) {
  var o = (params.admin ? context.getAppAdminContext().bucketWithName("log") : Kii.bucketWithName("log")).createObject();
  if (params.login) { Kii._setCurrent(null, context.getAccessToken()); }
  o.set("at", 1);
  return o.save().then(function () { return context.getAppAdminContext()._getToken(); }, function (e) { return e.errorCode; });
}`)
	_, utok := w.user("carol")
	tests := []struct {
		name, params string
		trigger      kumo.ServerCodeTrigger
		token        string
		wantAuth     func(admin string) string
		remote       string // the caller's address (ServerCodeCall.RemoteAddr)
		wantRemote   string // the requests' RemoteAddr: the caller's, for its login throttle
	}{
		{"manual, admin context", `{"admin":true}`, kumo.RunManual, "", func(a string) string { return "Bearer " + a }, "", "servercode"},
		{"hook, admin context", `{"admin":true}`, kumo.RunHook, "", func(a string) string { return "Bearer " + a }, "", "servercode"},
		{"schedule, anonymous", `{}`, kumo.RunSchedule, "", func(string) string { return "" }, "", "servercode"},
		{"manual, as the caller", `{"login":true}`, kumo.RunManual, utok, func(string) string { return "Bearer " + utok }, "198.51.100.7:4242", "198.51.100.7:4242"},
	}
	for _, tt := range tests {
		mu.Lock()
		reqs = nil
		mu.Unlock()
		res := w.ok(v, "write", tt.params, func(c *kumo.ServerCodeCall) { c.Trigger, c.Token, c.RemoteAddr = tt.trigger, tt.token, tt.remote })
		admin := strings.Trim(string(res.ReturnedValue), `"`)
		mu.Lock()
		got := reqs
		mu.Unlock()
		if len(got) != 1 {
			t.Fatalf("%s: %d requests: %+v", tt.name, len(got), got)
		}
		g := got[0]
		if !g.marked || g.trigger != tt.trigger || g.auth != tt.wantAuth(admin) || g.remote != tt.wantRemote || g.appID != w.app.AppID {
			t.Errorf("%s: the API saw %+v (returned %s)", tt.name, g, res.ReturnedValue)
		}
	}
}
