package servercode_test

import (
	"strings"
	"testing"
	"time"

	"github.com/kumo-iot/kumo/internal/servercode"
)

// jsonScript turns every kind of SDK object into JSON (a returned value,
// console.log) while they hold the admin token or the caller's.
const jsonScript = `
function dump(params, context) {
  var ac = context.getAppAdminContext();
  var out = {adminToken: ac._getToken(), json: []};
  return KiiUser.authenticateWithToken(context.getAccessToken()).then(function (me) {
    var things = [me, ac.userWithID(params.user), ac.groupWithID("g1"), ac.thingWithID("th.x"), ac.topicWithName("t"),
      me.topicWithName("mine"), me.pushSubscription(), ac.topicWithName("t").acl(),
      KiiACLEntry.entryWithSubject(ac.userWithID(params.user), KiiACLAction.KiiACLObjectActionRead),
      new KiiThingContext("th.x", ac._getToken()), ac.userWithID(params.user).bucketWithName("b"), ac.bucketWithName("b")];
    things.forEach(function (x) {
      var s = JSON.stringify(x);
      console.log(x);
      out.json.push(s);
    });
    out.user = JSON.parse(out.json[1]).userID;
    return out;
  });
}
`

func TestSDKNoTokenInJSON(t *testing.T) {
	w := sqliteWorld(t, servercode.Config{})
	v := w.deploy(jsonScript)
	alice, aliceTok := w.user("alice")
	var d struct {
		AdminToken, User string
		JSON             []string
	}
	decode(t, w.ok(v, "dump", `{"user":"`+alice+`"}`, withToken(aliceTok)), &d)
	if d.AdminToken == "" || len(d.JSON) != 12 || d.User != alice {
		t.Fatalf("dump = %+v", d)
	}
	// The console lines reach the log in the background: wait for them.
	deadline := time.Now().Add(10 * time.Second)
	var lines []string
	for len(lines) < 12 && time.Now().Before(deadline) {
		lines = nil
		for _, l := range w.logs.wait(t, 1) {
			if l.Key == "servercode.log" {
				lines = append(lines, l.Description)
			}
		}
		if len(lines) < 12 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	if len(lines) != 12 {
		t.Fatalf("%d console lines, want 12", len(lines))
	}
	d.JSON = append(d.JSON, lines...)
	for _, s := range d.JSON {
		if strings.Contains(s, d.AdminToken) || strings.Contains(s, aliceTok) {
			t.Fatalf("a token in %s", s)
		}
	}
}
