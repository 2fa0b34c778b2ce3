package broker

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/kumo-iot/kumo"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Revoked MQTT credentials (a thing disabled or deleted, an installation
// or user deleted, a password changed) reach every node's broker as a
// kumo.Delivery with Revoked set (see push.Dispatcher.revocations): the
// broker ends at once the session of the device whose client ID is the
// revoked topic, if it logged in with the revoked username (a device that
// already came back with new credentials keeps its session). The store
// refuses the credentials from the revoking commit on.
//
// A CONNECT checked against the store just before that commit may have its
// session established after the revocation reached this node: revoke
// remembers the usernames it revoked for revokeWindow, and a session of
// such a username established meanwhile is checked against the store
// again (revokeHook). Whichever comes first, the check or the revocation,
// the other sees it: revoke records the username before it looks the
// client up, and mochi adds the client before OnSessionEstablished.

// revokeWindow is how long a broker remembers a revoked username: far
// longer than a CONNECT takes from its check to its session (the check
// itself times out after 5 s).
const revokeWindow = time.Minute

// errRevoked is the cause of a session ended by a revocation.
var errRevoked = errors.New("mqtt credentials revoked")

// revocations holds the recently revoked usernames.
type revocations struct {
	mu     sync.Mutex
	at     map[string]time.Time // username -> when its revocation reached this node
	pruned time.Time            // when at was last rid of old usernames
}

// add remembers username as revoked at now, and forgets the usernames
// revoked more than revokeWindow before: once a window at most, so that
// a bulk deletion's revocations cost constant time each.
func (r *revocations) add(username string, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.at == nil {
		r.at = map[string]time.Time{}
	}
	if now.Sub(r.pruned) > revokeWindow {
		for u, t := range r.at {
			if now.Sub(t) > revokeWindow {
				delete(r.at, u)
			}
		}
		r.pruned = now
	}
	r.at[username] = now
}

// recent reports whether username was revoked within revokeWindow of now.
func (r *revocations) recent(username string, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.at[username]
	return ok && now.Sub(t) <= revokeWindow
}

// revoke ends this node's session of the device whose client ID is
// d.Topic if it logged in with d.Username, and remembers d.Username.
func (b *Broker) revoke(d kumo.Delivery) {
	b.revoked.add(d.Username, time.Now()) // first: see the comment at the top
	cl, ok := b.server.Clients.Get(d.Topic)
	if !ok || cl.Net.Inline || string(cl.Properties.Username) != d.Username {
		return
	}
	b.Log.Info("mqtt session ended: its credentials were revoked", "client", cl.ID, "remote", cl.Net.Remote)
	b.endSession(cl)
}

// disconnectGrace is how long an MQTT 5 client's DISCONNECT may take to
// be written before its connection is closed anyway.
const disconnectGrace = time.Second

// endSession closes a client's connection; it never blocks. An MQTT 5
// client is told why first (MQTT 3 has no DISCONNECT from the server),
// from a goroutine of its own: the DISCONNECT waits for the client's
// write lock, which a client that stopped reading may hold for ever, so
// the connection is closed after disconnectGrace whatever became of it
// (which also ends that wait).
func (b *Broker) endSession(cl *mqtt.Client) {
	if cl.Properties.ProtocolVersion < 5 {
		cl.Stop(errRevoked)
		return
	}
	time.AfterFunc(disconnectGrace, func() { cl.Stop(errRevoked) })
	go b.server.DisconnectClient(cl, packets.ErrNotAuthorized)
}

// revokeHook checks again, against the store, a session established
// within revokeWindow after a revocation of its username; it ends the
// session unless its credentials are still good (a thing enabled again).
type revokeHook struct {
	mqtt.HookBase
	b *Broker
}

func (h *revokeHook) ID() string { return "kumo-revoke" }

func (h *revokeHook) Provides(x byte) bool { return x == mqtt.OnSessionEstablished }

func (h *revokeHook) OnSessionEstablished(cl *mqtt.Client, _ packets.Packet) {
	user := string(cl.Properties.Username)
	if cl.Net.Inline || !h.b.revoked.recent(user, time.Now()) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	in, err := h.b.Installations.MQTTInstallation(ctx, user)
	if err == nil && in.MQTTTopic == cl.ID {
		return
	}
	h.b.Log.Info("mqtt session ended: its credentials were revoked while it connected", "client", cl.ID, "remote", cl.Net.Remote)
	h.b.endSession(cl)
}
