package broker

import (
	"bytes"
	"context"
	"sync"
	"time"

	"github.com/kumo-iot/kumo"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Offline delivery (Kumo's own, beyond Kii). A device that connects with
// clean session 0 makes its installation persistent: every push to it is
// put in its durable queue (kumo.PushQueue) by the dispatcher, online or
// not, and the node holding its session drains the queue, in order, after
// its SUBACK and whenever the bus nudges it. mochi itself keeps no session
// (every session is clean to it): the queue is the session.

// Defaults of the replay.
const (
	DefaultReplayRate = 1000 // queued pushes published per second by a node
	replayBatch       = 100  // pushes read from the queue at a time
	qos1Window        = 32   // QoS 1 pushes awaiting their PUBACK, per device
	replayBurst       = 100 * time.Millisecond
	queueTimeout      = 10 * time.Second
)

// session is a persistent device subscribed on this node.
type session struct {
	cl  *mqtt.Client
	qos byte // QoS of the pushes: 1 when the subscription was granted 1 or 2

	// Guarded by Broker.mu.
	started  bool             // its first drain ran (after the SUBACK)
	running  bool             // a drain goroutine runs
	again    bool             // nudged while draining: look again
	closed   bool             // disconnected
	sent     map[int64]bool   // published and not yet dequeued (QoS 1: not yet acknowledged)
	inflight map[uint16]int64 // QoS 1: packet ID -> seq
	acked    []int64          // QoS 1: acknowledged, to dequeue
	current  int64            // QoS 1: the seq being published (see OnQosPublish)
	lastID   uint16           // QoS 1: the packet ID of the last push published
	unsent   []unsentPush     // QoS 0: published, not yet written to the connection, in order
	wake     chan struct{}
}

// unsentPush is a QoS 0 push on its way to the connection.
type unsentPush struct {
	seq     int64
	payload []byte
}

// limiter paces the replay of a node: one push per interval, with bursts
// of replayBurst.
type limiter struct {
	mu       sync.Mutex
	interval time.Duration
	next     time.Time
}

// wait waits for the next slot; false if stop closed first.
func (l *limiter) wait(stop <-chan struct{}) bool {
	l.mu.Lock()
	now := time.Now()
	if l.next.Before(now.Add(-replayBurst)) {
		l.next = now.Add(-replayBurst)
	}
	at := l.next
	l.next = l.next.Add(l.interval)
	l.mu.Unlock()
	d := time.Until(at)
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-stop:
		return false
	}
}

// openQueue prepares the replay; called by Open.
func (b *Broker) openQueue() {
	if b.ReplayRate <= 0 {
		b.ReplayRate = DefaultReplayRate
	}
	if b.QueueMaxAge <= 0 {
		b.QueueMaxAge = kumo.DefaultQueueMaxAge
	}
	b.limiter = &limiter{interval: time.Second / time.Duration(b.ReplayRate)}
	b.persistent = map[string]*mqtt.Client{}
	b.sessions = map[string]*session{}
	if b.Queue != nil {
		b.wg.Add(1)
		go b.sweepQueue()
	}
}

// connecting records the kind of a device's session (persistent: clean
// session 0) before its CONNACK, in the store when it changed: from the
// CONNACK on, the dispatchers queue its pushes (or stop queueing them).
// mochi is told the session is clean, whatever the device asked.
func (b *Broker) connecting(cl *mqtt.Client, pk packets.Packet, in kumo.Installation) {
	persistent := !pk.Connect.Clean
	cl.Properties.Clean = true
	if b.Queue == nil {
		return
	}
	b.mu.Lock()
	if persistent {
		b.persistent[cl.ID] = cl
	} else {
		delete(b.persistent, cl.ID) // the ID's new connection is not
	}
	b.mu.Unlock()
	if persistent == in.Persistent {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), queueTimeout)
	defer cancel()
	if err := b.Queue.SetPersistent(ctx, in.MQTTTopic, persistent); err != nil {
		b.Log.Error("recording a device's session kind failed: its pushes stay as they were", "topic", in.MQTTTopic, "persistent", persistent, "error", err)
	}
}

// subscribedPersistent opens the session of a persistent device whose
// subscription to its own topic was granted qos. Its queue is drained
// once the SUBACK is on the wire (startSession).
func (b *Broker) subscribedPersistent(cl *mqtt.Client, qos byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.persistent[cl.ID] != cl {
		return
	}
	if old := b.sessions[cl.ID]; old != nil && old.cl == cl {
		return // subscribed again
	} else if old != nil {
		b.closeSession(old)
		b.nSessions.Add(-1)
	}
	b.nSessions.Add(1)
	b.sessions[cl.ID] = &session{cl: cl, qos: min(qos, 1), sent: map[int64]bool{}, inflight: map[uint16]int64{},
		wake: make(chan struct{}, 1)}
}

