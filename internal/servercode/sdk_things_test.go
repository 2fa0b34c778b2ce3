package servercode_test

import (
	"strings"
	"testing"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/servercode"
)

// thingsScript exercises KiiThing as the admin, as an owner, as the thing
// itself and as a user who does not own it.
const thingsScript = `
// admin registers a thing, changes it, gives it a user and a group as
// owners, loads it by vendor ID and disables it.
function admin(params, context) {
  var ac = context.getAppAdminContext();
  var out = {};
  return ac.registerThing({_vendorThingID: "dev-1", _password: "pw-1", _thingType: "lamp", color: "red"}).then(function (t) {
    out.id = t.getThingID();
    t.fields.color = "blue";
    t.fields._stringField1 = "s1";
    return t.update();
  }).then(function (t) {
    out.color = t.fields.color;
    return t.registerOwner(ac.userWithID(params.owner));
  }).then(function (r) {
    out.registered = r[1].getID();
    return ac.registerOwnerWithVendorThingID("dev-1", ac.groupWithID(params.group));
  }).then(function (g) {
    out.group = g.getID();
    return ac.registerOwnerWithThingID(out.id, ac.userWithID(params.second));
  }).then(function () {
    return ac.loadThingWithThingID(out.id);
  }).then(function (t) {
    out.byID = t.getVendorThingID();
    return ac.loadThingWithVendorThingID("dev-1");
  }).then(function (t) {
    out.vendor = t.getVendorThingID();
    out.type = t.fields._thingType;
    return t.isOwner(ac.userWithID(params.owner));
  }).then(function (r) {
    out.isOwner = r[2];
    return r[0].disable();
  }).then(function (t) {
    out.disabled = t.getDisabled();
    return t.unregisterOwner(ac.groupWithID(params.group));
  }).then(function (r) {
    out.unregistered = r[1].getID();
    return out;
  });
}

// owner: the owning user loads the thing (callbacks), enables it, writes
// to its bucket, registers a second thing and owns it with its password.
function owner(params, context, done) {
  var out = {};
  KiiUser.authenticateWithToken(context.getAccessToken()).then(function (me) {
    KiiThing.loadWithThingID(params.id, {
      success: function (t) {
        out.vendor = t.getVendorThingID();
        t.enable().then(function (t) {
          out.disabled = t.getDisabled();
          var obj = t.bucketWithName("readings").createObject();
          obj.set("celsius", 21);
          return obj.save();
        }).then(function (obj) {
          out.uri = obj.objectURI();
          return KiiThing.register({_vendorThingID: "dev-2", _password: "pw-2"});
        }).then(function (t2) {
          out.second = t2.getThingID();
          return t2.registerOwnerWithPassword(me, "pw-2");
        }).then(function (r) {
          return r[0].isOwner(me);
        }).then(function (r) {
          out.ownsSecond = r[2];
          done(out);
        }).catch(function (e) { done({error: e.message}); });
      },
      failure: function (e) { done({error: e.message}); }
    });
  });
}

// thing: the thing itself, by its token, writes to its bucket, makes a
// topic and subscribes to it; then by its password.
function thing(params, context) {
  var out = {};
  var me;
  return Kii.authenticateAsThingWithToken(params.id, context.getAccessToken()).then(function (tc) {
    out.currentUser = KiiUser.getCurrentUser();
    me = tc.getAuthenticatedThing();
    return me.refresh();
  }).then(function (t) {
    out.id = t.getThingID();
    out.vendor = t.getVendorThingID();
    var obj = t.bucketWithName("log").createObject();
    obj.set("event", "boot");
    return obj.save();
  }).then(function (obj) {
    out.uri = obj.objectURI();
    return me.topicWithName("alerts").save();
  }).then(function (topic) {
    return me.pushSubscription().subscribe(topic);
  }).then(function (r) {
    out.topic = r[1].getName();
    KiiUser.logOut();
    return Kii.authenticateAsThing("dev-3", "pw-3");
  }).then(function (tc) {
    out.byPassword = tc.getAuthenticatedThing().getThingID();
    return out;
  });
}

// remove: the admin deletes a thing.
function remove(params, context) {
  return context.getAppAdminContext().thingWithID(params.id).deleteThing().then(function (t) { return t.getThingID(); });
}

// denied: a user who does not own the thing may not read it.
function denied(params, context, done) {
  var got = {};
  KiiUser.authenticateWithToken(context.getAccessToken()).then(function () {
    return KiiThing.loadWithThingID(params.id, {failure: function (e) { got.callback = e.message; got.status = e.status; }});
  }).then(function () {
    return KiiThing.loadWithThingID(params.id);
  }).then(function () { got.promise = "resolved"; }, function (e) {
    got.promise = e.message;
    got.code = e.errorCode;
  }).then(function () { done(got); });
}
`

