// Package nats is the bus of a cluster: deliveries travel over NATS to the
// node that holds each device's MQTT connection. A node subscribes to the
// subject of every device connected to it (kumo.push.{mqttTopic}), so a
// delivery goes only where there is interest; revoked MQTT credentials go
// to every node (kumo.revoke). NATS carries fan-out only;
// the outbox in PostgreSQL stays the source of truth: a publish that NATS
// did not acknowledge fails, and the dispatcher retries its events.
package nats

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/kumo-iot/kumo"
	"github.com/nats-io/nats.go"
)

// Subjects.
const (
	pushPrefix       = "kumo.push."     // + mqttTopic: a device's deliveries
	recoveredSubject = "kumo.recovered" // late deliveries, for every node
	revokeSubject    = "kumo.revoke"    // revoked MQTT credentials, for every node
	usernameHeader   = "Kumo-Username"  // the revoked username, on revokeSubject
	idHeader         = "Kumo-Delivery"  // the delivery's ID, for de-duplication
	topicHeader      = "Kumo-Topic"     // the device's topic, on recoveredSubject
	appHeader        = "Kumo-App"       // for the delivery ledger: the app,
	eventHeader      = "Kumo-Event"     // the event's type,
	messageHeader    = "Kumo-Message"   // and a sent message's ID
	queuedHeader     = "Kumo-Queued"    // set on a nudge: the device's queue has new pushes
	subjectHeader    = "Nats-Subject"   // on a no-responders status: the subject nobody listened to
	originHeader     = "Kumo-Origin"    // on recoveredSubject: the publishing bus (see kumo.Delivery.Relayed)
)

// Bus is a push.Bus over NATS.
type Bus struct {
	// URL of the NATS server(s), comma separated.
	URL string
	// Name names this node in NATS (the node ID).
	Name string
	Log  *slog.Logger

	// Unheard, when set, is told of each delivery that no node listened
	// to (its device is connected nowhere): for the delivery ledger.
	Unheard func(kumo.Delivery)

	nc        *nats.Conn
	unheard   string     // this node's subject prefix for no-responders statuses
	mu        sync.Mutex // guards handler and subs
	handler   func(kumo.Delivery)
	subs      map[string]*nats.Subscription
	recovered *nats.Subscription
	revoke    *nats.Subscription
	origin    string // this bus, in originHeader
}

// Handle sets the function that receives the deliveries for devices
// connected to this node (the broker's Deliver). Deliveries that arrive
// before it is set are dropped.
func (b *Bus) Handle(fn func(kumo.Delivery)) {
	b.mu.Lock()
	b.handler = fn
	b.mu.Unlock()
}

// Open connects to NATS. It keeps reconnecting forever when the
// connection drops; while it is down, Publish fails.
func (b *Bus) Open() error {
	if b.Log == nil {
		b.Log = slog.Default()
	}
	b.subs = map[string]*nats.Subscription{}
	b.origin = nats.NewInbox() // unique
	nc, err := nats.Connect(b.URL, nats.Name("kumo "+b.Name),
		nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond), nats.RetryOnFailedConnect(true),
		nats.ReconnectBufSize(-1), // never buffer while disconnected: Publish fails instead
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { b.Log.Warn("nats disconnected", "error", err) }),
		nats.ReconnectHandler(func(nc *nats.Conn) { b.Log.Info("nats reconnected", "server", nc.ConnectedUrl()) }),
	)
	if err != nil {
		return fmt.Errorf("nats: connect %s: %w", b.URL, err)
	}
	b.nc = nc
	b.recovered, err = nc.Subscribe(recoveredSubject, func(m *nats.Msg) {
		d := received(m)
		d.Topic, d.Recovered = m.Header.Get(topicHeader), true
		d.Relayed = m.Header.Get(originHeader) != b.origin
		b.deliver(d)
	})
	if err == nil {
		b.revoke, err = nc.Subscribe(revokeSubject, func(m *nats.Msg) {
			b.deliver(kumo.Delivery{Topic: m.Header.Get(topicHeader), Username: m.Header.Get(usernameHeader),
				AppID: m.Header.Get(appHeader), Revoked: true})
		})
	}
	if err == nil && b.Unheard != nil {
		b.unheard = nats.NewInbox()
		_, err = nc.Subscribe(b.unheard+".>", b.noResponders)
	}
	if err != nil {
		nc.Close()
		return fmt.Errorf("nats: subscribe: %w", err)
	}
	return nil
}

// A delivery published with a reply subject that nobody listens to comes
// back from the NATS server as a "503 no responders" status (it sends one
// to a publisher that asked for them, as nats.go does, naming the subject
// in a header). Kumo never replies to deliveries: the reply subject only
// carries what the ledger needs to name the delivery, since the status
// carries nothing else of the original message.

// replyTo is the reply subject of a delivery: this node's prefix, then the
// app, event type, message ID and delivery ID, each a token of its own.
// They are the same for every delivery of one event, which come one after
// another: last keeps the previous delivery's subject to reuse it.
func (b *Bus) replyTo(d kumo.Delivery, last *replyCache) string {
	if last.subject == "" || last.app != d.AppID || last.event != d.EventType || last.message != d.MessageID || last.id != d.ID {
		*last = replyCache{app: d.AppID, event: d.EventType, message: d.MessageID, id: d.ID,
			subject: b.unheard + "." + token(d.AppID) + "." + token(string(d.EventType)) + "." + token(d.MessageID) + "." + token(d.ID)}
	}
	return last.subject
}

