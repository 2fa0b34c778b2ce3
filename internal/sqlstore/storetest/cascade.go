package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/sqlstore"
)

// testCascade checks what each kind of delete removes (docs/compat.md,
// "What a delete removes"): a rich world is built through the services,
// one thing of it is deleted, and then every row of every table of the
// database is read. No row may name what was deleted (its ID, or the ID
// of something that was its, in any column), except the survivors the
// rules keep by design; every row that named nothing deleted must still
// be there, unchanged.
func testCascade(t *testing.T, s suite) {
	cases := []struct {
		name string
		// del deletes one thing of w, and returns what names it.
		del func(f *fixture, w *world) victim
	}{
		{"Object", func(f *fixture, w *world) victim {
			o := w.doomedObject
			ok(f, "DeleteObject", f.db.Objects.DeleteObject(f.ctx, f.admin, o.Bucket, o.ID, ""))
			return victim{names: []string{o.ID}, outbox: []kumo.EventType{kumo.DataObjectDeleted},
				expect: append([]string{"acl_entries", "object_fields", "objects"}, bodyTables...)}
		}},
		{"Bucket/App", func(f *fixture, w *world) victim { return deleteBucket(f, w.appBucket) }},
		{"Bucket/User", func(f *fixture, w *world) victim { return deleteBucket(f, w.p["u2"].bucket) }},
		{"Bucket/Group", func(f *fixture, w *world) victim { return deleteBucket(f, w.g["g2"].bucket) }},
		{"Bucket/Thing", func(f *fixture, w *world) victim { return deleteBucket(f, w.p["t2"].bucket) }},
		{"Topic", func(f *fixture, w *world) victim {
			tp := w.p["u2"].topic
			ok(f, "DeleteTopic", f.db.Topics.DeleteTopic(f.ctx, f.admin, tp))
			return victim{names: []string{tp.Name}, expect: []string{"acl_entries", "topic_subscriptions", "topics"}}
		}},
		{"Group", func(f *fixture, w *world) victim {
			g := w.g["g1"]
			ok(f, "DeleteGroup", f.db.Groups.DeleteGroup(f.ctx, f.admin, g.id))
			return victim{names: []string{g.id}, expect: append([]string{"acl_entries", "bucket_subscriptions", "buckets", "commands",
				"triggers", "group_members", "groups", "object_fields", "objects", "thing_owners", "thing_ownership_codes",
				"topic_subscriptions", "topics"}, bodyTables...)}
		}},
		{"Thing", func(f *fixture, w *world) victim {
			p := w.p["t1"]
			ok(f, "DeleteThing", f.db.Things.DeleteThing(f.ctx, f.admin, p.c.ID))
			wantTokenGone(f, p)
			return principalVictim(p, "things", "end_nodes", "commands", "triggers", "trigger_server_code_results")
		}},
		{"User", func(f *fixture, w *world) victim {
			p := w.p["u1"]
			ok(f, "DeleteUser", f.db.Users.DeleteUser(f.ctx, f.admin, p.c.ID))
			wantTokenGone(f, p)
			return principalVictim(p, "users", "group_members", "groups", "commands", "triggers")
		}},
		{"Installation/MQTT", func(f *fixture, w *world) victim {
			in := w.p["u1"].mqtt
			ok(f, "DeleteInstallation", f.db.Installations.DeleteInstallation(f.ctx, f.admin, in.ID))
			return victim{names: []string{in.ID, in.MQTTTopic, in.MQTTUsername}, installations: []string{in.ID},
				outbox: []kumo.EventType{kumo.MQTTRevoked}, ledger: true, expect: []string{"installations", "mqtt_queue"}}
		}},
		{"Installation/Phone", func(f *fixture, w *world) victim {
			in := w.p["t1"].phone
			ok(f, "DeleteInstallation", f.db.Installations.DeleteInstallation(f.ctx, f.admin, in.ID))
			return victim{names: []string{in.ID, in.RegistrationID}, installations: []string{in.ID}, ledger: true,
				expect: []string{"installations", "phone_pushes"}}
		}},
		{"Installation/PhoneGone", func(f *fixture, w *world) victim {
			in := w.p["u2"].phone
			ok(f, "DropPhoneInstallation", f.db.Phones.DropPhoneInstallation(f.ctx, f.app.AppID, in.ID))
			return victim{names: []string{in.ID, in.RegistrationID}, installations: []string{in.ID}, ledger: true,
				expect: []string{"installations", "phone_pushes"}}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, s)
			f.db.Ledger.On = true
			w := buildWorld(f)
			f.drainOutbox()
			before := dumpDB(t, f)
			v := tc.del(f, w)
			after := dumpDB(t, f)
			checkCascade(t, before, after, v)
		})
	}

	// The reproduction: a thing grants a user QUERY_OBJECTS_IN_BUCKET
	// on its bucket, the user subscribes, the admin deletes the thing.
	t.Run("Reproduction", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, s)
		th, thC := f.mustThing("vt-repro")
		_, uC := f.mustUser("repro")
		b := f.bucket(thingScope(th.ID), "readings")
		f.mustObject(thC, b, map[string]any{"t": 1})
		ok(f, "GrantACL", f.db.ACLs.GrantACL(f.ctx, thC, kumo.ACLTarget{Bucket: b}, kumo.QueryObjectsInBucket,
			kumo.Subject{Kind: kumo.SubjectUser, ID: uC.ID}))
		ok(f, "SubscribeBucket", f.db.Subscriptions.SubscribeBucket(f.ctx, uC, b, uC.Principal()))
		if len(dumpDB(t, f)["bucket_subscriptions"]) != 1 {
			t.Fatal("the subscription was not stored")
		}
		ok(f, "DeleteThing", f.db.Things.DeleteThing(f.ctx, f.admin, th.ID))
		for _, r := range dumpDB(t, f)["bucket_subscriptions"] {
			if r.names(th.ID) != nil {
				t.Errorf("bucket_subscriptions row %v names the deleted thing", r)
			}
		}
	})
}

