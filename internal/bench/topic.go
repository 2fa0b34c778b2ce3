package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// DefaultTopicDeadline is how long, by default, a fan-out may take before
// the devices still without it count as lost.
const DefaultTopicDeadline = 30 * time.Second

// sendMessageType is the media type of a push message.
const sendMessageType = "application/vnd.kii.SendPushMessageRequest+json"

// roundKey is the data key, quoted, that names the round of a push: "t3"
// for the third topic send, "b3" for the third baseline fan-out, "w" for
// the warm-up send.
var roundKey = []byte(`"benchRound"`)

// TopicConfig is what RunTopic needs.
type TopicConfig struct {
	// BaseURL, AppID, ClientID, ClientSecret, MQTTHost and MQTTPort are
	// as in Config.
	BaseURL                       string
	AppID, ClientID, ClientSecret string
	MQTTHost                      string
	MQTTPort                      int

	// Things is how many devices subscribe to the topic.
	Things int
	// Sends is how many messages are sent to the topic, one at a time.
	Sends int
	// Deadline is how long a fan-out may take before the devices still
	// without it count as lost (default DefaultTopicDeadline).
	Deadline time.Duration
	// RawPublish, when set, publishes payload to each of topics (devices'
	// MQTT topics) directly through the server's broker, with nothing of
	// the push flow in between: the same-run baseline. Nil skips it.
	RawPublish func(topics []string, payload []byte)

	// Progress receives human-readable progress lines; nil discards them.
	Progress io.Writer
}

// TopicResult is the outcome of RunTopic; its JSON form is the one line
// "kumo bench topic" prints. Figures are medians over the sends.
type TopicResult struct {
	// DeliveriesPerS is Things over FanoutMs.
	DeliveriesPerS float64 `json:"deliveries_per_s"`
	// FanoutMs is the time from the send's 201 to the last device's
	// delivery.
	FanoutMs Millis `json:"fanout_ms"`
	// Lost is the number of (send, device) pairs without a delivery at the
	// deadline, over all sends; Duplicates the deliveries beyond the first.
	Lost       int64 `json:"lost"`
	Duplicates int64 `json:"duplicates"`
	// BaselinePerS is Things over BaselineMs: the raw broker's fan-out,
	// and VsBaseline is DeliveriesPerS over it (absent without baseline).
	BaselinePerS float64 `json:"baseline_deliveries_per_s,omitempty"`
	BaselineMs   Millis  `json:"baseline_ms,omitempty"`
	VsBaseline   float64 `json:"topic_vs_baseline,omitempty"`
	BaselineLost int64   `json:"baseline_lost"`

	// PostToLastMs is the time from sending the POST to the last delivery,
	// and SendMs the POST's round trip (deliveries may start before it
	// ends).
	PostToLastMs Millis `json:"post_to_last_ms"`
	SendMs       Millis `json:"send_ms"`
	// PayloadBytes is the size of a delivered payload.
	PayloadBytes int `json:"payload_bytes"`

	Things          int     `json:"things"`
	Sends           int     `json:"sends"`
	MQTTDisconnects int64   `json:"mqtt_disconnects"`
	RSSMiB          float64 `json:"rss_mib"`
	RSSNote         string  `json:"rss_note,omitempty"`
	// Rounds lists every send and baseline fan-out, in order.
	Rounds []TopicRound `json:"rounds"`
}

// TopicRound is one fan-out: a send to the topic or a raw broker
// fan-out.
type TopicRound struct {
	Kind           string  `json:"kind"` // "topic" or "baseline"
	FanoutMs       Millis  `json:"fanout_ms"`
	DeliveriesPerS float64 `json:"deliveries_per_s"`
	Lost           int64   `json:"lost"`
	PostToLastMs   Millis  `json:"post_to_last_ms,omitempty"`
	SendMs         Millis  `json:"send_ms,omitempty"`
}

