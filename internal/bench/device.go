package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"time"
)

// bucketName is the thing-scope bucket every device writes to and is
// subscribed to.
const bucketName = "bench"

// thingPassword is the password of every registered thing.
const thingPassword = "bench-pass"

// mqttTimeout bounds the connection of a device's MQTT client: dial,
// CONNECT and SUBSCRIBE.
const mqttTimeout = 10 * time.Second

// device is one simulated device: a thing, where it creates its objects
// with its token, and the MQTT connection that receives the pushes of its
// bucket.
type device struct {
	objects   objectTarget
	mqtt      *mqttDevice
	mqttTopic string // the device's MQTT topic: where the broker publishes its pushes

	// For "kumo bench command": where and what the owner POSTs to command
	// the thing, and the parts of the device's action results (a REST
	// over MQTT request: the topic up to the command ID, the frame up to
	// the request ID); replyTopic and reply are the handler's buffers.
	commands                   objectTarget
	commandBody                []byte
	resultsPrefix, resultsHead []byte
	replyTopic, reply          []byte
}

// pushHandler receives the objectID of a DATA_OBJECT_CREATED push and the
// time it arrived. objectID is only valid during the call.
type pushHandler func(objectID []byte, at time.Time)

// deviceSetup is what setting up a device needs.
type deviceSetup struct {
	api        *apiClient   // the first server
	apis       []*apiClient // every server (a cluster's nodes)
	adminToken string
	mqttHost   string // overrides the endpoint's host when not empty
	mqttPort   int    // overrides the endpoint's portTCP when not 0
	onPush     pushHandler
	onLost     func(error) // called when an MQTT connection drops

	// topic, when not empty, is the app-scope topic each thing subscribes
	// to, instead of its own bucket.
	topic string
	// onPayload, when set, receives every push of device i instead of
	// onPush; payload is only valid during the call.
	onPayload func(i int, payload []byte, at time.Time)

	// owner, when set, makes each device an onboarded thing of the owner
	// that answers commands (see setupCommandDevice); appID is the app's.
	owner commandOwner
	appID string
}

// setup registers the thing vendorThingID, creates its MQTT installation,
// subscribes it to its own bucket, then connects its MQTT client and
// subscribes to its topic. A device is returned only when it is ready to
// receive pushes.
func (s *deviceSetup) setup(ctx context.Context, vendorThingID string, i int) (*device, error) {
	if s.owner != nil {
		return s.setupCommandDevice(ctx, vendorThingID, i)
	}
	// With several servers (a cluster), device i connects to node i and
	// its objects are written through the next node, so that every push
	// crosses the cluster.
	home, writer := s.api, s.api
	if n := len(s.apis); n > 1 {
		home, writer = s.apis[i%n], s.apis[(i+1)%n]
	}
	thingID, token, err := s.api.registerThing(ctx, s.adminToken, vendorThingID, thingPassword)
	if err != nil {
		return nil, err
	}
	objects, err := writer.objectTarget(token, thingID, bucketName)
	if err != nil {
		return nil, fmt.Errorf("thing %s: %w", thingID, err)
	}
	ep, err := home.mqttEndpoint(ctx, token)
	if err != nil {
		return nil, fmt.Errorf("thing %s: %w", thingID, err)
	}
	if s.topic != "" {
		err = s.api.subscribeAppTopic(ctx, token, thingID, s.topic)
	} else {
		err = s.api.subscribeOwnBucket(ctx, token, thingID, bucketName)
	}
	if err != nil {
		return nil, fmt.Errorf("thing %s: %w", thingID, err)
	}
	client, err := s.connect(ctx, ep, i)
	if err != nil {
		return nil, fmt.Errorf("thing %s: %w", thingID, err)
	}
	return &device{objects: objects, mqtt: client, mqttTopic: ep.MQTTTopic}, nil
}

// connect connects an MQTT 3.1.1 clean-session client to ep and subscribes
// it to its topic at QoS 0; i is the device's index, for onPayload.
func (s *deviceSetup) connect(ctx context.Context, ep endpoint, i int) (*mqttDevice, error) {
	host, port := ep.Host, ep.PortTCP
	if s.mqttHost != "" {
		host = s.mqttHost
	}
	if s.mqttPort != 0 {
		port = s.mqttPort
	}
	if host == "" || port == 0 {
		return nil, fmt.Errorf("mqtt endpoint has no TCP host or port (host %q, portTCP %d)", host, port)
	}
	handle := func(payload []byte) {
		at := time.Now()
		if id, ok := createdObjectID(payload); ok {
			s.onPush(id, at)
		}
	}
	if s.onPayload != nil {
		handle = func(payload []byte) { s.onPayload(i, payload, time.Now()) }
	}
	return dialDevice(ctx, net.JoinHostPort(host, strconv.Itoa(port)), ep.MQTTTopic, ep.Username, ep.Password, handle, s.onLost)
}

// typeKey is the key of the type member of a push, quoted.
var typeKey = []byte(`"type"`)

// createdObjectID returns the objectID of a DATA_OBJECT_CREATED push. The
// ID aliases payload. Pushes are flat JSON objects, which byte searches
// read exactly (see stringField); a push they cannot read is decoded.
func createdObjectID(payload []byte) ([]byte, bool) {
	if typ, ok := stringField(payload, typeKey); ok {
		if string(typ) != "DATA_OBJECT_CREATED" {
			return nil, false
		}
		if id, ok := stringField(payload, objectIDKey); ok {
			return id, len(id) > 0
		}
	}
	var m struct {
		Type     string `json:"type"`
		ObjectID string `json:"objectID"`
	}
	if err := json.Unmarshal(payload, &m); err != nil || m.Type != "DATA_OBJECT_CREATED" || m.ObjectID == "" {
		return nil, false
	}
	return []byte(m.ObjectID), true
}

// disconnectAll disconnects the MQTT clients of devices.
func disconnectAll(devices []*device) {
	for _, d := range devices {
		if d != nil && d.mqtt != nil {
			d.mqtt.Close()
		}
	}
}