// victim is what a delete removed: the strings that name it (IDs, names,
// MQTT topics…), and what the rules keep or add (docs/compat.md).
type victim struct {
	names         []string
	installations []string         // its installations, whose dropped pushes the ledger records
	outbox        []kumo.EventType // events the delete commits (they may name it)
	bucketSubs    bool             // subscriptions to the deleted bucket stay
	scoped        bool             // a principal: what it made in other scopes stays (owner, creator)
	ledger        bool             // queued pushes were dropped: the ledger records them
	expect        []string         // tables with rows naming it before the delete
}

func deleteBucket(f *fixture, b kumo.BucketRef) victim {
	ok(f, "DeleteBucket", f.db.Buckets.DeleteBucket(f.ctx, f.admin, b))
	return victim{names: []string{b.Name}, outbox: []kumo.EventType{kumo.BucketDeleted}, bucketSubs: true,
		expect: append([]string{"acl_entries", "bucket_subscriptions", "buckets", "object_fields", "objects"}, bodyTables...)}
}

// bodyTables are the tables of object bodies.
var bodyTables = []string{"body_publications", "body_upload_chunks", "body_uploads", "object_bodies"}

// principalVictim is what names a deleted user or thing; expect are the
// tables of its kind that name it.
func principalVictim(p *principal, expect ...string) victim {
	v := victim{names: []string{p.c.ID}, outbox: []kumo.EventType{kumo.MQTTRevoked}, scoped: true, ledger: true,
		expect: append(append(expect, "acl_entries", "bucket_subscriptions", "buckets", "installations", "login_failures",
			"mqtt_queue", "object_fields", "objects", "phone_pushes", "refresh_tokens", "thing_owners", "thing_ownership_codes",
			"tokens", "topic_subscriptions", "topics"), bodyTables...)}
	for _, in := range []kumo.Installation{p.mqtt, p.phone} {
		v.names = append(v.names, in.ID)
		v.installations = append(v.installations, in.ID)
	}
	v.names = append(v.names, p.mqtt.MQTTTopic, p.mqtt.MQTTUsername, p.phone.RegistrationID)
	return v
}