// fanout records the arrivals of one round's pushes.
type fanout struct {
	arrived []atomic.Int64 // per device: arrival, in ns after the run's base; 0 before
	count   atomic.Int64   // devices reached
	dups    atomic.Int64   // deliveries beyond the first
	done    chan struct{}  // closed when every device is reached
}

// topicRun is the state of one RunTopic.
type topicRun struct {
	*runner
	tcfg      TopicConfig
	base      time.Time
	rounds    map[string]*fanout     // by round name; filled before any device connects
	payload   atomic.Pointer[[]byte] // a copy of the first payload received
	unmatched atomic.Int64           // pushes of no current round
}

// RunTopic sets up cfg.Things devices subscribed to one app-scope topic,
// sends cfg.Sends messages to it one at a time and measures each fan-out,
// next to as many raw broker fan-outs (when cfg.RawPublish is set) of the
// same payload size, interleaved with the sends. It disconnects every
// device before it returns.
func RunTopic(ctx context.Context, cfg TopicConfig) (TopicResult, error) {
	if cfg.Deadline <= 0 {
		cfg.Deadline = DefaultTopicDeadline
	}
	base := Config{
		BaseURL: cfg.BaseURL, AppID: cfg.AppID, ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret,
		MQTTHost: cfg.MQTTHost, MQTTPort: cfg.MQTTPort, Things: cfg.Things, Progress: cfg.Progress,
	}
	if err := base.checkDevices(); err != nil {
		return TopicResult{}, err
	}
	if cfg.Sends < 1 {
		return TopicResult{}, fmt.Errorf("bench: sends must be at least 1, not %d", cfg.Sends)
	}
	r := &topicRun{runner: newRunner(base, setupWorkers), tcfg: cfg, base: time.Now(), rounds: map[string]*fanout{}}
	defer r.close()

	adminToken, err := r.api.adminToken(ctx, cfg.ClientID, cfg.ClientSecret)
	if err != nil {
		return TopicResult{}, err
	}
	topic := "bench-" + newRunID()
	if err := r.api.createAppTopic(ctx, adminToken, topic); err != nil {
		return TopicResult{}, err
	}
	r.rounds["w"] = newFanout(cfg.Things)
	for k := 1; k <= cfg.Sends; k++ {
		r.rounds["t"+strconv.Itoa(k)] = newFanout(cfg.Things)
		if cfg.RawPublish != nil {
			r.rounds["b"+strconv.Itoa(k)] = newFanout(cfg.Things)
		}
	}
	s := r.newDeviceSetup(adminToken)
	s.topic, s.onPayload = topic, r.receive
	devices, disconnect, err := r.connect(ctx, s)
	if err != nil {
		return TopicResult{}, err
	}
	defer disconnect()
	res, err := r.measure(ctx, adminToken, topic, devices)
	if ctx.Err() != nil {
		return TopicResult{}, interrupted(ctx)
	}
	return res, err
}

// receive records a push to device i.
func (r *topicRun) receive(i int, payload []byte, at time.Time) {
	if r.payload.Load() == nil {
		p := bytes.Clone(payload)
		r.payload.CompareAndSwap(nil, &p)
	}
	name, _ := stringField(payload, roundKey)
	f := r.rounds[string(name)] // read-only once the devices are set up
	if f == nil {
		r.unmatched.Add(1)
		return
	}
	if !f.arrived[i].CompareAndSwap(0, int64(at.Sub(r.base))) {
		f.dups.Add(1)
		return
	}
	if f.count.Add(1) == int64(len(f.arrived)) {
		close(f.done)
	}
}

