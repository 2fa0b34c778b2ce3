package broker

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kumo-iot/kumo"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// REST over MQTT (push-mqtt §6): a device calls the REST API by
// publishing a request frame to p/{its client ID}/{path}, the path being
// thing-if/apps/{appID}/... (→ /thing-if/apps/{appID}/...) or, Kumo's
// extension, api/... (→ /api/...). The request runs through the API's own
// handler in this process (ServeREST), with the frame's headers, the
// device's address as the remote address (the login throttle counts it)
// and the address the device reached this broker by as the host (the
// onboarding answer's broker host when --mqtt-public-host is not set).
// The answer is published, QoS 0, to that connection alone, on the
// request's topic, without any subscription:
//
//	{status}\r\n
//	X-Kii-RequestID:{the request's, verbatim}\r\n   (when it had one)
//	Content-Type:{type}\r\n                         (when there is a body)
//	ETag:{etag}\r\n, Location:{url}\r\n             (when the API sent them)
//	\r\n
//	{body}
//
// Errors come in the same frame with the API's error body; a frame that
// cannot be read is answered 400, never with silence or a disconnect.
// A request never reaches a subscriber. Handlers run off the connection's
// read loop, at most RESTPerConnection at a time per connection and
// RESTInFlight on the node; the requests beyond wait their turn (up to
// RESTTimeout, then a 503 frame), RESTQueue of them per connection at
// most (beyond: a 429 frame at once) and RESTNodeQueue on the node
// (beyond: a 503 frame at once).

// Defaults of the REST-over-MQTT limits (Broker fields).
const (
	// DefaultRESTPerConnection is how many requests of one connection
	// may be handled at a time.
	DefaultRESTPerConnection = 4
	// DefaultRESTInFlight is how many requests the node handles at a
	// time, all connections together.
	DefaultRESTInFlight = 64
	// DefaultRESTQueue is how many requests of one connection may wait
	// for a place, beyond those running.
	DefaultRESTQueue = 16
	// DefaultRESTNodeQueueFactor times RESTInFlight is how many requests
	// may wait on the node, all connections together, when RESTNodeQueue
	// is not set.
	DefaultRESTNodeQueueFactor = 64
	// DefaultRESTMaxPayload is the largest request frame accepted (the
	// broker refuses any packet over 256 KiB).
	DefaultRESTMaxPayload = 128 << 10
	// DefaultRESTTimeout bounds the handling of one request, its wait
	// for a place included.
	DefaultRESTTimeout = 30 * time.Second
	// maxAnswer is the largest answer frame sent (the rest of the 256 KiB
	// packet limit is left to the topic and headers).
	maxAnswer = 255 << 10
)

// AnonymousClientID is the client ID shared by the devices that connect
// with an app's ID and key to onboard (push-mqtt §3.2).
const AnonymousClientID = "anonymous"

// restAPI is the API devices call over MQTT (ServeREST).
type restAPI struct {
	h          http.Handler
	writeError func(w http.ResponseWriter, r *http.Request, err error)
}

// ServeREST turns REST over MQTT on: requests are served by h (the REST
// API's handler), and the requests the bridge refuses itself (a frame it
// cannot read, too many at a time, a path the anonymous broker does not
// serve) are answered by writeError, the API's writer of Kii errors, so
// that every error body comes from the API's one table. Until it is
// called, devices' publishes are dropped as they always were.
func (b *Broker) ServeREST(h http.Handler, writeError func(w http.ResponseWriter, r *http.Request, err error)) {
	b.rest.Store(&restAPI{h: h, writeError: writeError})
}

// restConn is the REST-over-MQTT state of one connection.
type restConn struct {
	ctx      context.Context // ends when the connection goes: its answers are dropped
	cancel   context.CancelFunc
	slots    chan struct{} // the connection's places: one per request running
	admitted int           // requests admitted, waiting or running; guarded by Broker.restMu
}

// restLimits returns the limits in force (their defaults when unset).
func (b *Broker) restLimits() (perConn, node, queue, payload int, timeout time.Duration) {
	perConn, node, queue, payload, timeout = b.RESTPerConnection, b.RESTInFlight, b.RESTQueue, b.RESTMaxPayload, b.RESTTimeout
	if perConn <= 0 {
		perConn = DefaultRESTPerConnection
	}
	if node <= 0 {
		node = DefaultRESTInFlight
	}
	if queue <= 0 {
		queue = DefaultRESTQueue
	}
	if payload <= 0 {
		payload = DefaultRESTMaxPayload
	}
	if timeout <= 0 {
		timeout = DefaultRESTTimeout
	}
	return
}

