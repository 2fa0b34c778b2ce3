package broker

import (
	"context"
	"sync"
	"time"

	"github.com/kumo-iot/kumo"
)

// The broker records what became of each delivery it was handed (the
// delivery ledger): written to the device's connection (sent), or not
// (dropped: the device is not connected to this node). Records are
// written in batches, off the MQTT path, and big ones: a batch writes each
// installation's page of the ledger's indexes once, however many of its
// records it holds, so the bigger the batch, the fewer pages per record.

const (
	ledgerQueue = 1 << 17     // records waiting; beyond, records are dropped and counted
	ledgerBatch = 1 << 14     // records per write
	ledgerFlush = time.Second // how often a partial batch is written
)

// ledgerBuffer holds the records waiting to be written: a slice that the
// writer swaps for an empty one, rather than a channel, whose buffer of
// records (pointers all) the garbage collector would scan in full at every
// cycle, and whose every send would copy a record under its lock.
type ledgerBuffer struct {
	mu        sync.Mutex
	pending   []kumo.DeliveryRecord
	lost      int           // records dropped (too many waiting) since the last write
	accepting bool          // records are taken (between open and close)
	wake      chan struct{} // a full batch waits (capacity 1)
	done      chan struct{} // closed when the writer returned
}

func (l *ledgerBuffer) open() {
	l.accepting, l.wake, l.done = true, make(chan struct{}, 1), make(chan struct{})
}

// add queues r, or counts it lost when ledgerQueue records wait.
func (l *ledgerBuffer) add(r kumo.DeliveryRecord) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case !l.accepting:
		return
	case len(l.pending) >= ledgerQueue:
		l.lost++
		return
	}
	l.pending = append(l.pending, r)
	if len(l.pending) == ledgerBatch {
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
}

// take returns the waiting records, replacing them with spare (emptied),
// the records dropped meanwhile, and whether the buffer is still open.
func (l *ledgerBuffer) take(spare []kumo.DeliveryRecord) (rs []kumo.DeliveryRecord, lost int, open bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	rs, l.pending = l.pending, spare[:0]
	lost, l.lost = l.lost, 0
	return rs, lost, l.accepting
}

// close stops taking records and wakes the writer for its last write.
func (l *ledgerBuffer) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.accepting {
		l.accepting = false
		close(l.wake)
	}
}

// wait waits for the writer's return, if it ever started.
func (l *ledgerBuffer) wait() {
	if l.done != nil {
		<-l.done
	}
}

// record queues a ledger record of d (without AppID, a push replayed from
// the offline queue: the ledger finds its app from its topic).
func (b *Broker) record(d kumo.Delivery, state kumo.DeliveryState, reason string) {
	if b.Ledger == nil {
		return
	}
	b.ledger.add(kumo.DeliveryRecord{AppID: d.AppID, MessageID: d.MessageID, EventType: d.EventType, MQTTTopic: d.Topic,
		DeviceType: "MQTT", State: state, Reason: reason, Created: time.Now().UnixMilli()})
}

// NotConnected records a delivery that reached no node of a cluster (its
// device is connected nowhere) as dropped, as Deliver does one that
// finds its device gone.
func (b *Broker) NotConnected(d kumo.Delivery) {
	if d.ID != "" && b.repeat("unheard/"+d.Topic+"/"+d.ID) {
		return // a delivery published again (the dispatcher retried its batch): recorded once
	}
	b.record(d, kumo.DeliveryDropped, notConnected)
}

// notConnected is the reason of a delivery dropped for want of a device.
const notConnected = "the device is not connected"

// writeLedger writes the waiting records, in batches of up to
// ledgerBatch, every ledgerFlush or as soon as a batch is full, until the
// buffer closes.
func (b *Broker) writeLedger() {
	defer close(b.ledger.done)
	tick := time.NewTicker(ledgerFlush)
	defer tick.Stop()
	var spare []kumo.DeliveryRecord
	for {
		select {
		case <-b.ledger.wake:
		case <-tick.C:
		}
		rs, lost, open := b.ledger.take(spare)
		base := context.Background()
		if open {
			base = kumo.Unhurried(base) // the last flush, at close, is not spread out
		}
		for start := 0; start < len(rs); start += ledgerBatch {
			batch := rs[start:min(start+ledgerBatch, len(rs))]
			ctx, cancel := context.WithTimeout(base, 30*time.Second)
			if err := b.Ledger.RecordDeliveries(ctx, batch); err != nil {
				b.Log.Warn("delivery ledger: records not written", "records", len(batch), "error", err)
			}
			cancel()
		}
		if lost > 0 {
			b.Log.Warn("delivery ledger: records dropped, too many waiting", "records", lost)
		}
		clear(rs) // let the strings go
		spare = rs
		if cap(spare) > 2*ledgerBatch {
			spare = nil // a backlog's array: not kept, the collector would scan all of it at every cycle
		}
		if !open {
			return
		}
	}
}
