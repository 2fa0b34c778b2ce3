package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// bucketName is the thing-scope bucket every device writes to and is
// subscribed to.
const bucketName = "bench"

// thingPassword is the password of every registered thing.
const thingPassword = "bench-pass"

// mqttTimeout bounds an MQTT CONNECT or SUBSCRIBE.
const mqttTimeout = 10 * time.Second

// device is one simulated device: a thing with its token, and the MQTT
// client that receives the pushes of its bucket.
type device struct {
	thingID     string
	token       string
	objectsPath string
	mqtt        paho.Client
}

// pushHandler receives the objectID of a DATA_OBJECT_CREATED push and the
// time it arrived.
type pushHandler func(objectID string, at time.Time)

// deviceSetup is what setting up a device needs.
type deviceSetup struct {
	api        *apiClient
	adminToken string
	mqttHost   string // overrides the endpoint's host when not empty
	mqttPort   int    // overrides the endpoint's portTCP when not 0
	onPush     pushHandler
	onLost     func(error) // called when an MQTT connection drops
}

// setup registers the thing vendorThingID, creates its MQTT installation,
// subscribes it to its own bucket, then connects its MQTT client and
// subscribes to its topic. A device is returned only when it is ready to
// receive pushes.
func (s *deviceSetup) setup(ctx context.Context, vendorThingID string) (*device, error) {
	thingID, token, err := s.api.registerThing(ctx, s.adminToken, vendorThingID, thingPassword)
	if err != nil {
		return nil, err
	}
	ep, err := s.api.mqttEndpoint(ctx, token)
	if err != nil {
		return nil, fmt.Errorf("thing %s: %w", thingID, err)
	}
	if err := s.api.subscribeOwnBucket(ctx, token, thingID, bucketName); err != nil {
		return nil, fmt.Errorf("thing %s: %w", thingID, err)
	}
	client, err := s.connect(ctx, ep)
	if err != nil {
		return nil, fmt.Errorf("thing %s: %w", thingID, err)
	}
	return &device{thingID: thingID, token: token, objectsPath: objectsPath(thingID, bucketName), mqtt: client}, nil
}

// connect connects an MQTT 3.1.1 clean-session client to ep and subscribes
// it to its topic at QoS 0.
func (s *deviceSetup) connect(ctx context.Context, ep endpoint) (paho.Client, error) {
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
	broker := "tcp://" + net.JoinHostPort(host, strconv.Itoa(port))
	opts := paho.NewClientOptions().
		AddBroker(broker).
		SetClientID(ep.MQTTTopic).
		SetUsername(ep.Username).
		SetPassword(ep.Password).
		SetProtocolVersion(4).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(mqttTimeout).
		SetKeepAlive(60 * time.Second)
	if s.onLost != nil {
		opts.SetConnectionLostHandler(func(_ paho.Client, err error) { s.onLost(err) })
	}
	client := paho.NewClient(opts)
	if err := waitToken(ctx, client.Connect()); err != nil {
		return nil, fmt.Errorf("mqtt connect to %s: %w", broker, err)
	}
	onPush := s.onPush
	tok := client.Subscribe(ep.MQTTTopic, 0, func(_ paho.Client, m paho.Message) {
		at := time.Now()
		if id, ok := createdObjectID(m.Payload()); ok {
			onPush(id, at)
		}
	})
	err := waitToken(ctx, tok)
	if err == nil {
		if st, ok := tok.(*paho.SubscribeToken); ok && st.Result()[ep.MQTTTopic] == 0x80 {
			err = errors.New("the broker refused the subscription")
		}
	}
	if err != nil {
		client.Disconnect(0)
		return nil, fmt.Errorf("mqtt subscribe to %s: %w", ep.MQTTTopic, err)
	}
	return client, nil
}

// waitToken waits for an MQTT operation to complete, at most mqttTimeout.
func waitToken(ctx context.Context, t paho.Token) error {
	timer := time.NewTimer(mqttTimeout)
	defer timer.Stop()
	select {
	case <-t.Done():
		return t.Error()
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return errors.New("timed out")
	}
}

// createdObjectID returns the objectID of a DATA_OBJECT_CREATED push.
func createdObjectID(payload []byte) (string, bool) {
	var m struct {
		Type     string `json:"type"`
		ObjectID string `json:"objectID"`
	}
	if err := json.Unmarshal(payload, &m); err != nil || m.Type != "DATA_OBJECT_CREATED" || m.ObjectID == "" {
		return "", false
	}
	return m.ObjectID, true
}

// disconnectAll disconnects the MQTT clients of devices, in parallel.
func disconnectAll(devices []*device) {
	var wg sync.WaitGroup
	for _, d := range devices {
		if d == nil || d.mqtt == nil {
			continue
		}
		wg.Go(func() { d.mqtt.Disconnect(250) })
	}
	wg.Wait()
}
