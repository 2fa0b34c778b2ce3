package storecopy_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/sqlstore"
	"github.com/kumo-iot/kumo/internal/sqlstore/postgres"
	"github.com/kumo-iot/kumo/internal/sqlstore/postgres/pgtest"
	"github.com/kumo-iot/kumo/internal/sqlstore/sqlite"
	"github.com/kumo-iot/kumo/internal/sqlstore/storetest"
	"github.com/kumo-iot/kumo/internal/storecopy"
)

// copyDB is a store opened for a copy test, with what reopens it and what
// writes to its database behind the store's back (to corrupt it).
type copyDB struct {
	*sqlstore.Store
	kind   string // "sqlite" or "postgres"
	reopen func(t *testing.T) *sqlstore.Store
	raw    func(t *testing.T) *sql.DB
}

// openOpened opens a store with open, starts it and closes it when the
// test ends.
func openOpened(t *testing.T, open func(context.Context) (*sqlstore.Store, error)) *sqlstore.Store {
	t.Helper()
	return storetest.MustOpen(t, open)
}

// newSQLiteDB opens a store on a new SQLite file.
func newSQLiteDB(t *testing.T) copyDB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kumo.db")
	open := func(ctx context.Context) (*sqlstore.Store, error) { return sqlite.Open(ctx, path) }
	return copyDB{
		Store:  openOpened(t, open),
		kind:   "sqlite",
		reopen: func(t *testing.T) *sqlstore.Store { return openOpened(t, open) },
		raw: func(t *testing.T) *sql.DB {
			db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		},
	}
}

// newPostgresDB opens a store on a new PostgreSQL database (skipped
// without a test server).
func newPostgresDB(t *testing.T) copyDB {
	t.Helper()
	url := pgtest.NewDatabase(t)
	open := func(ctx context.Context) (*sqlstore.Store, error) { return postgres.Open(ctx, url) }
	return copyDB{
		Store:  openOpened(t, open),
		kind:   "postgres",
		reopen: func(t *testing.T) *sqlstore.Store { return openOpened(t, open) },
		raw: func(t *testing.T) *sql.DB {
			db, err := sql.Open("pgx", url) // registered by pgx, which package postgres imports
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		},
	}
}

// forEachDestination runs fn with a destination of each kind.
func forEachDestination(t *testing.T, fn func(t *testing.T, newDest func(t *testing.T) copyDB)) {
	for _, kind := range []string{"postgres", "sqlite"} {
		t.Run("to_"+kind, func(t *testing.T) {
			if kind == "postgres" {
				fn(t, newPostgresDB)
			} else {
				fn(t, newSQLiteDB)
			}
		})
	}
}

// sourceData is what fillSource put in a store.
type sourceData struct {
	app, other   kumo.AppCredentials
	admin        kumo.Caller
	thing        kumo.Thing
	thingToken   string
	thingCaller  kumo.Caller
	user         kumo.User
	userToken    string
	installation kumo.Installation
	bucket       kumo.BucketRef // the thing's bucket, subscribed to
	appObject    kumo.Object    // in an app-scope bucket
	objects      int            // objects created, one event each
	events       int            // events in the outbox: the objects' and the body's
	body         []byte         // the body of appObject
	secret       []byte
}

