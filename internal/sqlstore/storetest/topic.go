package storetest

import (
	"reflect"
	"testing"

	"github.com/kumo-iot/kumo"
)

// topic returns a reference to topic name in scope s of the fixture's app.
func (f *fixture) topic(s kumo.Scope, name string) kumo.TopicRef {
	return kumo.TopicRef{AppID: f.app.AppID, Scope: s, Name: name}
}

func (f *fixture) mustTopic(c kumo.Caller, t kumo.TopicRef) {
	f.t.Helper()
	if err := f.db.Topics.CreateTopic(f.ctx, c, t); err != nil {
		f.t.Fatalf("CreateTopic(%s, %+v): %v", c.Kind, t, err)
	}
}

func (f *fixture) topicNames(c kumo.Caller, s kumo.Scope) []string {
	f.t.Helper()
	ts, err := f.db.Topics.ListTopics(f.ctx, c, s, "", 100)
	if err != nil {
		f.t.Fatalf("ListTopics(%+v): %v", s, err)
	}
	var out []string
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return out
}

// testTopics checks kumo.TopicService and the ACLs of topics.
func testTopics(t *testing.T, s suite) {
	t.Run("Lifecycle", func(t *testing.T) {
		f := newFixture(t, s)
		th, thCaller := f.mustThing("vt-a")
		tp := f.topic(thingScope(th.ID), "alerts")

		wantCode(t, "TopicExists before", f.db.Topics.TopicExists(f.ctx, thCaller, tp), kumo.ErrTopicNotFound)
		f.mustTopic(thCaller, tp)
		if err := f.db.Topics.TopicExists(f.ctx, thCaller, tp); err != nil {
			t.Errorf("TopicExists = %v", err)
		}
		err := f.db.Topics.CreateTopic(f.ctx, thCaller, tp)
		wantCode(t, "CreateTopic again", err, kumo.ErrTopicAlreadyExists)
		wantFields(t, "CreateTopic again", err, map[string]any{
			"topicID":     "alerts",
			"objectScope": map[string]any{"appID": f.app.AppID, "type": "APP_AND_THING", "thingID": th.ID},
		})
		// The scope named by the vendor thing ID is the same scope.
		err = f.db.Topics.CreateTopic(f.ctx, thCaller, f.topic(thingScope("VENDOR_THING_ID:vt-a"), "alerts"))
		wantCode(t, "CreateTopic by vendor thing ID", err, kumo.ErrTopicAlreadyExists)

		if err := f.db.Topics.DeleteTopic(f.ctx, thCaller, tp); err != nil {
			t.Fatalf("DeleteTopic: %v", err)
		}
		wantCode(t, "DeleteTopic again", f.db.Topics.DeleteTopic(f.ctx, thCaller, tp), kumo.ErrTopicNotFound)
		wantCode(t, "TopicExists after delete", f.db.Topics.TopicExists(f.ctx, thCaller, tp), kumo.ErrTopicNotFound)
		f.mustTopic(thCaller, tp) // again, after the delete
	})

	t.Run("List", func(t *testing.T) {
		f := newFixture(t, s)
		u, uCaller := f.mustUser("alice")
		_, bobCaller := f.mustUser("bob")
		for _, n := range []string{"c", "a", "b"} {
			f.mustTopic(uCaller, f.topic(userScope(u.ID), n))
		}
		f.mustTopic(f.admin, f.topic(kumo.AppScope, "news"))
		if got, want := f.topicNames(uCaller, userScope("me")), []string{"a", "b", "c"}; !reflect.DeepEqual(got, want) {
			t.Errorf("ListTopics = %v, want %v", got, want)
		}
		page, err := f.db.Topics.ListTopics(f.ctx, f.admin, userScope(u.ID), "a", 1)
		if err != nil || len(page) != 1 || page[0].Name != "b" {
			t.Errorf("ListTopics after a, limit 1 = %v, %v; want [b]", page, err)
		}
		if got := f.topicNames(bobCaller, kumo.AppScope); !reflect.DeepEqual(got, []string{"news"}) {
			t.Errorf("ListTopics of the app by a user = %v, want [news]", got)
		}
		_, err = f.db.Topics.ListTopics(f.ctx, bobCaller, userScope(u.ID), "", 10)
		wantCode(t, "ListTopics of another user's scope", err, kumo.ErrUnauthorized)
		_, err = f.db.Topics.ListTopics(f.ctx, f.anon, kumo.AppScope, "", 10)
		wantCode(t, "ListTopics anonymous", err, kumo.ErrUnauthorized)
		_, err = f.db.Topics.ListTopics(f.ctx, f.admin, userScope("nobody"), "", 10)
		wantCode(t, "ListTopics of an unknown user", err, kumo.ErrUserNotFound)
	})

	t.Run("WhoCreates", func(t *testing.T) {
		f := newFixture(t, s)
		u, uCaller := f.mustUser("alice")
		_, bobCaller := f.mustUser("bob")
		member, memberCaller := f.mustUser("carol")
		th, thCaller := f.mustThing("vt-a")
		g := f.mustGroup(uCaller, kumo.GroupCreation{Name: "g", Members: []string{member.ID}})
		tests := []struct {
			name   string
			caller kumo.Caller
			scope  kumo.Scope
			code   kumo.Code
		}{
			{"admin, app scope", f.admin, kumo.AppScope, ""},
			{"user, app scope", uCaller, kumo.AppScope, kumo.ErrUnauthorized},
			{"thing, app scope", thCaller, kumo.AppScope, kumo.ErrUnauthorized},
			{"anonymous, app scope", f.anon, kumo.AppScope, kumo.ErrUnauthorized},
			{"user, own scope", uCaller, userScope(u.ID), ""},
			{"user, own scope as me", uCaller, userScope("me"), ""},
			{"user, another's scope", bobCaller, userScope(u.ID), kumo.ErrUnauthorized},
			{"group owner", uCaller, groupScope(g.ID), ""},
			{"group member", memberCaller, groupScope(g.ID), ""},
			{"not a member", bobCaller, groupScope(g.ID), kumo.ErrUnauthorized},
			{"thing, own scope", thCaller, thingScope(th.ID), ""},
			{"user, a thing he does not own", uCaller, thingScope(th.ID), kumo.ErrUnauthorized},
			{"admin, unknown group", f.admin, groupScope("nogroup"), kumo.ErrGroupNotFound},
			{"admin, unknown thing", f.admin, thingScope("th.nothing"), kumo.ErrThingNotFound},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := f.db.Topics.CreateTopic(f.ctx, tt.caller, f.topic(tt.scope, "t"+string(rune('a'+i))))
				wantCode(t, "CreateTopic", err, tt.code)
			})
		}
		// A grant of CREATE_NEW_TOPIC on the app scope lets a user create.
		if err := f.db.ACLs.GrantACL(f.ctx, f.admin, kumo.ACLTarget{Bucket: kumo.BucketRef{AppID: f.app.AppID, Scope: kumo.AppScope}},
			kumo.CreateNewTopic, kumo.Subject{Kind: kumo.SubjectUser, ID: u.ID}); err != nil {
			t.Fatalf("GrantACL CREATE_NEW_TOPIC: %v", err)
		}
		if err := f.db.Topics.CreateTopic(f.ctx, uCaller, f.topic(kumo.AppScope, "granted")); err != nil {
			t.Errorf("CreateTopic after the grant: %v", err)
		}
		// Its creator may delete it; another user may not.
		wantCode(t, "DeleteTopic by another user", f.db.Topics.DeleteTopic(f.ctx, bobCaller, f.topic(kumo.AppScope, "granted")), kumo.ErrUnauthorized)
		if err := f.db.Topics.DeleteTopic(f.ctx, uCaller, f.topic(kumo.AppScope, "granted")); err != nil {
			t.Errorf("DeleteTopic by its creator: %v", err)
		}
	})

	t.Run("Subscriptions", func(t *testing.T) {
		f := newFixture(t, s)
		u, uCaller := f.mustUser("alice")
		bob, bobCaller := f.mustUser("bob")
		th, thCaller := f.mustThing("vt-a")
		th2, th2Caller := f.mustThing("vt-b")
		app := f.topic(kumo.AppScope, "news")
		mine := f.topic(userScope(u.ID), "inbox")
		f.mustTopic(f.admin, app)
		f.mustTopic(uCaller, mine)
		user := kumo.Principal{Kind: kumo.UserCaller, ID: u.ID}
		thing := kumo.Principal{Kind: kumo.ThingCaller, ID: th.ID}
		tests := []struct {
			name   string
			caller kumo.Caller
			t      kumo.TopicRef
			sub    kumo.Principal
			code   kumo.Code
		}{
			{"thing itself, app topic", thCaller, app, thing, ""},
			{"thing by vendor thing ID, app topic", th2Caller, app, kumo.Principal{Kind: kumo.ThingCaller, ID: "VENDOR_THING_ID:vt-b"}, ""},
			{"user itself, app topic", uCaller, app, user, ""},
			{"user itself, own topic", uCaller, mine, kumo.Principal{Kind: kumo.UserCaller, ID: "me"}, ""},
			{"admin for a user", f.admin, f.topic(kumo.AppScope, "news"), kumo.Principal{Kind: kumo.UserCaller, ID: bob.ID}, ""},
			{"another user's topic", bobCaller, mine, kumo.Principal{Kind: kumo.UserCaller, ID: bob.ID}, kumo.ErrUnauthorized},
			{"a user for a thing", uCaller, app, thing, kumo.ErrUnauthorized},
			{"anonymous", f.anon, app, thing, kumo.ErrUnauthorized},
			{"unknown topic", thCaller, f.topic(kumo.AppScope, "nope"), thing, kumo.ErrTopicNotFound},
			{"unknown thing", f.admin, app, kumo.Principal{Kind: kumo.ThingCaller, ID: "VENDOR_THING_ID:zz"}, kumo.ErrThingNotFound},
			{"unknown user", f.admin, app, kumo.Principal{Kind: kumo.UserCaller, ID: "nobody"}, kumo.ErrUserNotFound},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := f.db.Topics.SubscribeTopic(f.ctx, tt.caller, tt.t, tt.sub)
				if !wantCode(t, "SubscribeTopic", err, tt.code) {
					return
				}
				if tt.code != "" {
					if tt.code == kumo.ErrUnauthorized {
						return // refused for want of SUBSCRIBE_TO_TOPIC; TopicSubscribed may answer
					}
					wantCode(t, "TopicSubscribed", f.db.Topics.TopicSubscribed(f.ctx, tt.caller, tt.t, tt.sub), tt.code)
					wantCode(t, "UnsubscribeTopic", f.db.Topics.UnsubscribeTopic(f.ctx, tt.caller, tt.t, tt.sub), tt.code)
					return
				}
				err = f.db.Topics.SubscribeTopic(f.ctx, tt.caller, tt.t, tt.sub)
				wantCode(t, "SubscribeTopic again", err, kumo.ErrPushSubscriptionExists)
				wantFields(t, "SubscribeTopic again", err, map[string]any{"topicID": tt.t.Name})
				if err := f.db.Topics.TopicSubscribed(f.ctx, tt.caller, tt.t, tt.sub); err != nil {
					t.Errorf("TopicSubscribed = %v", err)
				}
			})
		}

		subs, err := f.db.Topics.TopicSubscribers(f.ctx, f.app.AppID, app)
		if err != nil {
			t.Fatal(err)
		}
		want := []kumo.Principal{
			{Kind: kumo.UserCaller, ID: bob.ID}, {Kind: kumo.UserCaller, ID: u.ID},
			{Kind: kumo.ThingCaller, ID: th.ID}, {Kind: kumo.ThingCaller, ID: th2.ID},
		}
		if !samePrincipals(subs, want) {
			t.Errorf("TopicSubscribers = %v, want %v", subs, want)
		}

		// Others may not look at or end a subscription.
		wantCode(t, "TopicSubscribed by another thing", f.db.Topics.TopicSubscribed(f.ctx, th2Caller, app, thing), kumo.ErrUnauthorized)
		wantCode(t, "UnsubscribeTopic by another thing", f.db.Topics.UnsubscribeTopic(f.ctx, th2Caller, app, thing), kumo.ErrUnauthorized)
		if err := f.db.Topics.UnsubscribeTopic(f.ctx, thCaller, app, thing); err != nil {
			t.Fatalf("UnsubscribeTopic: %v", err)
		}
		wantCode(t, "UnsubscribeTopic again", f.db.Topics.UnsubscribeTopic(f.ctx, thCaller, app, thing), kumo.ErrPushSubscriptionMissing)
		wantCode(t, "TopicSubscribed after", f.db.Topics.TopicSubscribed(f.ctx, thCaller, app, thing), kumo.ErrPushSubscriptionMissing)

		// Deleting the topic deletes its subscriptions.
		if err := f.db.Topics.DeleteTopic(f.ctx, f.admin, app); err != nil {
			t.Fatal(err)
		}
		f.mustTopic(f.admin, app)
		if subs, _ := f.db.Topics.TopicSubscribers(f.ctx, f.app.AppID, app); len(subs) != 0 {
			t.Errorf("after the topic was deleted and made again, TopicSubscribers = %v, want none", subs)
		}
	})

	t.Run("Recipients", func(t *testing.T) {
		// A message to a topic goes to its subscribers' MQTT
		// installations: not to their other installations, not to
		// subscribers without one, not to others'.
		f := newFixture(t, s)
		u, uCaller := f.mustUser("alice")
		th, thCaller := f.mustThing("vt-a")
		th2, th2Caller := f.mustThing("vt-b")
		th3, th3Caller := f.mustThing("vt-c")
		news, other := f.topic(kumo.AppScope, "news"), f.topic(kumo.AppScope, "other")
		f.mustTopic(f.admin, news)
		f.mustTopic(f.admin, other)
		uMQTT := f.mustInstall(uCaller, kumo.InstallationCreate{DeviceType: kumo.DeviceMQTT, Development: true})
		f.mustInstall(uCaller, kumo.InstallationCreate{DeviceType: kumo.DeviceAndroid, RegistrationID: "reg-alice"})
		thMQTT := f.mustInstall(thCaller, kumo.InstallationCreate{DeviceType: kumo.DeviceMQTT})
		f.mustInstall(th3Caller, kumo.InstallationCreate{DeviceType: kumo.DeviceMQTT})
		for _, sub := range []struct {
			c kumo.Caller
			t kumo.TopicRef
			p kumo.Principal
		}{
			{uCaller, news, kumo.Principal{Kind: kumo.UserCaller, ID: u.ID}},
			{thCaller, news, kumo.Principal{Kind: kumo.ThingCaller, ID: th.ID}},
			{th2Caller, news, kumo.Principal{Kind: kumo.ThingCaller, ID: th2.ID}}, // no installation
			{th3Caller, other, kumo.Principal{Kind: kumo.ThingCaller, ID: th3.ID}},
		} {
			if err := f.db.Topics.SubscribeTopic(f.ctx, sub.c, sub.t, sub.p); err != nil {
				t.Fatalf("SubscribeTopic(%+v, %s): %v", sub.p, sub.t.Name, err)
			}
		}
		rss, err := f.db.Outbox.MessageRecipients(f.ctx, []kumo.Event{{Type: kumo.PushMessageSent,
			Bucket: kumo.BucketRef{AppID: f.app.AppID, Scope: kumo.AppScope, Name: "news"}}})
		if err != nil {
			t.Fatal(err)
		}
		rs := rss[0]
		got := map[kumo.Recipient]bool{}
		for _, r := range rs {
			got[r] = true
		}
		want := map[kumo.Recipient]bool{
			{MQTTTopic: uMQTT.MQTTTopic, Development: true}: true,
			{MQTTTopic: thMQTT.MQTTTopic}:                   true,
		}
		if len(rs) != len(want) || !reflect.DeepEqual(got, want) {
			t.Errorf("MessageRecipients = %+v, want %+v", rs, want)
		}
	})

	t.Run("ACL", func(t *testing.T) {
		f := newFixture(t, s)
		u, uCaller := f.mustUser("alice")
		bob, bobCaller := f.mustUser("bob")
		member, memberCaller := f.mustUser("carol")
		th, thCaller := f.mustThing("vt-a")
		g := f.mustGroup(uCaller, kumo.GroupCreation{Name: "g", Members: []string{member.ID}})
		userSubject := func(id string) kumo.Subject { return kumo.Subject{Kind: kumo.SubjectUser, ID: id} }
		topics := map[string]kumo.TopicRef{
			"app":   f.topic(kumo.AppScope, "news"),
			"user":  f.topic(userScope(u.ID), "inbox"),
			"group": f.topic(groupScope(g.ID), "chat"),
			"thing": f.topic(thingScope(th.ID), "alerts"),
		}
		f.mustTopic(f.admin, topics["app"])
		f.mustTopic(uCaller, topics["user"])
		f.mustTopic(memberCaller, topics["group"])
		f.mustTopic(thCaller, topics["thing"])
		defaults := map[string]kumo.ACL{
			"app":   {kumo.SubscribeToTopic: {kumo.AnyAuthenticatedUser}},
			"user":  {kumo.SubscribeToTopic: {userSubject(u.ID)}, kumo.SendMessageToTopic: {userSubject(u.ID)}},
			"group": {kumo.SubscribeToTopic: {{Kind: kumo.SubjectGroup, ID: g.ID}, userSubject(member.ID)}, kumo.SendMessageToTopic: {{Kind: kumo.SubjectGroup, ID: g.ID}, userSubject(member.ID)}},
			"thing": {kumo.SubscribeToTopic: {{Kind: kumo.SubjectThing, ID: th.ID}}, kumo.SendMessageToTopic: {{Kind: kumo.SubjectThing, ID: th.ID}}},
		}
		for name, tp := range topics {
			acl, err := f.db.ACLs.ACL(f.ctx, f.admin, kumo.TopicACL(tp))
			if err != nil {
				t.Errorf("%s topic: ACL: %v", name, err)
				continue
			}
			if !reflect.DeepEqual(acl, defaults[name]) {
				t.Errorf("%s topic: ACL = %v, want %v", name, acl, defaults[name])
			}
		}
		// The scope's ACL: the app's lists no CREATE_NEW_TOPIC.
		appACL, err := f.db.ACLs.ACL(f.ctx, f.admin, kumo.ACLTarget{Bucket: kumo.BucketRef{AppID: f.app.AppID, Scope: kumo.AppScope}})
		if err != nil || appACL[kumo.CreateNewTopic] != nil {
			t.Errorf("app scope ACL = %v, %v; want no CREATE_NEW_TOPIC", appACL, err)
		}

		// Who may read a topic's ACL: the scope's owners, the creator.
		_, err = f.db.ACLs.ACL(f.ctx, bobCaller, kumo.TopicACL(topics["user"]))
		wantCode(t, "ACL of another user's topic", err, kumo.ErrUnauthorized)
		if _, err := f.db.ACLs.ACL(f.ctx, memberCaller, kumo.TopicACL(topics["group"])); err != nil {
			t.Errorf("ACL of a group topic by its creator: %v", err)
		}
		_, err = f.db.ACLs.ACL(f.ctx, f.admin, kumo.TopicACL(f.topic(kumo.AppScope, "nope")))
		wantCode(t, "ACL of a missing topic", err, kumo.ErrTopicNotFound)
		_, err = f.db.ACLs.ACL(f.ctx, bobCaller, kumo.TopicACL(f.topic(userScope(u.ID), "nope")))
		wantCode(t, "ACL of a missing topic in another's scope", err, kumo.ErrUnauthorized)

		// ANONYMOUS_USER is not a topic subject; a verb of another ACL is refused.
		err = f.db.ACLs.GrantACL(f.ctx, f.admin, kumo.TopicACL(topics["app"]), kumo.SubscribeToTopic, kumo.AnonymousUser)
		wantCode(t, "grant to ANONYMOUS_USER", err, kumo.ErrInvalidInputData)
		err = f.db.ACLs.GrantACL(f.ctx, f.admin, kumo.TopicACL(topics["app"]), kumo.ReadExistingObject, userSubject(bob.ID))
		wantCode(t, "grant of an object verb", err, kumo.ErrInvalidInputData)

		// bob may not subscribe to alice's topic until she grants it.
		bobP := kumo.Principal{Kind: kumo.UserCaller, ID: bob.ID}
		wantCode(t, "bob subscribes before the grant", f.db.Topics.SubscribeTopic(f.ctx, bobCaller, topics["user"], bobP), kumo.ErrUnauthorized)
		if err := f.db.ACLs.GrantACL(f.ctx, uCaller, kumo.TopicACL(topics["user"]), kumo.SubscribeToTopic, userSubject(bob.ID)); err != nil {
			t.Fatalf("GrantACL: %v", err)
		}
		wantCode(t, "GrantACL again", f.db.ACLs.GrantACL(f.ctx, uCaller, kumo.TopicACL(topics["user"]), kumo.SubscribeToTopic, userSubject(bob.ID)), kumo.ErrACLAlreadyExists)
		if err := f.db.Topics.SubscribeTopic(f.ctx, bobCaller, topics["user"], bobP); err != nil {
			t.Errorf("bob subscribes after the grant: %v", err)
		}
		// The grant is the topic's, not the scope's nor another topic's.
		other := f.topic(userScope(u.ID), "other")
		f.mustTopic(uCaller, other)
		wantCode(t, "bob subscribes to another topic", f.db.Topics.SubscribeTopic(f.ctx, bobCaller, other, bobP), kumo.ErrUnauthorized)
		scopeACL, _ := f.db.ACLs.ACL(f.ctx, uCaller, kumo.ACLTarget{Bucket: kumo.BucketRef{AppID: f.app.AppID, Scope: userScope(u.ID)}})
		if want := (kumo.ACL{kumo.CreateNewBucket: {userSubject(u.ID)}, kumo.CreateNewTopic: {userSubject(u.ID)}}); !reflect.DeepEqual(scopeACL, want) {
			t.Errorf("user scope ACL after a topic grant = %v, want %v", scopeACL, want)
		}

		// Revoking ANY_AUTHENTICATED_USER on the app topic closes it to things.
		if err := f.db.ACLs.RevokeACL(f.ctx, f.admin, kumo.TopicACL(topics["app"]), kumo.SubscribeToTopic, kumo.AnyAuthenticatedUser); err != nil {
			t.Fatalf("RevokeACL: %v", err)
		}
		thP := kumo.Principal{Kind: kumo.ThingCaller, ID: th.ID}
		wantCode(t, "thing subscribes after the revoke", f.db.Topics.SubscribeTopic(f.ctx, thCaller, topics["app"], thP), kumo.ErrUnauthorized)

		// Deleting the topic drops its ACL changes: made again, it has its defaults.
		if err := f.db.Topics.DeleteTopic(f.ctx, uCaller, topics["user"]); err != nil {
			t.Fatal(err)
		}
		f.mustTopic(uCaller, topics["user"])
		acl, _ := f.db.ACLs.ACL(f.ctx, uCaller, kumo.TopicACL(topics["user"]))
		if !reflect.DeepEqual(acl, defaults["user"]) {
			t.Errorf("ACL of the topic made again = %v, want %v", acl, defaults["user"])
		}
	})

	t.Run("Cascades", func(t *testing.T) {
		f := newFixture(t, s)
		u, uCaller := f.mustUser("alice")
		th, thCaller := f.mustThing("vt-a")
		g := f.mustGroup(uCaller, kumo.GroupCreation{ID: "grp1", Name: "g"})
		app := f.topic(kumo.AppScope, "news")
		f.mustTopic(f.admin, app)
		userTopic := f.topic(userScope(u.ID), "inbox")
		thingTopic := f.topic(thingScope(th.ID), "alerts")
		groupTopic := f.topic(groupScope(g.ID), "chat")
		f.mustTopic(uCaller, userTopic)
		f.mustTopic(thCaller, thingTopic)
		f.mustTopic(uCaller, groupTopic)
		thP := kumo.Principal{Kind: kumo.ThingCaller, ID: th.ID}
		uP := kumo.Principal{Kind: kumo.UserCaller, ID: u.ID}
		for _, sub := range []struct {
			c kumo.Caller
			t kumo.TopicRef
			p kumo.Principal
		}{{thCaller, app, thP}, {uCaller, app, uP}, {thCaller, thingTopic, thP}, {f.admin, groupTopic, uP}, {f.admin, userTopic, uP}} {
			if err := f.db.Topics.SubscribeTopic(f.ctx, sub.c, sub.t, sub.p); err != nil {
				t.Fatalf("SubscribeTopic(%+v): %v", sub, err)
			}
		}

		if err := f.db.Things.DeleteThing(f.ctx, f.admin, th.ID); err != nil {
			t.Fatal(err)
		}
		if subs, _ := f.db.Topics.TopicSubscribers(f.ctx, f.app.AppID, app); !samePrincipals(subs, []kumo.Principal{uP}) {
			t.Errorf("after the thing was deleted, app topic subscribers = %v, want [alice]", subs)
		}
		if subs, _ := f.db.Topics.TopicSubscribers(f.ctx, f.app.AppID, thingTopic); len(subs) != 0 {
			t.Errorf("after the thing was deleted, its topic's subscribers = %v", subs)
		}

		if err := f.db.Groups.DeleteGroup(f.ctx, f.admin, g.ID); err != nil {
			t.Fatal(err)
		}
		if subs, _ := f.db.Topics.TopicSubscribers(f.ctx, f.app.AppID, groupTopic); len(subs) != 0 {
			t.Errorf("after the group was deleted, its topic's subscribers = %v", subs)
		}

		if err := f.db.Users.DeleteUser(f.ctx, f.admin, u.ID); err != nil {
			t.Fatal(err)
		}
		for _, tp := range []kumo.TopicRef{app, userTopic} {
			if subs, _ := f.db.Topics.TopicSubscribers(f.ctx, f.app.AppID, tp); len(subs) != 0 {
				t.Errorf("after the user was deleted, %s subscribers = %v", tp.Name, subs)
			}
		}
		if err := f.db.Topics.TopicExists(f.ctx, f.admin, app); err != nil {
			t.Errorf("the app topic is gone: %v", err)
		}
		// A group made again under the same ID starts with no topics.
		f.mustGroup(f.admin, kumo.GroupCreation{ID: "grp1", Name: "g", Owner: bobID(t, f)})
		wantCode(t, "the deleted group's topic", f.db.Topics.TopicExists(f.ctx, f.admin, groupTopic), kumo.ErrTopicNotFound)
	})
}

// bobID registers user bob and returns his ID.
func bobID(t *testing.T, f *fixture) string {
	t.Helper()
	u, _ := f.mustUser("bob")
	return u.ID
}

// samePrincipals reports whether a and b hold the same principals, in
// any order.
func samePrincipals(a, b []kumo.Principal) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[kumo.Principal]int{}
	for _, p := range a {
		seen[p]++
	}
	for _, p := range b {
		seen[p]--
		if seen[p] < 0 {
			return false
		}
	}
	return true
}
