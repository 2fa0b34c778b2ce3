package main

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/kumo-iot/kumo"
)

// mqttSession is an MQTT client connected as a device, whose loss of
// connection is recorded.
type mqttSession struct {
	c    paho.Client
	lost chan error
}

// connectRevocable connects an MQTT 3.1.1 client as d to the broker at url,
// subscribed to its topic when subscribe is set.
func connectRevocable(t *testing.T, url string, d device, subscribe bool) *mqttSession {
	t.Helper()
	s := &mqttSession{lost: make(chan error, 1)}
	opts := paho.NewClientOptions().AddBroker(url).SetClientID(d.Endpoint.MQTTTopic).
		SetUsername(d.Endpoint.Username).SetPassword(d.Endpoint.Password).SetProtocolVersion(4).
		SetCleanSession(true).SetAutoReconnect(false).SetConnectRetry(false).
		SetTLSConfig(&tls.Config{InsecureSkipVerify: true}).SetConnectTimeout(5 * time.Second).
		SetConnectionLostHandler(func(_ paho.Client, err error) { s.lost <- err })
	s.c = paho.NewClient(opts)
	if tok := s.c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("mqtt connect %s: %v", url, tok.Error())
	}
	t.Cleanup(func() { s.c.Disconnect(100) })
	if subscribe {
		tok := s.c.Subscribe(d.Endpoint.MQTTTopic, 0, func(paho.Client, paho.Message) {})
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("mqtt subscribe: %v", tok.Error())
		}
	}
	return s
}

// waitLost fails the test unless the session's connection is lost before
// a deadline.
func (s *mqttSession) waitLost(t *testing.T, what string) {
	t.Helper()
	select {
	case <-s.lost:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: the MQTT session is still open", what)
	}
}

// connackCode sends an MQTT 3.1 CONNECT with ep's credentials to the
// broker at addr (host:port) and returns the CONNACK's return code.
func connackCode(t *testing.T, addr string, ep kumo.MQTTEndpoint) byte {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write(connect31(ep.MQTTTopic, ep.Username, ep.Password))
	got := make([]byte, 4)
	if _, err := io.ReadFull(c, got); err != nil || got[0] != 0x20 {
		t.Fatalf("no CONNACK: % x, %v", got, err)
	}
	return got[3]
}

// brokerAddr is the host:port of an MQTT URL.
func brokerAddr(url string) string { return url[strings.Index(url, "://")+3:] }

// adminAuth returns the Authorization header of an admin token of n's app.
func adminAuth(t *testing.T, base string, app kumo.AppCredentials) []string {
	t.Helper()
	r := do(t, "POST", base+"/api/apps/"+app.AppID+"/oauth2/token",
		fmt.Sprintf(`{"grant_type":"client_credentials","client_id":%q,"client_secret":%q}`, app.ClientID, app.ClientSecret))
	wantStatus(t, r, 200)
	return []string{"Authorization", "Bearer " + r.Str(t, "access_token")}
}

// mustUserDevice registers a user (password "pass-{login}") with an MQTT
// installation and reads its endpoint; ThingID is the user's ID.
func (n *testNode) mustUserDevice(login string) device {
	t := n.t
	t.Helper()
	r := do(t, "POST", n.base+"/api/apps/"+n.app.AppID+"/users", fmt.Sprintf(`{"loginName":%q,"password":"pass-%s"}`, login, login),
		"Content-Type", "application/vnd.kii.RegistrationAndAuthorizationRequest+json")
	wantStatus(t, r, 201)
	d := device{ThingID: r.Str(t, "userID"), Token: r.Str(t, "_accessToken")}
	r = do(t, "POST", n.base+"/api/apps/"+n.app.AppID+"/installations", `{"deviceType":"MQTT","development":true}`,
		"Authorization", "Bearer "+d.Token, "Content-Type", "application/vnd.kii.InstallationCreationRequest+json")
	wantStatus(t, r, 201)
	d.InstallationID = r.Str(t, "installationID")
	d.Endpoint = n.endpoint(d.InstallationID, d.Token)
	return d
}

// endpoint reads an installation's MQTT endpoint with token.
func (n *testNode) endpoint(installationID, token string) kumo.MQTTEndpoint {
	n.t.Helper()
	r := do(n.t, "GET", n.base+"/api/apps/"+n.app.AppID+"/installations/"+installationID+"/mqtt-endpoint", "",
		"Authorization", "Bearer "+token)
	wantStatus(n.t, r, 200)
	var ep kumo.MQTTEndpoint
	if err := json.Unmarshal(r.Body, &ep); err != nil {
		n.t.Fatal(err)
	}
	return ep
}

// TestRevokeMQTT: disabling or deleting a thing, deleting an
// installation, changing a thing's or a user's password and deleting a
// user each end the device's open MQTT session at once, and its old
// credentials are refused from then on (CONNACK 4). After a password
// change the endpoint gives new credentials that connect, with the same
// topic; a thing enabled again connects with its old ones.
func TestRevokeMQTT(t *testing.T) { forEachStore(t, testRevokeMQTT) }