// must returns v, or fails the test with err: must(f())(t).
func must[T any](v T, err error) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// fillSource puts data of every kind in db through its service methods:
// two apps, a thing with a token and an MQTT installation subscribed to a
// bucket, a user whose group owns the thing, objects in app and thing
// scope, their events (left in the outbox) and the MQTT password secret.
func fillSource(t *testing.T, db *sqlstore.Store, objects int) sourceData {
	t.Helper()
	ctx := context.Background()
	var d sourceData
	d.app = must(db.Apps.CreateApp(ctx, kumo.AppCreate{ID: "copyapp", Name: "Copy app"}))(t)
	d.other = must(db.Apps.CreateApp(ctx, kumo.AppCreate{Name: "second"}))(t)
	d.admin = kumo.Caller{AppID: d.app.AppID, Kind: kumo.Admin, ID: d.app.ClientID}
	th, tok, err := db.Things.RegisterThing(ctx, d.admin, kumo.ThingRegistration{VendorThingID: "dev-1", Password: "pass-1234",
		Fields: map[string]any{"_thingType": "sensor", "colour": "blue"}}, true)
	if err != nil {
		t.Fatal(err)
	}
	d.thing, d.thingToken = th, tok.AccessToken
	d.thingCaller = kumo.Caller{AppID: d.app.AppID, Kind: kumo.ThingCaller, ID: th.ID}
	u, utok, err := db.Users.RegisterUser(ctx, d.admin, kumo.UserRegistration{LoginName: "alice", Email: "alice@example.com",
		Password: "secret-123", DisplayName: "Alice", Country: "JP", Custom: map[string]any{"team": "ops"}}, true)
	if err != nil {
		t.Fatal(err)
	}
	d.user, d.userToken = u, utok.AccessToken
	userCaller := kumo.Caller{AppID: d.app.AppID, Kind: kumo.UserCaller, ID: u.ID}
	g, _, err := db.Groups.CreateGroup(ctx, userCaller, kumo.GroupCreation{ID: "crew", Name: "Crew"})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Things.AddThingOwner(ctx, d.admin, th.ID, kumo.OwnershipRequest{Owner: kumo.ThingOwner{Kind: kumo.OwnerGroup, ID: g.ID}}); err != nil {
		t.Fatal(err)
	}
	d.installation = must(db.Installations.CreateInstallation(ctx, d.thingCaller, kumo.InstallationCreate{DeviceType: kumo.DeviceMQTT, Development: true}))(t)
	_, p8 := storetest.PushKeys(t)
	must(db.PushConfigs.SetPushConfig(ctx, d.admin, kumo.PushConfig{APNs: &kumo.APNsConfig{KeyID: "K", TeamID: "T", BundleID: "B", Key: p8}}))(t)
	d.bucket = kumo.BucketRef{AppID: d.app.AppID, Scope: kumo.Scope{Kind: kumo.ScopeThing, ID: th.ID}, Name: "readings"}
	if err := db.Subscriptions.SubscribeBucket(ctx, d.thingCaller, d.bucket, kumo.Principal{Kind: kumo.ThingCaller, ID: th.ID}); err != nil {
		t.Fatal(err)
	}
	d.appObject = must(db.Objects.CreateObject(ctx, d.admin, kumo.ObjectCreate{
		Bucket: kumo.BucketRef{AppID: d.app.AppID, Scope: kumo.AppScope, Name: "settings"},
		Data:   map[string]any{"mode": "eco", "ratio": 0.25, "tags": []any{"a", "b"}, "quote": `"'?`}}))(t)
	d.objects = 1
	for i := 1; i < objects; i++ {
		must(db.Objects.CreateObject(ctx, d.thingCaller, kumo.ObjectCreate{Bucket: d.bucket, Data: map[string]any{"temp": i}}))(t)
		d.objects++
	}
	// A body over several PostgreSQL chunks.
	d.body = make([]byte, 2*sqlstore.BlobChunkSize+12345)
	for i := range d.body {
		d.body[i] = byte(i * 7)
	}
	must(db.Bodies.PutBody(ctx, d.admin, kumo.BodyPut{Ref: kumo.BodyRef{Bucket: d.appObject.Bucket, ObjectID: d.appObject.ID},
		ContentType: "image/png", Size: -1, Data: bytes.NewReader(d.body)}))(t)
	d.events = d.objects + 1
	d.secret = must(db.Secret(ctx, "mqtt-password-secret"))(t)
	return d
}

// progressLog records the progress calls.
type progressLog struct {
	mu   sync.Mutex
	last map[string][2]int64
}

func (p *progressLog) record(table string, done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.last == nil {
		p.last = map[string][2]int64{}
	}
	p.last[table] = [2]int64{done, total}
}

func tableReport(t *testing.T, r storecopy.Report, table string) storecopy.TableReport {
	t.Helper()
	for _, tr := range r.Tables {
		if tr.Table == table {
			return tr
		}
	}
	t.Fatalf("report has no table %s: %+v", table, r)
	return storecopy.TableReport{}
}

