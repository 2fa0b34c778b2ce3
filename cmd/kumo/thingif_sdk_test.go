package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// thingIFMissing lists the Thing-IF features this server does not have
// yet, as the steps of testdata/jssdk/thingif_test.js name them
// ("thing-info", "command-alias-check", …): those steps are skipped, and
// the test says so. Every feature the script names is built.
var thingIFMissing = []string{}

// thingRESTOverMQTT says whether the simulated thing calls the REST API
// over MQTT (p/{clientID}/...), as devices do; over HTTP otherwise.
const thingRESTOverMQTT = true

// TestThingIFSDK drives the owner's side of Thing-IF with Kii's Thing-IF
// JavaScript SDK (npm thing-if 1.0.3, testdata/jssdk/thingif_test.js; the
// owner logs in with kii-cloud-sdk): onboarding, commands, states,
// triggers and the state history. The thing's side is this test: a real
// MQTT client with the onboarding's mqttEndpoint receives the command
// pushes and answers with action results and states. ./scripts/test
// installs both SDKs (npm ci) and sets KUMO_REQUIRE_NODE=1, so that a
// missing Node.js or SDK fails the test instead of skipping it.
func TestThingIFSDK(t *testing.T) { forEachStore(t, testThingIFSDK) }

func testThingIFSDK(t *testing.T, cfg config) {
	dir, err := filepath.Abs(filepath.Join("testdata", "jssdk"))
	if err != nil {
		t.Fatal(err)
	}
	node, err := exec.LookPath("node")
	_, sdkErr := os.Stat(filepath.Join(dir, "node_modules", "thing-if", "lib", "ThingIFSDK.js"))
	if err != nil || sdkErr != nil {
		msg := "Node.js or Kii's Thing-IF JS SDK is missing: run ./scripts/test (it runs npm ci in cmd/kumo/testdata/jssdk)"
		if os.Getenv("KUMO_REQUIRE_NODE") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	n := mustStartNodeConfig(t, cfg)
	configureAirConditioner(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "thingif_test.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "KUMO_URL="+n.base, "KUMO_APP_ID="+n.app.AppID, "KUMO_APP_KEY="+n.app.AppKey,
		"KUMO_THINGIF_SKIP="+strings.Join(thingIFMissing, ","))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	th := &sdkThing{t: t, n: n, answers: map[string]chan []byte{}}
	defer th.close()
	var skipped []string
	passed := false
	sc := bufio.NewScanner(stdout)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "FAIL"):
			t.Error(line)
		case strings.HasPrefix(line, "SKIP"):
			skipped = append(skipped, strings.TrimPrefix(line, "SKIP "))
			t.Log(line)
		case strings.HasPrefix(line, "ASK "):
			what, arg, _ := strings.Cut(strings.TrimPrefix(line, "ASK "), " ")
			t.Log("the SDK asks the thing: " + what)
			answer := "OK"
			if err := th.ask(what, []byte(arg)); err != nil {
				t.Errorf("the thing's side of %s: %v", what, err)
				answer = "ERR " + strings.ReplaceAll(err.Error(), "\n", " ")
			}
			if _, err := io.WriteString(stdin, answer+"\n"); err != nil {
				t.Errorf("answer the script: %v", err)
			}
		default:
			if strings.HasPrefix(line, "all steps passed") {
				passed = true
			}
			t.Log(line)
		}
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("node thingif_test.js: %v\nstderr:\n%s", err, stderr.String())
	}
	if !passed {
		t.Fatalf("the SDK script did not finish; stderr:\n%s", stderr.String())
	}
	if len(skipped) > 0 {
		t.Skipf("every step run passed, but %d were skipped because Kumo lacks %s: %s",
			len(skipped), strings.Join(thingIFMissing, ", "), strings.Join(skipped, "; "))
	}
}