func ok(f *fixture, what string, err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatalf("%s: %v", what, err)
	}
}

// wantTokenGone reports an error unless the cached token of a deleted
// user or thing is refused at once (the token cache forgot it).
func wantTokenGone(f *fixture, p *principal) {
	f.t.Helper()
	if c, err := f.db.Tokens.Authenticate(f.ctx, f.app.AppID, p.token); err == nil {
		f.t.Errorf("Authenticate with the token of the deleted %s = %+v, want an error", p.c.Kind, c)
	}
}

// principal is a user or thing of the world, with what is its.
type principal struct {
	c           kumo.Caller
	login, pw   string
	token       string         // an access token, cached
	bucket      kumo.BucketRef // in its scope
	object      kumo.Object    // in bucket, with a body, a publication and an upload
	topic       kumo.TopicRef  // in its scope
	mqtt, phone kumo.Installation
}

// group is a group of the world.
type group struct {
	id     string
	bucket kumo.BucketRef
	topic  kumo.TopicRef
}

// world is the rich fixture of the cascade tests: users u1 and u2,
// things t1 and t2, groups g1 (owner u1, member u2) and g2 (owner u2,
// member u1), and everything that can name them.
type world struct {
	p            map[string]*principal
	g            map[string]*group
	appBucket    kumo.BucketRef // objects of every principal, one of them doomed
	doomedObject kumo.Object
}

