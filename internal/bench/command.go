package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"
)

// Media types of the Thing-IF API that "kumo bench command" uses.
const (
	userRegistrationType  = "application/vnd.kii.RegistrationAndAuthorizationRequest+json"
	onboardingByOwnerType = "application/vnd.kii.OnboardingWithVendorThingIDByOwner+json"
	commandCreationType   = "application/vnd.kii.CommandCreationRequest+json"
	commandResultsType    = "application/vnd.kii.CommandResultsUpdateRequest+json"
)

// commandIDKey is the key of the commandID member, quoted.
var commandIDKey = []byte(`"commandID"`)

// CommandResult is the outcome of RunCommand; its JSON form is the one
// line "kumo bench command" prints. The first six keys are those of
// Result, for the whole round trip of a command.
type CommandResult struct {
	// CommandsPerS is the number of commands whose round trip completed
	// (created, pushed to the device, its action results answered over
	// REST over MQTT), per second of the load phase.
	CommandsPerS float64 `json:"commands_per_s"`
	// P50, P99 and Max are round-trip latencies: from just before the
	// command's POST to the arrival, at the device, of the answer to its
	// action results.
	P50 Millis `json:"p50_ms"`
	P99 Millis `json:"p99_ms"`
	Max Millis `json:"max_ms"`
	// Lost is the number of created commands whose round trip did not
	// complete (no push, no answer, or an answer that is not a success).
	Lost    int64   `json:"lost"`
	RSSMiB  float64 `json:"rss_mib"`
	RSSNote string  `json:"rss_note,omitempty"`

	// PushP50 and PushP99 are the latencies from the POST to the
	// command's push; PushLost the created commands never pushed.
	PushP50  Millis `json:"push_p50_ms"`
	PushP99  Millis `json:"push_p99_ms"`
	PushLost int64  `json:"push_lost"`
	// Created is the number of commands created (HTTP 201), Errors the
	// creations that failed, ResultErrors the action-result answers that
	// were not a success (FirstResultError describes the first).
	Created          int64  `json:"created"`
	Errors           int64  `json:"errors"`
	ResultErrors     int64  `json:"result_errors"`
	FirstError       string `json:"first_error,omitempty"`
	FirstResultError string `json:"first_result_error,omitempty"`
	// Duplicates counts the pushes and answers beyond the first of a
	// command.
	Duplicates      int64 `json:"duplicates"`
	MQTTDisconnects int64 `json:"mqtt_disconnects"`

	Things      int     `json:"things"`
	Concurrency int     `json:"concurrency"`
	Rate        float64 `json:"rate"`
	DurationS   float64 `json:"duration_s"`

	// Objects is the object → push run of "kumo bench" in the same run,
	// with the same devices, workers and pacing, just before the
	// commands; VsObjects is CommandsPerS over its objects/s.
	Objects   Result  `json:"objects"`
	VsObjects float64 `json:"commands_vs_objects"`
}

// commandRun is the state of one RunCommand.
type commandRun struct {
	*runner
	ownerID, ownerToken string
	pushes              *tracker // command → its push
	done                *tracker // command → the answer to its action results
	resultErrors        atomic.Int64
	firstResultError    atomic.Pointer[string]
}

