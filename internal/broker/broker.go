// Package broker is Kumo's embedded MQTT broker (mochi-mqtt v2) with Kii's
// rules: a device connects with its installation's MQTT username and
// password and with its mqttTopic as client ID, may subscribe only to its
// own topic, and never reaches another device by publishing. Pushes enter
// through Deliver, at QoS 0; the pushes of persistent sessions (clean
// session 0, Kumo's own) come from their durable queues (queue.go).
package broker

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/auth"
	"github.com/kumo-iot/kumo/internal/throttle"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Broker is the embedded MQTT broker.
type Broker struct {
	// Installations finds the MQTT installation of a CONNECT's username.
	Installations kumo.InstallationService
	// Passwords checks MQTT passwords.
	Passwords auth.MQTTPasswords
	Log       *slog.Logger

	// Listener addresses; an empty address turns that listener off.
	TCPAddr, TLSAddr, WSAddr, WSSAddr string
	// TLSConfig serves the TLS and secure WebSocket listeners.
	TLSConfig *tls.Config

	// ConnectTimeout is how long a connection has, from its TCP accept,
	// to deliver its CONNECT, TLS handshake and WebSocket upgrade included
	// (DefaultConnectTimeout when 0). After the CONNECT, the client's
	// keep-alive applies.
	ConnectTimeout time.Duration
	// ConnectThrottle is how many CONNECTs refused for their credentials
	// one source address may make per minute before its CONNECTs are
	// refused, unchecked, for ConnectPenalty (0: no throttle). See
	// throttle.go.
	ConnectThrottle int
	// ConnectPenalty is an address's first penalty (DefaultConnectPenalty
	// when 0); each penalty that follows another doubles it, up to 16
	// times.
	ConnectPenalty time.Duration

	// HoldRecovered is how long a recovered delivery waits for its device
	// to connect and subscribe (default one minute).
	HoldRecovered time.Duration

	// Presence, when set, records things going online (their first MQTT
	// session on this node) and offline (their last one closing): Kii's
	// _online and _onlineStatusModifiedAt.
	Presence Presence

	// Ledger, when set, records what became of each delivery.
	Ledger kumo.DeliveryLedger

	// Queue, when set, keeps the pushes of persistent installations
	// (devices that connect with clean session 0), which this broker
	// replays (see queue.go).
	Queue kumo.PushQueue
	// ReplayRate bounds the queued pushes this node publishes per second
	// (DefaultReplayRate when 0).
	ReplayRate int
	// QueueMaxAge is the age from which queued pushes are dropped
	// (kumo.DefaultQueueMaxAge when 0).
	QueueMaxAge time.Duration

	// Apps, when set, lets devices that know only their app's ID and key
	// connect as "anonymous" to onboard (anonymous.go); REST over MQTT
	// must be on too (ServeREST).
	Apps AppFinder

	// The limits of REST over MQTT (rest.go; their Default* when 0):
	// requests handled at a time per connection and on the node, the
	// requests of one connection that may wait for a place beyond those,
	// the largest request frame, and how long one request may take (its
	// wait included). RESTNodeQueue bounds the requests waiting on the
	// node, all connections together (DefaultRESTNodeQueueFactor ×
	// RESTInFlight when 0).
	RESTPerConnection, RESTInFlight, RESTQueue, RESTNodeQueue, RESTMaxPayload int
	RESTTimeout                                                               time.Duration

	// Listen and Unlisten, when set, are told when a device's topic gains
	// its first subscriber on this node and loses its last (the cluster
	// bus routes deliveries by them).
	Listen, Unlisten func(topic string)

	server *mqtt.Server
	addrs  map[string]net.Addr // listener id -> bound address

	throttle *throttle.Throttle // failed CONNECTs by address; nil when off

	listenMu sync.Mutex // orders the changes of interest with their Listen and Unlisten calls
	mu       sync.Mutex // guards held, interest, counted and the seen ring
	held     map[string][]heldDelivery
	interest map[string]int        // topic -> subscribed clients on this node
	counted  map[*mqtt.Client]bool // clients counted in interest
	seen     map[string]bool       // recent delivery keys (topic/ID)
	seenRing []string              // the same keys, oldest first, to forget them
	seenNext int
	stop     chan struct{}
	wg       sync.WaitGroup

	authed       map[string]kumo.Installation       // by client ID: authenticated, session not yet established
	thingOf      map[*mqtt.Client]kumo.Installation // established sessions of things' installations
	thingConns   map[string]int                     // app/thing -> established sessions on this node
	presenceCh   chan presenceEvent
	presenceDone sync.WaitGroup

	ledger ledgerBuffer // records waiting for the ledger's writer

	presenceLost int // online changes dropped since the last write

	// persistent holds, by client ID, the connection that asked for clean
	// session 0: by ID, so that a client whose CONNACK failed (and never
	// disconnects) leaves one entry per installation at most.
	persistent map[string]*mqtt.Client
	sessions   map[string]*session // topic -> persistent session subscribed on this node
	nSessions  atomic.Int32        // len(sessions), read without the lock
	limiter    *limiter            // paces the replay of queued pushes
	drains     sync.WaitGroup      // drain goroutines
	closing    bool                // no drain starts after Close began

	revoked revocations // recently revoked usernames (revoke.go)

	rest    atomic.Pointer[restAPI] // the API served over MQTT (ServeREST); nil: off
	anonSeq atomic.Uint64           // numbers the anonymous connections' internal IDs
	restState
}

