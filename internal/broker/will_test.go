package broker

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/kumo-iot/kumo"
)

type reviewApps struct{}

func (reviewApps) FindApp(_ context.Context, id string) (kumo.App, error) {
	if id == "app1" {
		return kumo.App{ID: "app1", Key: "key1"}, nil
	}
	return kumo.App{}, kumo.Errorf(kumo.ErrAppNotFound, "no app")
}

// willConnect is an MQTT 3.1.1 CONNECT with a clean session, username,
// password and a QoS 0 will on willTopic.
func willConnect(clientID, user, pass, willTopic, will string) []byte {
	body := append(mqttString("MQTT"), 4, 0xC6, 0, 60)
	body = append(body, mqttString(clientID)...)
	body = append(body, mqttString(willTopic)...)
	body = append(body, mqttString(will)...)
	body = append(body, mqttString(user)...)
	body = append(body, mqttString(pass)...)
	return mqttPacket(0x10, body)
}

// TestWillDropped: "a device never reaches another"
// (OnPublish drops every PUBLISH), but a CONNECT's will is published by
// mochi without OnPublish nor a write ACL check: a device, or an
// anonymous onboarding connection that knows only the app ID and key,
// names another device's mqttTopic as its will topic, drops its TCP
// connection, and the victim receives a forged "command" push.
func TestWillDropped(t *testing.T) {
	b, _ := openBroker(t, func(b *Broker) {
		b.Apps = reviewApps{}
		b.ServeREST(http.NotFoundHandler(), testWriteError)
	})
	victim, in := pahoConnect(t, b, "1", 4)
	if tok := victim.Subscribe("topic-1", 0, nil); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	forged := `{"commandID":"forged","target":"thing:x","issuer":"user:x","actions":[{"lock":[{"open":true}]}]}`
	for _, tc := range []struct{ name, id, user, pass string }{
		{"another device", "topic-2", "user-2", testPasswords.Password("user-2")},
		{"an anonymous connection", AnonymousClientID, "type=oauth2&client_id=app1", "client_secret=key1"},
	} {
		c := dial(t, b, TCP, "")
		if rc := connack(t, c, willConnect(tc.id, tc.user, tc.pass, "topic-1", forged+tc.name)); rc != 0 {
			t.Fatalf("%s: CONNACK %d", tc.name, rc)
		}
		c.Close() // no DISCONNECT: the will goes
	}
	time.Sleep(500 * time.Millisecond)
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, m := range in.msgs {
		t.Errorf("the victim received on %s a message it was never sent: %s", m.Topic(), m.Payload())
	}
}