func buildWorld(f *fixture) *world {
	f.t.Helper()
	ctx := f.ctx
	w := &world{p: map[string]*principal{}, g: map[string]*group{}}
	withEvents(f, 4) // the events of the queued offline pushes (seq 1 to 4)
	if _, err := f.db.Apps.UpdateAppParams(ctx, f.admin, map[string]any{"refreshTokenEnabled": true}); err != nil {
		f.t.Fatal(err)
	}
	for _, tag := range []string{"u1", "u2"} {
		_, c := f.mustUser("cascade-" + tag)
		w.p[tag] = &principal{c: c, login: "cascade-" + tag, pw: "pw-cascade-" + tag}
	}
	for _, tag := range []string{"t1", "t2"} {
		_, c := f.mustThing("vt-cascade-" + tag)
		w.p[tag] = &principal{c: c, login: "VENDOR_THING_ID:vt-cascade-" + tag, pw: "pw-vt-cascade-" + tag}
	}
	tags := []string{"u1", "u2", "t1", "t2"}
	other := map[string]string{"u1": "t2", "u2": "t1", "t1": "u2", "t2": "u1"}
	subject := func(tag string) kumo.Subject { return kumo.PrincipalSubject(w.p[tag].c.Principal()) }

	// Groups: g1 owned by u1 with u2, g2 owned by u2 with u1.
	for _, g := range []struct{ tag, owner, member string }{{"g1", "u1", "u2"}, {"g2", "u2", "u1"}} {
		gr, _, err := f.db.Groups.CreateGroup(ctx, w.p[g.owner].c, kumo.GroupCreation{Name: "cascade " + g.tag, Members: []string{w.p[g.member].c.ID}})
		ok(f, "CreateGroup", err)
		w.g[g.tag] = &group{id: gr.ID}
	}

	seq := 0
	for _, tag := range tags {
		p := w.p[tag]
		// Tokens (with a refresh token), then a failed login.
		tok, err := f.db.Tokens.Login(ctx, f.app.AppID, kumo.LoginRequest{Username: p.login, Password: p.pw})
		if err != nil || tok.RefreshToken == "" {
			f.t.Fatalf("Login(%s) = %+v, %v; want a token with a refresh token", p.login, tok, err)
		}
		p.token = tok.AccessToken
		// Authenticated once: the token is in this node's cache.
		if _, err := f.db.Tokens.Authenticate(ctx, f.app.AppID, p.token); err != nil {
			f.t.Fatalf("Authenticate(%s): %v", p.login, err)
		}
		if _, err := f.db.Tokens.Login(ctx, f.app.AppID, kumo.LoginRequest{Username: p.login, Password: "wrong"}); kumo.ErrorCode(err) == "" {
			f.t.Fatalf("Login(%s) with a wrong password succeeded", p.login)
		}
		// Installations, with a queued offline push and a queued phone push.
		p.mqtt = f.mustInstall(p.c, kumo.InstallationCreate{DeviceType: kumo.DeviceMQTT})
		ok(f, "SetPersistent", f.db.Queue.SetPersistent(ctx, p.mqtt.MQTTTopic, true))
		seq++
		ok(f, "Enqueue", f.db.Queue.Enqueue(ctx, []kumo.Delivery{{Topic: p.mqtt.MQTTTopic, ID: fmt.Sprint(seq), Payload: []byte(`{}`),
			AppID: f.app.AppID, EventType: kumo.PushMessageSent, MessageID: "msg-" + tag}}))
		p.phone = f.mustInstall(p.c, kumo.InstallationCreate{DeviceType: kumo.DeviceAndroid, RegistrationID: "regid-cascade-" + tag})
		ok(f, "QueuePhonePushes", f.db.Phones.QueuePhonePushes(ctx, []kumo.PhonePush{{AppID: f.app.AppID, MessageID: "msg-phone-" + tag,
			EventType: kumo.PushMessageSent, Payload: []byte(`{}`), PhoneRecipient: kumo.PhoneRecipient{InstallationID: p.phone.ID,
				DeviceType: kumo.DeviceAndroid, RegistrationID: p.phone.RegistrationID}}}))
		// Its scope: a bucket with an object, a body, a publication, an
		// unfinished upload; a topic.
		scope := p.c.Principal()
		sc := kumo.Scope{Kind: kumo.ScopeUser, ID: scope.ID}
		if scope.Kind == kumo.ThingCaller {
			sc.Kind = kumo.ScopeThing
		}
		p.bucket = f.bucket(sc, "bkt-cascade-"+tag)
		p.object = f.richObject(p.c, p.bucket)
		p.topic = kumo.TopicRef{AppID: f.app.AppID, Scope: sc, Name: "topic-cascade-" + tag}
		ok(f, "CreateTopic", f.db.Topics.CreateTopic(ctx, p.c, p.topic))
	}
	for gtag, g := range w.g {
		owner := map[string]string{"g1": "u1", "g2": "u2"}[gtag]
		sc := kumo.Scope{Kind: kumo.ScopeGroup, ID: g.id}
		g.bucket = f.bucket(sc, "bkt-cascade-"+gtag)
		f.richObject(w.p[owner].c, g.bucket)
		// The other member writes there too (his object names him).
		f.mustObject(w.p[map[string]string{"g1": "u2", "g2": "u1"}[gtag]].c, g.bucket, map[string]any{"by": "member"})
		g.topic = kumo.TopicRef{AppID: f.app.AppID, Scope: sc, Name: "topic-cascade-" + gtag}
		ok(f, "CreateTopic", f.db.Topics.CreateTopic(ctx, w.p[owner].c, g.topic))
	}

	// The app's bucket: objects of every principal, one of them doomed.
	w.appBucket = f.bucket(kumo.AppScope, "bkt-cascade-app")
	for _, tag := range tags {
		f.mustObject(w.p[tag].c, w.appBucket, map[string]any{"by": tag})
	}
	w.doomedObject = f.richObject(f.admin, w.appBucket)
	appTopic := kumo.TopicRef{AppID: f.app.AppID, Scope: kumo.AppScope, Name: "topic-cascade-app"}
	ok(f, "CreateTopic", f.db.Topics.CreateTopic(ctx, f.admin, appTopic))

	grant := func(c kumo.Caller, t kumo.ACLTarget, v kumo.ACLVerb, s kumo.Subject) {
		f.t.Helper()
		if err := f.db.ACLs.GrantACL(ctx, c, t, v, s); err != nil && kumo.ErrorCode(err) != kumo.ErrACLAlreadyExists {
			f.t.Fatalf("GrantACL(%+v, %s, %s): %v", t, v, s, err)
		}
	}
	subscribe := func(c kumo.Caller, b kumo.BucketRef, sub kumo.Principal) {
		f.t.Helper()
		ok(f, fmt.Sprintf("SubscribeBucket(%+v, %v)", b, sub), f.db.Subscriptions.SubscribeBucket(ctx, c, b, sub))
	}
	subscribeTopic := func(tp kumo.TopicRef, sub kumo.Principal) {
		f.t.Helper()
		ok(f, fmt.Sprintf("SubscribeTopic(%+v, %v)", tp, sub), f.db.Topics.SubscribeTopic(ctx, f.admin, tp, sub))
	}
	for _, tag := range tags {
		p, o := w.p[tag], w.p[other[tag]]
		// Grants naming it, on others' targets, and grants on its targets
		// naming others; as the reproduction does, the other
		// subscribes himself to its bucket.
		grant(p.c, kumo.ACLTarget{Bucket: p.bucket}, kumo.QueryObjectsInBucket, subject(other[tag]))
		grant(p.c, kumo.ACLTarget{Bucket: p.bucket, ObjectID: p.object.ID}, kumo.ReadExistingObject, subject(other[tag]))
		grant(p.c, kumo.TopicACL(p.topic), kumo.SubscribeToTopic, subject(other[tag]))
		grant(f.admin, kumo.ACLTarget{Bucket: w.appBucket}, kumo.QueryObjectsInBucket, subject(tag))
		grant(f.admin, kumo.ACLTarget{Bucket: w.appBucket, ObjectID: w.doomedObject.ID}, kumo.ReadExistingObject, subject(tag))
		subscribe(o.c, p.bucket, o.c.Principal())
		subscribe(p.c, w.appBucket, p.c.Principal())
		subscribeTopic(p.topic, o.c.Principal())
		subscribeTopic(appTopic, p.c.Principal())
		for _, g := range w.g {
			subscribe(f.admin, g.bucket, p.c.Principal())
			subscribeTopic(g.topic, p.c.Principal())
		}
	}
	for gtag, g := range w.g {
		s := kumo.Subject{Kind: kumo.SubjectGroup, ID: g.id}
		grant(f.admin, kumo.ACLTarget{Bucket: w.appBucket}, kumo.QueryObjectsInBucket, s)
		grant(f.admin, kumo.ACLTarget{Bucket: w.p["t1"].bucket}, kumo.QueryObjectsInBucket, s)
		grant(f.admin, kumo.TopicACL(w.p["t2"].topic), kumo.SubscribeToTopic, s)
		grant(f.admin, kumo.ACLTarget{Bucket: g.bucket}, kumo.QueryObjectsInBucket, subject(map[string]string{"g1": "t1", "g2": "t2"}[gtag]))
	}

	// Ownerships: t1 by u1 and g2, t2 by u2 and g1; pending codes for the
	// others; a wrong code counted against each thing.
	for _, o := range []struct {
		thing string
		owner kumo.ThingOwner
	}{
		{"t1", kumo.ThingOwner{Kind: kumo.OwnerUser, ID: w.p["u1"].c.ID}},
		{"t1", kumo.ThingOwner{Kind: kumo.OwnerGroup, ID: w.g["g2"].id}},
		{"t2", kumo.ThingOwner{Kind: kumo.OwnerUser, ID: w.p["u2"].c.ID}},
		{"t2", kumo.ThingOwner{Kind: kumo.OwnerGroup, ID: w.g["g1"].id}},
	} {
		ok(f, "AddThingOwner", f.db.Things.AddThingOwner(ctx, f.admin, w.p[o.thing].c.ID, kumo.OwnershipRequest{Owner: o.owner, Legacy: true}))
	}
	for _, o := range []struct {
		thing string
		owner kumo.ThingOwner
	}{
		{"t1", kumo.ThingOwner{Kind: kumo.OwnerUser, ID: w.p["u2"].c.ID}},
		{"t1", kumo.ThingOwner{Kind: kumo.OwnerGroup, ID: w.g["g1"].id}},
		{"t2", kumo.ThingOwner{Kind: kumo.OwnerUser, ID: w.p["u1"].c.ID}},
		{"t2", kumo.ThingOwner{Kind: kumo.OwnerGroup, ID: w.g["g2"].id}},
	} {
		if _, err := f.db.Things.RequestThingOwnership(ctx, f.admin, w.p[o.thing].c.ID, o.owner); err != nil {
			f.t.Fatalf("RequestThingOwnership(%s, %s): %v", o.thing, o.owner, err)
		}
	}
	for _, tag := range []string{"t1", "t2"} {
		err := f.db.Things.ConfirmThingOwnership(ctx, w.p[tag].c, w.p[tag].c.ID, "not-a-code")
		wantCode(f.t, "ConfirmThingOwnership with a wrong code", err, kumo.ErrInvalidOwnershipCode)
	}
	// t1 is an end node of gateway t2.
	ok(f, "AddEndNode", f.db.Gateways.AddEndNode(ctx, f.admin, w.p["t2"].c.ID, w.p["t1"].c.ID))
	// Commands: each thing's owners command it, as themselves and as
	// their group (u1 is a member of g2, u2 of g1).
	for _, c := range []struct{ thing, by, issuer string }{
		{"t1", "u1", "user:" + w.p["u1"].c.ID}, {"t1", "u1", "group:" + w.g["g2"].id},
		{"t2", "u2", "user:" + w.p["u2"].c.ID}, {"t2", "u2", "group:" + w.g["g1"].id},
	} {
		_, err := f.db.Commands.Create(ctx, w.p[c.by].c, kumo.Command{ThingID: w.p[c.thing].c.ID, Issuer: c.issuer,
			Actions: []byte(`[{"alias":[{"action":1}]}]`)})
		ok(f, "Create command", err)
	}
	// Triggers: t1's state trigger issued by u1, t2's by g1 (each goes
	// with its thing and its issuer), and a one-time SERVER_CODE schedule
	// of t1, fired: a server-code result.
	for _, tr := range []struct{ thing, issuer string }{
		{"t1", "user:" + w.p["u1"].c.ID}, {"t2", "group:" + w.g["g1"].id},
	} {
		_, err := f.db.Triggers.CreateTrigger(ctx, f.admin, f.triggerBody(w.p[tr.thing].c.ID, `{"predicate":{"eventSource":"STATES",`+
			`"triggersWhen":"CONDITION_TRUE","condition":{"type":"all"}},"command":{"issuer":"`+tr.issuer+`","actions":[{"a":[{"on":true}]}]}}`))
		ok(f, "CreateTrigger", err)
	}
	_, err := f.db.Triggers.CreateTrigger(ctx, f.admin, f.triggerBody(w.p["t1"].c.ID, `{"predicate":{"eventSource":"SCHEDULE_ONCE","scheduleAt":`+
		jsonInt(f.clock.Millis())+`},"triggersWhat":"SERVER_CODE","serverCode":{"endpoint":"e"}}`))
	ok(f, "CreateTrigger", err)
	if n, err := f.db.Triggers.FireDue(ctx, 10); err != nil || n != 1 {
		f.t.Fatalf("FireDue = %d, %v; want 1", n, err)
	}
	f.runJobs(notRun) // the fire's run, done: its result recorded
	return w
}

