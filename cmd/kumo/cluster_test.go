package main

import (
	"encoding/json"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/sqlstore/postgres/pgtest"
)

// startNATS runs a NATS server in the test process, on a random port.
func startNATS(t *testing.T) *natsserver.Server {
	t.Helper()
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(ns.Shutdown)
	return ns
}

// cluster is several kumo serve processes sharing one PostgreSQL database
// and one NATS server.

// startCluster starts n nodes (node-a, node-b, …) on a new database and
// NATS server, with short outbox leases, and returns them with a REST
// helper on the first; env is more environment of every node.
func startCluster(t *testing.T, n int, env ...string) ([]*child, *testNode, *natsserver.Server) {
	t.Helper()
	db := withPassword(t, pgtest.NewDatabase(t))
	ns := startNATS(t)
	app := createAppCLI(t, t.TempDir(), storeEnv(config{Database: db}))
	var nodes []*child
	for i := 0; i < n; i++ {
		nodes = append(nodes, startChild(t, t.TempDir(), append([]string{storeEnv(config{Database: db}),
			"KUMO_NATS=" + ns.ClientURL(), fmt.Sprintf("KUMO_NODE_ID=node-%c", 'a'+i), "KUMO_OUTBOX_LEASE=2s"}, env...)...))
	}
	return nodes, childNode(t, nodes[0], app), ns
}

func mqttURLOf(ch *child) string { return fmt.Sprintf("tcp://127.0.0.1:%d", ch.mqttPort) }

// TestClusterNodeDies: SIGKILL a node while objects are written through
// the others. Every acknowledged object exists; every push reaches the
// connected device exactly once (the dead node's claims are taken over
// when their lease ends); the dead node's device reconnects to another
// node and gets later pushes.
func TestClusterNodeDies(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	nodes, a, _ := startCluster(t, 3)
	b := childNode(t, nodes[1], a.app)
	devB, devC := a.mustDevice("fault-b"), a.mustDevice("fault-c")
	a.subscribe(devB, "inbox")
	a.subscribe(devC, "inbox")
	_, inboxB := connectDevice(t, mqttURLOf(nodes[1]), devB, 4)
	connectDevice(t, mqttURLOf(nodes[2]), devC, 4)

	var (
		mu    sync.Mutex
		acked []string
		wg    sync.WaitGroup
		stop  = make(chan struct{})
	)
	for _, base := range []string{nodes[0].base, nodes[1].base} {
		client := &httpClient{base: base, token: devB.Token}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				id, err := client.create(a.app.AppID, devB.ThingID, "inbox")
				if err != nil {
					continue // a write that failed was not acknowledged
				}
				mu.Lock()
				acked = append(acked, id)
				mu.Unlock()
			}
		}()
	}
	waitAcked := func(n int) {
		deadline := time.Now().Add(20 * time.Second)
		for {
			mu.Lock()
			got := len(acked)
			mu.Unlock()
			if got >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("only %d writes acknowledged", got)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitAcked(100)
	nodes[2].kill9(t)
	waitAcked(300)
	close(stop)
	wg.Wait()

	msgs := inboxB.waitFor(t, "every acknowledged push", func(m []paho.Message) bool {
		got := pushesByObject(t, m)
		for _, id := range acked {
			if got[id] == nil {
				return false
			}
		}
		return true
	})
	if len(msgs) != len(pushesByObject(t, msgs)) {
		t.Errorf("%d pushes for %d objects: some arrived twice", len(msgs), len(pushesByObject(t, msgs)))
	}
	for _, id := range acked {
		r := do(t, "GET", b.base+"/api/apps/"+a.app.AppID+"/things/"+devB.ThingID+"/buckets/inbox/objects/"+id, "", "Authorization", "Bearer "+devB.Token)
		wantStatus(t, r, 200)
	}

	// The dead node's device reconnects to node A and gets later pushes.
	_, inboxC := connectDevice(t, mqttURLOf(nodes[0]), devC, 4)
	id := b.createObject(devC, "inbox", `{"after":"failover"}`)
	inboxC.waitFor(t, "the push after failover", func(m []paho.Message) bool { return pushesByObject(t, m)[id] != nil })
}

// TestClusterNATSRestart: writes go on while NATS is down; pushes resume
// when it is back, none lost for a device that stayed connected.
func TestClusterNATSRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	nodes, a, ns := startCluster(t, 2)
	dev := a.mustDevice("nats-dev")
	a.subscribe(dev, "inbox")
	_, in := connectDevice(t, mqttURLOf(nodes[1]), dev, 4)
	before := a.createObject(dev, "inbox", `{}`)
	in.waitFor(t, "a push before the outage", func(m []paho.Message) bool { return pushesByObject(t, m)[before] != nil })

	port := ns.Addr().(*net.TCPAddr).Port
	ns.Shutdown()
	var during []string
	for i := 0; i < 5; i++ {
		during = append(during, a.createObject(dev, "inbox", fmt.Sprintf(`{"during":%d}`, i))) // writes still acknowledged
	}
	ns2, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: port, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns2.Start()
	t.Cleanup(ns2.Shutdown)
	if !ns2.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats did not restart")
	}
	in.waitFor(t, "the pushes of the outage", func(m []paho.Message) bool {
		got := pushesByObject(t, m)
		for _, id := range during {
			if got[id] == nil {
				return false
			}
		}
		return true
	})
}

