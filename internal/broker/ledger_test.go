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

// writes is a kumo.DeliveryLedger that keeps the size of every write.
type writes struct {
	kumo.DeliveryLedger // Deliveries: not called
	mu                  sync.Mutex
	sizes               []int
}

func (w *writes) RecordDeliveries(_ context.Context, rs []kumo.DeliveryRecord) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.sizes = append(w.sizes, len(rs))
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

func TestLedgerWriteSize(t *testing.T) {
	for _, tc := range []struct {
		n     int
		open  bool
		size  int
		paced bool
	}{
		{1, true, ledgerSlice, true},
		{ledgerCalm, true, ledgerSlice, true},
		{ledgerCalm + 1, true, ledgerBatch, false},
		{10, false, ledgerBatch, false}, // the last flush, at close: no pauses
	} {
		size, paced := ledgerWriteSize(tc.n, tc.open)
		if size != tc.size || paced != tc.paced {
			t.Errorf("ledgerWriteSize(%d, %v) = %d, %v; want %d, %v", tc.n, tc.open, size, paced, tc.size, tc.paced)
		}
	}
}

// TestLedgerWrites checks that the writer writes every record: a few in
// paced slices, a backlog in big batches, the rest at close.
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

	add(100) // a calm second: slices of ledgerSlice
	for _, size := range waitFor(100) {
		if size > ledgerSlice {
			t.Errorf("100 records written with a write of %d; want slices of at most %d", size, ledgerSlice)
		}
	}
	add(ledgerBatch) // a backlog: written at full speed
	sizes := waitFor(100 + ledgerBatch)
	if slices.Max(sizes) <= ledgerCalm {
		t.Errorf("a full batch written as %v; want writes of more than %d", sizes, ledgerCalm)
	}
	add(50)
	b.ledger.close() // the rest at once, without pauses
	b.ledger.wait()
	n, sizes := w.total()
	if n != 100+ledgerBatch+50 {
		t.Errorf("%d records written in all (writes %v); want %d", n, sizes, 100+ledgerBatch+50)
	}
}
