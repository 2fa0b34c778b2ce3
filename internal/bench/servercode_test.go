package bench

import (
	"context"
	"testing"
	"time"
)

// TestMeasureCPU checks that a phase counts the process's CPU time and
// gives it per operation, and that medianCPU takes the median of phases.
func TestMeasureCPU(t *testing.T) {
	burn := func(context.Context) error { // ~1 ms of CPU per operation
		start := time.Now()
		for time.Since(start) < time.Millisecond {
		}
		return nil
	}
	p := measure(context.Background(), ServerCodeConfig{Concurrency: 1, Duration: 100 * time.Millisecond}, burn, func(err error) { t.Error(err) })
	if p.n == 0 || p.cpu <= 0 {
		t.Fatalf("phase = %+v; want operations and CPU time", p)
	}
	if got := p.cpuPerOp(); got <= 0 || got != float64(p.cpu.Microseconds())/float64(p.n) {
		t.Errorf("cpuPerOp() = %v for %v over %d operations", got, p.cpu, p.n)
	}
	if (phase{}).cpuPerOp() != 0 {
		t.Errorf("cpuPerOp() of no operation is not 0")
	}
	ps := []phase{{n: 1, cpu: 300 * time.Microsecond}, {n: 2, cpu: 200 * time.Microsecond}, {n: 1, cpu: 200 * time.Microsecond}}
	if got := medianCPU(ps); got != 200 {
		t.Errorf("medianCPU = %v; want 200 (of 300, 100, 200 µs)", got)
	}
}