// RunCommand onboards cfg.Things things for an owner, connects each over
// MQTT and measures, for cfg.Duration each with the same workers and
// pacing, first objects and their pushes (as Run does), then the
// owner's commands: each is POSTed, pushed to its thing, and the thing
// answers with its action results over REST over MQTT; the round trip
// ends when that answer reaches the thing. It disconnects every device
// before it returns.
func RunCommand(ctx context.Context, cfg Config) (CommandResult, error) {
	if err := cfg.check(); err != nil {
		return CommandResult{}, err
	}
	if cfg.Drain <= 0 {
		cfg.Drain = DefaultDrain
	}
	r := &commandRun{runner: newRunner(cfg, max(cfg.Concurrency, setupWorkers)), pushes: newTracker(), done: newTracker()}
	defer r.close()

	adminToken, err := r.api.adminToken(ctx, cfg.ClientID, cfg.ClientSecret)
	if err != nil {
		return CommandResult{}, err
	}
	runID := newRunID()
	r.ownerID, r.ownerToken, err = r.api.registerUser(ctx, "bench-owner-"+runID, thingPassword)
	if err != nil {
		return CommandResult{}, err
	}
	s := r.newDeviceSetup(adminToken)
	s.owner = r
	devices, disconnect, err := r.connect(ctx, s)
	if err != nil {
		return CommandResult{}, err
	}
	defer disconnect()

	// Objects first: the object → push figures of the same run.
	runtime.GC()
	elapsed := r.load(ctx, devices)
	if ctx.Err() != nil {
		return CommandResult{}, interrupted(ctx)
	}
	if r.drain(ctx) != nil {
		return CommandResult{}, interrupted(ctx)
	}
	objects := r.result(elapsed)
	r.progress.printf("objects: %.1f objects/s with their push; p50 %.3f ms, p99 %.3f ms; %d lost",
		objects.ObjectsPerS, float64(objects.P50), float64(objects.P99), objects.Lost)

	// Then the commands, with the same devices, workers and pacing.
	c := &runner{cfg: cfg, api: r.api, apis: r.apis, tracker: r.done, progress: r.progress, what: "commands"}
	c.send = func(p *objectPoster, d *device, i int64, t0 time.Time) (string, error) {
		id, err := p.send(d.commands, d.commandBody, commandIDKey)
		if err == nil {
			r.pushes.ack(id, t0)
		}
		return id, err
	}
	runtime.GC()
	elapsed = c.load(ctx, devices)
	if ctx.Err() != nil {
		return CommandResult{}, interrupted(ctx)
	}
	if c.drain(ctx) != nil {
		return CommandResult{}, interrupted(ctx)
	}
	cmds := c.result(elapsed)
	res := CommandResult{
		CommandsPerS: cmds.ObjectsPerS, P50: cmds.P50, P99: cmds.P99, Max: cmds.Max, Lost: cmds.Lost, RSSMiB: cmds.RSSMiB,
		Created: cmds.Acked, Errors: cmds.Errors, FirstError: cmds.FirstError,
		ResultErrors: r.resultErrors.Load(),
		Duplicates:   cmds.Duplicates + r.pushes.counts().duplicates,
		// The devices report their drops to r, in both phases.
		MQTTDisconnects: r.disconnects.Load(),
		Things:          cfg.Things, Concurrency: cfg.Concurrency, Rate: cfg.Rate, DurationS: cmds.DurationS,
		Objects: objects,
	}
	pc := r.pushes.counts()
	res.PushLost = pc.acked - pc.delivered
	lat := r.pushes.sortedLatencies()
	res.PushP50, res.PushP99 = ms(percentile(lat, 50)), ms(percentile(lat, 99))
	if p := r.firstResultError.Load(); p != nil {
		res.FirstResultError = *p
	}
	if objects.ObjectsPerS > 0 {
		res.VsObjects = round(res.CommandsPerS/objects.ObjectsPerS, 3)
	}
	return res, nil
}

// commandOwner is what a device of a command run needs of the run.
type commandOwner interface {
	// owner returns the owner's user ID and token.
	owner() (id, token string)
	// publish handles a PUBLISH that device d received at at, and returns
	// the action results to publish when it is a command.
	publish(d *device, topic, payload []byte, at time.Time) (replyTopic, reply []byte)
}

func (r *commandRun) owner() (string, string) { return r.ownerID, r.ownerToken }

