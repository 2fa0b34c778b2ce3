package servercode_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/servercode"
)

// pushScript exercises KiiTopic, KiiPushMessageBuilder and
// KiiPushSubscription as the admin, as a user and as another user.
const pushScript = `
// admin makes an app topic, lets users subscribe, sends a message.
function admin(params, context) {
  var ac = context.getAppAdminContext();
  var topic = ac.topicWithName("news");
  var out = {};
  return topic.exists().then(function (before) {
    out.before = before;
    return topic.save();
  }).then(function (t) {
    return t.exists();
  }).then(function (after) {
    out.after = after;
    var acl = topic.acl();
    acl.putACLEntry(KiiACLEntry.entryWithSubject(ac.userWithID(params.sender), KiiACLAction.KiiACLSendMessageToTopic));
    return acl.save();
  }).then(function () {
    var msg = new KiiPushMessageBuilder({text: "hello"}).enableApns(false).setSendToProduction(false)
      .mqttData({extra: "m"}).gcmData({g: "1"}).setSendTopicID(false).build();
    out.apns = msg.apns.enabled;
    return topic.sendMessage(msg);
  }).then(function (r) {
    out.sent = r[1].pushMessageID;
    out.topic = r[0].getName();
    return ac.listTopics();
  }).then(function (r) {
    out.topics = r[0].map(function (t) { return t.getName(); });
    return out;
  });
}

// user makes a topic of his own, subscribes to it (callbacks), to the app
// topic and to a bucket of his, and sends to his topic.
function user(params, context, done) {
  var out = {};
  KiiUser.authenticateWithToken(context.getAccessToken()).then(function (me) {
    var mine = me.topicWithName("mine");
    mine.save().then(function () {
      var sub = me.pushSubscription();
      sub.subscribe(mine, {
        success: function (s, t) {
          out.subscribed = t.getName();
          sub.isSubscribed(Kii.topicWithName("news")).then(function (r) {
            out.newsBefore = r[2];
            return sub.subscribe(Kii.topicWithName("news"));
          }).then(function () {
            return sub.isSubscribed(Kii.topicWithName("news"));
          }).then(function (r) {
            out.newsAfter = r[2];
            var obj = me.bucketWithName("inbox").createObject();
            obj.set("n", 1);
            return obj.save();
          }).then(function (obj) {
            return sub.subscribe(obj.getBucket());
          }).then(function () {
            return mine.sendMessage(new KiiPushMessageBuilder({text: "to me"}).build());
          }).then(function (r) {
            out.sent = r[1].pushMessageID;
            return Kii.topicWithName("news").sendMessage(new KiiPushMessageBuilder({text: "granted"}).build());
          }).then(function (r) {
            out.news = r[1].pushMessageID;
            return me.listTopics();
          }).then(function (r) {
            out.topics = r[0].map(function (t) { return t.getName(); });
            return sub.unsubscribe(Kii.topicWithName("news"));
          }).then(function () {
            done(out);
          }).catch(function (e) { done({error: e.message}); });
        },
        failure: function (e) { done({error: e.message}); }
      });
    });
  });
}

// remove: the admin deletes a topic.
function remove(params, context) {
  return context.getAppAdminContext().topicWithName(params.name).deleteTopic().then(function (t) { return t.getName(); });
}

// denied: another user may not send to a user's topic.
function denied(params, context, done) {
  var got = {};
  KiiUser.authenticateWithToken(context.getAccessToken()).then(function () {
    var topic = KiiUser.userWithID(params.owner).topicWithName("mine");
    return topic.sendMessage(new KiiPushMessageBuilder({text: "spam"}).build(), {failure: function (e) { got.callback = e.message; }}).then(function () {
      return topic.sendMessage(new KiiPushMessageBuilder({text: "spam"}).build());
    });
  }).then(function () { got.promise = "resolved"; }, function (e) {
    got.promise = e.message;
    got.code = e.errorCode;
  }).then(function () { done(got); });
}
`

