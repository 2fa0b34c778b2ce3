package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
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
	var target benchTarget
	target.flags(fs, "base URL of the server to measure (default: start a server in this process); no baseline then")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	defer watchdog(stderr, benchLimit(cfg.Things, time.Duration(2*(cfg.Sends+1))*cfg.Deadline))()
	stop, err := target.start(ctx, stderr)
	if err != nil {
		return err
	}
	defer stop()
	cfg.BaseURL, cfg.AppID, cfg.ClientID, cfg.ClientSecret = target.BaseURL, target.AppID, target.ClientID, target.ClientSecret
	cfg.MQTTHost, cfg.MQTTPort = target.MQTTHost, target.MQTTPort
	rssNote := "VmRSS of the kumo bench process: the MQTT clients only, not the server at --url"
	if target.node != nil {
		if *baseline {
			cfg.RawPublish = rawPublish(target.node.broker)
		}
		rssNote = "VmRSS of the kumo bench process: the in-process server and the MQTT clients together"
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
