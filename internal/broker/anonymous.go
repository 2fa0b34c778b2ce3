package broker

import (
	"context"
	"crypto/subtle"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/kumo-iot/kumo"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// The anonymous ("default") broker (push-mqtt §3.2): a device that knows
// only its app's ID and key connects with client ID "anonymous",
// username "type=oauth2&client_id={appID}" and password
// "client_secret={appKey}", publishes an onboarding request frame to
// p/anonymous/thing-if/apps/{appID}/onboardings and gets the answer on
// that topic (rest.go), then reconnects with the mqttEndpoint it got.
//
// Many devices connect at once with that same client ID. mochi takes a
// session over by client ID, so each anonymous connection gets a unique
// internal ID (anonymousPrefix + a number) before it is authenticated;
// the protocol never shows it. An anonymous connection may publish only
// to its app's onboarding topic (anything else under p/anonymous/ is
// answered 403 OperationNotSupported; other topics are dropped) and may
// subscribe to nothing (SUBACK 0x80).

// anonymousPrefix starts the internal client IDs of anonymous
// connections. It holds a '/', which no mqttTopic does, so that these IDs
// never meet a device's.
const anonymousPrefix = AnonymousClientID + "/"

// AppFinder finds apps (kumo.AppService's FindApp).
type AppFinder interface {
	FindApp(ctx context.Context, idOrKey string) (kumo.App, error)
}

// nameAnonymous gives an anonymous CONNECT its unique internal ID.
func (b *Broker) nameAnonymous(cl *mqtt.Client, pk packets.Packet) {
	if pk.Connect.ClientIdentifier == AnonymousClientID {
		cl.ID = anonymousPrefix + strconv.FormatUint(b.anonSeq.Add(1), 10)
	}
}

// anonymousApp returns the app ID of an anonymous connection (from its
// username, checked at CONNECT); ok is false for any other connection.
func anonymousApp(cl *mqtt.Client) (appID string, ok bool) {
	if !strings.HasPrefix(cl.ID, anonymousPrefix) {
		return "", false
	}
	appID, _ = anonymousCredentials(string(cl.Properties.Username), "")
	return appID, appID != ""
}

// anonymousCredentials reads the app ID of an anonymous username
// ("type=oauth2&client_id={appID}") and the app key of its password
// ("client_secret={appKey}"); "" for what is not of that form.
func anonymousCredentials(user, pass string) (appID, appKey string) {
	if q, err := url.ParseQuery(user); err == nil && q.Get("type") == "oauth2" {
		appID = q.Get("client_id")
	}
	if q, err := url.ParseQuery(pass); err == nil {
		appKey = q.Get("client_secret")
	}
	return appID, appKey
}

// authenticateAnonymous accepts an anonymous CONNECT whose password holds
// the key of the app its username names. A wrong key or app counts
// against the address's CONNECT throttle, as a wrong password does.
func (b *Broker) authenticateAnonymous(cl *mqtt.Client, pk packets.Packet) bool {
	appID, key := anonymousCredentials(string(pk.Connect.Username), string(pk.Connect.Password))
	if b.Apps == nil || b.rest.Load() == nil {
		b.Log.Info("mqtt connect refused: the anonymous broker is off", "remote", cl.Net.Remote)
		return false
	}
	if appID == "" || key == "" {
		b.Log.Info("mqtt connect refused: an anonymous CONNECT needs username type=oauth2&client_id={appID} and password client_secret={appKey}", "remote", cl.Net.Remote)
		b.connectFailed(cl)
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	app, err := b.Apps.FindApp(ctx, appID)
	if err != nil && kumo.ErrorCode(err) != kumo.ErrAppNotFound {
		b.Log.Error("mqtt connect: app lookup failed", "error", err)
		return false
	}
	if err != nil || app.ID != appID || subtle.ConstantTimeCompare([]byte(key), []byte(app.Key)) != 1 {
		b.Log.Info("mqtt connect refused: bad app ID or key", "client", AnonymousClientID, "remote", cl.Net.Remote)
		b.connectFailed(cl)
		return false
	}
	cl.Properties.Clean = true // no session is kept for an anonymous connection
	return true
}
