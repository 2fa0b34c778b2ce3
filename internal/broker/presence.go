package broker

import (
	"context"
	"time"

	"github.com/kumo-iot/kumo"
	mqtt "github.com/mochi-mqtt/server/v2"
)

// Presence records whether things are connected to the MQTT
// broker: Kii's _online and _onlineStatusModifiedAt.
type Presence interface {
	// SetThingOnline records that a thing's MQTT connection opened
	// (online) or closed, now. THING_NOT_FOUND when it is gone.
	SetThingOnline(ctx context.Context, appID, thingID string, online bool) error
}

// presenceQueue is how many online/offline changes may wait for the
// store; beyond it changes are dropped (and logged), never blocking MQTT.
const presenceQueue = 4096

// presenceTimeout bounds one store write of a change.
const presenceTimeout = 10 * time.Second

// presenceDrain bounds how long Close waits for the changes still queued.
const presenceDrain = 10 * time.Second

// presenceEvent is a thing whose connection count on this node went from
// 0 to 1 (online) or from 1 to 0.
type presenceEvent struct {
	appID, thingID string
	online         bool
}

// thingConnected counts an established session of a thing's
// installation, and reports the thing online when it is its first.
func (b *Broker) thingConnected(cl *mqtt.Client) {
	b.mu.Lock()
	in, ok := b.authed[cl.ID]
	delete(b.authed, cl.ID)
	if !ok || in.Owner.Kind != kumo.ThingCaller {
		b.mu.Unlock()
		return
	}
	key := in.AppID + "/" + in.Owner.ID
	b.thingOf[cl] = in
	b.thingConns[key]++
	first := b.thingConns[key] == 1
	b.mu.Unlock()
	if first {
		b.presence(presenceEvent{in.AppID, in.Owner.ID, true})
	}
}

// thingDisconnected uncounts a thing's session, and reports the thing
// offline when it was its last on this node.
func (b *Broker) thingDisconnected(cl *mqtt.Client) {
	b.mu.Lock()
	in, ok := b.thingOf[cl]
	if !ok {
		b.mu.Unlock()
		return
	}
	delete(b.thingOf, cl)
	key := in.AppID + "/" + in.Owner.ID
	b.thingConns[key]--
	last := b.thingConns[key] <= 0
	if last {
		delete(b.thingConns, key)
	}
	b.mu.Unlock()
	if last {
		b.presence(presenceEvent{in.AppID, in.Owner.ID, false})
	}
}

// presence queues a change for the presence writer.
func (b *Broker) presence(e presenceEvent) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.presenceCh == nil { // no Presence, or closed
		return
	}
	select {
	case b.presenceCh <- e:
	default:
		b.presenceLost++ // logged by the writer, once per write
	}
}

// writePresence records changes in order until the channel is closed (by
// Close, after the listeners are down, so that the devices' last
// disconnections are recorded too).
func (b *Broker) writePresence(ch <-chan presenceEvent) {
	defer b.presenceDone.Done()
	for e := range ch {
		ctx, cancel := context.WithTimeout(context.Background(), presenceTimeout)
		if err := b.Presence.SetThingOnline(ctx, e.appID, e.thingID, e.online); err != nil && kumo.ErrorCode(err) != kumo.ErrThingNotFound {
			b.Log.Error("recording a thing's online status failed", "app", e.appID, "thing", e.thingID, "online", e.online, "error", err)
		}
		cancel()
		b.mu.Lock()
		lost := b.presenceLost
		b.presenceLost = 0
		b.mu.Unlock()
		if lost > 0 {
			b.Log.Warn("thing online statuses not recorded: too many changes waiting", "changes", lost)
		}
	}
}