// restPublish handles a device's PUBLISH, on the connection's read loop:
// a request on its own prefix is checked and started; anything else is
// dropped.
func (b *Broker) restPublish(cl *mqtt.Client, pk packets.Packet) {
	api := b.rest.Load()
	if api == nil {
		return
	}
	prefix, anonApp := "p/"+cl.ID+"/", ""
	if app, ok := anonymousApp(cl); ok {
		prefix, anonApp = "p/"+AnonymousClientID+"/", app
	}
	topic := pk.TopicName
	if !strings.HasPrefix(topic, prefix) {
		b.Log.Debug("mqtt publish dropped: not on the device's own p/{clientID}/ prefix", "client", cl.ID, "topic", topic)
		return
	}
	path := "/" + topic[len(prefix):]
	_, _, _, payloadMax, timeout := b.restLimits()
	f, err := parseFrame(pk.Payload)
	switch {
	case len(pk.Payload) > payloadMax:
		err = kumo.Errorf(kumo.ErrBodyTooLarge, "The request frame is %d bytes; REST over MQTT takes up to %d", len(pk.Payload), payloadMax)
	case err != nil:
	case anonApp != "" && path != "/thing-if/apps/"+anonApp+"/onboardings":
		err = kumo.Errorf(kumo.ErrNotSupported, "The anonymous broker serves only onboarding: publish to p/anonymous/thing-if/apps/%s/onboardings", anonApp)
	}
	if err != nil {
		b.restRefuse(api, cl, topic, f, err)
		return
	}
	c, err := b.restAdmit(cl)
	if err != nil {
		b.restRefuse(api, cl, topic, f, err)
		return
	}
	go func() {
		defer b.restDone(c)
		ctx, cancel := context.WithTimeout(c.ctx, timeout)
		defer cancel()
		if err := b.restWait(ctx, c); err != nil {
			if c.ctx.Err() == nil {
				b.restRefuse(api, cl, topic, f, err)
			}
			return
		}
		answer := b.restServe(ctx, api, cl, c, path, f)
		<-b.restSlots // the node's place: the API is done
		if answer != nil && c.ctx.Err() == nil {
			b.restAnswer(cl, topic, answer)
		}
		<-c.slots // the connection's: its answer is written
	}()
}

// restAdmit admits a request of cl, on the connection's read loop,
// without waiting: TOO_MANY_REQUESTS (429) when the connection already
// has RESTPerConnection requests running and RESTQueue waiting,
// TEMPORARY_UNAVAILABLE_ERROR (503) when the broker is closing or the
// node already has RESTInFlight requests running and RESTNodeQueue
// waiting (a bound on the memory of waiting requests, which only
// thousands of connections sending at once reach). The
// request is counted in restWG and restAdmitted until restDone.
func (b *Broker) restAdmit(cl *mqtt.Client) (*restConn, error) {
	perConn, node, queue, _, _ := b.restLimits()
	nodeQueue := b.RESTNodeQueue
	if nodeQueue <= 0 {
		nodeQueue = DefaultRESTNodeQueueFactor * node
	}
	b.restMu.Lock()
	defer b.restMu.Unlock()
	if b.restClosing {
		return nil, kumo.Errorf(kumo.ErrUnavailable, "The server is stopping: try again later")
	}
	if b.restAdmitted >= node+nodeQueue {
		return nil, kumo.Errorf(kumo.ErrUnavailable, "The server is busy: try again later")
	}
	if b.restSlots == nil {
		b.restSlots = make(chan struct{}, node)
		b.restStop = make(chan struct{})
	}
	c := b.restConns[cl]
	if c == nil {
		ctx, cancel := context.WithCancel(context.Background())
		c = &restConn{ctx: ctx, cancel: cancel, slots: make(chan struct{}, perConn)}
		if b.restConns == nil {
			b.restConns = map[*mqtt.Client]*restConn{}
		}
		b.restConns[cl] = c
	}
	if c.admitted >= perConn+queue {
		return nil, kumo.Errorf(kumo.ErrTooManyRequests, "This connection has %d requests in progress or waiting: wait for their answers", c.admitted)
	}
	c.admitted++
	b.restAdmitted++
	b.restWG.Add(1) // under restMu: never after restClose's Wait began
	return c, nil
}