// wantVerified fails the test unless every table verified, with as many
// rows in the destination as in the source.
func wantVerified(t *testing.T, r storecopy.Report) {
	t.Helper()
	if len(r.Tables) != len(storecopy.Tables())+1 { // and the bytes of bodies
		t.Errorf("report of %d tables, want %d", len(r.Tables), len(storecopy.Tables())+1)
	}
	for _, tr := range r.Tables {
		if tr.Mismatch != "" || tr.Source != tr.Destination || tr.SourceSum != tr.DestinationSum || len(tr.SourceSum) != 64 {
			t.Errorf("table %s did not verify: %+v", tr.Table, tr)
		}
	}
}

func TestCopy(t *testing.T) {
	forEachDestination(t, func(t *testing.T, newDest func(t *testing.T) copyDB) {
		ctx := context.Background()
		src := newSQLiteDB(t)
		d := fillSource(t, src.Store, 25)
		srcEvents := must(src.Outbox.ClaimEvents(ctx, 1000))(t)
		if len(srcEvents) != d.events {
			t.Fatalf("source has %d events, want %d", len(srcEvents), d.events)
		}
		dst := newDest(t)

		var progress progressLog
		rep, err := storecopy.Copy(ctx, src.DB, dst.DB, storecopy.Options{ChunkRows: 7, Progress: progress.record})
		if err != nil {
			t.Fatalf("Copy: %v", err)
		}
		wantVerified(t, rep)
		for _, tr := range rep.Tables {
			want := tr.Source
			if tr.Table == "counters" {
				want = 1 // only "subscriptions" moved from the migration's 0
			}
			if tr.Copied != want {
				t.Errorf("table %s: copied %d rows, want %d", tr.Table, tr.Copied, want)
			}
			if p := progress.last[tr.Table]; p != [2]int64{tr.Source, tr.Source} {
				t.Errorf("table %s: last progress %d/%d, want %d/%d", tr.Table, p[0], p[1], tr.Source, tr.Source)
			}
		}
		for table, n := range map[string]int64{"meta": 1, "apps": 2, "tokens": 2, "users": 1, "things": 1, "groups": 1, "group_members": 1, "thing_owners": 1, "buckets": 2,
			"objects": int64(d.objects), "installations": 1, "push_configs": 1, "bucket_subscriptions": 1, "outbox": int64(d.events), "counters": 5, // counters: +servercode (scapi)
			"object_bodies": 1, storecopy.BlobsReport: 1} {
			if got := tableReport(t, rep, table).Source; got != n {
				t.Errorf("table %s: %d rows in the source, want %d", table, got, n)
			}
		}
		if max := srcEvents[len(srcEvents)-1].Seq; rep.OutboxSeq != max {
			t.Errorf("OutboxSeq = %d, want %d", rep.OutboxSeq, max)
		}

		// The body's bytes came along.
		br := must(dst.Bodies.OpenBody(ctx, d.admin, kumo.BodyRef{Bucket: d.appObject.Bucket, ObjectID: d.appObject.ID}, kumo.BodyGet{}))(t)
		got, err := io.ReadAll(br)
		br.Close()
		if err != nil || !bytes.Equal(got, d.body) || br.ContentType != "image/png" {
			t.Errorf("copied body: %d bytes (%v), type %q; want the %d bytes put, image/png", len(got), err, br.ContentType, len(d.body))
		}

		// Again: nothing to copy, still verified.
		again, err := storecopy.Copy(ctx, src.DB, dst.DB, storecopy.Options{})
		if err != nil {
			t.Fatalf("Copy again: %v", err)
		}
		wantVerified(t, again)
		if n := again.Copied(); n != 0 {
			t.Errorf("Copy again copied %d rows, want 0: %+v", n, again)
		}
		for i := range rep.Tables {
			if rep.Tables[i].DestinationSum != again.Tables[i].DestinationSum {
				t.Errorf("table %s changed by the second copy", rep.Tables[i].Table)
			}
		}

		// A server starting on the destination finds everything.
		if err := dst.Close(); err != nil {
			t.Fatal(err)
		}
		db := dst.reopen(t)
		if got := must(db.Secret(ctx, "mqtt-password-secret"))(t); string(got) != string(d.secret) {
			t.Error("the MQTT password secret changed")
		}
		c, err := db.Tokens.Authenticate(ctx, d.app.AppID, d.thingToken)
		if err != nil || c != d.thingCaller {
			t.Errorf("the thing's token: %+v, %v; want %+v", c, err, d.thingCaller)
		}
		if c, err := db.Tokens.Authenticate(ctx, d.app.AppID, d.userToken); err != nil || c.ID != d.user.ID {
			t.Errorf("the user's token: %+v, %v", c, err)
		}
		userCaller := kumo.Caller{AppID: d.app.AppID, Kind: kumo.UserCaller, ID: d.user.ID}
		if th, err := db.Things.FindThing(ctx, userCaller, d.thing.ID); err != nil || th.ID != d.thing.ID {
			t.Errorf("the user reads the thing his group owns: %+v, %v", th, err)
		}
		if _, err := db.Tokens.Login(ctx, d.app.AppID, kumo.LoginRequest{Username: "VENDOR_THING_ID:dev-1", Password: "pass-1234"}); err != nil {
			t.Errorf("thing login with its password: %v", err)
		}
		if _, err := db.Tokens.Login(ctx, d.app.AppKey, kumo.LoginRequest{ClientID: d.app.ClientID, ClientSecret: d.app.ClientSecret}); err != nil {
			t.Errorf("admin login with the app's client secret: %v", err)
		}
		in, err := db.Installations.MQTTInstallation(ctx, d.installation.MQTTUsername)
		if err != nil || in != d.installation {
			t.Errorf("MQTTInstallation = %+v, %v; want %+v", in, err, d.installation)
		}
		topics := must(db.Outbox.SubscriberTopics(ctx, []kumo.BucketRef{d.bucket}))(t)
		if !reflect.DeepEqual(topics[d.bucket], []string{d.installation.MQTTTopic}) {
			t.Errorf("SubscriberTopics = %v, want [%s]", topics, d.installation.MQTTTopic)
		}
		o, err := db.Objects.GetObject(ctx, d.admin, d.appObject.Bucket, d.appObject.ID)
		if err != nil || !reflect.DeepEqual(fmt.Sprint(o.Data), fmt.Sprint(d.appObject.Data)) || o.Version != 1 {
			t.Errorf("GetObject = %+v, %v; want %+v", o, err, d.appObject)
		}
		events := must(db.Outbox.ClaimEvents(ctx, 1000))(t)
		if len(events) != len(srcEvents) {
			t.Fatalf("claimed %d events, want %d", len(events), len(srcEvents))
		}
		for i, e := range events {
			if !e.Recovered {
				t.Errorf("event %d is not marked recovered", e.Seq)
			}
			e.Recovered = srcEvents[i].Recovered
			if !reflect.DeepEqual(e, srcEvents[i]) {
				t.Errorf("event %d = %+v, want %+v", i, e, srcEvents[i])
			}
		}
		// A new event takes a seq after the copied ones.
		must(db.Objects.CreateObject(ctx, d.thingCaller, kumo.ObjectCreate{Bucket: d.bucket, Data: map[string]any{"temp": -1}}))(t)
		next := must(db.Outbox.ClaimEvents(ctx, 10))(t)
		if len(next) != 1 || next[0].Seq <= rep.OutboxSeq {
			t.Errorf("new event after the copy: %+v, want one with seq > %d", next, rep.OutboxSeq)
		}
	})
}