func TestSDKThings(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t, open, servercode.Config{})
			v := w.deploy(thingsScript)
			alice, aliceTok := w.user("alice")
			_, bobTok := w.user("bob")
			dave, _ := w.user("dave")
			g, _, err := w.st.Groups.CreateGroup(w.ctx, w.admin, kumo.GroupCreation{Name: "home", Owner: alice})
			if err != nil {
				t.Fatal(err)
			}

			var a struct {
				ID, Color, Registered, Group, Vendor, Type, Unregistered, ByID string
				IsOwner, Disabled                                              bool
			}
			decode(t, w.ok(v, "admin", `{"owner":"`+alice+`","second":"`+dave+`","group":"`+g.ID+`"}`), &a)
			if a.ID == "" || a.Color != "blue" || a.Registered != alice || a.Group != g.ID || a.Vendor != "dev-1" || a.Type != "lamp" || !a.IsOwner || !a.Disabled || a.Unregistered != g.ID || a.ByID != "dev-1" {
				t.Fatalf("admin = %+v", a)
			}
			th, err := w.st.Things.FindThing(w.ctx, w.admin, a.ID)
			if err != nil || th.Fields["color"] != "blue" || th.Fields["_stringField1"] != "s1" || !th.Disabled {
				t.Fatalf("stored thing = %+v, %v", th, err)
			}
			owners, err := w.st.Things.ThingOwners(w.ctx, w.admin, a.ID)
			if err != nil || !sameSet(owners.Users, alice, dave) || len(owners.Groups) != 0 {
				t.Fatalf("owners = %+v, %v", owners, err)
			}

			var o struct {
				Vendor, URI, Second, Error string
				Disabled, OwnsSecond       bool
			}
			decode(t, w.ok(v, "owner", `{"id":"`+a.ID+`"}`, withToken(aliceTok)), &o)
			if o.Error != "" || o.Vendor != "dev-1" || o.Disabled || o.Second == "" || !o.OwnsSecond || !strings.HasPrefix(o.URI, "kiicloud://things/"+a.ID+"/buckets/readings/objects/") {
				t.Fatalf("owner = %+v", o)
			}
			if th, err := w.st.Things.FindThing(w.ctx, w.admin, a.ID); err != nil || th.Disabled {
				t.Fatalf("thing after enable = %+v, %v", th, err)
			}
			b := kumo.BucketRef{AppID: w.app.AppID, Scope: kumo.Scope{Kind: kumo.ScopeThing, ID: a.ID}, Name: "readings"}
			if obj, err := w.st.Objects.GetObject(w.ctx, w.admin, b, o.URI[strings.LastIndex(o.URI, "/")+1:]); err != nil || !isNumber(obj.Data["celsius"], 21) {
				t.Fatalf("thing object = %+v, %v", obj, err)
			}
			if owners, err := w.st.Things.ThingOwners(w.ctx, w.admin, o.Second); err != nil || !sameSet(owners.Users, alice) {
				t.Fatalf("second's owners = %+v, %v", owners, err)
			}

			reg, tok, err := w.st.Things.RegisterThing(w.ctx, kumo.Caller{AppID: w.app.AppID}, kumo.ThingRegistration{VendorThingID: "dev-3", Password: "pw-3"}, true)
			if err != nil {
				t.Fatal(err)
			}
			var self struct {
				ID, Vendor, URI, Topic, ByPassword string
				CurrentUser                        any
			}
			decode(t, w.ok(v, "thing", `{"id":"`+reg.ID+`"}`, withToken(tok.AccessToken)), &self)
			if self.ID != reg.ID || self.Vendor != "dev-3" || self.CurrentUser != nil || self.Topic != "alerts" || self.ByPassword != reg.ID {
				t.Fatalf("thing = %+v", self)
			}
			logs := kumo.BucketRef{AppID: w.app.AppID, Scope: kumo.Scope{Kind: kumo.ScopeThing, ID: reg.ID}, Name: "log"}
			if obj, err := w.st.Objects.GetObject(w.ctx, w.admin, logs, self.URI[strings.LastIndex(self.URI, "/")+1:]); err != nil || obj.Data["event"] != "boot" || obj.Owner != reg.ID {
				t.Fatalf("thing's object = %+v, %v", obj, err)
			}
			alerts := kumo.TopicRef{AppID: w.app.AppID, Scope: kumo.Scope{Kind: kumo.ScopeThing, ID: reg.ID}, Name: "alerts"}
			if err := w.st.Topics.TopicSubscribed(w.ctx, w.admin, alerts, kumo.Principal{Kind: kumo.ThingCaller, ID: reg.ID}); err != nil {
				t.Fatalf("thing on alerts: %v", err)
			}

			var den map[string]any
			decode(t, w.ok(v, "denied", `{"id":"`+a.ID+`"}`, withToken(bobTok)), &den)
			cb, _ := den["callback"].(string)
			if !strings.HasPrefix(cb, "UNAUTHORIZED") || den["promise"] != cb || den["code"] != "UNAUTHORIZED" {
				t.Fatalf("denied = %v", den)
			}

			wantValue(t, w.run(v, "remove", `{"id":"`+o.Second+`"}`), `"`+o.Second+`"`)
			if _, err := w.st.Things.FindThing(w.ctx, w.admin, o.Second); kumo.ErrorCode(err) != kumo.ErrThingNotFound {
				t.Fatalf("deleted thing: %v", err)
			}
		})
	}
}