func testRevokeMQTT(t *testing.T, cfg config) {
	n := mustStartNodeConfig(t, cfg)
	admin := adminAuth(t, n.base, n.app)
	app := n.base + "/api/apps/" + n.app.AppID
	url := n.mqttURL("tcp")
	for i, tt := range []struct {
		name   string
		user   bool                                  // a user's installation, else a thing's
		revoke func(t *testing.T, d device) response // the revoking write
		after  func(t *testing.T, d device) device   // when set: what restores access, and the device as it connects then
	}{
		{name: "disable thing", revoke: func(t *testing.T, d device) response {
			return do(t, "PUT", app+"/things/"+d.ThingID+"/status", `{"disabled":true}`, admin...)
		}, after: func(t *testing.T, d device) device {
			wantStatus(t, do(t, "PUT", app+"/things/"+d.ThingID+"/status", `{"disabled":false}`, admin...), 204)
			return d
		}},
		{name: "delete thing", revoke: func(t *testing.T, d device) response {
			return do(t, "DELETE", app+"/things/"+d.ThingID, "", admin...)
		}},
		{name: "delete installation", revoke: func(t *testing.T, d device) response {
			return do(t, "DELETE", app+"/installations/"+d.InstallationID, "", "Authorization", "Bearer "+d.Token)
		}},
		{name: "thing password", revoke: func(t *testing.T, d device) response {
			return do(t, "PUT", app+"/things/"+d.ThingID+"/password", `{"newPassword":"new-pass"}`, "Authorization", "Bearer "+d.Token)
		}, after: func(t *testing.T, d device) device {
			d.Endpoint = n.endpoint(d.InstallationID, d.Token) // a thing's token survives its password change
			return d
		}},
		{name: "user password", user: true, revoke: func(t *testing.T, d device) response {
			return do(t, "PUT", app+"/users/"+d.ThingID+"/password", `{"newPassword":"new-pass"}`, admin...)
		}, after: func(t *testing.T, d device) device {
			r := do(t, "POST", app+"/oauth2/token", fmt.Sprintf(`{"username":%q,"password":"new-pass"}`, d.VendorID))
			wantStatus(t, r, 200)
			d.Endpoint = n.endpoint(d.InstallationID, r.Str(t, "access_token"))
			return d
		}},
		{name: "delete user", user: true, revoke: func(t *testing.T, d device) response {
			return do(t, "DELETE", app+"/users/"+d.ThingID, "", admin...)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var d device
			if tt.user {
				d = n.mustUserDevice(fmt.Sprintf("revoke-user-%d", i))
				d.VendorID = fmt.Sprintf("revoke-user-%d", i) // the login name
			} else {
				d = n.mustDevice(fmt.Sprintf("revoke-thing-%d", i))
			}
			s := connectRevocable(t, url, d, true)
			wantStatus(t, tt.revoke(t, d), 204)
			s.waitLost(t, tt.name)
			if code := connackCode(t, brokerAddr(url), d.Endpoint); code != 4 {
				t.Errorf("CONNACK with the old credentials: return code %d, want 4", code)
			}
			if tt.after == nil {
				return
			}
			now := tt.after(t, d)
			if now.Endpoint.MQTTTopic != d.Endpoint.MQTTTopic {
				t.Errorf("mqttTopic changed from %s to %s", d.Endpoint.MQTTTopic, now.Endpoint.MQTTTopic)
			}
			if code := connackCode(t, brokerAddr(url), now.Endpoint); code != 0 {
				t.Errorf("CONNACK with the credentials now given: return code %d, want 0", code)
			}
			if now.Endpoint.Username != d.Endpoint.Username {
				if code := connackCode(t, brokerAddr(url), d.Endpoint); code != 4 {
					t.Errorf("CONNACK with the old credentials after reading the new: return code %d, want 4", code)
				}
			}
		})
	}
}

// TestClusterRevokeMQTT: every kind of revocation (a thing disabled or
// deleted, an installation deleted, a thing's or user's password changed,
// a user deleted) made through one node ends the device's session on the
// other node, whether the device subscribed to its topic or not, and the
// old credentials are refused there.
func TestClusterRevokeMQTT(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	nodes, a, _ := startCluster(t, 2)
	admin := adminAuth(t, a.base, a.app)
	app := a.base + "/api/apps/" + a.app.AppID
	other := mqttURLOf(nodes[1])
	for i, tt := range []struct {
		name   string
		user   bool // a user's installation, else a thing's
		revoke func(t *testing.T, d device) response
	}{
		{"disable thing", false, func(t *testing.T, d device) response {
			return do(t, "PUT", app+"/things/"+d.ThingID+"/status", `{"disabled":true}`, admin...)
		}},
		{"delete thing", false, func(t *testing.T, d device) response {
			return do(t, "DELETE", app+"/things/"+d.ThingID, "", admin...)
		}},
		{"delete installation", false, func(t *testing.T, d device) response {
			return do(t, "DELETE", app+"/installations/"+d.InstallationID, "", "Authorization", "Bearer "+d.Token)
		}},
		{"thing password", false, func(t *testing.T, d device) response {
			return do(t, "PUT", app+"/things/"+d.ThingID+"/password", `{"newPassword":"new-pass"}`, "Authorization", "Bearer "+d.Token)
		}},
		{"user password", true, func(t *testing.T, d device) response {
			return do(t, "PUT", app+"/users/"+d.ThingID+"/password", `{"newPassword":"new-pass"}`, admin...)
		}},
		{"delete user", true, func(t *testing.T, d device) response {
			return do(t, "DELETE", app+"/users/"+d.ThingID, "", admin...)
		}},
	} {
		for _, subscribe := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s subscribed=%v", tt.name, subscribe), func(t *testing.T) {
				var d device
				if tt.user {
					d = a.mustUserDevice(fmt.Sprintf("cluster-revoke-user-%d-%v", i, subscribe))
				} else {
					d = a.mustDevice(fmt.Sprintf("cluster-revoke-%d-%v", i, subscribe))
				}
				s := connectRevocable(t, other, d, subscribe)
				wantStatus(t, tt.revoke(t, d), 204)
				s.waitLost(t, tt.name+" on the other node")
				if code := connackCode(t, brokerAddr(other), d.Endpoint); code != 4 {
					t.Errorf("CONNACK with the old credentials on the other node: return code %d, want 4", code)
				}
			})
		}
	}
}