// richObject creates an object in b with a body, a publication of it,
// and an unfinished upload of another body.
func (f *fixture) richObject(c kumo.Caller, b kumo.BucketRef) kumo.Object {
	f.t.Helper()
	o := f.mustObject(c, b, map[string]any{"n": 1, "s": "x"})
	ref := kumo.BodyRef{Bucket: b, ObjectID: o.ID}
	_, err := f.db.Bodies.PutBody(f.ctx, c, kumo.BodyPut{Ref: ref, ContentType: "text/plain", Size: 4, Data: strings.NewReader("body")})
	ok(f, "PutBody", err)
	_, err = f.db.Bodies.PublishBody(f.ctx, c, kumo.BodyPublish{Ref: ref})
	ok(f, "PublishBody", err)
	// A query indexes the bucket: its objects get index rows.
	q, err := kumo.ParseQuery([]byte(`{"bucketQuery":{"clause":{"type":"range","field":"n","lowerLimit":0}}}`))
	ok(f, "ParseQuery", err)
	_, err = f.db.Objects.QueryObjects(f.ctx, f.admin, b, q)
	ok(f, "QueryObjects", err)
	id, err := f.db.Bodies.StartBodyUpload(f.ctx, c, ref)
	ok(f, "StartBodyUpload", err)
	ok(f, "PutBodyChunk", f.db.Bodies.PutBodyChunk(f.ctx, c, kumo.BodyChunk{Ref: ref, UploadID: id, ContentType: "text/plain",
		Range: kumo.ContentRange{First: 0, Last: 1, Total: 4}, Data: strings.NewReader("ab")}))
	return o
}

