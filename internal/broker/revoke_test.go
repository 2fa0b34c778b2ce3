package broker

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/auth"
)

// heldInstallations is a kumo.InstallationService whose MQTTInstallation
// knows one installation, good until revoked is set. Its first lookup
// reads the state, signals looked and waits for proceed before answering:
// a CONNECT checked just before the revoking write commits.
type heldInstallations struct {
	kumo.InstallationService
	in       kumo.Installation
	mu       sync.Mutex
	revoked  bool
	lookups  int
	looked   chan struct{}
	proceeds chan struct{}
}

func (h *heldInstallations) MQTTInstallation(_ context.Context, username string) (kumo.Installation, error) {
	h.mu.Lock()
	revoked, first := h.revoked, h.lookups == 0
	h.lookups++
	h.mu.Unlock()
	if first {
		close(h.looked)
		<-h.proceeds
	}
	if revoked || username != h.in.MQTTUsername {
		return kumo.Installation{}, kumo.Errorf(kumo.ErrInstallationNotFound, "No MQTT installation has username %s", username)
	}
	return h.in, nil
}

func (h *heldInstallations) setRevoked(v bool) {
	h.mu.Lock()
	h.revoked = v
	h.mu.Unlock()
}

// TestRevokeWhileConnecting: a CONNECT whose credentials were checked
// just before the revoking write committed, and whose session is
// established after the revocation reached the broker, loses its session
// (unless the store, asked again, still accepts its credentials); a
// revocation of other credentials leaves a session alone.
func TestRevokeWhileConnecting(t *testing.T) {
	for _, tt := range []struct {
		name       string
		restored   bool   // the credentials are good again when the session is established
		revokeUser string // the username revoked ("" for the session's)
		wantLost   bool
	}{
		{name: "revoked while connecting", wantLost: true},
		{name: "restored before the session", restored: true},
		{name: "other credentials revoked", revokeUser: "app-old"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pw := auth.MQTTPasswords{Secret: []byte("secret")}
			in := kumo.Installation{ID: "inst1", AppID: "app", MQTTUsername: "app-user", MQTTTopic: "topic1",
				Owner: kumo.Principal{Kind: kumo.UserCaller, ID: "u1"}}
			store := &heldInstallations{in: in, looked: make(chan struct{}), proceeds: make(chan struct{})}
			b := &Broker{Installations: store, Passwords: pw, TCPAddr: "127.0.0.1:0",
				Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
			if err := b.Open(); err != nil {
				t.Fatal(err)
			}
			defer b.Close()

			lost := make(chan struct{}, 1)
			c := paho.NewClient(paho.NewClientOptions().AddBroker(fmt.Sprintf("tcp://127.0.0.1:%d", b.Port(TCP))).
				SetClientID(in.MQTTTopic).SetUsername(in.MQTTUsername).SetPassword(pw.Password(in.MQTTUsername)).
				SetProtocolVersion(4).SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(5 * time.Second).
				SetConnectionLostHandler(func(paho.Client, error) { lost <- struct{}{} }))
			connected := c.Connect()
			defer c.Disconnect(0)
			select {
			case <-store.looked: // the CONNECT's check read the store: good
			case <-time.After(10 * time.Second):
				t.Fatal("the CONNECT was never checked")
			}
			revoked := tt.revokeUser
			if revoked == "" {
				revoked = in.MQTTUsername
				store.setRevoked(true) // the revoking write commits,
			}
			b.Deliver(kumo.Delivery{Revoked: true, Topic: in.MQTTTopic, Username: revoked}) // its revocation arrives,
			if tt.restored {
				store.setRevoked(false) // (a thing enabled again)
			}
			close(store.proceeds) // then the CONNECT's check answers
			if !connected.WaitTimeout(10*time.Second) || connected.Error() != nil {
				t.Fatalf("connect: %v", connected.Error())
			}
			if tt.wantLost {
				select {
				case <-lost:
				case <-time.After(10 * time.Second):
					t.Fatal("the session established after the revocation is still open")
				}
				return
			}
			// The session is checked before mochi reads its first packet:
			// a SUBACK means it was kept.
			if tok := c.Subscribe(in.MQTTTopic, 0, nil); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
				t.Fatalf("subscribe after the session was established: %v", tok.Error())
			}
			// A revocation of other credentials leaves it alone too.
			b.Deliver(kumo.Delivery{Revoked: true, Topic: in.MQTTTopic, Username: "app-someone-else"})
			if tok := c.Subscribe(in.MQTTTopic, 0, nil); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
				t.Fatalf("subscribe after another username was revoked: %v", tok.Error())
			}
		})
	}
}

// TestRevokeStuckMQTT5 revokes the credentials of an MQTT 5 device that
// stopped reading while pushes kept coming (keep-alive 0, so nothing
// times it out): its connection's writer is stuck, and the DISCONNECT
// that tells an MQTT 5 client why can never be written. The revocation
// must return all the same (it runs on the dispatcher's goroutine, or
// the cluster bus's) and the connection must be closed.
func TestRevokeStuckMQTT5(t *testing.T) {
	b, _ := openBroker(t, nil)
	c := dialRaw(t, b, TCP, "127.0.0.1")
	if code := connack(t, c, connectPacket(5, 0, "topic-1", "user-1", testPasswords.Password("user-1"))); code != 0 {
		t.Fatalf("CONNACK %d; want 0", code)
	}
	// SUBSCRIBE (MQTT 5): packet ID 1, no properties, topic-1 at QoS 0.
	sub := append([]byte{0, 1, 0}, mqttString("topic-1")...)
	if _, err := c.Write(mqttPacket(0x82, append(sub, 0))); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !b.Subscribed("topic-1") {
		if time.Now().After(deadline) {
			t.Fatal("the device never subscribed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The device reads nothing from now on: far more than the socket
	// buffers hold fills them, and the client's writer blocks.
	payload := make([]byte, 64<<10)
	for range 512 {
		b.server.Publish("topic-1", payload, false, 0)
	}
	done := make(chan struct{})
	go func() {
		b.revoke(kumo.Delivery{Revoked: true, Topic: "topic-1", Username: "user-1"})
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("revoke blocked on a device that does not read")
	}
	closedByServer(t, c)
}
