package broker

import (
	"context"
	"time"

	"github.com/kumo-iot/kumo"
)

// The broker records what became of each delivery it was handed (the
// delivery ledger): written to the device's connection (sent), or not
// (dropped: the device is not connected to this node). Records are
// written in batches, off the MQTT path.

const (
	ledgerQueue = 1 << 16                // records waiting; beyond, records are dropped and counted
	ledgerBatch = 2000                   // records per write
	ledgerFlush = 200 * time.Millisecond // how often a partial batch is written
)

// record queues a ledger record of d (without AppID, a push replayed from
// the offline queue: the ledger finds its app from its topic).
func (b *Broker) record(d kumo.Delivery, state kumo.DeliveryState, reason string) {
	if b.Ledger == nil {
		return
	}
	r := kumo.DeliveryRecord{AppID: d.AppID, MessageID: d.MessageID, EventType: d.EventType, MQTTTopic: d.Topic,
		DeviceType: "MQTT", State: state, Reason: reason, Created: time.Now().UnixMilli()}
	b.ledgerMu.RLock() // not b.mu: a record per delivery must not contend with deliveries
	defer b.ledgerMu.RUnlock()
	if b.ledgerCh == nil {
		return
	}
	select {
	case b.ledgerCh <- r:
	default:
		b.ledgerLost.Add(1)
	}
}

// NotConnected records a delivery that reached no node of a cluster (its
// device is connected nowhere) as dropped, as Deliver does one that
// finds its device gone.
func (b *Broker) NotConnected(d kumo.Delivery) {
	b.record(d, kumo.DeliveryDropped, notConnected)
}

// notConnected is the reason of a delivery dropped for want of a device.
const notConnected = "the device is not connected"

// writeLedger writes queued records in batches until the channel closes.
func (b *Broker) writeLedger(ch <-chan kumo.DeliveryRecord) {
	defer b.ledgerDone.Done()
	tick := time.NewTicker(ledgerFlush)
	defer tick.Stop()
	batch := make([]kumo.DeliveryRecord, 0, ledgerBatch)
	flush := func() {
		if len(batch) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := b.Ledger.RecordDeliveries(ctx, batch); err != nil {
			b.Log.Warn("delivery ledger: records not written", "records", len(batch), "error", err)
		}
		cancel()
		batch = batch[:0]
		if lost := b.ledgerLost.Swap(0); lost > 0 {
			b.Log.Warn("delivery ledger: records dropped, too many waiting", "records", lost)
		}
	}
	for {
		select {
		case r, ok := <-ch:
			if !ok {
				flush()
				return
			}
			batch = append(batch, r)
			if len(batch) == ledgerBatch {
				flush()
			}
		case <-tick.C:
			flush()
		}
	}
}