// publish handles what a device receives: the push of an object (for the
// objects phase), the push of a command (answered with its action
// results over REST over MQTT), or the answer to those results.
func (r *commandRun) publish(d *device, topic, payload []byte, at time.Time) ([]byte, []byte) {
	if string(topic) != d.mqttTopic {
		r.answer(payload, at)
		return nil, nil
	}
	if id, ok := createdObjectID(payload); ok {
		r.tracker.push(id, at)
		return nil, nil
	}
	id, ok := stringField(payload, commandIDKey)
	if !ok || len(id) == 0 {
		return nil, nil // some other push
	}
	r.pushes.push(id, at)
	// The action results, as a REST-over-MQTT request whose request ID is
	// the command's ID.
	d.replyTopic = append(append(d.replyTopic[:0], d.resultsPrefix...), id...)
	d.replyTopic = append(d.replyTopic, "/action-results"...)
	d.reply = append(append(d.reply[:0], d.resultsHead...), id...)
	d.reply = append(d.reply, "\r\n\r\n"...)
	d.reply = append(d.reply, actionResults...)
	return d.replyTopic, d.reply
}

// answer records the answer to a REST-over-MQTT request: its status line,
// then headers, one of which echoes the request ID (the command's).
func (r *commandRun) answer(payload []byte, at time.Time) {
	status, id := parseAnswer(payload)
	if status < 200 || status > 299 || len(id) == 0 {
		if r.resultErrors.Add(1) == 1 {
			msg := fmt.Sprintf("action results answered: %s", snippet(payload))
			r.firstResultError.Store(&msg)
			r.progress.printf("%s", msg)
		}
		return
	}
	r.done.push(id, at)
}