// configureAirConditioner configures the app as the Thing-IF SDK's own
// tests expect it (thing type MyAirConditioner, firmware versions v1 and
// v2, alias AirConditionerAlias of the trait AirConditioner), with the
// admin's token, as Kii's tools do.
func configureAirConditioner(t *testing.T, n *testNode) {
	t.Helper()
	r := do(t, "POST", n.base+"/api/apps/"+n.app.AppID+"/oauth2/token",
		fmt.Sprintf(`{"grant_type":"client_credentials","client_id":%q,"client_secret":%q}`, n.app.ClientID, n.app.ClientSecret))
	wantStatus(t, r, 200)
	admin := []string{"Authorization", "Bearer " + r.Str(t, "access_token")}
	api, tif := n.base+"/api/apps/"+n.app.AppID, n.base+"/thing-if/apps/"+n.app.AppID
	wantStatus(t, do(t, "PUT", api+"/configuration/thing-types/MyAirConditioner", `{}`,
		append([]string{"Content-Type", "application/vnd.kii.ThingTypeConfigurationRequest+json"}, admin...)...), 201)
	wantStatus(t, do(t, "POST", tif+"/traits/AirConditioner/versions", `{"dataGroupingInterval":"15_MINUTES",`+
		`"actions":[{"turnPower":{"payloadSchema":{"type":"boolean"}}},{"setPresetTemperature":{"payloadSchema":{"type":"integer"}}}],`+
		`"states":[{"power":{"payloadSchema":{"type":"boolean"}}},{"presetTemperature":{"payloadSchema":{"type":"integer"}}},{"currentTemperature":{"payloadSchema":{"type":"integer"}}}]}`,
		append([]string{"Content-Type", "application/vnd.kii.TraitCreationRequest+json"}, admin...)...), 201)
	wantStatus(t, do(t, "PUT", tif+"/traits/AirConditioner/versions/1/finalize", "", admin...), 204)
	for _, fw := range []string{"v1", "v2"} {
		wantStatus(t, do(t, "PUT", api+"/configuration/thing-types/MyAirConditioner/firmware-versions/"+fw, "", admin...), 201)
		wantStatus(t, do(t, "PUT", tif+"/configuration/thing-types/MyAirConditioner/firmware-versions/"+fw+"/aliases/AirConditionerAlias",
			`{"trait":"AirConditioner","traitVersion":1}`, append([]string{"Content-Type", "application/vnd.kii.TraitAliasCreationRequest+json"}, admin...)...), 201)
	}
}

// sdkThing is the thing's side of TestThingIFSDK: an MQTT client with the
// onboarding's endpoint that executes each command: it uploads the state
// the actions lead to, then its action results (every action succeeds).
type sdkThing struct {
	t              *testing.T
	n              *testNode
	thingID, token string
	clientID       string
	client         paho.Client
	pushes         chan []byte
	done           sync.WaitGroup
	mu             sync.Mutex // the state, and one REST call at a time
	state          map[string]map[string]any
	answersMu      sync.Mutex
	answers        map[string]chan []byte // REST-over-MQTT answers awaited, by request ID
	requests       int
}

// ask does what the script asks of the thing.
func (th *sdkThing) ask(what string, arg []byte) error {
	switch what {
	case "thing":
		return th.connect(arg)
	case "state":
		var st map[string]map[string]any
		if err := json.Unmarshal(arg, &st); err != nil {
			return err
		}
		th.mu.Lock()
		defer th.mu.Unlock()
		th.state = st
		return th.putState()
	}
	return fmt.Errorf("unknown request %q", what)
}

// connect connects the thing over MQTT with its onboarding's answer.
func (th *sdkThing) connect(arg []byte) error {
	var ob struct {
		ThingID, AccessToken string
		MQTTEndpoint         struct {
			Host, MQTTTopic, Username, Password string
			PortTCP                             int
		}
	}
	if err := json.Unmarshal(arg, &ob); err != nil {
		return err
	}
	th.thingID, th.token = ob.ThingID, ob.AccessToken
	ep := ob.MQTTEndpoint
	th.clientID = ep.MQTTTopic
	opts := paho.NewClientOptions().AddBroker(fmt.Sprintf("tcp://%s:%d", ep.Host, ep.PortTCP)).
		SetClientID(ep.MQTTTopic).SetUsername(ep.Username).SetPassword(ep.Password).SetProtocolVersion(4).
		SetCleanSession(true).SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(5 * time.Second).
		SetDefaultPublishHandler(th.answer) // REST-over-MQTT answers come without a subscription
	th.client = paho.NewClient(opts)
	if tok := th.client.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return fmt.Errorf("mqtt connect: %v", tok.Error())
	}
	th.pushes = make(chan []byte, 100)
	// The pushes are handled on a goroutine of their own: a REST call
	// over MQTT waits for its answer, which paho delivers only once the
	// handler of the push has returned.
	th.done.Add(1)
	go th.handlePushes()
	tok := th.client.Subscribe(ep.MQTTTopic, 0, func(_ paho.Client, m paho.Message) { th.pushes <- m.Payload() })
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return fmt.Errorf("mqtt subscribe: %v", tok.Error())
	}
	return nil
}

// close disconnects the thing.
func (th *sdkThing) close() {
	if th.client != nil {
		th.client.Disconnect(100)
		close(th.pushes)
		th.done.Wait()
	}
}

// handlePushes executes each command pushed: the state the actions lead
// to, then the action results.
func (th *sdkThing) handlePushes() {
	defer th.done.Done()
	for p := range th.pushes {
		var cmd struct {
			CommandID string                        `json:"commandID"`
			Actions   []map[string][]map[string]any `json:"actions"`
		}
		if err := json.Unmarshal(p, &cmd); err != nil || cmd.CommandID == "" {
			th.t.Errorf("the thing received a push that is not a command: %s", p)
			continue
		}
		if err := th.execute(cmd.CommandID, cmd.Actions); err != nil {
			th.t.Errorf("the thing's answer to command %s: %v", cmd.CommandID, err)
		}
	}
}

