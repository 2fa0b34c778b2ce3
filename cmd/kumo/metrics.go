package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/sqlstore"
)

// metricsServer serves this node's metrics in Prometheus's text format at
// GET /metrics on --metrics-addr (off by default: an operator's port, not
// the public API's).
type metricsServer struct {
	ln  net.Listener
	srv *http.Server
}

// deliveryStates are the states the ledger counts, in a stable order.
var deliveryStates = []kumo.DeliveryState{kumo.DeliveryQueued, kumo.DeliverySent, kumo.DeliveryFailed, kumo.DeliveryExpired, kumo.DeliveryDropped}

func startMetrics(addr, nodeID string, db *sqlstore.Store, log *slog.Logger) (*metricsServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		counts := db.Ledger.DeliveryCounts()
		fmt.Fprintln(w, "# HELP kumo_push_deliveries_total Pushes to installations recorded in the delivery ledger by this node, by state.")
		fmt.Fprintln(w, "# TYPE kumo_push_deliveries_total counter")
		states := slices.Clone(deliveryStates)
		for s := range counts {
			if !slices.Contains(states, s) {
				states = append(states, s)
			}
		}
		for _, s := range states {
			fmt.Fprintf(w, "kumo_push_deliveries_total{node=%q,state=%q} %d\n", nodeID, s, counts[s])
		}
	})
	m := &metricsServer{ln: ln, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}
	go func() {
		if err := m.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "error", err)
		}
	}()
	return m, nil
}

func (m *metricsServer) Close() error { return m.srv.Close() }
