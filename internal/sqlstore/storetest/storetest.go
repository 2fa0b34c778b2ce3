// Package storetest is the contract suite of Kumo's store: the behaviour
// of the kumo service interfaces that every sqlstore backend (SQLite and
// PostgreSQL) must show. A backend's own test calls Run with two
// functions that open stores over its database:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, openTestStore, reopenTestStore)
//	}
//
// The suite talks to the store only through its exported methods, so that
// one suite serves every SQL dialect. It sets each store's Now to a clock
// of its own right after opening it, before any write, so that stored
// times can be checked exactly and tokens can be made to expire.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/auth"
	"github.com/kumo-iot/kumo/internal/sqlstore"
)

// OpenFunc returns an opened store over a new, empty database: Hasher set,
// Open called and Close registered with t.Cleanup. Every call returns a
// store over a database of its own.
type OpenFunc func(t *testing.T) *sqlstore.Store

// ReopenFunc closes db (a store that the OpenFunc or the ReopenFunc
// returned, possibly closed already) and returns a new opened store over the same database, as a
// restarted process sees it: Hasher set, Open called and Close registered
// with t.Cleanup. The suite uses it to check what survives a restart (the
// outbox, secrets).
type ReopenFunc func(t *testing.T, db *sqlstore.Store) *sqlstore.Store

// Run runs the contract suite. Its subtests run in parallel, each over a
// store of its own.
func Run(t *testing.T, open OpenFunc, reopen ReopenFunc) {
	s := suite{open: open, reopen: reopen}
	tests := []struct {
		name string
		fn   func(t *testing.T, s suite)
	}{
		{"Apps", testApps},
		{"Tokens", testTokens},
		{"Things", testThings},
		{"Users", testUsers},
		{"Objects", testObjects},
		{"Bodies", testBodies},
		{"Query", testQuery},
		{"QueryLazyIndex", testQueryLazyIndex},
		{"QueryIndexWhileWriting", testQueryIndexWhileWriting},
		{"Events", testEvents},
		{"GroupCommit", testGroupCommit},
		{"Close", testClose},
		{"Installations", testInstallations},
		{"RevokeMQTT", testRevokeMQTT},
		{"Subscriptions", testSubscriptions},
		{"SubscriptionsToDeletedScopes", testSubscriptionsToDeletedScopes},
		{"Topics", testTopics},
		{"Secret", testSecret},
		{"AppParams", testAppParams},
		{"PushConfig", testPushConfig},
		{"Lockout", testLockout},
		{"RefreshTokens", testRefreshTokens},
		{"LocalPhone", testLocalPhone},
		{"LockoutConcurrent", testLockoutConcurrent},
		{"Groups", testGroups},
		{"Ownership", testOwnership},
		{"Onboarding", testOnboarding},
		{"Gateways", testGateways},
		{"Commands", testCommands},
		{"Triggers", testTriggers},
		{"TriggerSchedules", testTriggerSchedules},
		{"StateTriggers", testStateTriggers},
		{"TriggerServerCodeJobs", testTriggerServerCodeJobs},
		{"Hooks", testHooks},
		{"HooksOfCurrentVersion", testHooksOfCurrentVersion},
		{"Queue", testQueue},
		{"QueueLedger", testQueueLedger},
		{"PhoneQueue", testPhoneQueue},
		{"PhoneQueueOnce", testPhoneQueueOnce},
		{"PushesOfDeletedOwners", testPushesOfDeletedOwners},
		{"Cascade", testCascade},
		{"CascadeTable", testCascadeTable},
		{"States", testStates},
		{"ThingIFConfig", testThingIFConfig},
		{"ServerCode", testServerCode}, // server code: scapi
		// server code: sched
		{"DevLogs", testDevLogs},
		{"ScheduleExecutions", testScheduleExecutions},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, s)
		})
	}
}

// suite carries the backend's functions to the tests.
type suite struct {
	open   OpenFunc
	reopen ReopenFunc
}

// epoch is the time every fixture's clock starts at: a fixed instant, so
// that stored times can be compared exactly.
const epoch int64 = 1_700_000_000_000

// clock is a settable clock for DB.Now. Its time only moves when a test
// advances it.
type clock struct{ ms atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ms.Store(epoch)
	return c
}