// execute reports every action of a command a success and applies it to
// the state.
func (th *sdkThing) execute(commandID string, actions []map[string][]map[string]any) error {
	th.mu.Lock()
	defer th.mu.Unlock()
	if th.state == nil {
		th.state = map[string]map[string]any{}
	}
	var results []map[string][]map[string]any
	for _, aa := range actions {
		for alias, list := range aa {
			var rs []map[string]any
			for _, a := range list {
				for name, v := range a {
					rs = append(rs, map[string]any{name: map[string]any{"succeeded": true}})
					fields := th.state[alias]
					if fields == nil {
						fields = map[string]any{}
						th.state[alias] = fields
					}
					switch name {
					case "turnPower":
						fields["power"] = v
					case "setPresetTemperature":
						fields["presetTemperature"] = v
					}
				}
			}
			results = append(results, map[string][]map[string]any{alias: rs})
		}
	}
	// The state first: once the command is DONE, its state is there.
	if !slices.Contains(thingIFMissing, "states") {
		if err := th.putState(); err != nil {
			return err
		}
	}
	body, err := json.Marshal(map[string]any{"actionResults": results})
	if err != nil {
		return err
	}
	status, answer, err := th.rest("PUT", "targets/thing:"+th.thingID+"/commands/"+commandID+"/action-results",
		"application/vnd.kii.CommandResultsUpdateRequest+json", body)
	if err != nil {
		return err
	}
	if status != 204 {
		return fmt.Errorf("action results: status %d, want 204: %s", status, answer)
	}
	return nil
}

// putState uploads the state; th.mu must be held.
func (th *sdkThing) putState() error {
	body, err := json.Marshal(th.state)
	if err != nil {
		return err
	}
	status, answer, err := th.rest("PUT", "targets/thing:"+th.thingID+"/states", "application/vnd.kii.MultipleTraitState+json", body)
	if err != nil {
		return err
	}
	if status != 201 && status != 204 {
		return fmt.Errorf("state upload: status %d, want 201 or 204: %s", status, answer)
	}
	return nil
}

// rest calls the thing's Thing-IF API at path (under /thing-if/apps/{appID}/)
// with its token: over MQTT when thingRESTOverMQTT, else over HTTP.
func (th *sdkThing) rest(method, path, contentType string, body []byte) (int, []byte, error) {
	if !thingRESTOverMQTT {
		r := do(th.t, method, th.n.base+"/thing-if/apps/"+th.n.app.AppID+"/"+path, string(body),
			"Authorization", "Bearer "+th.token, "Content-Type", contentType)
		return r.Status, r.Body, nil
	}
	th.requests++
	id := "sdk-" + strconv.Itoa(th.requests)
	ch := make(chan []byte, 1)
	th.answersMu.Lock()
	th.answers[id] = ch
	th.answersMu.Unlock()
	defer func() {
		th.answersMu.Lock()
		delete(th.answers, id)
		th.answersMu.Unlock()
	}()
	topic := "p/" + th.clientID + "/thing-if/apps/" + th.n.app.AppID + "/" + path
	frame := method + "\r\nAuthorization: Bearer " + th.token + "\r\nContent-Type: " + contentType +
		"\r\nX-Kii-RequestID: " + id + "\r\n\r\n" + string(body)
	if tok := th.client.Publish(topic, 0, false, frame); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return 0, nil, fmt.Errorf("publish %s: %v", topic, tok.Error())
	}
	select {
	case a := <-ch:
		head, answer, _ := bytes.Cut(a, []byte("\r\n\r\n"))
		line, _, _ := bytes.Cut(head, []byte("\r\n"))
		status, err := strconv.Atoi(string(line))
		if err != nil {
			return 0, nil, fmt.Errorf("%s %s over MQTT: the answer does not start with a status: %q", method, path, a)
		}
		return status, answer, nil
	case <-time.After(10 * time.Second):
		return 0, nil, fmt.Errorf("%s %s over MQTT: no answer on %s", method, path, topic)
	}
}

// answer receives the answer to a REST-over-MQTT request.
func (th *sdkThing) answer(_ paho.Client, m paho.Message) {
	p := m.Payload()
	for _, line := range strings.Split(string(p), "\r\n") {
		if name, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(name, "X-Kii-RequestID") {
			th.answersMu.Lock()
			ch := th.answers[strings.TrimSpace(v)]
			th.answersMu.Unlock()
			if ch != nil {
				ch <- bytes.Clone(p)
			}
			return
		}
		if line == "" {
			break
		}
	}
	th.t.Errorf("the thing received, on %s, an answer with no request ID it awaits: %q", m.Topic(), p)
}
