package main

import (
	"strings"
	"testing"

	"github.com/kumo-iot/kumo"
)

func TestTopicAPI(t *testing.T) { forEachStore(t, testTopicAPI) }

func testTopicAPI(t *testing.T, cfg config) {
	f := newFixture(t, cfg)
	bobID, bobToken := f.mustUser(t, "bob")
	user := kumo.Caller{AppID: f.n.app.AppID, Kind: kumo.UserCaller, ID: f.userID}
	if _, _, err := f.n.db.Groups.CreateGroup(t.Context(), user, kumo.GroupCreation{ID: "grp1", Name: "g"}); err != nil {
		t.Fatal(err)
	}
	admin := []string{"Authorization", "Bearer {admin}"}
	thing := []string{"Authorization", thingAuth}
	other := []string{"Authorization", "Bearer {othertoken}"}
	alice := []string{"Authorization", "Bearer {usertoken}"}
	bob := []string{"Authorization", "Bearer {bobtoken}"}
	app := "/api/apps/{app}/topics/news"
	subs := app + "/push/subscriptions/"
	mine := "/api/apps/{app}/users/{user}/topics/inbox"
	own := "/api/apps/{app}/things/{thing}/topics/topic-1"
	grp := "/api/apps/{app}/groups/grp1/topics/chat"
	aclCT := "application/vnd.kii.ACLRetrievalResponse+json"

	cases := []apiCase{
		// App scope: the admin creates; any token holder sees and subscribes.
		{name: "app topic by a user", method: "PUT", path: app, headers: alice, status: 401, code: "UNAUTHORIZED"},
		{name: "app topic by a thing", method: "PUT", path: app, headers: thing, status: 401, code: "UNAUTHORIZED"},
		{name: "app topic, anonymous", method: "PUT", path: app, status: 401, code: "UNAUTHORIZED"},
		{name: "app topic by the admin", method: "PUT", path: app, headers: admin, status: 204},
		{name: "app topic again", method: "PUT", path: app, headers: admin, status: 409, code: "TOPIC_ALREADY_EXISTS",
			ctype: "application/vnd.kii.TopicAlreadyExistsException+json", bodyHas: []string{`"topicID" : "news"`, `"type" : "APP"`}},
		{name: "exists", method: "HEAD", path: app, headers: thing, status: 204},
		{name: "missing", method: "HEAD", path: "/api/apps/{app}/topics/nope", headers: thing, status: 404},
		{name: "invalid topic ID", method: "PUT", path: "/api/apps/{app}/topics/bad.name", headers: admin, status: 400, code: "INVALID_INPUT_DATA",
			bodyHas: []string{`"topicID"`}},
		{name: "topic ID of 65 characters", method: "PUT", path: "/api/apps/{app}/topics/" + strings.Repeat("a", 65), headers: admin, status: 400, code: "INVALID_INPUT_DATA"},
		{name: "topic ID of 64 characters", method: "PUT", path: "/api/apps/{app}/topics/" + strings.Repeat("a", 64), headers: admin, status: 204},
		{name: "list app topics, a user", method: "GET", path: "/api/apps/{app}/topics", headers: alice, status: 200,
			ctype: "application/vnd.kii.TopicsRetrievalResponse+json", bodyHas: []string{`"topicID" : "news"`}},
		{name: "list app topics, anonymous", method: "GET", path: "/api/apps/{app}/topics", status: 401, code: "UNAUTHORIZED"},

		// Subscriptions (ebisu: 204, 409, 204, 404).
		{name: "thing subscribes", method: "PUT", path: subs + "things/{thing}", headers: thing, status: 204},
		{name: "thing subscribes again", method: "PUT", path: subs + "things/{thing}", headers: thing, status: 409, code: "PUSH_SUBSCRIPTION_ALREADY_EXISTS",
			ctype: "application/vnd.kii.PushSubscriptionAlreadyExistsException+json", bodyHas: []string{`"topicID" : "news"`, `"thingID" : "{thing}"`}},
		{name: "subscribed", method: "GET", path: subs + "things/{thing}", headers: thing, status: 204},
		{name: "subscribed, HEAD", method: "HEAD", path: subs + "things/{thing}", headers: thing, status: 204},
		{name: "by vendor thing ID", method: "GET", path: subs + "things/VENDOR_THING_ID:{vendor}", headers: admin, status: 204},
		{name: "another thing may not look", method: "GET", path: subs + "things/{thing}", headers: other, status: 401, code: "UNAUTHORIZED"},
		{name: "another thing may not subscribe it", method: "PUT", path: subs + "things/{thing}", headers: other, status: 401, code: "UNAUTHORIZED"},
		{name: "unsubscribe", method: "DELETE", path: subs + "things/{thing}", headers: thing, status: 204},
		{name: "unsubscribe again", method: "DELETE", path: subs + "things/{thing}", headers: thing, status: 404, code: "PUSH_SUBSCRIPTION_NOT_FOUND"},
		{name: "not subscribed", method: "GET", path: subs + "things/{thing}", headers: thing, status: 404, code: "PUSH_SUBSCRIPTION_NOT_FOUND",
			ctype: "application/vnd.kii.PushSubscriptionNotFoundException+json"},
		{name: "POST subscribes the thing", method: "POST", path: subs + "things", headers: thing, status: 204},
		{name: "POST again", method: "POST", path: subs + "things", headers: thing, status: 409, code: "PUSH_SUBSCRIPTION_ALREADY_EXISTS"},
		{name: "POST users needs a user token", method: "POST", path: subs + "users", headers: thing, status: 401, code: "UNAUTHORIZED"},
		{name: "POST subscribes the user", method: "POST", path: subs + "users", headers: alice, status: 204},
		{name: "user subscribed", method: "GET", path: subs + "users/{user}", headers: alice, status: 204},
		{name: "user subscribed as me", method: "GET", path: subs + "users/me", headers: alice, status: 204},
		{name: "admin subscribes bob", method: "PUT", path: subs + "users/{bob}", headers: admin, status: 204},
		{name: "admin unsubscribes bob", method: "DELETE", path: subs + "users/{bob}", headers: admin, status: 204},
		{name: "missing topic", method: "PUT", path: "/api/apps/{app}/topics/nope/push/subscriptions/things/{thing}", headers: thing,
			status: 404, code: "TOPIC_NOT_FOUND", ctype: "application/vnd.kii.TopicNotFoundException+json", bodyHas: []string{`"topicID" : "nope"`, `"objectScope"`}},
		{name: "missing topic, GET", method: "GET", path: "/api/apps/{app}/topics/nope/push/subscriptions/things/{thing}", headers: thing,
			status: 404, code: "TOPIC_NOT_FOUND"},
		{name: "unknown thing", method: "PUT", path: subs + "things/th.nope", headers: admin, status: 404, code: "THING_NOT_FOUND"},
		{name: "unknown user", method: "PUT", path: subs + "users/nobody", headers: admin, status: 404, code: "USER_NOT_FOUND"},
		{name: "anonymous subscribe", method: "PUT", path: subs + "things/{thing}", status: 401, code: "UNAUTHORIZED"},

		// The app topic's ACL.
		{name: "app topic ACL", method: "GET", path: app + "/acl", headers: admin, status: 200, ctype: aclCT,
			bodyHas: []string{`"SUBSCRIBE_TO_TOPIC" : [ {`, `"userID" : "ANY_AUTHENTICATED_USER"`}},
		{name: "app topic ACL by a user", method: "GET", path: app + "/acl", headers: alice, status: 401, code: "UNAUTHORIZED"},
		{name: "grant SEND to alice", method: "PUT", path: app + "/acl/SEND_MESSAGE_TO_TOPIC/UserID:{user}", headers: admin, status: 204},
		{name: "grant again", method: "PUT", path: app + "/acl/SEND_MESSAGE_TO_TOPIC/UserID:{user}", headers: admin, status: 409, code: "ACL_ALREADY_EXISTS"},
		{name: "SEND holders", method: "GET", path: app + "/acl/SEND_MESSAGE_TO_TOPIC", headers: admin, status: 200,
			ctype: "application/vnd.kii.ACLVerbRetrievalResponse+json", bodyHas: []string{`"userID" : "{user}"`}},
		{name: "SEND holder", method: "GET", path: app + "/acl/SEND_MESSAGE_TO_TOPIC/UserID:{user}", headers: admin, status: 200},
		{name: "no anonymous on topics", method: "PUT", path: app + "/acl/SUBSCRIBE_TO_TOPIC/UserID:ANONYMOUS_USER", headers: admin, status: 400, code: "INVALID_INPUT_DATA"},
		{name: "object verb on a topic", method: "PUT", path: app + "/acl/READ_EXISTING_OBJECT/UserID:{user}", headers: admin, status: 400, code: "INVALID_INPUT_DATA"},
		{name: "revoke", method: "DELETE", path: app + "/acl/SEND_MESSAGE_TO_TOPIC/UserID:{user}", headers: admin, status: 204},
		{name: "revoke again", method: "DELETE", path: app + "/acl/SEND_MESSAGE_TO_TOPIC/UserID:{user}", headers: admin, status: 404, code: "ACL_NOT_FOUND"},
		{name: "ACL of a missing topic", method: "GET", path: "/api/apps/{app}/topics/nope/acl", headers: admin, status: 404, code: "TOPIC_NOT_FOUND"},
		{name: "revoke subscribing from everyone", method: "DELETE", path: app + "/acl/SUBSCRIBE_TO_TOPIC/UserID:ANY_AUTHENTICATED_USER", headers: admin, status: 204},
		{name: "other thing may not subscribe now", method: "POST", path: subs + "things", headers: other, status: 401, code: "UNAUTHORIZED"},
		{name: "grant subscribing to the other thing", method: "PUT", path: app + "/acl/SUBSCRIBE_TO_TOPIC/ThingID:{other}", headers: admin, status: 204},
		{name: "other thing subscribes", method: "POST", path: subs + "things", headers: other, status: 204},

		// User scope: the user creates; only he subscribes by default.
		{name: "user topic by a thing", method: "PUT", path: mine, headers: thing, status: 401, code: "UNAUTHORIZED"},
		{name: "user topic by another user", method: "PUT", path: mine, headers: bob, status: 401, code: "UNAUTHORIZED"},
		{name: "user topic", method: "PUT", path: mine, headers: alice, status: 204},
		{name: "user topic via me", method: "PUT", path: "/api/apps/{app}/users/me/topics/inbox", headers: alice, status: 409, code: "TOPIC_ALREADY_EXISTS",
			bodyHas: []string{`"type" : "APP_AND_USER"`, `"userID" : "{user}"`}},
		{name: "user topic ACL (k4j)", method: "GET", path: mine + "/acl", headers: alice, status: 200,
			bodyHas: []string{`"SUBSCRIBE_TO_TOPIC" : [ {`, `"SEND_MESSAGE_TO_TOPIC" : [ {`, `"userID" : "{user}"`}},
		{name: "user topic ACL by bob", method: "GET", path: mine + "/acl", headers: bob, status: 401, code: "UNAUTHORIZED"},
		{name: "bob may not subscribe", method: "POST", path: mine + "/push/subscriptions/users", headers: bob, status: 401, code: "UNAUTHORIZED"},
		{name: "alice grants bob", method: "PUT", path: mine + "/acl/SUBSCRIBE_TO_TOPIC/UserID:{bob}", headers: alice, status: 204},
		{name: "bob subscribes", method: "POST", path: mine + "/push/subscriptions/users", headers: bob, status: 204},
		{name: "user subscribes himself", method: "PUT", path: mine + "/push/subscriptions/users/{user}", headers: alice, status: 204},
		{name: "list user topics", method: "GET", path: "/api/apps/{app}/users/me/topics", headers: alice, status: 200, bodyHas: []string{`"topicID" : "inbox"`}},
		{name: "list user topics by bob", method: "GET", path: "/api/apps/{app}/users/{user}/topics", headers: bob, status: 401, code: "UNAUTHORIZED"},
		{name: "unknown user scope", method: "PUT", path: "/api/apps/{app}/users/nobody/topics/x", headers: admin, status: 404, code: "USER_NOT_FOUND"},
		{name: "user topic delete by bob", method: "DELETE", path: mine, headers: bob, status: 401, code: "UNAUTHORIZED"},

		// Thing scope (ebisu: create 204, 409; delete 204, 404).
		{name: "thing topic", method: "PUT", path: own, headers: thing, status: 204},
		{name: "thing topic again", method: "PUT", path: own, headers: thing, status: 409, code: "TOPIC_ALREADY_EXISTS"},
		{name: "thing topic delete", method: "DELETE", path: own, headers: thing, status: 204},
		{name: "thing topic delete again", method: "DELETE", path: own, headers: thing, status: 404, code: "TOPIC_NOT_FOUND",
			ctype: "application/vnd.kii.TopicNotFoundException+json"},
		{name: "thing topic made again", method: "PUT", path: own, headers: thing, status: 204},
		{name: "thing topic by vendor thing ID", method: "HEAD", path: "/api/apps/{app}/things/VENDOR_THING_ID:{vendor}/topics/topic-1", headers: thing, status: 204},
		{name: "thing topic by another thing", method: "PUT", path: "/api/apps/{app}/things/{thing}/topics/t2", headers: other, status: 401, code: "UNAUTHORIZED"},
		{name: "thing subscribes to its topic", method: "POST", path: own + "/push/subscriptions/things", headers: thing, status: 204},
		{name: "thing topic ACL", method: "GET", path: own + "/acl", headers: thing, status: 200, bodyHas: []string{`"thingID" : "{thing}"`}},
		{name: "unknown thing scope", method: "PUT", path: "/api/apps/{app}/things/th.nope/topics/x", headers: admin, status: 404, code: "THING_NOT_FOUND"},

		// Group scope: members create and subscribe.
		{name: "group topic by a non-member", method: "PUT", path: grp, headers: bob, status: 401, code: "UNAUTHORIZED"},
		{name: "group topic", method: "PUT", path: grp, headers: alice, status: 204},
		{name: "group topic ACL", method: "GET", path: grp + "/acl/SUBSCRIBE_TO_TOPIC", headers: alice, status: 200,
			bodyHas: []string{`"groupID" : "grp1"`, `"userID" : "{user}"`}},
		{name: "group member subscribes", method: "POST", path: grp + "/push/subscriptions/users", headers: alice, status: 204},
		{name: "non-member may not subscribe", method: "POST", path: grp + "/push/subscriptions/users", headers: bob, status: 401, code: "UNAUTHORIZED"},
		{name: "unknown group", method: "PUT", path: "/api/apps/{app}/groups/nogroup/topics/x", headers: admin, status: 404, code: "GROUP_NOT_FOUND"},

		// Deleting.
		{name: "app topic delete by a user", method: "DELETE", path: app, headers: alice, status: 401, code: "UNAUTHORIZED"},
		{name: "app topic delete", method: "DELETE", path: app, headers: admin, status: 204},
		{name: "app topic delete again", method: "DELETE", path: app, headers: admin, status: 404, code: "TOPIC_NOT_FOUND"},
		{name: "app topic made again", method: "PUT", path: app, headers: admin, status: 204},
		{name: "its subscriptions went with it", method: "GET", path: subs + "users/{user}", headers: alice, status: 404, code: "PUSH_SUBSCRIPTION_NOT_FOUND"},
		{name: "its ACL changes went with it", method: "GET", path: app + "/acl/SUBSCRIBE_TO_TOPIC/UserID:ANY_AUTHENTICATED_USER", headers: admin, status: 200},
	}
	f.run(t, withVars(cases, map[string]string{"bob": bobID, "bobtoken": bobToken}))

	t.Run("app scope ACL lists no CREATE_NEW_TOPIC", func(t *testing.T) {
		r := do(t, "GET", f.n.base+f.expand("/api/apps/{app}/acl"), "", "Authorization", "Bearer "+f.adminToken)
		wantStatus(t, r, 200)
		m := r.JSON(t)
		if _, ok := m["CREATE_NEW_TOPIC"]; ok || m["CREATE_NEW_BUCKET"] == nil {
			t.Errorf("app scope ACL = %s, want CREATE_NEW_BUCKET only", r.Body)
		}
	})

	t.Run("pages", func(t *testing.T) {
		for _, n := range []string{"p1", "p2", "p3"} {
			wantStatus(t, do(t, "PUT", f.n.base+f.expand("/api/apps/{app}/users/{user}/topics/"+n), "", "Authorization", "Bearer "+f.userToken), 204)
		}
		var got []string
		key := ""
		for range 5 {
			url := f.n.base + f.expand("/api/apps/{app}/users/{user}/topics?limit=2")
			if key != "" {
				url += "&paginationKey=" + key
			}
			r := do(t, "GET", url, "", "Authorization", "Bearer "+f.userToken)
			wantStatus(t, r, 200)
			m := r.JSON(t)
			for _, e := range m["topics"].([]any) {
				got = append(got, e.(map[string]any)["topicID"].(string))
			}
			if _, ok := m["nextPaginationKey"]; ok {
				t.Errorf("topic listing uses paginationKey, not nextPaginationKey: %s", r.Body)
			}
			key, _ = m["paginationKey"].(string)
			if key == "" {
				break
			}
		}
		if want := "inbox p1 p2 p3"; strings.Join(got, " ") != want {
			t.Errorf("pages = %v, want %s", got, want)
		}
	})
}