type heldDelivery struct {
	d     kumo.Delivery
	until time.Time
}

// Listener IDs, also the names used by Port.
const (
	TCP = "tcp"
	TLS = "tls"
	WS  = "ws"
	WSS = "wss"
)

// Open binds every configured listener and starts the broker. A bind
// failure is returned and nothing is left running.
func (b *Broker) Open() error {
	if b.Log == nil {
		b.Log = slog.Default()
	}
	if b.HoldRecovered == 0 {
		b.HoldRecovered = time.Minute
	}
	if b.ConnectTimeout <= 0 {
		b.ConnectTimeout = DefaultConnectTimeout
	}
	if b.ConnectPenalty <= 0 {
		b.ConnectPenalty = DefaultConnectPenalty
	}
	caps := mqtt.NewDefaultServerCapabilities()
	caps.RetainAvailable = 0 // Kii has no retained messages; one after SUBACK breaks strict SDKs
	caps.MaximumClientWritesPending = 1024
	caps.MaximumPacketSize = 256 << 10
	caps.MaximumSessionExpiryInterval = 0
	b.server = mqtt.New(&mqtt.Options{
		Capabilities:           caps,
		InlineClient:           true,
		Logger:                 slog.New(quietConnects{b.Log.With("component", "mqtt").Handler()}),
		SysTopicResendInterval: 1 << 30,
	})
	// revokeHook goes first: a session it ends is never counted online
	// nor replayed to by kiiHook's OnSessionEstablished.
	if err := b.server.AddHook(&revokeHook{b: b}, nil); err != nil {
		return err
	}
	if err := b.server.AddHook(&kiiHook{b: b}, nil); err != nil {
		return err
	}
	if b.ConnectThrottle > 0 {
		b.throttle = newThrottle(b.ConnectThrottle, b.ConnectPenalty)
		if err := b.server.AddHook(&throttleHook{b: b}, nil); err != nil {
			return err
		}
	}
	b.addrs = map[string]net.Addr{}
	b.held = map[string][]heldDelivery{}
	b.interest, b.counted = map[string]int{}, map[*mqtt.Client]bool{}
	b.seen, b.seenRing = map[string]bool{}, make([]string, dedupWindow)
	b.authed, b.thingOf, b.thingConns = map[string]kumo.Installation{}, map[*mqtt.Client]kumo.Installation{}, map[string]int{}
	b.stop = make(chan struct{})
	if b.Ledger != nil {
		b.ledger.open()
		go b.writeLedger()
	}
	b.openQueue()
	if b.Presence != nil {
		b.presenceCh = make(chan presenceEvent, presenceQueue)
		b.presenceDone.Add(1)
		go b.writePresence(b.presenceCh)
	}
	var bound []net.Listener
	fail := func(err error) error {
		for _, ln := range bound {
			ln.Close()
		}
		return err
	}
	for _, l := range []struct {
		id, addr string
		tls, ws  bool
	}{{TCP, b.TCPAddr, false, false}, {TLS, b.TLSAddr, true, false}, {WS, b.WSAddr, false, true}, {WSS, b.WSSAddr, true, true}} {
		if l.addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			return fail(fmt.Errorf("mqtt %s listener: %w", l.id, err))
		}
		bound = append(bound, ln)
		b.addrs[l.id] = ln.Addr()
		if l.tls {
			if b.TLSConfig == nil {
				return fail(fmt.Errorf("mqtt %s listener: no TLS certificate", l.id))
			}
			ln = tls.NewListener(ln, b.TLSConfig)
		}
		var lst listeners.Listener = &netListener{id: l.id, ln: ln, connectTimeout: b.ConnectTimeout}
		if l.ws {
			lst = newWSListener(l.id, ln, b.Log, b.ConnectTimeout)
		}
		if err := b.server.AddListener(lst); err != nil {
			return fail(err)
		}
	}
	if err := b.server.Serve(); err != nil {
		return fail(err)
	}
	b.wg.Add(1)
	go b.expireHeld(b.heldSweep())
	return nil
}

