package servercode_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/servercode"
)

// groupsScript exercises KiiGroup as the caller, as the admin and as a
// member who may not change the group.
const groupsScript = `
// create: the caller makes a group with a member (callbacks), renames it,
// lists its members, makes a second group with a chosen ID and writes to
// the first group's bucket.
function create(params, context, done) {
  var out = {};
  KiiUser.authenticateWithToken(context.getAccessToken()).then(function () {
    var g = KiiGroup.groupWithName("team");
    g.addUser(KiiUser.userWithID(params.member));
    g.save({
      success: function (saved) {
        out.id = saved.getID();
        out.owner = saved.getCachedOwner().getID();
        saved.changeGroupName("team2").then(function (r) {
          return r.getMemberList();
        }).then(function (r) {
          out.name = r[0].getName();
          out.members = r[1].map(function (u) { return u.getID(); });
          return KiiGroup.registerGroupWithID("fixed-id", "Fixed", [KiiUser.userWithID(params.member)]);
        }).then(function (fixed) {
          out.fixed = fixed.getID();
          var obj = KiiGroup.groupWithID(out.id).bucketWithName("shared").createObject();
          obj.set("x", 1);
          return obj.save();
        }).then(function (obj) {
          out.uri = obj.objectURI();
          done(out);
        }).catch(function (e) { done({error: e.message}); });
      },
      failure: function (g, err) { done({error: err}); }
    });
  });
}

// admin removes the member, reads the owner, makes a group for a user,
// deletes the fixed group.
function admin(params, context) {
  var ac = context.getAppAdminContext();
  var g = ac.groupWithID(params.id);
  var out = {};
  g.removeUser(KiiUser.userWithID(params.member));
  return g.save().then(function (saved) {
    return saved.getOwner();
  }).then(function (r) {
    out.owner = r[1].getID();
    out.name = r[0].getName();
    return ac.registerGroupWithOwnerAndID("adm-g", "Adm", params.member, [KiiUser.userWithID(params.owner)]);
  }).then(function (adm) {
    out.adm = adm.getID();
    return ac.groupWithName("ownerless").save();
  }).then(function (g) {
    out.ownerless = g.getID();
    return ac.groupWithURI("kiicloud://groups/fixed-id")["delete"]();
  }).then(function () {
    return KiiUser.userWithID(params.owner).memberOfGroups();
  }).then(null, function (e) {
    out.anonymous = e.errorCode; // the admin context's objects carry its token; others do not
    return ac.userWithID(params.owner).ownerOfGroups();
  }).then(function (r) {
    out.ownerGroups = r[1].map(function (x) { return x.getID(); });
    return out;
  });
}

// denied: a member who is not the owner may not add members; the group
// save reports the members it could not add.
function denied(params, context, done) {
  var got = {};
  function group() {
    var g = KiiGroup.groupWithID(params.id);
    g.addUser(KiiUser.userWithID(params.other));
    return g;
  }
  KiiUser.authenticateWithToken(context.getAccessToken()).then(function () {
    return group().save({
      failure: function (grp, err, add, remove) { got.callback = err; got.add = add.length; got.remove = remove.length; }
    });
  }).then(function () {
    return group().save();
  }).then(function () { got.promise = "resolved"; }, function (e) {
    got.promise = e.message;
    got.code = e.errorCode;
    got.addMembers = e.addMembersArray.map(function (u) { return u.getID(); });
  }).then(function () { done(got); });
}
`

func TestSDKGroups(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t, open, servercode.Config{})
			v := w.deploy(groupsScript)
			alice, aliceTok := w.user("alice")
			bob, bobTok := w.user("bob")
			carol, _ := w.user("carol")

			var c struct {
				ID, Owner, Name, Fixed, URI, Error string
				Members                            []string
			}
			decode(t, w.ok(v, "create", `{"member":"`+bob+`"}`, withToken(aliceTok)), &c)
			if c.Error != "" || c.ID == "" || c.Owner != alice || c.Name != "team2" || !sameSet(c.Members, alice, bob) || c.Fixed != "fixed-id" {
				t.Fatalf("create = %+v", c)
			}
			g, err := w.st.Groups.FindGroup(w.ctx, w.admin, c.ID)
			if err != nil || g.Name != "team2" || g.Owner != alice {
				t.Fatalf("stored group = %+v, %v", g, err)
			}
			wantMembers(t, w, "fixed-id", alice, bob)
			objID := c.URI[strings.LastIndex(c.URI, "/")+1:]
			b := kumo.BucketRef{AppID: w.app.AppID, Scope: kumo.Scope{Kind: kumo.ScopeGroup, ID: c.ID}, Name: "shared"}
			if o, err := w.st.Objects.GetObject(w.ctx, w.admin, b, objID); err != nil || !isNumber(o.Data["x"], 1) {
				t.Fatalf("group object = %+v, %v", o, err)
			}

			var den map[string]any
			decode(t, w.ok(v, "denied", `{"id":"`+c.ID+`","other":"`+carol+`"}`, withToken(bobTok)), &den)
			cb, _ := den["callback"].(string)
			if !strings.HasPrefix(cb, "UNAUTHORIZED") || den["promise"] != cb || den["code"] != "UNAUTHORIZED" || den["add"] != float64(1) || den["remove"] != float64(0) {
				t.Fatalf("denied = %v", den)
			}
			if ms, _ := den["addMembers"].([]any); len(ms) != 1 || ms[0] != carol {
				t.Fatalf("denied addMembers = %v", den["addMembers"])
			}
			wantMembers(t, w, c.ID, alice, bob)

			var a struct {
				Owner, Name, Adm, Anonymous, Ownerless string
				OwnerGroups                            []string
			}
			decode(t, w.ok(v, "admin", `{"id":"`+c.ID+`","member":"`+bob+`","owner":"`+alice+`"}`), &a)
			if a.Owner != alice || a.Name != "team2" || a.Adm != "adm-g" || a.Anonymous != "UNAUTHORIZED" || strings.Join(a.OwnerGroups, ",") != c.ID {
				t.Fatalf("admin = %+v", a)
			}
			wantMembers(t, w, c.ID, alice)
			wantMembers(t, w, "adm-g", alice, bob)
			if g, err := w.st.Groups.FindGroup(w.ctx, w.admin, "adm-g"); err != nil || g.Owner != bob || g.Name != "Adm" {
				t.Fatalf("adm-g = %+v, %v", g, err)
			}
			if g, err := w.st.Groups.FindGroup(w.ctx, w.admin, a.Ownerless); err != nil || g.Owner != "" || g.Name != "ownerless" {
				t.Fatalf("ownerless = %+v, %v", g, err)
			}
			if _, err := w.st.Groups.FindGroup(w.ctx, w.admin, "fixed-id"); kumo.ErrorCode(err) != kumo.ErrGroupNotFound {
				t.Fatalf("fixed-id after delete: %v", err)
			}
		})
	}
}

// wantMembers checks a group's stored members (in any order).
func wantMembers(t *testing.T, w *world, group string, members ...string) {
	t.Helper()
	got, err := w.st.Groups.GroupMembers(w.ctx, w.admin, group)
	if err != nil || !sameSet(got, members...) {
		t.Fatalf("members of %s = %v, %v; want %v", group, got, err, members)
	}
}

// sameSet reports whether got holds exactly want, in any order.
func sameSet(got []string, want ...string) bool {
	a, b := slices.Clone(got), slices.Clone(want)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
