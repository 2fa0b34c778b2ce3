package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Media types of the Kii REST API used by the driver.
const (
	thingRegistrationType = "application/vnd.kii.ThingRegistrationAndAuthorizationRequest+json"
	installationType      = "application/vnd.kii.InstallationCreationRequest+json"
	jsonType              = "application/json"
)

// apiClient is the little of the Kii REST API the driver needs.
type apiClient struct {
	app     string // {base}/api/apps/{appID}
	thingIF string // {base}/thing-if/apps/{appID}
	http    *http.Client
	rt      http.RoundTripper // http's transport, for objectPoster
}

// newAPIClient returns a client of the app appID at baseURL whose
// transport keeps up to conns idle connections to the server.
func newAPIClient(baseURL, appID string, conns int) *apiClient {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = conns
	t.MaxIdleConnsPerHost = conns
	t.MaxConnsPerHost = 0
	// Object creations bypass http.Client and its Timeout (see
	// objectPoster): this bounds their wait for an answer instead.
	t.ResponseHeaderTimeout = 30 * time.Second
	// No "Accept-Encoding: gzip" added to every request: the answers are
	// small.
	t.DisableCompression = true
	return &apiClient{
		app:     strings.TrimRight(baseURL, "/") + "/api/apps/" + appID,
		thingIF: strings.TrimRight(baseURL, "/") + "/thing-if/apps/" + appID,
		http:    &http.Client{Transport: t, Timeout: 30 * time.Second},
		rt:      t,
	}
}

// close drops the client's idle connections.
func (c *apiClient) close() { c.http.CloseIdleConnections() }

// statusError is an HTTP answer with an unexpected status.
type statusError struct {
	method, path string
	status       int
	body         string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s %s: HTTP %d: %s", e.method, e.path, e.status, e.body)
}

// do sends a request to {app}{path} and expects the status want. A JSON
// answer is decoded into out when out is not nil.
func (c *apiClient) do(ctx context.Context, method, path, token, contentType string, body []byte, want int, out any) error {
	return c.doURL(ctx, method, c.app+path, token, contentType, body, want, out)
}

// doURL is do with the whole URL.
func (c *apiClient) doURL(ctx context.Context, method, url, token, contentType string, body []byte, want int, out any) error {
	path := url
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	path = req.URL.Path // the full path, for error messages
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode != want {
		return &statusError{method: method, path: path, status: resp.StatusCode, body: snippet(b)}
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return nil
}

// snippet is an answer body fit for an error message: one line, short.
func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// adminToken logs in with the app's client credentials.
func (c *apiClient) adminToken(ctx context.Context, clientID, clientSecret string) (string, error) {
	body, err := json.Marshal(map[string]string{
		"grant_type": "client_credentials", "client_id": clientID, "client_secret": clientSecret,
	})
	if err != nil {
		return "", err
	}
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := c.do(ctx, http.MethodPost, "/oauth2/token", "", jsonType, body, http.StatusOK, &out); err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	if out.AccessToken == "" {
		return "", fmt.Errorf("admin token: no access_token in the answer")
	}
	return out.AccessToken, nil
}

// registerThing registers a thing and returns its ID and access token.
func (c *apiClient) registerThing(ctx context.Context, adminToken, vendorThingID, password string) (id, token string, err error) {
	body, err := json.Marshal(map[string]string{"_vendorThingID": vendorThingID, "_password": password})
	if err != nil {
		return "", "", err
	}
	var out struct {
		ThingID     string `json:"_thingID"`
		AccessToken string `json:"_accessToken"`
	}
	if err := c.do(ctx, http.MethodPost, "/things", adminToken, thingRegistrationType, body, http.StatusCreated, &out); err != nil {
		return "", "", fmt.Errorf("register thing %s: %w", vendorThingID, err)
	}
	if out.ThingID == "" || out.AccessToken == "" {
		return "", "", fmt.Errorf("register thing %s: no _thingID or _accessToken in the answer", vendorThingID)
	}
	return out.ThingID, out.AccessToken, nil
}

// endpoint is the part of an MQTT endpoint the driver uses.
type endpoint struct {
	Username  string `json:"username"`
	Password  string `json:"password"`
	MQTTTopic string `json:"mqttTopic"`
	Host      string `json:"host"`
	PortTCP   int    `json:"portTCP"`
}

// mqttEndpoint creates the caller's MQTT installation and returns its
// endpoint.
func (c *apiClient) mqttEndpoint(ctx context.Context, token string) (endpoint, error) {
	var in struct {
		InstallationID string `json:"installationID"`
	}
	body := []byte(`{"deviceType":"MQTT","development":false}`)
	if err := c.do(ctx, http.MethodPost, "/installations", token, installationType, body, http.StatusCreated, &in); err != nil {
		return endpoint{}, fmt.Errorf("create installation: %w", err)
	}
	if in.InstallationID == "" {
		return endpoint{}, fmt.Errorf("create installation: no installationID in the answer")
	}
	var ep endpoint
	if err := c.do(ctx, http.MethodGet, "/installations/"+in.InstallationID+"/mqtt-endpoint", token, "", nil, http.StatusOK, &ep); err != nil {
		return endpoint{}, fmt.Errorf("mqtt endpoint: %w", err)
	}
	if ep.MQTTTopic == "" || ep.Username == "" {
		return endpoint{}, fmt.Errorf("mqtt endpoint of installation %s: no mqttTopic or username", in.InstallationID)
	}
	return ep, nil
}

// subscribeOwnBucket subscribes thing thingID to the changes of its own
// bucket.
func (c *apiClient) subscribeOwnBucket(ctx context.Context, token, thingID, bucket string) error {
	path := "/things/" + thingID + "/buckets/" + bucket + "/filters/all/push/subscriptions/things/" + thingID
	if err := c.do(ctx, http.MethodPut, path, token, "", nil, http.StatusNoContent, nil); err != nil {
		return fmt.Errorf("push subscription: %w", err)
	}
	return nil
}

// subscribeAppTopic subscribes thing thingID, with its token, to the
// app-scope topic.
func (c *apiClient) subscribeAppTopic(ctx context.Context, token, thingID, topic string) error {
	path := "/topics/" + topic + "/push/subscriptions/things/" + thingID
	if err := c.do(ctx, http.MethodPut, path, token, "", nil, http.StatusNoContent, nil); err != nil {
		return fmt.Errorf("topic subscription: %w", err)
	}
	return nil
}

// createAppTopic creates the app-scope topic with the admin token.
func (c *apiClient) createAppTopic(ctx context.Context, adminToken, topic string) error {
	if err := c.do(ctx, http.MethodPut, "/topics/"+topic, adminToken, "", nil, http.StatusNoContent, nil); err != nil {
		return fmt.Errorf("create topic: %w", err)
	}
	return nil
}

// objectsPath is the path, under the app, of the objects of a thing's
// bucket.
func objectsPath(thingID, bucket string) string {
	return "/things/" + thingID + "/buckets/" + bucket + "/objects"
}
