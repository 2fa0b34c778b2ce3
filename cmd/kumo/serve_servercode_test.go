package main

import (
	"flag"
	"io"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/kumo-iot/kumo/internal/servercode"
)

// server code: engine (issue 13). The --servercode-* flags make the
// engine's configuration.
func TestServerCodeFlags(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tests := []struct {
		args  []string
		hosts []string
		steps int
		time  time.Duration
		mem   int64
		pool  int
	}{
		{nil, nil, servercode.DefaultStepLimit, servercode.DefaultTimeLimit, servercode.DefaultMemoryLimit, servercode.DefaultPoolSize},
		{[]string{"--servercode-allow-hosts", " api.example.com, *.example.org ,", "--servercode-step-limit", "5000",
			"--servercode-time-limit", "5s", "--servercode-memory", "256", "--servercode-pool", "8"},
			[]string{"api.example.com", "*.example.org"}, 5000, 5 * time.Second, 256 << 20, 8},
		{[]string{"--servercode-memory", "0"}, nil, servercode.DefaultStepLimit, servercode.DefaultTimeLimit, -1, servercode.DefaultPoolSize},
	}
	for _, tt := range tests {
		var c config
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		c.flags(fs)
		if err := fs.Parse(tt.args); err != nil {
			t.Fatalf("%v: %v", tt.args, err)
		}
		got := c.serverCodeConfig(log)
		if !reflect.DeepEqual(got.AllowHosts, tt.hosts) || got.StepLimit != tt.steps || got.TimeLimit != tt.time ||
			got.MemoryLimit != tt.mem || got.PoolSize != tt.pool || got.Log == nil {
			t.Errorf("%v: config %+v", tt.args, got)
		}
	}
}