// restWait waits, off the read loop, for a place on the request's
// connection, then on the node: the requests beyond the limits wait
// their turn rather than being refused. It gives up when ctx ends (the
// request's timeout, or its connection gone) or the broker closes:
// TEMPORARY_UNAVAILABLE_ERROR (503), after giving back what it took.
func (b *Broker) restWait(ctx context.Context, c *restConn) error {
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return kumo.Errorf(kumo.ErrUnavailable, "The server is busy: this connection's requests before this one did not finish in time; try again later")
	case <-b.restStop:
		return kumo.Errorf(kumo.ErrUnavailable, "The server is stopping: try again later")
	}
	select {
	case b.restSlots <- struct{}{}:
		return nil
	case <-ctx.Done():
		<-c.slots
		return kumo.Errorf(kumo.ErrUnavailable, "The server is busy: try again later")
	case <-b.restStop:
		<-c.slots
		return kumo.Errorf(kumo.ErrUnavailable, "The server is stopping: try again later")
	}
}

// restDone counts a request of c out, answered or not.
func (b *Broker) restDone(c *restConn) {
	b.restMu.Lock()
	c.admitted--
	b.restAdmitted--
	b.restMu.Unlock()
	b.restWG.Done()
}

// restClose refuses new requests and waits for those running (their
// connections are closed: they end unanswered).
func (b *Broker) restClose() {
	b.restMu.Lock()
	if !b.restClosing && b.restStop != nil {
		close(b.restStop) // the waiting requests give up
	}
	b.restClosing = true
	b.restMu.Unlock()
	b.restWG.Wait()
}

// restGone ends the requests of a connection that went: their answers
// are dropped.
func (b *Broker) restGone(cl *mqtt.Client) {
	b.restMu.Lock()
	c := b.restConns[cl]
	delete(b.restConns, cl)
	b.restMu.Unlock()
	if c != nil {
		c.cancel()
	}
}

// restServe runs one request through the API and returns its answer
// frame (nil when the connection went meanwhile).
func (b *Broker) restServe(ctx context.Context, api *restAPI, cl *mqtt.Client, c *restConn, path string, f frame) []byte {
	w := newFrameWriter()
	r, err := http.NewRequestWithContext(ctx, f.method, path, bytes.NewReader(f.body))
	if err != nil {
		api.writeError(w, standIn(path), kumo.Errorf(kumo.ErrInvalidInputData, "The request topic is not a valid path: %v", err))
		return w.frame(f.requestID)
	}
	r.Header = f.header
	r.ContentLength = int64(len(f.body))
	r.RequestURI = path
	r.RemoteAddr = cl.Net.Remote
	r.Host = localHost(cl)
	func() {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					return
				}
				b.Log.Error("panic serving a REST-over-MQTT request", "client", cl.ID, "path", path, "panic", v)
				w = newFrameWriter()
				api.writeError(w, r, kumo.Errorf(kumo.ErrInternal, "An internal error occurred"))
			}
		}()
		api.h.ServeHTTP(w, r)
	}()
	if c.ctx.Err() != nil {
		return nil // the connection went: nobody to answer
	}
	if w.overflow {
		w = newFrameWriter()
		api.writeError(w, r, kumo.Errorf(kumo.ErrBodyTooLarge, "The answer is larger than REST over MQTT carries (%d bytes)", maxAnswer))
	}
	return w.frame(f.requestID)
}

// restRefuse answers at once a request the bridge refuses itself, in the
// API's error format.
func (b *Broker) restRefuse(api *restAPI, cl *mqtt.Client, topic string, f frame, err error) {
	w := newFrameWriter()
	r := standIn("/")
	if f.method != "" {
		r.Method = f.method
	}
	api.writeError(w, r, err)
	b.restAnswer(cl, topic, w.frame(f.requestID))
}

// standIn is a stand-in request for the error writer (which reads only
// its method, path and context), for a request that could not be built.
func standIn(path string) *http.Request {
	return &http.Request{Method: http.MethodPost, URL: &url.URL{Path: path}, Header: http.Header{}}
}

// restAnswer publishes an answer frame to cl alone, at QoS 0.
func (b *Broker) restAnswer(cl *mqtt.Client, topic string, payload []byte) {
	err := cl.WritePacket(packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish},
		TopicName:   topic,
		Payload:     payload,
	})
	if err != nil {
		b.Log.Debug("REST-over-MQTT answer not sent", "client", cl.ID, "topic", topic, "error", err)
	}
}

// localHost is the host the device reached this broker by, as an HTTP
// Host (the API's MQTT endpoint answers name the host the request came
// to when no public host is configured): the Host of a WebSocket
// upgrade, the server name a TLS client asked for (SNI: the name its
// certificate check wants), else the address the connection came to.
func localHost(cl *mqtt.Client) string {
	switch c := cl.Net.Conn.(type) {
	case nil:
		return "localhost"
	case *wsConn:
		if c.host != "" {
			return c.host
		}
	case *tls.Conn:
		if name := c.ConnectionState().ServerName; name != "" {
			return name
		}
	}
	if a := cl.Net.Conn.LocalAddr(); a != nil {
		return a.String()
	}
	return "localhost"
}