// TestCopyResumes interrupts a copy in the middle of a table; the next
// run copies the rest.
func TestCopyResumes(t *testing.T) {
	forEachDestination(t, func(t *testing.T, newDest func(t *testing.T) copyDB) {
		src := newSQLiteDB(t)
		d := fillSource(t, src.Store, 30)
		dst := newDest(t)
		ctx, cancel := context.WithCancel(context.Background())
		_, err := storecopy.Copy(ctx, src.DB, dst.DB, storecopy.Options{ChunkRows: 10, Progress: func(table string, done, _ int64) {
			if table == "objects" && done >= 10 {
				cancel()
			}
		}})
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "objects") {
			t.Fatalf("interrupted Copy: %v, want the context's error on table objects", err)
		}
		rep, err := storecopy.Copy(context.Background(), src.DB, dst.DB, storecopy.Options{ChunkRows: 10})
		if err != nil {
			t.Fatalf("Copy after the interruption: %v", err)
		}
		wantVerified(t, rep)
		objects := tableReport(t, rep, "objects")
		if objects.Copied != int64(d.objects)-10 {
			t.Errorf("objects copied by the second run: %d, want %d", objects.Copied, d.objects-10)
		}
		if n := tableReport(t, rep, "apps").Copied; n != 0 {
			t.Errorf("apps copied by the second run: %d, want 0", n)
		}
	})
}