// startSession drains a persistent device's queue for the first time,
// after its SUBACK.
func (b *Broker) startSession(cl *mqtt.Client) {
	b.mu.Lock()
	s := b.sessions[cl.ID]
	if s == nil || s.cl != cl || s.started {
		b.mu.Unlock()
		return
	}
	s.started = true
	b.mu.Unlock()
	b.nudge(cl.ID)
}

// nudge drains the queue of topic if its persistent device is subscribed
// here.
func (b *Broker) nudge(topic string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.sessions[topic]
	if s == nil || !s.started || s.closed || b.closing {
		return
	}
	if s.running {
		s.again = true
		signal(s.wake)
		return
	}
	s.running = true
	b.drains.Add(1)
	go b.drain(s)
}

// sessionGone closes the session of a disconnected client.
func (b *Broker) sessionGone(cl *mqtt.Client) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.persistent[cl.ID] == cl {
		delete(b.persistent, cl.ID)
	}
	if s := b.sessions[cl.ID]; s != nil && s.cl == cl {
		b.closeSession(s)
		delete(b.sessions, cl.ID)
		b.nSessions.Add(-1)
	}
}

// closeSession marks s closed; b.mu held.
func (b *Broker) closeSession(s *session) {
	s.closed = true
	signal(s.wake)
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// drain publishes a session's queued pushes, oldest first, at the node's
// replay rate, until the queue is empty (QoS 1: and acknowledged) or the
// device is gone. A QoS 0 push leaves the queue once written to the
// connection, a QoS 1 push once acknowledged; an expired one is dropped.
func (b *Broker) drain(s *session) {
	defer b.drains.Done()
	topic := s.cl.ID
	for {
		b.mu.Lock()
		done := s.acked
		s.acked = nil
		s.again = false
		skip := make(map[int64]bool, len(s.sent))
		for seq := range s.sent {
			skip[seq] = true
		}
		closed, waiting := s.closed || b.closing, len(s.inflight)+len(s.unsent)
		b.mu.Unlock()
		b.dequeue(s, done)
		if closed {
			b.stopDrain(s)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), queueTimeout)
		ps, err := b.Queue.Queued(ctx, topic, skip, replayBatch)
		cancel()
		if err != nil {
			b.Log.Error("reading a device's queued pushes failed; retrying", "topic", topic, "error", err)
			if !b.sleep(s, time.Second) {
				b.stopDrain(s)
				return
			}
			continue
		}
		if len(ps) == 0 {
			if waiting > 0 { // pushes not written (QoS 0) or acknowledged (QoS 1) yet
				if !b.sleep(s, time.Minute) {
					b.stopDrain(s)
					return
				}
				continue
			}
			b.mu.Lock()
			if s.again || len(s.acked) > 0 {
				b.mu.Unlock()
				continue
			}
			s.running = false
			b.mu.Unlock()
			return
		}
		b.publishQueued(s, ps)
	}
}

// publishQueued publishes a batch of a session's queued pushes.
func (b *Broker) publishQueued(s *session, ps []kumo.QueuedPush) {
	topic := s.cl.ID
	oldest := time.Now().Add(-b.QueueMaxAge).UnixMilli()
	var done []int64
	expired := 0
	defer func() {
		if expired > 0 {
			b.Log.Warn("offline pushes dropped: older than the queue's maximum age", "topic", topic, "dropped", expired, "max_age", b.QueueMaxAge)
		}
		b.dequeue(s, done)
	}()
	for _, p := range ps {
		if p.Created < oldest {
			done = append(done, p.Seq)
			expired++
			b.record(queuedDelivery(p), kumo.DeliveryExpired, "older than the offline queue's maximum age")
			continue
		}
		if s.qos > 0 && !b.awaitWindow(s) {
			return
		}
		if !b.limiter.wait(b.stop) {
			return
		}
		b.mu.Lock()
		if s.closed {
			b.mu.Unlock()
			return
		}
		s.sent[p.Seq] = true
		if s.qos == 0 {
			s.unsent = append(s.unsent, unsentPush{p.Seq, p.Payload})
		} else {
			s.current = p.Seq
		}
		b.mu.Unlock()
		err := b.server.Publish(topic, p.Payload, false, s.qos)
		b.mu.Lock()
		s.current = 0
		b.mu.Unlock()
		if err != nil {
			b.Log.Warn("publish failed", "topic", topic, "error", err)
			b.record(queuedDelivery(p), kumo.DeliveryFailed, err.Error())
			continue
		}
		b.record(queuedDelivery(p), kumo.DeliverySent, "from the offline queue")
	}
}

// queuedDelivery is what the ledger records of a queued push: its topic,
// app, event type and message ID.
func queuedDelivery(p kumo.QueuedPush) kumo.Delivery {
	return kumo.Delivery{Topic: p.Topic, AppID: p.AppID, EventType: p.EventType, MessageID: p.MessageID}
}