// frame is a REST-over-MQTT request.
type frame struct {
	method    string
	header    http.Header
	requestID string // X-Kii-RequestID, verbatim; also set when the frame is malformed after it
	body      []byte
}

// parseFrame reads a request frame: the verb on the first line, then
// headers ("Name: value" or "Name:value", any case) up to an empty line,
// then the body; lines end in LF or CRLF. The body is taken as it is
// (a trailing EOL after JSON is harmless). INVALID_INPUT_DATA when the
// frame is not of that form; what was read of it is returned anyway, so
// that the error can echo the request ID.
func parseFrame(p []byte) (frame, error) {
	f := frame{header: http.Header{}}
	line, rest, more := cutLine(p)
	var bad error
	if method := string(line); method != "" && isToken(method) {
		f.method = strings.ToUpper(method)
	} else {
		bad = kumo.Errorf(kumo.ErrInvalidInputData, "The request frame must start with its method (GET, POST, PUT, PATCH, DELETE) alone on its first line")
	}
	for more {
		line, rest, more = cutLine(rest)
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		n := string(bytes.TrimSpace(name))
		if !ok || n == "" || !isToken(n) {
			if bad == nil {
				bad = kumo.Errorf(kumo.ErrInvalidInputData, "The request frame has a header line that is not \"Name: value\": %q", truncate(string(line), 80))
			}
			continue
		}
		v := string(bytes.TrimSpace(value))
		f.header.Add(n, v)
		if strings.EqualFold(n, "X-Kii-RequestID") && f.requestID == "" {
			f.requestID = v
		}
	}
	if bad != nil {
		return f, bad
	}
	if more {
		f.body = rest
	}
	return f, nil
}

// cutLine cuts p after its first LF (a CR before it is dropped); more is
// false when p has no LF.
func cutLine(p []byte) (line, rest []byte, more bool) {
	line, rest, more = bytes.Cut(p, []byte("\n"))
	return bytes.TrimSuffix(line, []byte("\r")), rest, more
}

// isToken reports whether s is an HTTP token (a method or header name).
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// frameWriter is the http.ResponseWriter of a request over MQTT: it keeps
// the status, the headers and up to maxAnswer bytes of body.
type frameWriter struct {
	header   http.Header
	status   int
	body     bytes.Buffer
	overflow bool
}

func newFrameWriter() *frameWriter { return &frameWriter{header: http.Header{}} }

func (w *frameWriter) Header() http.Header { return w.header }

func (w *frameWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *frameWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	if w.body.Len()+len(p) > maxAnswer {
		w.overflow = true
		return 0, fmt.Errorf("REST-over-MQTT answer over %d bytes", maxAnswer)
	}
	return w.body.Write(p)
}

// Flush is a no-op: the answer goes as one PUBLISH.
func (w *frameWriter) Flush() {}

// answerHeaders are the API's headers an answer frame carries, after
// X-Kii-RequestID (Content-Type only with a body).
var answerHeaders = []string{"Content-Type", "ETag", "Location"}

// frame renders the answer: status line, headers as Name:value, an empty
// line, the body; every line ends in CRLF.
func (w *frameWriter) frame(requestID string) []byte {
	status := w.status
	if status == 0 {
		status = http.StatusOK
	}
	var out bytes.Buffer
	out.WriteString(strconv.Itoa(status))
	out.WriteString("\r\n")
	if requestID != "" {
		out.WriteString("X-Kii-RequestID:" + requestID + "\r\n")
	}
	for _, name := range answerHeaders {
		v := w.header.Get(name)
		if v == "" || (name == "Content-Type" && w.body.Len() == 0) {
			continue
		}
		out.WriteString(name + ":" + v + "\r\n")
	}
	out.WriteString("\r\n")
	out.Write(w.body.Bytes())
	return out.Bytes()
}

// restState is the REST-over-MQTT state of a broker (embedded in Broker).
type restState struct {
	restMu       sync.Mutex
	restConns    map[*mqtt.Client]*restConn
	restAdmitted int           // requests admitted on the node, waiting or running
	restSlots    chan struct{} // the node's places: one per request running
	restStop     chan struct{} // closed when the broker closes
	restClosing  bool
	restWG       sync.WaitGroup
}