// TestClusterTopicMessage: a message sent to a topic through one node
// reaches subscribed devices connected to the other nodes (and a direct
// push reaches its thing on another node).
func TestClusterTopicMessage(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	nodes, a, _ := startCluster(t, 3)
	base := nodes[0].base + "/api/apps/" + a.app.AppID
	r := do(t, "POST", base+"/oauth2/token", fmt.Sprintf(`{"grant_type":"client_credentials","client_id":%q,"client_secret":%q}`, a.app.ClientID, a.app.ClientSecret))
	wantStatus(t, r, 200)
	admin := []string{"Authorization", "Bearer " + r.Str(t, "access_token")}
	wantStatus(t, do(t, "PUT", base+"/topics/fleet", "", admin...), 204)
	devB, devC, devGone := a.mustDevice("topic-b"), a.mustDevice("topic-c"), a.mustDevice("topic-gone")
	for _, d := range []device{devB, devC, devGone} {
		wantStatus(t, do(t, "PUT", base+"/topics/fleet/push/subscriptions/things/"+d.ThingID, "", "Authorization", "Bearer "+d.Token), 204)
	}
	_, inB := connectDevice(t, mqttURLOf(nodes[1]), devB, 4)
	_, inC := connectDevice(t, mqttURLOf(nodes[2]), devC, 4)
	msg := `{"data":{"n":1},"mqtt":{"enabled":true},"gcm":{"enabled":false},"apns":{"enabled":false}}`
	r = do(t, "POST", base+"/topics/fleet/push/messages", msg, admin...)
	wantStatus(t, r, 201)
	msgID := r.Str(t, "pushMessageID")
	for name, in := range map[string]*inbox{"node-b": inB, "node-c": inC} {
		ms := in.waitFor(t, "the topic message on "+name, func(ms []paho.Message) bool { return len(ms) >= 1 })
		if !contains(string(ms[0].Payload()), `"topic":"fleet"`) {
			t.Errorf("%s got %s", name, ms[0].Payload())
		}
	}
	wantStatus(t, do(t, "POST", base+"/things/"+devC.ThingID+"/push/messages", `{"data":{"n":2},"mqtt":{"enabled":true},"gcm":{"enabled":false}}`, admin...), 201)
	inC.waitFor(t, "the direct push on node-c", func(ms []paho.Message) bool { return len(ms) >= 2 })

	// The delivery ledger: sent by the nodes that hold B and C, dropped
	// for the device connected to no node (NATS reports that nobody
	// listened).
	states := map[string]string{}
	waitUntil(t, "three ledger records of the topic message", func() bool {
		r := do(t, "GET", base+"/push/deliveries?messageID="+msgID, "", admin...)
		wantStatus(t, r, 200)
		for _, d := range r.JSON(t)["deliveries"].([]any) {
			d := d.(map[string]any)
			reason, _ := d["reason"].(string)
			states[d["installationID"].(string)] = d["state"].(string) + ": " + reason
		}
		return len(states) >= 3
	})
	want := map[string]string{devB.InstallationID: "sent: ", devC.InstallationID: "sent: ", devGone.InstallationID: "dropped: the device is not connected"}
	for id, w := range want {
		if states[id] != w {
			t.Errorf("installation %s: ledger says %q, want %q (all: %v)", id, states[id], w, states)
		}
	}
}

