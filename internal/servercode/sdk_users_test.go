package servercode_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/servercode"
)

// usersScript exercises KiiUser as the caller, as the admin and anonymously.
const usersScript = `
// me logs in with the caller's token (callbacks), changes itself (promise)
// and lists its groups.
function me(params, context, done) {
  KiiUser.authenticateWithToken(context.getAccessToken(), {
    success: function (user) {
      user.set("score", 42);
      user.setDisplayName("Alice A");
      user.save().then(function (u) {
        return u.memberOfGroups();
      }).then(function (r) {
        var cur = KiiUser.getCurrentUser();
        done({current: cur.getID(), same: cur === r[0], name: r[0].getUsername(), score: r[0].get("score"),
          display: r[0].getDisplayName(), groups: r[1].map(function (g) { return g.getName(); })});
      }).catch(function (e) { done({error: e.message}); });
    },
    failure: function (u, err) { done({error: err}); }
  });
}

// login logs in with a password, writes to its own bucket, finds another user.
function login(params, context) {
  return KiiUser.authenticate(params.name, params.password).then(function (u) {
    var obj = u.bucketWithName("notes").createObject();
    obj.set("text", "hello");
    return obj.save();
  }).then(function (obj) {
    return KiiUser.findUserByUsername(params.other).then(function (other) {
      return {current: KiiUser.getCurrentUser().getUsername(), uri: obj.objectURI(), other: other.getID(), otherName: other.getUsername()};
    });
  });
}

// admin finds a user, changes its fields, deletes another, registers a new one.
function admin(params, context) {
  var ac = context.getAppAdminContext();
  var out = {};
  return ac.findUserByUsername(params.name).then(function (u) {
    out.found = u.getID();
    return u.update(null, null, {level: "gold", country: "JP"}, ["score"]);
  }).then(function (u) {
    out.level = u.get("level");
    out.country = u.getCountry();
    return ac.userWithID(params.victim)["delete"]();
  }).then(function (v) {
    out.deleted = v.getID();
    return KiiUserBuilder.builderWithIdentifier("carol", "pw-carol1").setEmailAddress("carol@example.com").setGlobalPhoneNumber("+819012345678").build().register();
  }).then(function (carol) {
    out.carol = carol.getID();
    out.current = KiiUser.getCurrentUser() === carol;
    return ac.findUserByPhone("+819012345678");
  }).then(function (carol) {
    out.byPhone = carol.getID();
    return ac.findUserByEmail("carol@example.com");
  }).then(function (carol) {
    out.byEmail = carol.getUsername();
    return carol.updatePassword(null, "pw-carol2");
  }).then(function () {
    KiiUser.logOut();
    return KiiUser.authenticate("carol@example.com", "pw-carol2");
  }).then(function (carol) {
    out.loggedIn = KiiUser.getCurrentUser().getEmailAddress();
    return out;
  });
}

// denied reads a user anonymously: the failure callback and the promise's
// rejection both carry Kii's error.
function denied(params, context, done) {
  var got = {};
  KiiUser.userWithID(params.id).refresh({
    success: function () { got.callback = "refreshed"; },
    failure: function (u, err) { got.callback = err; got.target = u.getID(); }
  }).then(function () {
    return KiiUser.userWithID(params.id).refresh();
  }).then(function () { got.promise = "resolved"; }, function (e) {
    got.promise = e.message;
    got.code = e.errorCode;
    got.status = e.status;
  }).then(function () {
    return KiiUser.findUserByUsername("nobody-here", {failure: function (err) { got.find = err; }});
  }).then(function () {
    return KiiUser.findUserByUsername("nobody-here");
  }).then(null, function (e) { got.findPromise = e.errorCode; }).then(function () { done(got); });
}
`