// TestCopyWhileWriting copies a store that a server keeps writing to: the
// copy is of one snapshot, so it verifies, and the next copy brings the
// rows written meanwhile.
func TestCopyWhileWriting(t *testing.T) {
	forEachDestination(t, func(t *testing.T, newDest func(t *testing.T) copyDB) {
		ctx := context.Background()
		src := newSQLiteDB(t)
		d := fillSource(t, src.Store, 20)
		dst := newDest(t)
		stop, written := make(chan struct{}), make(chan int)
		go func() {
			n := 0
			defer func() { written <- n }()
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, err := src.Objects.CreateObject(ctx, d.thingCaller, kumo.ObjectCreate{Bucket: d.bucket, Data: map[string]any{"during": n}})
				if err != nil {
					t.Error(err)
					return
				}
				n++
			}
		}()
		rep, err := storecopy.Copy(ctx, src.DB, dst.DB, storecopy.Options{ChunkRows: 3})
		close(stop)
		n := <-written
		if err != nil {
			t.Fatalf("Copy while writing: %v", err)
		}
		wantVerified(t, rep)
		rep, err = storecopy.Copy(ctx, src.DB, dst.DB, storecopy.Options{ChunkRows: 3})
		if err != nil {
			t.Fatalf("Copy after the writes: %v", err)
		}
		wantVerified(t, rep)
		if got := tableReport(t, rep, "objects").Source; got != int64(d.objects+n) {
			t.Errorf("%d objects copied in all, want %d", got, d.objects+n)
		}
		t.Logf("%d objects written during the first copy", n)
	})
}

// TestCopyDetectsMismatch changes the destination behind the copy's back:
// a second copy finds the table that differs, and copies back a row that
// was deleted.
func TestCopyDetectsMismatch(t *testing.T) {
	forEachDestination(t, func(t *testing.T, newDest func(t *testing.T) copyDB) {
		ctx := context.Background()
		src := newSQLiteDB(t)
		d := fillSource(t, src.Store, 3)
		dst := newDest(t)
		if _, err := storecopy.Copy(ctx, src.DB, dst.DB, storecopy.Options{}); err != nil {
			t.Fatalf("Copy: %v", err)
		}
		raw := dst.raw(t)
		rebind := func(q string) string {
			if dst.kind == "postgres" {
				return postgres.Dialect{}.Rebind(q)
			}
			return q
		}
		exec := func(q string, args ...any) {
			t.Helper()
			res, err := raw.ExecContext(ctx, rebind(q), args...)
			if err != nil {
				t.Fatal(err)
			}
			if n, _ := res.RowsAffected(); n != 1 {
				t.Fatalf("%s: %d rows, want 1", q, n)
			}
		}
		exec(`UPDATE objects SET data = '{"mode":"corrupt"}' WHERE id = ?`, d.appObject.ID)
		exec(`DELETE FROM users WHERE id = ?`, d.user.ID)

		rep, err := storecopy.Copy(ctx, src.DB, dst.DB, storecopy.Options{})
		var mm *storecopy.MismatchError
		if !errors.As(err, &mm) {
			t.Fatalf("Copy over a changed destination: %v, want a *MismatchError", err)
		}
		if len(mm.Tables) != 1 || mm.Tables[0].Table != "objects" || !strings.Contains(err.Error(), "table objects") {
			t.Errorf("mismatch error %q names %+v, want table objects alone", err, mm.Tables)
		}
		objects := tableReport(t, rep, "objects")
		if objects.Mismatch == "" || objects.SourceSum == objects.DestinationSum || objects.Source != objects.Destination {
			t.Errorf("objects: %+v, want equal counts and different checksums", objects)
		}
		if users := tableReport(t, rep, "users"); users.Copied != 1 || users.Mismatch != "" {
			t.Errorf("users: %+v, want the deleted user copied again and verified", users)
		}

		// A row more in the destination: the counts differ.
		exec(`INSERT INTO buckets (app_id, scope, name, created) VALUES (?, '', 'extra', 1)`, d.app.AppID)
		_, err = storecopy.Copy(ctx, src.DB, dst.DB, storecopy.Options{})
		if !errors.As(err, &mm) || !strings.Contains(err.Error(), "table buckets (2 rows in the source, 3 in the destination)") {
			t.Errorf("Copy with a bucket more in the destination: %v", err)
		}
	})
}