// drainOutbox dispatches (claims and completes) every event committed so
// far: the outbox then holds only what the next write commits.
func (f *fixture) drainOutbox() {
	f.t.Helper()
	if es := f.claimAll(); len(es) > 0 {
		ok(f, "CompleteEvents", f.db.Outbox.CompleteEvents(f.ctx, es))
	}
}

// row is one row of a table: its columns' values as text.
type row map[string]string

// names returns the columns of r whose value contains one of names.
func (r row) names(names ...string) []string {
	var cols []string
	for col, v := range r {
		for _, n := range names {
			if n != "" && strings.Contains(v, n) {
				cols = append(cols, col)
				break
			}
		}
	}
	sort.Strings(cols)
	return cols
}

func (r row) String() string {
	cols := make([]string, 0, len(r))
	for c := range r {
		cols = append(cols, c)
	}
	sort.Strings(cols)
	var b strings.Builder
	for _, c := range cols {
		fmt.Fprintf(&b, "%s=%q ", c, r[c])
	}
	return strings.TrimSpace(b.String())
}

// schemaTables returns the tables of the store's database, from its
// catalogue (SQLite's sqlite_master, PostgreSQL's information_schema).
func schemaTables(t *testing.T, db *sql.DB) []string {
	t.Helper()
	q := "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
	if err := db.QueryRow("SELECT 1 FROM sqlite_master LIMIT 1").Scan(new(int)); err != nil && err != sql.ErrNoRows {
		q = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
	}
	rows, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// dumpDB reads every row of every table, every column as text.
func dumpDB(t *testing.T, f *fixture) map[string][]row {
	t.Helper()
	db := f.db.ReadDB()
	out := map[string][]row{}
	for _, table := range schemaTables(t, db) {
		rows, err := db.QueryContext(context.Background(), "SELECT * FROM "+table)
		if err != nil {
			t.Fatalf("read %s: %v", table, err)
		}
		cols, err := rows.Columns()
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatalf("read %s: %v", table, err)
			}
			r := row{}
			for i, c := range cols {
				switch v := vals[i].(type) {
				case nil:
					r[c] = ""
				case []byte:
					r[c] = string(v)
				default:
					r[c] = fmt.Sprint(v)
				}
			}
			out[table] = append(out[table], r)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		if _, ok := out[table]; !ok {
			out[table] = nil
		}
	}
	return out
}

