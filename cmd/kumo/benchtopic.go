package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/bench"
	"github.com/kumo-iot/kumo/internal/broker"
)

// runBenchTopic runs "kumo bench topic": one app-scope topic with N
// subscribed MQTT devices, several sends to it, each fan-out timed from
// the send's 201 to the last delivery, next to raw broker fan-outs of the
// same payload size in the same run (in-process server only). Progress
// goes to stderr, one line of JSON to stdout.
func runBenchTopic(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("kumo bench topic", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := bench.TopicConfig{Progress: stderr}
	fs.IntVar(&cfg.Things, "things", 5000, "devices to register, connect over MQTT and subscribe to the topic")
	fs.IntVar(&cfg.Sends, "sends", 5, "messages sent to the topic, one at a time (each after the previous fan-out)")
	fs.DurationVar(&cfg.Deadline, "deadline", bench.DefaultTopicDeadline, "how long a fan-out may take before the devices without it count as lost")
	baseline := fs.Bool("baseline", true, "without --url: before each send, fan the same payload size out through the in-process broker directly (the raw broker baseline)")
	fs.StringVar(&cfg.BaseURL, "url", "", "base URL of the server to measure (default: start a server in this process); no baseline then")
	fs.StringVar(&cfg.AppID, "app-id", "", "with --url: the app ID")
	fs.StringVar(&cfg.ClientID, "client-id", "", "with --url: the app's client ID")
	fs.StringVar(&cfg.ClientSecret, "client-secret", "", "with --url: the app's client secret")
	fs.StringVar(&cfg.MQTTHost, "mqtt-host", "", "with --url: MQTT host to connect to instead of the one of the mqtt-endpoint answers")
	iterations := fs.Int("password-iterations", benchIterations, "without --url: PBKDF2 iterations of the in-process server")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file")
	memProfile := fs.String("memprofile", "", "write an allocation profile of the run to this file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	stopProfiles, err := startProfiles(*cpuProfile, *memProfile)
	if err != nil {
		return err
	}
	defer stopProfiles()

	var rssNote string
	if cfg.BaseURL == "" {
		if cfg.AppID != "" || cfg.ClientID != "" || cfg.ClientSecret != "" || cfg.MQTTHost != "" {
			return errors.New("--app-id, --client-id, --client-secret and --mqtt-host need --url")
		}
		tuneGC() // as kumo serve does
		n, cleanup, err := startBenchNode(ctx, *iterations, stderr)
		if err != nil {
			return err
		}
		defer func() {
			fmt.Fprintln(stderr, "bench: stopping the in-process server")
			if err := cleanup(); err != nil {
				fmt.Fprintln(stderr, "bench: stopping the in-process server:", err)
			}
		}()
		creds, err := n.db.CreateApp(ctx, kumo.AppCreate{Name: "bench"})
		if err != nil {
			return fmt.Errorf("create the bench app: %w", err)
		}
		cfg.BaseURL, cfg.AppID, cfg.ClientID, cfg.ClientSecret = n.baseURL, creds.AppID, creds.ClientID, creds.ClientSecret
		if u, err := url.Parse(n.baseURL); err == nil {
			cfg.MQTTHost = u.Hostname()
		}
		cfg.MQTTPort = n.broker.Port(broker.TCP)
		if *baseline {
			cfg.RawPublish = rawPublish(n.broker)
		}
		rssNote = "VmRSS of the kumo bench process: the in-process server and the MQTT clients together"
	} else {
		if cfg.AppID == "" || cfg.ClientID == "" || cfg.ClientSecret == "" {
			return errors.New("--url needs --app-id, --client-id and --client-secret")
		}
		rssNote = "VmRSS of the kumo bench process: the MQTT clients only, not the server at --url"
	}

	start := time.Now()
	res, err := bench.RunTopic(ctx, cfg)
	if err != nil {
		return err
	}
	res.RSSNote = rssNote
	fmt.Fprintf(stderr, "bench: topic fan-out to %d devices: %.0f deliveries/s (last delivery %.3f ms after the 201); raw broker %.0f deliveries/s (%.3f ms); ratio %.3f; %d lost, %d duplicates (medians of %d sends; %.1fs in all)\n",
		res.Things, res.DeliveriesPerS, float64(res.FanoutMs), res.BaselinePerS, float64(res.BaselineMs), res.VsBaseline,
		res.Lost, res.Duplicates, res.Sends, time.Since(start).Seconds())
	line, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("encode the result: %w", err)
	}
	_, err = fmt.Fprintf(stdout, "%s\n", line)
	return err
}

// rawPublish publishes a payload to devices' MQTT topics through b
// directly, as the push flow's last step does, with nothing before it:
// the raw broker fan-out of the baseline.
func rawPublish(b *broker.Broker) func(topics []string, payload []byte) {
	return func(topics []string, payload []byte) {
		for _, t := range topics {
			b.Deliver(kumo.Delivery{Topic: t, Payload: payload})
		}
	}
}
