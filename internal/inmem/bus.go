// Package inmem is the bus of a single node: deliveries go straight to the
// local broker.
package inmem

import (
	"context"
	"sync"

	"github.com/kumo-iot/kumo"
)

// Bus is an in-memory push.Bus.
type Bus struct {
	mu      sync.RWMutex // guards handler
	handler func(kumo.Delivery)
}

// Handle sets the function that receives every delivery (the broker's
// Deliver).
func (b *Bus) Handle(fn func(kumo.Delivery)) {
	b.mu.Lock()
	b.handler = fn
	b.mu.Unlock()
}

// Publish implements push.Bus.
func (b *Bus) Publish(_ context.Context, ds []kumo.Delivery) error {
	b.mu.RLock()
	fn := b.handler
	b.mu.RUnlock()
	if fn == nil {
		return nil
	}
	for _, d := range ds {
		fn(d)
	}
	return nil
}