// Close disconnects every client and stops the listeners.
func (b *Broker) Close() error {
	if b.server == nil {
		return nil
	}
	b.mu.Lock()
	b.closing = true
	b.mu.Unlock()
	close(b.stop)
	b.wg.Wait()
	b.drains.Wait()
	err := b.server.Close()
	b.restClose() // the connections are closed: their requests end, unanswered
	b.mu.Lock()
	if b.presenceCh != nil {
		close(b.presenceCh)
		b.presenceCh = nil // nothing is queued after this
	}
	b.mu.Unlock()
	b.ledger.close() // the writer writes what is left, then returns
	done := make(chan struct{})
	go func() { b.presenceDone.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(presenceDrain):
		b.Log.Warn("thing online statuses not all recorded at shutdown", "waited", presenceDrain)
	}
	b.ledger.wait() // its last write has a deadline of its own
	return err
}

// Port returns the port a listener is bound to (0 when it is off).
func (b *Broker) Port(id string) int {
	if a, ok := b.addrs[id].(*net.TCPAddr); ok {
		return a.Port
	}
	return 0
}

// Subscribed reports whether a device is subscribed to topic on this node.
//
// It reads the count the hooks keep (OnSubscribed, OnUnsubscribed,
// OnDisconnect) rather than walking mochi's topic tree, which allocates
// four maps on every call: Deliver asks it for every push.
func (b *Broker) Subscribed(topic string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.interest[topic] > 0
}

// Deliver publishes a push to the device whose topic is d.Topic, at QoS 0.
// A recovered delivery to a device that is not subscribed yet is held
// until it subscribes or HoldRecovered passes. A revocation (d.Revoked)
// ends the device's session instead.
func (b *Broker) Deliver(d kumo.Delivery) {
	if d.Revoked {
		b.revoke(d) // not a push: see revoke.go
		return
	}
	if d.Queued {
		b.nudge(d.Topic)
		return
	}
	if d.ID != "" && b.repeat(d.Topic+"/"+d.ID) {
		return
	}
	if d.Recovered && !b.Subscribed(d.Topic) {
		b.mu.Lock()
		b.held[d.Topic] = append(b.held[d.Topic], heldDelivery{d: d, until: time.Now().Add(b.HoldRecovered)})
		b.mu.Unlock()
		return
	}
	if !b.Subscribed(d.Topic) {
		b.record(d, kumo.DeliveryDropped, notConnected)
		return
	}
	if err := b.server.Publish(d.Topic, d.Payload, false, 0); err != nil {
		b.Log.Warn("publish failed", "topic", d.Topic, "error", err)
		b.record(d, kumo.DeliveryFailed, err.Error())
		return
	}
	b.record(d, kumo.DeliverySent, "")
}

