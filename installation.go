package kumo

import (
	"context"
	"strings"
)

// Device types of installations.
const (
	DeviceAndroid = "ANDROID"
	DeviceIOS     = "IOS"
	DeviceJPush   = "JPUSH"
	DeviceMQTT    = "MQTT"
)

// Installation is a push target: a phone's token or an MQTT device.
type Installation struct {
	ID             string
	AppID          string
	DeviceType     string
	RegistrationID string // the phone token; generated for MQTT
	Development    bool
	Owner          Principal // a user or a thing
	MQTTUsername   string    // MQTT installations only
	MQTTTopic      string    // MQTT installations only; also the client ID
	Created        int64
	// Persistent is set on an MQTT installation whose device last
	// connected with clean session 0 (see PushQueue). Read by
	// MQTTInstallation only.
	Persistent bool
}

// InstallationCreate is the body of POST /api/apps/{appID}/installations.
type InstallationCreate struct {
	DeviceType     string
	RegistrationID string
	Development    bool
	UserID         string // admin only: the owner
	ThingID        string // admin only: the owner
}

// ParseDeviceType normalises a deviceType (or legacy installationType)
// value. ok is false for an unknown type.
func ParseDeviceType(s string) (string, bool) {
	switch t := strings.ToUpper(s); t {
	case DeviceAndroid, DeviceIOS, DeviceJPush, DeviceMQTT:
		return t, true
	case "GCM", "FCM":
		return DeviceAndroid, true
	}
	return "", false
}

// InstallationService manages installations.
type InstallationService interface {
	// CreateInstallation creates an installation owned by the caller (or,
	// for the admin, by the user or thing named in the request). MQTT
	// installations are one per owner: a repeat returns the existing one.
	// A phone token already installed moves to the new owner.
	CreateInstallation(ctx context.Context, c Caller, r InstallationCreate) (Installation, error)
	// GetInstallation returns the installation named by selector: an
	// installation ID or "{deviceType}:{registrationID}". Only the admin
	// and the owner may read it.
	GetInstallation(ctx context.Context, c Caller, selector string) (Installation, error)
	// DeleteInstallation deletes an installation, as GetInstallation finds it.
	DeleteInstallation(ctx context.Context, c Caller, selector string) error
	// MQTTInstallation returns the MQTT installation whose MQTT username is
	// username, for the broker's CONNECT check. INSTALLATION_NOT_FOUND when
	// there is none, THING_DISABLED when its owner is a disabled thing.
	MQTTInstallation(ctx context.Context, username string) (Installation, error)
}

// MQTTRevocation names MQTT credentials that a write revoked: the
// device's topic (its client ID) and the username it logged in with.
// Carried by MQTTRevoked events.
type MQTTRevocation struct {
	Topic    string `json:"topic"`
	Username string `json:"username"`
}

// MQTTEndpoint is what GET .../installations/{id}/mqtt-endpoint returns.
type MQTTEndpoint struct {
	InstallationID string `json:"installationID"`
	Username       string `json:"username"`
	Password       string `json:"password"`
	MQTTTopic      string `json:"mqttTopic"`
	Host           string `json:"host"`
	PortTCP        int    `json:"portTCP"`
	PortSSL        int    `json:"portSSL"`
	PortWS         int    `json:"portWS"`
	PortWSS        int    `json:"portWSS"`
	TTL            int64  `json:"X-MQTT-TTL"`
}

// InstallationNotFound returns Kii's INSTALLATION_NOT_FOUND error.
func InstallationNotFound(appID, selector string) *Error {
	e := Errorf(ErrInstallationNotFound, "Installation %s was not found", selector).With("appID", appID)
	if t, reg, ok := strings.Cut(selector, ":"); ok {
		return e.With("deviceType", t).With("installationRegistrationID", reg)
	}
	return e.With("installationID", selector)
}