// Now returns the clock's time.
func (c *clock) Now() time.Time { return time.UnixMilli(c.ms.Load()) }

// Millis returns the clock's time in epoch milliseconds.
func (c *clock) Millis() int64 { return c.ms.Load() }

// Advance moves the clock forward by d.
func (c *clock) Advance(d time.Duration) { c.ms.Add(d.Milliseconds()) }

// fixture is one store with an app in it, ready for a test.
type fixture struct {
	t     *testing.T
	ctx   context.Context
	s     suite
	db    *sqlstore.Store
	clock *clock
	app   kumo.AppCredentials
	admin kumo.Caller // the app's admin
	anon  kumo.Caller // an anonymous caller of the app
	log   *logRecorder
}

// logRecorder is a slog.Handler that keeps the store's warnings and errors.
type logRecorder struct {
	mu      sync.Mutex // guards records
	records []string
}

func (r *logRecorder) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	s := rec.Level.String() + " " + rec.Message
	rec.Attrs(func(a slog.Attr) bool { s += fmt.Sprintf(" %s=%v", a.Key, a.Value); return true })
	r.mu.Lock()
	r.records = append(r.records, s)
	r.mu.Unlock()
	return nil
}

func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *logRecorder) WithGroup(string) slog.Handler      { return r }

// Records returns what was logged so far.
func (r *logRecorder) Records() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.records...)
}

// newFixture opens a store, sets its clock and creates the app "app1".
func newFixture(t *testing.T, s suite) *fixture {
	t.Helper()
	f := &fixture{t: t, ctx: context.Background(), s: s, clock: newClock(), log: &logRecorder{}}
	f.db = s.open(t)
	// Before any write: the store reads Now only inside writes, and Log
	// only when a write (or its background maintenance) fails.
	f.db.Now = f.clock.Now
	f.db.Log = slog.New(f.log)
	f.app = f.mustApp(kumo.AppCreate{ID: "app1", Key: "key1", Name: "App One"})
	f.admin = kumo.Caller{AppID: f.app.AppID, Kind: kumo.Admin, ID: f.app.ClientID}
	f.anon = kumo.Caller{AppID: f.app.AppID, Kind: kumo.Anonymous}
	return f
}

// reopen restarts the fixture's store: it closes it and opens a new store
// over the same database, with the same clock.
func (f *fixture) reopen() {
	f.t.Helper()
	f.db = f.s.reopen(f.t, f.db)
	f.db.Now = f.clock.Now
	f.db.Log = slog.New(f.log)
}

func (f *fixture) mustApp(a kumo.AppCreate) kumo.AppCredentials {
	f.t.Helper()
	creds, err := f.db.Apps.CreateApp(f.ctx, a)
	if err != nil {
		f.t.Fatalf("CreateApp(%+v): %v", a, err)
	}
	return creds
}

// mustThing registers a thing with vendor thing ID vid and password
// "pw-"+vid, and returns it with a caller that stands for it.
func (f *fixture) mustThing(vid string) (kumo.Thing, kumo.Caller) {
	f.t.Helper()
	th, _, err := f.db.Things.RegisterThing(f.ctx, f.anon, kumo.ThingRegistration{VendorThingID: vid, Password: "pw-" + vid,
		Fields: map[string]any{}}, false)
	if err != nil {
		f.t.Fatalf("RegisterThing(%q): %v", vid, err)
	}
	return th, kumo.Caller{AppID: f.app.AppID, Kind: kumo.ThingCaller, ID: th.ID}
}

// mustUser registers a user with login name login, email login@example.com
// and password "pw-"+login, and returns it with a caller that stands for it.
func (f *fixture) mustUser(login string) (kumo.User, kumo.Caller) {
	f.t.Helper()
	u, _, err := f.db.Users.RegisterUser(f.ctx, f.anon, kumo.UserRegistration{LoginName: login, Email: login + "@example.com",
		Password: "pw-" + login, Custom: map[string]any{}}, false)
	if err != nil {
		f.t.Fatalf("RegisterUser(%q): %v", login, err)
	}
	return u, kumo.Caller{AppID: f.app.AppID, Kind: kumo.UserCaller, ID: u.ID}
}