// TestClusterCommand: an owner commands a thing through node A; the
// device, connected to node B, gets the push (through the outbox and
// NATS), reports results through node B, and the owner reads DONE
// through node A.
func TestClusterCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	nodes, a, _ := startCluster(t, 2)
	appA := nodes[0].base + "/api/apps/" + a.app.AppID
	r := do(t, "POST", appA+"/users", `{"loginName":"owner","password":"owner-pass"}`,
		"Content-Type", "application/vnd.kii.RegistrationAndAuthorizationRequest+json")
	wantStatus(t, r, 201)
	userID, owner := r.Str(t, "userID"), []string{"Authorization", "Bearer " + r.Str(t, "_accessToken")}
	r = do(t, "POST", nodes[0].base+"/thing-if/apps/"+a.app.AppID+"/onboardings",
		`{"vendorThingID":"cluster-cmd","thingPassword":"pw","owner":"user:`+userID+`"}`,
		append([]string{"Content-Type", "application/vnd.kii.OnboardingWithVendorThingIDByOwner+json"}, owner...)...)
	wantStatus(t, r, 200)
	var ans struct {
		ThingID, AccessToken string
		MQTTEndpoint         struct{ MQTTTopic, Username, Password string }
	}
	if err := json.Unmarshal(r.Body, &ans); err != nil {
		t.Fatal(err)
	}
	d := device{ThingID: ans.ThingID, Token: ans.AccessToken, Endpoint: kumo.MQTTEndpoint{MQTTTopic: ans.MQTTEndpoint.MQTTTopic,
		Username: ans.MQTTEndpoint.Username, Password: ans.MQTTEndpoint.Password}}
	_, in := connectDevice(t, mqttURLOf(nodes[1]), d, 4)

	commands := func(n *child) string {
		return n.base + "/thing-if/apps/" + a.app.AppID + "/targets/thing:" + d.ThingID + "/commands"
	}
	r = do(t, "POST", commands(nodes[0]), `{"issuer":"user:`+userID+`","actions":[{"Light":[{"turnPower":true}]}]}`,
		append([]string{"Content-Type", "application/vnd.kii.CommandCreationRequest+json"}, owner...)...)
	wantStatus(t, r, 201)
	id := r.Str(t, "commandID")
	m := waitCommand(t, in, id)
	if !contains(string(m.Payload()), `"actions":[{"Light":[{"turnPower":true}]}]`) {
		t.Errorf("the device on node B got %s", m.Payload())
	}
	wantStatus(t, do(t, "PUT", commands(nodes[1])+"/"+id+"/action-results", `{"actionResults":[{"Light":[{"turnPower":{"succeeded":true}}]}]}`,
		"Content-Type", "application/vnd.kii.CommandResultsUpdateRequest+json", "Authorization", "Bearer "+d.Token), 204)
	r = do(t, "GET", commands(nodes[0])+"/"+id, "", owner...)
	wantStatus(t, r, 200)
	if s := r.Str(t, "commandState"); s != "DONE" {
		t.Errorf("commandState through node A = %s; want DONE", s)
	}
}