// TestCopyConflicts refuses destinations whose apps or secret contradict
// the source's, and copies next to apps the source does not have.
func TestCopyConflicts(t *testing.T) {
	forEachDestination(t, func(t *testing.T, newDest func(t *testing.T) copyDB) {
		ctx := context.Background()
		src := newSQLiteDB(t)
		d := fillSource(t, src.Store, 2)

		// The same app ID with other credentials.
		dst := newDest(t)
		must(dst.Apps.CreateApp(ctx, kumo.AppCreate{ID: d.app.AppID, Key: d.app.AppKey}))(t)
		_, err := storecopy.Copy(ctx, src.DB, dst.DB, storecopy.Options{})
		var ce *storecopy.ConflictError
		if !errors.As(err, &ce) || len(ce.Conflicts) != 1 ||
			!strings.Contains(err.Error(), "app copyapp exists in the destination with another name, client_id, client_secret_hash") {
			t.Errorf("Copy onto an app with the same ID: %v, want a conflict naming the app", err)
		}
		if n := count(t, dst.Store, "things"); n != 0 {
			t.Errorf("the refused copy wrote %d things", n)
		}

		// Another app with the same key.
		dst = newDest(t)
		must(dst.Apps.CreateApp(ctx, kumo.AppCreate{ID: "otherid", Key: d.other.AppKey}))(t)
		_, err = storecopy.Copy(ctx, src.DB, dst.DB, storecopy.Options{})
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), "the destination's app otherid has the same ID or key") {
			t.Errorf("Copy onto an app with the same key: %v", err)
		}

		// A destination that a server ran on: a secret of its own.
		dst = newDest(t)
		must(dst.Secret(ctx, "mqtt-password-secret"))(t)
		_, err = storecopy.Copy(ctx, src.DB, dst.DB, storecopy.Options{})
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), "meta mqtt-password-secret has another value") {
			t.Errorf("Copy onto another secret: %v", err)
		}
		if strings.Contains(err.Error(), string(d.secret)) {
			t.Errorf("the conflict error shows the secret: %v", err)
		}

		// Apps of the destination's own are left alone and out of the
		// verification.
		dst = newDest(t)
		own := must(dst.Apps.CreateApp(ctx, kumo.AppCreate{ID: "ownapp"}))(t)
		admin := kumo.Caller{AppID: own.AppID, Kind: kumo.Admin, ID: own.ClientID}
		_, _, err = dst.Things.RegisterThing(ctx, admin, kumo.ThingRegistration{VendorThingID: "dev-1", Password: "pass-1234"}, true)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := storecopy.Copy(ctx, src.DB, dst.DB, storecopy.Options{})
		if err != nil {
			t.Fatalf("Copy next to an app of the destination's own: %v", err)
		}
		wantVerified(t, rep)
		if n := count(t, dst.Store, "things"); n != 2 {
			t.Errorf("%d things in the destination, want 2", n)
		}
	})
}