func TestSDKPush(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t, open, servercode.Config{})
			v := w.deploy(pushScript)
			alice, aliceTok := w.user("alice")
			_, bobTok := w.user("bob")
			news := kumo.TopicRef{AppID: w.app.AppID, Name: "news", Scope: kumo.Scope{Kind: kumo.ScopeApp}}
			mine := kumo.TopicRef{AppID: w.app.AppID, Name: "mine", Scope: kumo.Scope{Kind: kumo.ScopeUser, ID: alice}}
			aliceP := kumo.Principal{Kind: kumo.UserCaller, ID: alice}

			var a struct {
				Before, After, Apns bool
				Sent, Topic         string
				Topics              []string
			}
			decode(t, w.ok(v, "admin", `{"sender":"`+alice+`"}`), &a)
			if a.Before || !a.After || a.Apns || a.Sent == "" || a.Topic != "news" || strings.Join(a.Topics, ",") != "news" {
				t.Fatalf("admin = %+v", a)
			}
			if err := w.st.Topics.TopicExists(w.ctx, w.admin, news); err != nil {
				t.Fatalf("news: %v", err)
			}

			var u struct {
				Subscribed, Sent, News, Error string
				NewsBefore, NewsAfter         bool
				Topics                        []string
			}
			decode(t, w.ok(v, "user", `{}`, withToken(aliceTok)), &u)
			if u.Error != "" || u.Subscribed != "mine" || u.NewsBefore || !u.NewsAfter || u.Sent == "" || strings.Join(u.Topics, ",") != "mine" {
				t.Fatalf("user = %+v", u)
			}
			if err := w.st.Topics.TopicSubscribed(w.ctx, w.admin, mine, aliceP); err != nil {
				t.Fatalf("alice on mine: %v", err)
			}
			if err := w.st.Topics.TopicSubscribed(w.ctx, w.admin, news, aliceP); kumo.ErrorCode(err) != kumo.ErrPushSubscriptionMissing {
				t.Fatalf("alice on news after unsubscribe: %v", err)
			}
			inbox := kumo.BucketRef{AppID: w.app.AppID, Scope: kumo.Scope{Kind: kumo.ScopeUser, ID: alice}, Name: "inbox"}
			if err := w.st.Subscriptions.BucketSubscribed(w.ctx, w.admin, inbox, aliceP); err != nil {
				t.Fatalf("alice on inbox: %v", err)
			}
			msgs := sentMessages(t, w)
			for id, want := range map[string]string{a.Sent: `"hello"`, u.Sent: `"to me"`, u.News: `"granted"`} {
				if !bytes.Contains(msgs[id], []byte(want)) {
					t.Fatalf("message %s = %s, want %s in it", id, msgs[id], want)
				}
			}
			if !bytes.Contains(msgs[a.Sent], []byte(`"extra"`)) {
				t.Fatalf("admin's message %s has no MQTT data", msgs[a.Sent])
			}
			if acl, err := w.st.ACLs.ACL(w.ctx, w.admin, kumo.TopicACL(news)); err != nil || !hasSubject(acl[kumo.SendMessageToTopic], "UserID:"+alice) {
				t.Fatalf("news ACL = %v, %v", acl, err)
			}

			var den map[string]any
			decode(t, w.ok(v, "denied", `{"owner":"`+alice+`"}`, withToken(bobTok)), &den)
			cb, _ := den["callback"].(string)
			if !strings.HasPrefix(cb, "UNAUTHORIZED") || den["promise"] != cb || den["code"] != "UNAUTHORIZED" {
				t.Fatalf("denied = %v", den)
			}

			wantValue(t, w.run(v, "remove", `{"name":"news"}`), `"news"`)
			if err := w.st.Topics.TopicExists(w.ctx, w.admin, news); kumo.ErrorCode(err) != kumo.ErrTopicNotFound {
				t.Fatalf("news after delete: %v", err)
			}
		})
	}
}

// sentMessages claims the messages sent so far from the outbox (the world
// runs no dispatcher): their delivery JSON by pushMessageID.
func sentMessages(t *testing.T, w *world) map[string][]byte {
	t.Helper()
	events, err := w.st.Outbox.ClaimEvents(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range events {
		if e.Type == kumo.PushMessageSent {
			out[e.ObjectID] = e.Message
		}
	}
	return out
}