// TestClusterTriggers: on three nodes over one database, state writes
// through each node fire a state trigger exactly once; a one-time
// schedule, raced for by the three schedulers, fires once; an
// every-minute schedule fires once per minute (counted by the commands
// with its firedByTriggerID, and by what the device, on a third node,
// receives).
func TestClusterTriggers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	nodes, a, _ := startCluster(t, 3, "KUMO_TRIGGER_INTERVAL=20ms")
	tif := func(n *child) string { return n.base + "/thing-if/apps/" + a.app.AppID }
	r := do(t, "POST", nodes[0].base+"/api/apps/"+a.app.AppID+"/users", `{"loginName":"owner","password":"owner-pass"}`,
		"Content-Type", "application/vnd.kii.RegistrationAndAuthorizationRequest+json")
	wantStatus(t, r, 201)
	userID, owner := r.Str(t, "userID"), []string{"Authorization", "Bearer " + r.Str(t, "_accessToken")}
	r = do(t, "POST", tif(nodes[0])+"/onboardings", `{"vendorThingID":"cluster-trig","thingPassword":"pw","owner":"user:`+userID+`"}`,
		append([]string{"Content-Type", "application/vnd.kii.OnboardingWithVendorThingIDByOwner+json"}, owner...)...)
	wantStatus(t, r, 200)
	var ans struct {
		ThingID, AccessToken string
		MQTTEndpoint         struct{ MQTTTopic, Username, Password string }
	}
	if err := json.Unmarshal(r.Body, &ans); err != nil {
		t.Fatal(err)
	}
	d := device{ThingID: ans.ThingID, Token: ans.AccessToken, Endpoint: kumo.MQTTEndpoint{MQTTTopic: ans.MQTTEndpoint.MQTTTopic,
		Username: ans.MQTTEndpoint.Username, Password: ans.MQTTEndpoint.Password}}
	_, in := connectDevice(t, mqttURLOf(nodes[2]), d, 4)
	triggers := "/targets/thing:" + d.ThingID + "/triggers"
	post := func(n *child, body string) string {
		t.Helper()
		r := do(t, "POST", tif(n)+triggers, body, append([]string{"Content-Type", "application/json"}, owner...)...)
		wantStatus(t, r, 201)
		return r.Str(t, "triggerID")
	}
	command := `"triggersWhat":"COMMAND","command":{"issuer":"user:` + userID + `","actions":[{"AC":[{"turnPower":false}]}]}`
	every := post(nodes[0], `{"predicate":{"eventSource":"SCHEDULE","schedule":"* * * * *"},`+command+`}`)
	hot := post(nodes[1], `{"predicate":{"eventSource":"STATES","triggersWhen":"CONDITION_FALSE_TO_TRUE","condition":{"type":"range","alias":"AC","field":"temp","lowerLimit":30}},`+command+`}`)
	for i, state := range []string{`{"AC":{"temp":25}}`, `{"AC":{"temp":31}}`, `{"AC":{"temp":35}}`} {
		putState(t, nodes[i].base, a.app.AppID, d.ThingID, d.Token, state)
	}
	once := post(nodes[2], `{"predicate":{"eventSource":"SCHEDULE_ONCE","scheduleAt":`+fmt.Sprint(time.Now().Add(time.Second).UnixMilli())+`},`+command+`}`)

	// fired counts the commands of the thing by trigger, and for the
	// every-minute schedule by the minute it fired in.
	fired := func() (map[string]int, map[int64]int) {
		t.Helper()
		r := do(t, "GET", tif(nodes[1])+"/targets/thing:"+d.ThingID+"/commands?bestEffortLimit=1000", "", owner...)
		wantStatus(t, r, 200)
		var page struct {
			Commands []struct {
				FiredByTriggerID string
				CreatedAt        int64
			}
		}
		if err := json.Unmarshal(r.Body, &page); err != nil {
			t.Fatal(err)
		}
		by, minutes := map[string]int{}, map[int64]int{}
		for _, c := range page.Commands {
			by[c.FiredByTriggerID]++
			if c.FiredByTriggerID == every {
				minutes[c.CreatedAt/60000]++
			}
		}
		return by, minutes
	}
	in.waitFor(t, "the commands of the state trigger and the one-time schedule", func(ms []paho.Message) bool {
		return len(firedBy(t, ms, hot)) > 0 && len(firedBy(t, ms, once)) > 0
	})
	if by, _ := fired(); by[hot] != 1 || by[once] != 1 {
		t.Errorf("commands by trigger: %v; want one by %s (state) and one by %s (once)", by, hot, once)
	}

	// The every-minute schedule: wait for its first fire (within a
	// minute), then each minute it fired in has one command.
	deadline := time.Now().Add(90 * time.Second)
	for {
		by, minutes := fired()
		if by[every] > 0 {
			for m, n := range minutes {
				if n != 1 {
					t.Errorf("minute %d: the schedule fired %d commands, want 1", m, n)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the every-minute schedule did not fire")
		}
		time.Sleep(200 * time.Millisecond)
	}
	msgs := in.waitFor(t, "the scheduled command", func(ms []paho.Message) bool { return len(firedBy(t, ms, every)) > 0 })
	if n := len(firedBy(t, msgs, hot)); n != 1 {
		t.Errorf("the device got %d commands of the state trigger, want 1", n)
	}
	if n := len(firedBy(t, msgs, once)); n != 1 {
		t.Errorf("the device got %d commands of the one-time schedule, want 1", n)
	}
}