func TestSDKUsers(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t, open, servercode.Config{})
			v := w.deploy(usersScript)
			alice, aliceTok := w.user("alice")
			bob, _ := w.user("bob")
			if _, _, err := w.st.Groups.CreateGroup(w.ctx, w.admin, kumo.GroupCreation{Name: "band", Owner: bob, Members: []string{alice}}); err != nil {
				t.Fatal(err)
			}

			var me struct {
				Current, Name, Display, Error string
				Same                          bool
				Score                         float64
				Groups                        []string
			}
			decode(t, w.ok(v, "me", `{}`, withToken(aliceTok)), &me)
			if me.Error != "" || me.Current != alice || !me.Same || me.Name != "alice" || me.Score != 42 || me.Display != "Alice A" || strings.Join(me.Groups, ",") != "band" {
				t.Fatalf("me = %+v", me)
			}
			u, err := w.st.Users.FindUser(w.ctx, w.admin, alice)
			if err != nil || u.DisplayName != "Alice A" || !isNumber(u.Custom["score"], 42) {
				t.Fatalf("stored alice = %+v, %v", u, err)
			}

			var login struct{ Current, URI, Other, OtherName string }
			decode(t, w.ok(v, "login", `{"name":"bob","password":"pw-bob","other":"alice"}`), &login)
			if login.Current != "bob" || login.Other != alice || login.OtherName != "alice" || !strings.HasPrefix(login.URI, "kiicloud://users/"+bob+"/buckets/notes/objects/") {
				t.Fatalf("login = %+v", login)
			}
			objID := login.URI[strings.LastIndex(login.URI, "/")+1:]
			bucket := kumo.BucketRef{AppID: w.app.AppID, Scope: kumo.Scope{Kind: kumo.ScopeUser, ID: bob}, Name: "notes"}
			if o, err := w.st.Objects.GetObject(w.ctx, w.admin, bucket, objID); err != nil || o.Data["text"] != "hello" {
				t.Fatalf("stored note = %+v, %v", o, err)
			}

			var adm struct {
				Found, Level, Country, Deleted, Carol, ByEmail, ByPhone, LoggedIn string
				Current                                                           bool
			}
			decode(t, w.ok(v, "admin", `{"name":"alice","victim":"`+bob+`"}`), &adm)
			if adm.Found != alice || adm.Level != "gold" || adm.Country != "JP" || adm.Deleted != bob || adm.Carol == "" || !adm.Current || adm.ByEmail != "carol" || adm.ByPhone != adm.Carol || adm.LoggedIn != "carol@example.com" {
				t.Fatalf("admin = %+v", adm)
			}
			u, err = w.st.Users.FindUser(w.ctx, w.admin, alice)
			if _, kept := u.Custom["score"]; err != nil || u.Custom["level"] != "gold" || u.Country != "JP" || kept {
				t.Fatalf("stored alice = %+v, %v", u, err)
			}
			if _, err := w.st.Users.FindUser(w.ctx, w.admin, bob); kumo.ErrorCode(err) != kumo.ErrUserNotFound {
				t.Fatalf("bob after delete: %v", err)
			}
			if c, err := w.st.Users.FindUser(w.ctx, w.admin, "LOGIN_NAME:carol"); err != nil || c.ID != adm.Carol {
				t.Fatalf("carol = %+v, %v", c, err)
			}

			var den map[string]any
			decode(t, w.ok(v, "denied", `{"id":"`+alice+`"}`), &den)
			cb, _ := den["callback"].(string)
			pr, _ := den["promise"].(string)
			if !strings.HasPrefix(cb, "UNAUTHORIZED") || cb != pr || den["code"] != "UNAUTHORIZED" || den["status"] != float64(401) && den["status"] != float64(403) || den["target"] != alice {
				t.Fatalf("denied = %v", den)
			}
			if f, _ := den["find"].(string); !strings.HasPrefix(f, "UNAUTHORIZED") || den["findPromise"] != "UNAUTHORIZED" {
				t.Fatalf("denied find = %v", den)
			}
		})
	}
}

// decode unmarshals a run's returned value into v.
func decode(t *testing.T, res kumo.ServerCodeResult, v any) {
	t.Helper()
	if err := json.Unmarshal(res.ReturnedValue, v); err != nil {
		t.Fatalf("returned %s: %v", res.ReturnedValue, err)
	}
}

// isNumber reports whether a stored JSON number v is n.
func isNumber(v any, n float64) bool {
	switch x := v.(type) {
	case float64:
		return x == n
	case json.Number:
		f, err := x.Float64()
		return err == nil && f == n
	case int64:
		return float64(x) == n
	}
	return false
}