func count(t *testing.T, db *sqlstore.Store, table string) int {
	t.Helper()
	var n int
	if err := db.ReadDB().QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// schema is a database's tables: their columns (sorted), primary keys and
// serial columns (whose values the database generates; "" when none).
type schema map[string]struct {
	columns []string
	key     []string
	serial  string
}

func sqliteSchema(t *testing.T, db *sql.DB) schema {
	t.Helper()
	s := schema{}
	autoincrement := queryStrings(t, db, "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE '%AUTOINCREMENT%'")
	for _, name := range queryStrings(t, db, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'") {
		rows, err := db.Query("SELECT name, pk FROM pragma_table_info(?) ORDER BY cid", name)
		if err != nil {
			t.Fatal(err)
		}
		var cols []string
		key := map[int]string{}
		for rows.Next() {
			var col string
			var pk int
			if err := rows.Scan(&col, &pk); err != nil {
				t.Fatal(err)
			}
			cols = append(cols, col)
			if pk > 0 {
				key[pk] = col
			}
		}
		rows.Close()
		var k []string
		for i := 1; i <= len(key); i++ {
			k = append(k, key[i])
		}
		sort.Strings(cols)
		tb := s[name]
		tb.columns, tb.key = cols, k
		if slices.Contains(autoincrement, name) && len(k) == 1 { // the INTEGER PRIMARY KEY AUTOINCREMENT
			tb.serial = k[0]
		}
		s[name] = tb
	}
	return s
}

func postgresSchema(t *testing.T, db *sql.DB) schema {
	t.Helper()
	s := schema{}
	for _, name := range queryStrings(t, db, "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()") {
		cols := queryStrings(t, db, "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1", name)
		key := queryStrings(t, db, `SELECT k.column_name FROM information_schema.table_constraints c
			JOIN information_schema.key_column_usage k ON k.constraint_name = c.constraint_name AND k.table_schema = c.table_schema
			WHERE c.table_schema = current_schema() AND c.table_name = $1 AND c.constraint_type = 'PRIMARY KEY'
			ORDER BY k.ordinal_position`, name)
		serial := queryStrings(t, db, `SELECT column_name FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = $1 AND column_default LIKE 'nextval(%'`, name)
		if len(serial) > 1 {
			t.Fatalf("table %s has %d serial columns %v", name, len(serial), serial)
		}
		sort.Strings(cols)
		tb := s[name]
		tb.columns, tb.key = cols, key
		if len(serial) == 1 {
			tb.serial = serial[0]
		}
		s[name] = tb
	}
	return s
}

func queryStrings(t *testing.T, db *sql.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.Query(q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCopyTablesMatchSchema checks that Copy knows every table of both
// dialects' migrations, with their primary keys and serial columns, and
// that both dialects have the same columns (Copy reads them from the
// databases and refuses to copy between different ones): a table or
// column added to a migration cannot be skipped silently, nor a serial
// column's generator be left behind the values copied.
func TestCopyTablesMatchSchema(t *testing.T) {
	want := map[string]storecopy.Table{}
	for _, tb := range storecopy.Tables() {
		want[tb.Name] = tb
	}
	check := func(t *testing.T, s schema) {
		t.Helper()
		for name, tb := range s {
			if name == "schema_migrations" || name == "blobs" || name == "blob_chunks" {
				continue // blobs, blob_chunks: the bytes of bodies, copied by copyBlobs
			}
			w, ok := want[name]
			if !ok {
				t.Errorf("table %s is not copied by kumo copy: add it to tables (internal/storecopy/copy.go)", name)
				continue
			}
			if !slices.Equal(w.Key, tb.key) {
				t.Errorf("table %s: primary key %v, tables says %v", name, tb.key, w.Key)
			}
			if w.Serial != tb.serial {
				t.Errorf("table %s: serial column %q, tables says %q", name, tb.serial, w.Serial)
			}
		}
		for name := range want {
			if _, ok := s[name]; !ok {
				t.Errorf("tables names table %s, which the migrations do not create", name)
			}
		}
	}
	lite := newSQLiteDB(t)
	sl := sqliteSchema(t, lite.raw(t))
	t.Run("sqlite", func(t *testing.T) { check(t, sl) })
	t.Run("postgres", func(t *testing.T) {
		pg := newPostgresDB(t)
		ps := postgresSchema(t, pg.raw(t))
		check(t, ps)
		for name, tb := range sl {
			if p, ok := ps[name]; !ok {
				t.Errorf("table %s is in SQLite's migrations, not PostgreSQL's", name)
			} else if !slices.Equal(tb.columns, p.columns) {
				t.Errorf("table %s: SQLite's columns %v, PostgreSQL's %v", name, tb.columns, p.columns)
			}
		}
		for name := range ps {
			if _, ok := sl[name]; !ok && name != "blobs" && name != "blob_chunks" {
				t.Errorf("table %s is in PostgreSQL's migrations, not SQLite's", name)
			}
		}
	})
}
