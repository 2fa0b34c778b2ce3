package broker

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kumo-iot/kumo"
)

// writes is a kumo.DeliveryLedger that keeps the size of every write,
// and whether it came unhurried.
type writes struct {
	kumo.DeliveryLedger // Deliveries: not called
	mu                  sync.Mutex
	sizes               []int
	unhurried           []bool
}

func (w *writes) RecordDeliveries(ctx context.Context, rs []kumo.DeliveryRecord) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.sizes = append(w.sizes, len(rs))
	w.unhurried = append(w.unhurried, kumo.IsUnhurried(ctx))
	return nil
}

func (w *writes) total() (int, []int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, s := range w.sizes {
		n += s
	}
	return n, slices.Clone(w.sizes)
}

// TestLedgerWrites checks that the writer writes every record: a few at
// its tick, a full batch at once, the rest at close; unhurried (the store
// may pace them) except the last write, at close.
func TestLedgerWrites(t *testing.T) {
	w := &writes{}
	b := &Broker{Ledger: w, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	b.ledger.open()
	go b.writeLedger()
	add := func(n int) {
		for range n {
			b.ledger.add(kumo.DeliveryRecord{AppID: "a", MQTTTopic: "t", State: kumo.DeliverySent})
		}
	}
	waitFor := func(want int) []int {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			n, sizes := w.total()
			if n == want {
				return sizes
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d records written (writes %v); want %d", n, sizes, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	add(100) // a calm second: written at the next tick
	waitFor(100)
	add(ledgerBatch) // a full batch wakes the writer
	waitFor(100 + ledgerBatch)
	add(50)
	b.ledger.close() // the rest at once
	b.ledger.wait()
	n, sizes := w.total()
	if n != 100+ledgerBatch+50 {
		t.Errorf("%d records written in all (writes %v); want %d", n, sizes, 100+ledgerBatch+50)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	last := len(w.unhurried) - 1
	for i, u := range w.unhurried {
		if u != (i != last) {
			t.Errorf("write %d of %v unhurried %v; want every write but the last (at close) unhurried", i, sizes, u)
		}
	}
}