// dedupWindow is how many recent deliveries a broker remembers to drop
// their repeats.
const dedupWindow = 1 << 16

// repeat reports whether key was delivered recently, and remembers it.
func (b *Broker) repeat(key string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.seen[key] {
		return true
	}
	if old := b.seenRing[b.seenNext]; old != "" {
		delete(b.seen, old)
	}
	b.seenRing[b.seenNext] = key
	b.seenNext = (b.seenNext + 1) % dedupWindow
	b.seen[key] = true
	return false
}

// subscribed counts a device's subscription to its topic, and tells
// Listen when it is the topic's first on this node.
func (b *Broker) subscribed(cl *mqtt.Client) {
	b.listenMu.Lock() // a Listen and an Unlisten of one topic never cross
	defer b.listenMu.Unlock()
	b.mu.Lock()
	if b.counted[cl] {
		b.mu.Unlock()
		return
	}
	b.counted[cl] = true
	b.interest[cl.ID]++
	first := b.interest[cl.ID] == 1
	b.mu.Unlock()
	if first && b.Listen != nil {
		b.Listen(cl.ID)
	}
}

// unsubscribed uncounts a device that unsubscribed from its topic or
// disconnected, and tells Unlisten when it was its topic's last
// subscriber on this node.
func (b *Broker) unsubscribed(cl *mqtt.Client) {
	b.listenMu.Lock()
	defer b.listenMu.Unlock()
	b.mu.Lock()
	if !b.counted[cl] {
		b.mu.Unlock()
		return
	}
	delete(b.counted, cl)
	b.interest[cl.ID]--
	last := b.interest[cl.ID] == 0
	if last {
		delete(b.interest, cl.ID)
	}
	b.mu.Unlock()
	if last && b.Unlisten != nil {
		b.Unlisten(cl.ID)
	}
}

// releaseHeld publishes what was held for topic, once its device has
// subscribed (after the SUBACK is on the wire).
func (b *Broker) releaseHeld(topic string) {
	b.mu.Lock()
	hs := b.held[topic]
	delete(b.held, topic)
	b.mu.Unlock()
	now := time.Now()
	for _, h := range hs {
		if !now.Before(h.until) {
			b.heldExpired(h, heldLate)
			continue
		}
		if err := b.server.Publish(topic, h.d.Payload, false, 0); err != nil {
			b.Log.Warn("publish failed", "topic", topic, "error", err)
			b.record(h.d, kumo.DeliveryFailed, err.Error())
			continue
		}
		b.record(h.d, kumo.DeliverySent, "")
	}
}

// expireHeld drops, every so often (heldSweep), the deliveries held longer than
// HoldRecovered for devices that did not subscribe, and at Close those
// still held: each is recorded expired in the ledger.
func (b *Broker) expireHeld(every time.Duration) {
	defer b.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		var gone []heldDelivery
		stopping := false
		select {
		case <-b.stop:
			stopping = true
		case <-t.C:
		}
		now := time.Now()
		b.mu.Lock()
		for topic, hs := range b.held {
			if stopping || now.After(hs[len(hs)-1].until) {
				gone = append(gone, hs...)
				delete(b.held, topic)
			}
		}
		b.mu.Unlock()
		reason := heldLate
		if stopping {
			reason = heldStopped
		}
		for _, h := range gone {
			b.heldExpired(h, reason)
		}
		if stopping {
			return
		}
	}
}

// heldSweep is how often held deliveries are checked for expiry.
func (b *Broker) heldSweep() time.Duration {
	return min(max(b.HoldRecovered/4, 10*time.Millisecond), 5*time.Second)
}