// measure runs the warm-up send, then, cfg.Sends times, a baseline
// fan-out (when configured) and a send to the topic.
func (r *topicRun) measure(ctx context.Context, adminToken, topic string, devices []*device) (TopicResult, error) {
	cfg := r.tcfg
	n := len(devices)
	sender := r.api.newTopicSender(topic, adminToken)
	r.progress.printf("warm-up: one send to topic %s, not counted", topic)
	if _, err := r.topicRound(ctx, sender, "w", n); err != nil {
		return TopicResult{}, err
	}
	p := r.payload.Load()
	if p == nil {
		return TopicResult{}, errors.New("the warm-up send reached no device")
	}
	size := len(*p)
	topics := make([]string, n)
	for i, d := range devices {
		topics[i] = d.mqttTopic
	}

	res := TopicResult{Things: n, Sends: cfg.Sends, PayloadBytes: size}
	var topicRates, baseRates []float64
	var fanouts, baseFanouts, postToLast, sendTimes []time.Duration
	for k := 1; k <= cfg.Sends; k++ {
		if cfg.RawPublish != nil {
			round, err := r.baselineRound(ctx, "b"+strconv.Itoa(k), n, topics, size)
			if err != nil {
				return TopicResult{}, err
			}
			res.BaselineLost += round.Lost
			baseRates = append(baseRates, round.DeliveriesPerS)
			baseFanouts = append(baseFanouts, time.Duration(float64(round.FanoutMs)*float64(time.Millisecond)))
			res.Rounds = append(res.Rounds, round)
			r.progress.printf("baseline %d/%d: %d deliveries in %.3f ms, %.0f deliveries/s, %d lost",
				k, cfg.Sends, int64(n)-round.Lost, float64(round.FanoutMs), round.DeliveriesPerS, round.Lost)
		}
		round, err := r.topicRound(ctx, sender, "t"+strconv.Itoa(k), n)
		if err != nil {
			return TopicResult{}, err
		}
		res.Lost += round.Lost
		topicRates = append(topicRates, round.DeliveriesPerS)
		fanouts = append(fanouts, millisDuration(round.FanoutMs))
		postToLast = append(postToLast, millisDuration(round.PostToLastMs))
		sendTimes = append(sendTimes, millisDuration(round.SendMs))
		res.Rounds = append(res.Rounds, round)
		r.progress.printf("send %d/%d: %d deliveries %.3f ms after the 201 (%.3f ms after the POST), %.0f deliveries/s, %d lost",
			k, cfg.Sends, int64(n)-round.Lost, float64(round.FanoutMs), float64(round.PostToLastMs), round.DeliveriesPerS, round.Lost)
	}
	for _, f := range r.rounds {
		res.Duplicates += f.dups.Load()
	}
	res.DeliveriesPerS = round(medianFloat(topicRates), 1)
	res.FanoutMs = ms(medianDuration(fanouts))
	res.PostToLastMs = ms(medianDuration(postToLast))
	res.SendMs = ms(medianDuration(sendTimes))
	if len(baseRates) > 0 {
		res.BaselinePerS = round(medianFloat(baseRates), 1)
		res.BaselineMs = ms(medianDuration(baseFanouts))
		if res.BaselinePerS > 0 {
			res.VsBaseline = round(res.DeliveriesPerS/res.BaselinePerS, 3)
		}
	}
	res.MQTTDisconnects = r.disconnects.Load()
	if u := r.unmatched.Load(); u > 0 {
		r.progress.printf("%d pushes named no round of this run", u)
	}
	if rss, err := RSSMiB(); err == nil {
		res.RSSMiB = round(rss, 1)
	}
	return res, nil
}

// newFanout returns the fan-out of a round to n devices.
func newFanout(n int) *fanout {
	return &fanout{arrived: make([]atomic.Int64, n), done: make(chan struct{})}
}

// wait waits until every device is reached or the deadline passes, and
// returns the last arrival and how many devices were not reached.
func (r *topicRun) wait(ctx context.Context, f *fanout) (last time.Time, lost int64, err error) {
	t := time.NewTimer(r.tcfg.Deadline)
	defer t.Stop()
	select {
	case <-f.done:
	case <-t.C:
	case <-ctx.Done():
		return time.Time{}, 0, ctx.Err()
	}
	var max int64
	for i := range f.arrived {
		a := f.arrived[i].Load()
		if a == 0 {
			lost++
		}
		if a > max {
			max = a
		}
	}
	return r.base.Add(time.Duration(max)), lost, nil
}

