package servercode_test

import (
	"strings"
	"testing"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/servercode"
)

// aclScript exercises KiiACL on buckets and objects, as their owner and as
// a user who may not change them.
const aclScript = `
// grant: the caller creates an object, lets another user read it and any
// user query the bucket, revokes his own write, and lists the entries.
function grant(params, context) {
  var obj;
  return KiiUser.authenticateWithToken(context.getAccessToken()).then(function (me) {
    obj = me.bucketWithName("board").createObject();
    obj.set("msg", "hi");
    return obj.save();
  }).then(function () {
    var acl = obj.objectACL();
    acl.putACLEntry(KiiACLEntry.entryWithSubject(KiiUser.userWithID(params.reader), KiiACLAction.KiiACLObjectActionRead));
    acl.removeACLEntry(KiiACLEntry.entryWithSubject(KiiUser.getCurrentUser(), KiiACLAction.KiiACLObjectActionWrite));
    return acl.save();
  }).then(function () {
    var acl = context.getAppAdminContext().bucketWithName("board").acl();
    acl.putACLEntry(KiiACLEntry.entryWithSubject(KiiUser.userWithID(params.reader), KiiACLAction.KiiACLBucketActionQueryObjects));
    acl.removeACLEntry(KiiACLEntry.entryWithSubject(new KiiAnonymousUser(), KiiACLAction.KiiACLBucketActionQueryObjects));
    return acl.save();
  }).then(function () {
    return obj.acl().listACLEntries();
  }).then(function (r) {
    var entries = r[1].map(function (e) { return e.getAction() + " " + e.getSubject().getID(); }).sort();
    return {uri: obj.objectURI(), entries: entries};
  });
}

// denied: the reader may not change the object's ACL (callbacks, then
// promise).
function denied(params, context, done) {
  var got = {};
  function acl(me) {
    var a = KiiObject.objectWithURI(params.uri).objectACL();
    a.putACLEntry(KiiACLEntry.entryWithSubject(me, KiiACLAction.KiiACLObjectActionWrite));
    return a;
  }
  KiiUser.authenticateWithToken(context.getAccessToken()).then(function (me) {
    return acl(me).save({failure: function (a, err) { got.callback = err; got.target = a instanceof KiiACL; }}).then(function () {
      return acl(me).save();
    });
  }).then(function () { got.promise = "resolved"; }, function (e) {
    got.promise = e.message;
    got.code = e.errorCode;
  }).then(function () {
    try { KiiACLEntry.entryWithSubject(new KiiAnonymousUser(), "EAT_OBJECTS"); } catch (e) { got.badAction = e.message; }
    done(got);
  });
}
`

func TestSDKACL(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t, open, servercode.Config{})
			v := w.deploy(aclScript)
			alice, aliceTok := w.user("alice")
			bob, bobTok := w.user("bob")

			var g struct {
				URI     string
				Entries []string
			}
			decode(t, w.ok(v, "grant", `{"reader":"`+bob+`"}`, withToken(aliceTok)), &g)
			if !sameSet(g.Entries, "READ_EXISTING_OBJECT "+alice, "READ_EXISTING_OBJECT "+bob) {
				t.Fatalf("entries = %v", g.Entries)
			}
			board := kumo.BucketRef{AppID: w.app.AppID, Scope: kumo.Scope{Kind: kumo.ScopeApp}, Name: "board"}
			mine := kumo.BucketRef{AppID: w.app.AppID, Scope: kumo.Scope{Kind: kumo.ScopeUser, ID: alice}, Name: "board"}
			objID := g.URI[strings.LastIndex(g.URI, "/")+1:]
			acl, err := w.st.ACLs.ACL(w.ctx, w.admin, kumo.ACLTarget{Bucket: mine, ObjectID: objID})
			if err != nil || !hasSubject(acl[kumo.ReadExistingObject], "UserID:"+bob) || hasSubject(acl[kumo.WriteExistingObject], "UserID:"+alice) {
				t.Fatalf("object ACL = %v, %v", acl, err)
			}
			acl, err = w.st.ACLs.ACL(w.ctx, w.admin, kumo.ACLTarget{Bucket: board})
			if err != nil || !hasSubject(acl[kumo.QueryObjectsInBucket], "UserID:"+bob) || hasSubject(acl[kumo.QueryObjectsInBucket], "UserID:ANONYMOUS_USER") {
				t.Fatalf("bucket ACL = %v, %v", acl, err)
			}

			var den map[string]any
			decode(t, w.ok(v, "denied", `{"uri":"`+g.URI+`"}`, withToken(bobTok)), &den)
			cb, _ := den["callback"].(string)
			if !strings.HasPrefix(cb, "UNAUTHORIZED") || den["promise"] != cb || den["code"] != "UNAUTHORIZED" || den["target"] != true || !strings.Contains(den["badAction"].(string), "EAT_OBJECTS") {
				t.Fatalf("denied = %v", den)
			}
			if acl, _ := w.st.ACLs.ACL(w.ctx, w.admin, kumo.ACLTarget{Bucket: mine, ObjectID: objID}); hasSubject(acl[kumo.WriteExistingObject], "UserID:"+bob) {
				t.Fatalf("bob granted himself write: %v", acl)
			}
		})
	}
}

// hasSubject reports whether subjects name s ("UserID:x").
func hasSubject(subjects []kumo.Subject, s string) bool {
	for _, x := range subjects {
		if x.String() == s {
			return true
		}
	}
	return false
}