// heldExpired records a held delivery whose device did not subscribe in
// time (or before the broker stopped), unless another node of the
// cluster published it: that node records its own copy.
func (b *Broker) heldExpired(h heldDelivery, reason string) {
	if !h.d.Relayed {
		b.record(h.d, kumo.DeliveryExpired, reason)
	}
}

// The ledger's reasons for a held delivery that expired.
const (
	heldLate    = "recovered after a restart and held for the device, which did not reconnect in time"
	heldStopped = "recovered after a restart and held for the device; the server stopped before it reconnected"
)

// kiiHook applies Kii's authentication and topic rules.
type kiiHook struct {
	mqtt.HookBase
	b *Broker
}

func (h *kiiHook) ID() string { return "kii" }

func (h *kiiHook) Provides(x byte) bool {
	switch x {
	case mqtt.OnConnect, mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnPublish, mqtt.OnPacketSent, mqtt.OnPacketEncode,
		mqtt.OnSubscribed, mqtt.OnUnsubscribed, mqtt.OnDisconnect, mqtt.OnSessionEstablished,
		mqtt.OnQosPublish, mqtt.OnQosComplete, mqtt.OnQosDropped, mqtt.OnPublishDropped:
		return true
	}
	return false
}

// OnConnect gives each anonymous connection an internal ID of its own,
// so that none takes another's session over (anonymous.go), and drops
// the CONNECT's will: mochi publishes a will to its subscribers without
// the write ACL, so a device (or an anonymous connection) could push
// anything to another device's topic by leaving (compat.md, "MQTT
// broker").
func (h *kiiHook) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	h.b.nameAnonymous(cl, pk)
	atomic.StoreUint32(&cl.Properties.Will.Flag, 0)
	return nil
}