// replyCache is the reply subject of the last delivery published.
type replyCache struct {
	app, message, id, subject string
	event                     kumo.EventType
}

// token encodes s as a subject token (never empty, no dots or wildcards).
func token(s string) string { return "t" + base64.RawURLEncoding.EncodeToString([]byte(s)) }

// untoken is token's inverse.
func untoken(t string) (string, bool) {
	if !strings.HasPrefix(t, "t") {
		return "", false
	}
	s, err := base64.RawURLEncoding.DecodeString(t[1:])
	return string(s), err == nil
}

// noResponders hands a delivery that no node listened to to Unheard.
func (b *Bus) noResponders(m *nats.Msg) {
	if m.Header.Get("Status") != "503" { // nats.go's status header and the no-responders code
		return
	}
	topic, ok := strings.CutPrefix(m.Header.Get(subjectHeader), pushPrefix)
	parts := strings.Split(strings.TrimPrefix(m.Subject, b.unheard+"."), ".")
	if !ok || len(parts) != 4 {
		return
	}
	app, ok1 := untoken(parts[0])
	event, ok2 := untoken(parts[1])
	msgID, ok3 := untoken(parts[2])
	id, ok4 := untoken(parts[3])
	if ok1 && ok2 && ok3 && ok4 {
		b.Unheard(kumo.Delivery{Topic: topic, AppID: app, EventType: kumo.EventType(event), MessageID: msgID, ID: id})
	}
}

// Close unsubscribes and closes the connection.
func (b *Bus) Close() error {
	if b.nc == nil {
		return nil
	}
	b.nc.Close()
	return nil
}

func (b *Bus) deliver(d kumo.Delivery) {
	b.mu.Lock()
	fn := b.handler
	b.mu.Unlock()
	if fn != nil && d.Topic != "" {
		fn(d)
	}
}

// errDown is returned by Publish while NATS is unreachable.
var errDown = errors.New("nats: not connected")

// Publish implements push.Bus. It returns once NATS has the deliveries
// (a flush round trip), or an error, in which case the dispatcher keeps
// the events and tries again. A recovered delivery goes to every node,
// since its device may be reconnecting to any of them.
func (b *Bus) Publish(ctx context.Context, ds []kumo.Delivery) error {
	if !b.nc.IsConnected() {
		return errDown
	}
	var last replyCache
	for _, d := range ds {
		if d.Revoked { // every node ends the sessions of revoked credentials
			m := nats.NewMsg(revokeSubject)
			m.Header.Set(topicHeader, d.Topic)
			m.Header.Set(usernameHeader, d.Username)
			m.Header.Set(appHeader, d.AppID)
			if err := b.nc.PublishMsg(m); err != nil {
				return fmt.Errorf("nats: publish: %w", err)
			}
			continue
		}
		m := nats.NewMsg(pushPrefix + d.Topic)
		if d.Recovered {
			m = nats.NewMsg(recoveredSubject)
			m.Header.Set(topicHeader, d.Topic)
			m.Header.Set(originHeader, b.origin)
		}
		m.Data = d.Payload
		if d.ID != "" {
			m.Header.Set(idHeader, d.ID)
		}
		m.Header.Set(appHeader, d.AppID)
		m.Header.Set(eventHeader, string(d.EventType))
		if d.MessageID != "" {
			m.Header.Set(messageHeader, d.MessageID)
		}
		if d.Queued {
			m.Header.Set(queuedHeader, "1")
		} else if b.unheard != "" && !d.Recovered {
			m.Reply = b.replyTo(d, &last)
		}
		if err := b.nc.PublishMsg(m); err != nil {
			return fmt.Errorf("nats: publish: %w", err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := b.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("nats: flush: %w", err)
	}
	return nil
}

// Listen starts receiving the deliveries of a device that connected to
// this node; the broker calls it after the device's SUBACK.
func (b *Bus) Listen(topic string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.subs[topic]; ok {
		return
	}
	sub, err := b.nc.Subscribe(pushPrefix+topic, func(m *nats.Msg) {
		d := received(m)
		d.Topic, d.Queued = topic, m.Header.Get(queuedHeader) != ""
		b.deliver(d)
	})
	if err != nil {
		b.Log.Error("nats: subscribe to a device's deliveries", "topic", topic, "error", err)
		return
	}
	b.subs[topic] = sub
}

// Unlisten stops receiving a device's deliveries (it disconnected).
func (b *Bus) Unlisten(topic string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if sub, ok := b.subs[topic]; ok {
		sub.Unsubscribe()
		delete(b.subs, topic)
	}
}

// received is the delivery a NATS message carries (its topic aside).
func received(m *nats.Msg) kumo.Delivery {
	return kumo.Delivery{Payload: m.Data, ID: m.Header.Get(idHeader), AppID: m.Header.Get(appHeader),
		EventType: kumo.EventType(m.Header.Get(eventHeader)), MessageID: m.Header.Get(messageHeader)}
}