// topicRound sends one message to the topic and measures its fan-out.
func (r *topicRun) topicRound(ctx context.Context, s *topicSender, name string, n int) (TopicRound, error) {
	f := r.rounds[name]
	posted := time.Now()
	acked, err := s.send(ctx, name)
	if err != nil {
		return TopicRound{}, err
	}
	last, lost, err := r.wait(ctx, f)
	if err != nil {
		return TopicRound{}, err
	}
	fan := last.Sub(acked)
	if fan <= 0 {
		// Every push arrived before the 201 was read (a small fleet): the
		// fan-out is timed from the POST instead.
		fan = last.Sub(posted)
	}
	return TopicRound{
		Kind: "topic", FanoutMs: ms(fan), DeliveriesPerS: perS(n, fan), Lost: lost,
		PostToLastMs: ms(last.Sub(posted)), SendMs: ms(acked.Sub(posted)),
	}, nil
}

// baselineRound publishes a payload of size bytes to every device's
// MQTT topic through RawPublish and measures the fan-out from the first
// publish call.
func (r *topicRun) baselineRound(ctx context.Context, name string, n int, topics []string, size int) (TopicRound, error) {
	payload := baselinePayload(name, size)
	f := r.rounds[name]
	start := time.Now()
	r.tcfg.RawPublish(topics, payload)
	last, lost, err := r.wait(ctx, f)
	if err != nil {
		return TopicRound{}, err
	}
	fan := last.Sub(start)
	return TopicRound{Kind: "baseline", FanoutMs: ms(fan), DeliveriesPerS: perS(n, fan), Lost: lost}, nil
}

// baselinePayload is a flat JSON object naming round name, padded to
// size bytes when it is shorter.
func baselinePayload(name string, size int) []byte {
	b := []byte(`{"benchRound":"` + name + `","pad":"`)
	for len(b)+2 < size {
		b = append(b, 'x')
	}
	return append(b, '"', '}')
}

// perS is n deliveries over d, per second; 0 when d is not positive.
func perS(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return round(float64(n)/d.Seconds(), 1)
}

// millisDuration converts m back to a duration.
func millisDuration(m Millis) time.Duration {
	return time.Duration(float64(m) * float64(time.Millisecond))
}

// medianFloat returns the lower median of v (0 for none).
func medianFloat(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

// medianDuration returns the lower median of v (0 for none).
func medianDuration(v []time.Duration) time.Duration {
	s := slices.Clone(v)
	slices.Sort(s)
	return percentile(s, 50)
}

// topicSender sends push messages to one app-scope topic.
type topicSender struct {
	c     *apiClient
	url   string
	token string
}

// newTopicSender prepares sends to topic with the admin token.
func (c *apiClient) newTopicSender(topic, adminToken string) *topicSender {
	return &topicSender{c: c, url: c.app + "/topics/" + topic + "/push/messages", token: adminToken}
}

// send sends a message whose data names round, to MQTT only, and returns
// when its answer's status line arrived.
func (s *topicSender) send(ctx context.Context, round string) (time.Time, error) {
	body := `{"data":{"benchRound":"` + round + `"},"mqtt":{"enabled":true},"gcm":{"enabled":false},"apns":{"enabled":false}}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, strings.NewReader(body))
	if err != nil {
		return time.Time{}, err
	}
	req.Header.Set("Content-Type", sendMessageType)
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := s.c.http.Do(req)
	if err != nil {
		return time.Time{}, fmt.Errorf("send to the topic: %w", err)
	}
	acked := time.Now()
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusCreated {
		return time.Time{}, &statusError{method: req.Method, path: req.URL.Path, status: resp.StatusCode, body: snippet(b)}
	}
	return acked, nil
}