// parseAnswer reads a REST-over-MQTT answer: "{status}\r\n{Name}:{value}\r\n…\r\n\r\n{body}"
// (LF alone accepted). It returns the status (0 when unreadable) and the
// value of X-Kii-RequestID, which aliases payload.
func parseAnswer(payload []byte) (status int, requestID []byte) {
	head := payload
	if i := bytes.Index(head, []byte("\n\n")); i >= 0 {
		head = head[:i]
	}
	if i := bytes.Index(head, []byte("\r\n\r\n")); i >= 0 {
		head = head[:i]
	}
	first := true
	for len(head) > 0 {
		line := head
		if i := bytes.IndexByte(head, '\n'); i >= 0 {
			line, head = head[:i], head[i+1:]
		} else {
			head = nil
		}
		line = bytes.TrimRight(line, "\r")
		if first {
			first = false
			n, err := strconv.Atoi(string(bytes.TrimSpace(line)))
			if err != nil {
				return 0, nil
			}
			status = n
			continue
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if ok && bytes.EqualFold(bytes.TrimSpace(name), []byte("X-Kii-RequestID")) {
			requestID = bytes.TrimSpace(value)
		}
	}
	return status, requestID
}

// actionResults is the body of every device's action results: the action
// of commandBody succeeded.
const actionResults = `{"actionResults":[{"benchAlias":[{"turnPower":{"succeeded":true}}]}]}`

// appendCommandBody appends the body of a command to b: one trait action,
// issued by the owner.
func appendCommandBody(b []byte, ownerID string) []byte {
	b = append(b, `{"issuer":"user:`...)
	b = append(b, ownerID...)
	return append(b, `","actions":[{"benchAlias":[{"turnPower":true}]}]}`...)
}

// setupCommandDevice onboards the thing vendorThingID for the owner (which
// creates its MQTT installation), subscribes it to its own bucket and
// connects its MQTT client, which answers each command push with the
// command's action results over REST over MQTT.
func (s *deviceSetup) setupCommandDevice(ctx context.Context, vendorThingID string, i int) (*device, error) {
	home, writer := s.api, s.api
	if n := len(s.apis); n > 1 {
		home, writer = s.apis[i%n], s.apis[(i+1)%n]
	}
	ownerID, ownerToken := s.owner.owner()
	ob, err := home.onboardByOwner(ctx, ownerToken, ownerID, vendorThingID, thingPassword)
	if err != nil {
		return nil, err
	}
	d := &device{mqttTopic: ob.MQTTEndpoint.MQTTTopic}
	if d.objects, err = writer.objectTarget(ob.AccessToken, ob.ThingID, bucketName); err != nil {
		return nil, fmt.Errorf("thing %s: %w", ob.ThingID, err)
	}
	u, err := url.Parse(writer.thingIF + "/targets/thing:" + ob.ThingID + "/commands")
	if err != nil {
		return nil, err
	}
	if d.commands, err = newPostTarget(u, ownerToken, commandCreationType); err != nil {
		return nil, fmt.Errorf("thing %s: %w", ob.ThingID, err)
	}
	d.commandBody = appendCommandBody(nil, ownerID)
	d.resultsPrefix = []byte("p/" + ob.MQTTEndpoint.MQTTTopic + "/thing-if/apps/" + s.appID + "/targets/thing:" + ob.ThingID + "/commands/")
	d.resultsHead = []byte("PUT\r\nAuthorization: Bearer " + ob.AccessToken + "\r\nContent-Type: " + commandResultsType + "\r\nX-Kii-RequestID: ")
	if err := s.api.subscribeOwnBucket(ctx, ob.AccessToken, ob.ThingID, bucketName); err != nil {
		return nil, fmt.Errorf("thing %s: %w", ob.ThingID, err)
	}
	ep := ob.MQTTEndpoint
	host, port := ep.Host, ep.PortTCP
	if s.mqttHost != "" {
		host = s.mqttHost
	}
	if s.mqttPort != 0 {
		port = s.mqttPort
	}
	if host == "" || port == 0 {
		return nil, fmt.Errorf("thing %s: the onboarding's mqttEndpoint has no TCP host or port (host %q, portTCP %d)", ob.ThingID, host, port)
	}
	handle := func(topic, payload []byte) ([]byte, []byte) {
		return s.owner.publish(d, topic, payload, time.Now())
	}
	if d.mqtt, err = dialDeviceTopics(ctx, net.JoinHostPort(host, strconv.Itoa(port)), ep.MQTTTopic, ep.Username, ep.Password, handle, s.onLost); err != nil {
		return nil, fmt.Errorf("thing %s: %w", ob.ThingID, err)
	}
	return d, nil
}

// registerUser registers a user and returns its ID and access token.
func (c *apiClient) registerUser(ctx context.Context, loginName, password string) (id, token string, err error) {
	body, err := json.Marshal(map[string]string{"loginName": loginName, "password": password})
	if err != nil {
		return "", "", err
	}
	var out struct {
		UserID      string `json:"userID"`
		AccessToken string `json:"_accessToken"`
	}
	if err := c.do(ctx, http.MethodPost, "/users", "", userRegistrationType, body, http.StatusCreated, &out); err != nil {
		return "", "", fmt.Errorf("register the owner %s: %w", loginName, err)
	}
	if out.UserID == "" || out.AccessToken == "" {
		return "", "", fmt.Errorf("register the owner %s: no userID or _accessToken in the answer", loginName)
	}
	return out.UserID, out.AccessToken, nil
}

// onboarding is the part of an onboarding's answer the driver uses.
type onboarding struct {
	ThingID      string   `json:"thingID"`
	AccessToken  string   `json:"accessToken"`
	MQTTEndpoint endpoint `json:"mqttEndpoint"`
}

// onboardByOwner onboards the thing vendorThingID with the owner's token,
// the owner becoming its owner.
func (c *apiClient) onboardByOwner(ctx context.Context, ownerToken, ownerID, vendorThingID, password string) (onboarding, error) {
	body, err := json.Marshal(map[string]string{"vendorThingID": vendorThingID, "thingPassword": password, "owner": "user:" + ownerID})
	if err != nil {
		return onboarding{}, err
	}
	var out onboarding
	if err := c.doURL(ctx, http.MethodPost, c.thingIF+"/onboardings", ownerToken, onboardingByOwnerType, body, http.StatusOK, &out); err != nil {
		return onboarding{}, fmt.Errorf("onboard %s: %w", vendorThingID, err)
	}
	if out.ThingID == "" || out.AccessToken == "" || out.MQTTEndpoint.MQTTTopic == "" || out.MQTTEndpoint.Username == "" {
		return onboarding{}, fmt.Errorf("onboard %s: no thingID, accessToken, or mqttEndpoint with mqttTopic and username in the answer", vendorThingID)
	}
	return out, nil
}