// checkCascade compares the dumps taken before and after a delete.
func checkCascade(t *testing.T, before, after map[string][]row, v victim) {
	t.Helper()
	// What was the victim's names it too: its uploads (their chunks name
	// only the upload) and the blobs of its bodies and chunks.
	names := append([]string(nil), v.names...)
	for _, r := range before["body_uploads"] {
		if r.names(v.names...) != nil {
			names = append(names, r["id"])
		}
	}
	var blobs []string
	for _, table := range []string{"object_bodies", "body_upload_chunks"} {
		for _, r := range before[table] {
			if r.names(names...) != nil {
				blobs = append(blobs, r["blob_id"])
			}
		}
	}
	names = append(names, blobs...)

	// The world named the victim in every table the rule covers.
	for _, table := range v.expect {
		found := false
		for _, r := range before[table] {
			found = found || r.names(names...) != nil
		}
		if !found {
			t.Errorf("before the delete, no %s row names what is deleted: the fixture is not rich enough", table)
		}
	}

	// Nothing names the victim, but the survivors.
	outboxOK := map[string]bool{}
	for _, e := range v.outbox {
		outboxOK[string(e)] = true
	}
	revoked := false
	for table, rows := range after {
		for _, r := range rows {
			cols := r.names(names...)
			if cols == nil {
				continue
			}
			switch {
			case table == "push_deliveries":
				continue // the ledger is a history, pruned by age
			case table == "blob_trash":
				continue // blobs waiting to be deleted
			case table == "outbox" && outboxOK[r["type"]]:
				revoked = revoked || r["type"] == string(kumo.MQTTRevoked)
				continue // the delete's own event, until dispatched
			case table == "bucket_subscriptions" && v.bucketSubs:
				continue // subscriptions to a dropped bucket stay
			case v.scoped && onlyCreator(table, cols):
				continue // what it made in other scopes stays, and names its maker
			}
			t.Errorf("%s row names what was deleted (columns %v): %v", table, cols, r)
		}
	}
	if len(v.outbox) > 0 && v.outbox[0] == kumo.MQTTRevoked && !revoked {
		t.Errorf("no MQTT_REVOKED event in the outbox after the delete")
	}
	if v.ledger {
		dropped := map[string]bool{}
		for _, r := range after["push_deliveries"] {
			if r["state"] == string(kumo.DeliveryDropped) {
				dropped[r["installation_id"]] = true
			}
		}
		for _, id := range v.installations {
			if !dropped[id] {
				t.Errorf("no dropped ledger record for installation %s's queued push", id)
			}
		}
	}

	// Every row that named nothing deleted is still there, unchanged.
	for table, rows := range before {
		switch table {
		case "counters", "outbox", "blob_trash", "push_deliveries":
			continue // bumped, dispatched, emptied, appended to
		}
		have := map[string]int{}
		for _, r := range after[table] {
			have[r.String()]++
		}
		for _, r := range rows {
			if r.names(names...) != nil {
				continue
			}
			if have[r.String()] == 0 {
				t.Errorf("%s row of something not deleted is gone or changed: %v", table, r)
				continue
			}
			have[r.String()]--
		}
	}
}