// OnConnectAuthenticate accepts a CONNECT whose username is an MQTT
// installation's, whose password is that installation's and whose client
// ID is its mqttTopic, or an anonymous CONNECT with its app's ID and key
// (anonymous.go). Anything else gets "bad user name or password".
func (h *kiiHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	if pk.Connect.ClientIdentifier == AnonymousClientID {
		return h.b.authenticateAnonymous(cl, pk)
	}
	user, pass := string(pk.Connect.Username), string(pk.Connect.Password)
	if user == "" || !h.b.Passwords.Check(user, pass) {
		h.b.Log.Info("mqtt connect refused: bad username or password", "client", cl.ID, "remote", cl.Net.Remote)
		h.b.connectFailed(cl)
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	in, err := h.b.Installations.MQTTInstallation(ctx, user)
	if err != nil {
		if code := kumo.ErrorCode(err); code == kumo.ErrThingDisabled {
			h.b.Log.Info("mqtt connect refused: the thing is disabled", "client", cl.ID, "remote", cl.Net.Remote)
		} else if code != kumo.ErrInstallationNotFound {
			h.b.Log.Error("mqtt connect: installation lookup failed", "error", err)
		} else {
			// Not counted by the throttle: the password was right, so the
			// username was issued once (a revoked installation retrying).
			h.b.Log.Info("mqtt connect refused: no such installation", "client", cl.ID, "remote", cl.Net.Remote)
		}
		return false
	}
	if cl.ID != in.MQTTTopic {
		h.b.Log.Info("mqtt connect refused: client ID is not the installation's mqttTopic", "client", cl.ID, "installation", in.ID)
		return false
	}
	h.b.connecting(cl, pk, in)
	h.b.mu.Lock()
	h.b.authed[cl.ID] = in // by ID: a client that never gets a session leaves one entry per installation at most
	h.b.mu.Unlock()
	return true
}

// OnSessionEstablished counts a thing's session for its online status.
func (h *kiiHook) OnSessionEstablished(cl *mqtt.Client, _ packets.Packet) { h.b.thingConnected(cl) }

// OnACLCheck lets a device subscribe to its own topic only (its client ID
// is its mqttTopic): wildcards and other topics fail in the SUBACK, as
// does every subscription of an anonymous connection. Publishing is
// accepted (and acknowledged) but reaches no subscriber; see OnPublish.
func (h *kiiHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	if write || cl.Net.Inline {
		return true
	}
	_, anonymous := anonymousApp(cl)
	return !anonymous && topic == cl.ID
}

// OnPublish keeps every PUBLISH from a device from its subscribers, after
// its acknowledgement (a device never reaches another): a request on the
// device's own p/{clientID}/ prefix is served as REST over MQTT (rest.go),
// anything else is dropped.
func (h *kiiHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline {
		return pk, nil
	}
	h.b.restPublish(cl, pk)
	return pk, packets.CodeSuccessIgnore
}

// OnSubscribed counts a device whose subscription to its own topic was
// granted.
func (h *kiiHook) OnSubscribed(cl *mqtt.Client, pk packets.Packet, codes []byte) {
	for i, f := range pk.Filters {
		if i < len(codes) && codes[i] < 0x80 && f.Filter == cl.ID {
			h.b.subscribed(cl)
			h.b.subscribedPersistent(cl, codes[i])
		}
	}
}

// OnUnsubscribed uncounts a device that unsubscribed from its own topic
// (mochi also calls it when a client goes, before OnDisconnect).
func (h *kiiHook) OnUnsubscribed(cl *mqtt.Client, pk packets.Packet) {
	for _, f := range pk.Filters {
		if f.Filter == cl.ID {
			h.b.unsubscribed(cl)
		}
	}
}

// OnDisconnect uncounts a device.
func (h *kiiHook) OnDisconnect(cl *mqtt.Client, _ error, _ bool) {
	h.b.unsubscribed(cl)
	h.b.thingDisconnected(cl)
	h.b.sessionGone(cl)
	h.b.restGone(cl)
}

// OnQosPublish maps a QoS 1 push of a persistent session to its queued
// push.
func (h *kiiHook) OnQosPublish(cl *mqtt.Client, pk packets.Packet, _ int64, _ int) {
	h.b.qosPublished(cl, pk)
}

// OnPublishDropped takes back a persistent session's push that mochi
// dropped (publishDropped).
func (h *kiiHook) OnPublishDropped(cl *mqtt.Client, pk packets.Packet) {
	h.b.publishDropped(cl, pk)
}

// OnQosComplete dequeues a QoS 1 push its device acknowledged.
func (h *kiiHook) OnQosComplete(cl *mqtt.Client, pk packets.Packet) {
	h.b.qosDone(cl, pk.PacketID, true)
}

// OnQosDropped leaves a QoS 1 push mochi gave up on in its queue.
func (h *kiiHook) OnQosDropped(cl *mqtt.Client, pk packets.Packet) {
	h.b.qosDone(cl, pk.PacketID, false)
}

// OnPacketEncode gives MQTT 3 clients whose credentials were refused the
// return code 4, "bad user name or password" (mochi sends 5, "not
// authorized"). Kumo refuses a CONNECT for its credentials only.
func (h *kiiHook) OnPacketEncode(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	if pk.FixedHeader.Type == packets.Connack && cl.Properties.ProtocolVersion < 5 && pk.ReasonCode == packets.Err3NotAuthorized.Code {
		pk.ReasonCode = packets.ErrMalformedUsernameOrPassword.Code // 0x04 in MQTT 3
	}
	return pk
}

// OnPacketSent releases held deliveries once a SUBACK for the device's own
// topic is on the wire, so nothing ever precedes the SUBACK.
func (h *kiiHook) OnPacketSent(cl *mqtt.Client, pk packets.Packet, _ []byte) {
	if pk.FixedHeader.Type == packets.Publish && pk.FixedHeader.Qos == 0 {
		h.b.written(cl, pk)
		return
	}
	if pk.FixedHeader.Type != packets.Suback {
		return
	}
	h.b.startSession(cl)
	h.b.mu.Lock()
	_, held := h.b.held[cl.ID]
	h.b.mu.Unlock()
	if held {
		go h.b.releaseHeld(cl.ID)
	}
}