// bucket returns a reference to bucket name in scope s of the fixture's app.
func (f *fixture) bucket(s kumo.Scope, name string) kumo.BucketRef {
	return kumo.BucketRef{AppID: f.app.AppID, Scope: s, Name: name}
}

func (f *fixture) mustObject(c kumo.Caller, b kumo.BucketRef, data map[string]any) kumo.Object {
	f.t.Helper()
	o, err := f.db.Objects.CreateObject(f.ctx, c, kumo.ObjectCreate{Bucket: b, Data: data})
	if err != nil {
		f.t.Fatalf("CreateObject(%s, %+v): %v", c.Kind, b, err)
	}
	return o
}

func (f *fixture) mustInstall(c kumo.Caller, r kumo.InstallationCreate) kumo.Installation {
	f.t.Helper()
	in, err := f.db.Installations.CreateInstallation(f.ctx, c, r)
	if err != nil {
		f.t.Fatalf("CreateInstallation(%s %s, %+v): %v", c.Kind, c.ID, r, err)
	}
	return in
}

// claimAll claims events until the outbox hands out no more.
func (f *fixture) claimAll() []kumo.Event {
	f.t.Helper()
	var all []kumo.Event
	for {
		es, err := f.db.Outbox.ClaimEvents(f.ctx, 100)
		if err != nil {
			f.t.Fatalf("ClaimEvents: %v", err)
		}
		if len(es) == 0 {
			return all
		}
		all = append(all, es...)
	}
}

// thingScope returns the scope of thing id.
func thingScope(id string) kumo.Scope { return kumo.Scope{Kind: kumo.ScopeThing, ID: id} }

// userScope returns the scope of user id.
func userScope(id string) kumo.Scope { return kumo.Scope{Kind: kumo.ScopeUser, ID: id} }

// wantCode reports an error unless err carries code want ("" for no error).
func wantCode(t testing.TB, what string, err error, want kumo.Code) bool {
	t.Helper()
	if got := kumo.ErrorCode(err); got != want {
		if want == "" {
			t.Errorf("%s: unexpected error %v", what, err)
		} else {
			t.Errorf("%s: error = %v (code %q), want code %q", what, err, got, want)
		}
		return false
	}
	return true
}

// errFields returns the context fields of a *kumo.Error.
func errFields(err error) map[string]any {
	var e *kumo.Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}

// wantFields reports the fields of err that differ from want.
func wantFields(t testing.TB, what string, err error, want map[string]any) {
	t.Helper()
	got := errFields(err)
	for k, v := range want {
		if !reflect.DeepEqual(got[k], v) {
			t.Errorf("%s: error field %q = %#v, want %#v", what, k, got[k], v)
		}
	}
}

// wantShape reports an error unless s has the given length and every byte
// is in alphabet.
func wantShape(t testing.TB, what, s string, n int, alphabet string) {
	t.Helper()
	if !hasShape(s, n, alphabet) {
		t.Errorf("%s = %q, want %d characters of [%s]", what, s, n, alphabet)
	}
}

func hasShape(s string, n int, alphabet string) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		ok := false
		for j := 0; j < len(alphabet); j++ {
			if s[i] == alphabet[j] {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

const (
	lowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	alnum      = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	lowerHex   = "0123456789abcdef"
)

// isKiiID reports whether s has the 12-4-4-4-8 lower-case alphanumeric
// form of Kii's user IDs.
func isKiiID(s string) bool {
	parts := strings.Split(s, "-")
	want := []int{12, 4, 4, 4, 8}
	if len(parts) != len(want) {
		return false
	}
	for i, p := range parts {
		if !hasShape(p, want[i], lowerAlnum) {
			return false
		}
	}
	return true
}

// MustOpen opens a store with open, gives it a fast password hasher, calls
// Open, and closes it when the test ends: what every backend's tests and
// the store's tools' tests start from.
func MustOpen(tb testing.TB, open func(context.Context) (*sqlstore.Store, error)) *sqlstore.Store {
	tb.Helper()
	db, err := open(context.Background())
	if err != nil {
		tb.Fatalf("open the store: %v", err)
	}
	db.Hasher = auth.Hasher{Iterations: 1000}
	if err := db.Open(); err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return db
}