// awaitWindow waits until a QoS 1 session has room for one more push in
// flight; false when the session closed.
func (b *Broker) awaitWindow(s *session) bool {
	for {
		b.mu.Lock()
		closed, n := s.closed || b.closing, len(s.inflight)
		b.mu.Unlock()
		if closed {
			return false
		}
		if n < qos1Window {
			return true
		}
		if !b.sleep(s, time.Minute) {
			return false
		}
	}
}

// sleep waits for d or a wake-up of s; false when the broker stops.
func (b *Broker) sleep(s *session, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-s.wake:
		return true
	case <-t.C:
		return true
	case <-b.stop:
		return false
	}
}

// stopDrain ends a drain goroutine.
func (b *Broker) stopDrain(s *session) {
	b.mu.Lock()
	s.running = false
	b.mu.Unlock()
}

// dequeue removes delivered (or expired) pushes from a session's queue.
// On failure they stay queued, and are delivered again later.
func (b *Broker) dequeue(s *session, seqs []int64) {
	if len(seqs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), queueTimeout)
	err := b.Queue.Dequeue(ctx, s.cl.ID, seqs)
	cancel()
	if err != nil {
		b.Log.Error("removing delivered pushes from a device's queue failed: they will be delivered again", "topic", s.cl.ID, "error", err)
	}
	b.mu.Lock()
	for _, seq := range seqs {
		delete(s.sent, seq)
	}
	b.mu.Unlock()
}

// written dequeues a QoS 0 push once it is written to its connection
// (mochi calls it after each packet sent): a push published to a
// connection that closed before writing it stays queued.
func (b *Broker) written(cl *mqtt.Client, pk packets.Packet) {
	if b.nSessions.Load() == 0 {
		return // the fast path of Kii's clean sessions
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.sessions[cl.ID]
	if s == nil || s.cl != cl || len(s.unsent) == 0 || !bytes.Equal(s.unsent[0].payload, pk.Payload) {
		return
	}
	s.acked = append(s.acked, s.unsent[0].seq)
	s.unsent = s.unsent[1:]
	if len(s.unsent) == 0 || len(s.acked) >= replayBatch {
		signal(s.wake)
	}
}

// qosPublished maps a QoS 1 push's packet ID to its queued seq (mochi
// calls it while the drain's Publish runs).
func (b *Broker) qosPublished(cl *mqtt.Client, pk packets.Packet) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s := b.sessions[cl.ID]; s != nil && s.cl == cl && s.current != 0 {
		s.inflight[pk.PacketID] = s.current
		s.current, s.lastID = 0, pk.PacketID
	}
}

// publishDropped takes back a push of a persistent session that mochi
// dropped instead of sending (the client's outbound buffer was full),
// which it tells only through OnPublishDropped: the push stays queued
// and the drain reads it again. Without this, a QoS 0 push never written
// blocked the dequeueing of all that followed (written matches the
// oldest unsent push), and a QoS 1 push stayed in flight for good, 32 of
// them stopping the drain. The drop happens inside the drain's own
// Publish, so the push is the last one published to the session.
func (b *Broker) publishDropped(cl *mqtt.Client, pk packets.Packet) {
	if b.nSessions.Load() == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.sessions[cl.ID]
	if s == nil || s.cl != cl {
		return
	}
	if s.qos == 0 {
		if n := len(s.unsent); n > 0 && bytes.Equal(s.unsent[n-1].payload, pk.Payload) {
			delete(s.sent, s.unsent[n-1].seq)
			s.unsent = s.unsent[:n-1]
		}
		return
	}
	if seq, ok := s.inflight[s.lastID]; ok {
		delete(s.inflight, s.lastID)
		delete(s.sent, seq)
	}
}

// qosDone handles the end of a QoS 1 push: acknowledged (dequeued) or
// dropped by mochi (left in the queue, for the next connection).
func (b *Broker) qosDone(cl *mqtt.Client, id uint16, acked bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.sessions[cl.ID]
	if s == nil || s.cl != cl {
		return
	}
	seq, ok := s.inflight[id]
	if !ok {
		return
	}
	delete(s.inflight, id)
	if acked {
		s.acked = append(s.acked, seq)
	} else {
		delete(s.sent, seq) // published again by this drain
	}
	signal(s.wake)
}

// sweepQueue drops the queued pushes older than QueueMaxAge, now and
// then, and logs what it dropped.
func (b *Broker) sweepQueue() {
	defer b.wg.Done()
	every := min(max(b.QueueMaxAge/4, time.Second), time.Minute)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case now := <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), queueTimeout)
			dropped, err := b.Queue.ExpireQueued(ctx, now.Add(-b.QueueMaxAge).UnixMilli())
			cancel()
			if err != nil {
				b.Log.Error("dropping expired offline pushes failed", "error", err)
			}
			if len(dropped) > 0 {
				b.Log.Warn("offline pushes dropped: older than the queue's maximum age", "dropped", len(dropped), "max_age", b.QueueMaxAge)
			}
			for _, p := range dropped {
				b.record(queuedDelivery(p), kumo.DeliveryExpired, "older than the offline queue's maximum age")
			}
		}
	}
}