// onlyCreator reports whether cols are only the column that records who
// made a row of table (an object's owner, a bucket's or topic's creator).
func onlyCreator(table string, cols []string) bool {
	creator := map[string]string{"objects": "owner", "buckets": "creator", "topics": "creator"}[table]
	return creator != "" && len(cols) == 1 && cols[0] == creator
}

// testCascadeTable checks the cascade table (sqlstore.CascadeTables)
// against the schema: every table of the database is in it, and the
// columns it names exist.
func testCascadeTable(t *testing.T, s suite) {
	f := newFixture(t, s)
	db := f.db.ReadDB()
	tables := sqlstore.CascadeTables()
	schema := schemaTables(t, db)
	for _, name := range schema {
		if _, ok := tables[name]; !ok {
			t.Errorf("table %s of the schema is not in the cascade table (internal/sqlstore/cascade.go)", name)
		}
	}
	for name, cols := range tables {
		if !slices.Contains(schema, name) {
			continue // a table of another store (blobs, blob_chunks: SQLBlobs in PostgreSQL)
		}
		for _, c := range cols {
			if _, err := db.Exec("SELECT " + c + " FROM " + name + " WHERE 1 = 0"); err != nil {
				t.Errorf("cascade table: column %s.%s: %v", name, c, err)
			}
		}
	}
}
