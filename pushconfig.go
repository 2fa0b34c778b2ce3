package kumo

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
)

// PushConfig is how an app reaches phones: its Firebase Cloud Messaging
// project (installations of deviceType ANDROID) and its Apple Push
// Notification service key (deviceType IOS). A nil section is not
// configured: pushes to those installations are not sent. JPush
// (deviceType JPUSH) is not supported.
//
// The private keys are stored as given (the database, or the SQLite data
// directory, must be protected like the keys themselves) and never
// returned over the API (Public).
type PushConfig struct {
	FCM  *FCMConfig
	APNs *APNsConfig
}

// FCMConfig is an app's Firebase project: the service account key file
// Google issues (JSON), with which Kumo obtains OAuth2 access tokens.
type FCMConfig struct {
	// ProjectID is the Firebase project messages are sent through: the
	// key's project_id unless set otherwise.
	ProjectID string
	// ServiceAccount is the key file, as given.
	ServiceAccount []byte
}

// APNsConfig is an app's token-based APNs authentication key.
type APNsConfig struct {
	KeyID    string // the key's ID (10 characters)
	TeamID   string // the developer team's ID
	BundleID string // the app's bundle ID: the apns-topic of its pushes
	Key      []byte // the .p8 file (PEM, PKCS #8, P-256), as given
}

// ServiceAccount is what Kumo reads from a Google service account key.
type ServiceAccount struct {
	Type         string `json:"type"`
	ProjectID    string `json:"project_id"`
	PrivateKeyID string `json:"private_key_id"`
	PrivateKey   string `json:"private_key"`
	ClientEmail  string `json:"client_email"`
	TokenURI     string `json:"token_uri"`
}

// GoogleTokenURI is the token endpoint of keys that name none.
const GoogleTokenURI = "https://oauth2.googleapis.com/token"

// ParseServiceAccount reads a service account key file and its RSA
// private key. A file that is not one is INVALID_INPUT_DATA.
func ParseServiceAccount(b []byte) (ServiceAccount, *rsa.PrivateKey, error) {
	var sa ServiceAccount
	if err := json.Unmarshal(b, &sa); err != nil {
		return sa, nil, Errorf(ErrInvalidInputData, "The FCM service account is not a JSON key file: %v", err)
	}
	if sa.Type != "service_account" || sa.ClientEmail == "" || sa.PrivateKey == "" {
		return sa, nil, Errorf(ErrInvalidInputData, `The FCM service account must be a key file of "type" "service_account" with "client_email" and "private_key"`)
	}
	if sa.TokenURI == "" {
		sa.TokenURI = GoogleTokenURI
	}
	k, err := parsePKCS8([]byte(sa.PrivateKey))
	if err != nil {
		return sa, nil, Errorf(ErrInvalidInputData, "The FCM service account's private_key is not valid: %v", err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return sa, nil, Errorf(ErrInvalidInputData, "The FCM service account's private_key is not an RSA key")
	}
	return sa, rk, nil
}

// ParseAPNsKey reads a .p8 APNs authentication key: a P-256 private key.
// Anything else is INVALID_INPUT_DATA.
func ParseAPNsKey(b []byte) (*ecdsa.PrivateKey, error) {
	k, err := parsePKCS8(b)
	if err != nil {
		return nil, Errorf(ErrInvalidInputData, "The APNs key is not valid: %v", err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok || ek.Curve != elliptic.P256() {
		return nil, Errorf(ErrInvalidInputData, "The APNs key is not a P-256 (ES256) key")
	}
	return ek, nil
}

func parsePKCS8(b []byte) (any, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errorString("no PEM block")
	}
	return x509.ParsePKCS8PrivateKey(block.Bytes)
}

type errorString string

func (e errorString) Error() string { return string(e) }

// Validate checks a configuration before it is stored and fills the FCM
// project ID from the key when it is empty. A section that cannot work is
// INVALID_INPUT_DATA.
func (p *PushConfig) Validate() error {
	if p.FCM != nil {
		sa, _, err := ParseServiceAccount(p.FCM.ServiceAccount)
		if err != nil {
			return err
		}
		if p.FCM.ProjectID == "" {
			p.FCM.ProjectID = sa.ProjectID
		}
		if p.FCM.ProjectID == "" {
			return Errorf(ErrInvalidInputData, "The FCM project ID is missing (no project_id in the key)")
		}
	}
	if a := p.APNs; a != nil {
		if a.KeyID == "" || a.TeamID == "" || a.BundleID == "" {
			return Errorf(ErrInvalidInputData, "APNs needs the key ID, the team ID and the bundle ID")
		}
		if _, err := ParseAPNsKey(a.Key); err != nil {
			return err
		}
	}
	return nil
}

// PushConfigView is what the API shows of a PushConfig: no private key.
type PushConfigView struct {
	FCM  *FCMConfigView  `json:"fcm,omitempty"`
	APNs *APNsConfigView `json:"apns,omitempty"`
}

// FCMConfigView is the public part of an FCMConfig.
type FCMConfigView struct {
	ProjectID    string `json:"projectID"`
	ClientEmail  string `json:"clientEmail,omitempty"`
	PrivateKeyID string `json:"privateKeyID,omitempty"`
}

// APNsConfigView is the public part of an APNsConfig.
type APNsConfigView struct {
	KeyID    string `json:"keyID"`
	TeamID   string `json:"teamID"`
	BundleID string `json:"bundleID"`
}

// Public returns the configuration without its private keys.
func (p PushConfig) Public() PushConfigView {
	var v PushConfigView
	if p.FCM != nil {
		v.FCM = &FCMConfigView{ProjectID: p.FCM.ProjectID}
		var sa ServiceAccount
		if json.Unmarshal(p.FCM.ServiceAccount, &sa) == nil {
			v.FCM.ClientEmail, v.FCM.PrivateKeyID = sa.ClientEmail, sa.PrivateKeyID
		}
	}
	if p.APNs != nil {
		v.APNs = &APNsConfigView{KeyID: p.APNs.KeyID, TeamID: p.APNs.TeamID, BundleID: p.APNs.BundleID}
	}
	return v
}

// PushConfigService keeps the push configuration of apps. Admin only
// (UNAUTHORIZED for anyone else); the push dispatcher reads it as the
// app's admin.
type PushConfigService interface {
	// PushConfig returns the app's configuration, empty (both sections
	// nil) when none is set.
	PushConfig(ctx context.Context, c Caller) (PushConfig, error)
	// SetPushConfig validates p (Validate) and replaces the app's
	// configuration with it; it returns what was stored.
	SetPushConfig(ctx context.Context, c Caller, p PushConfig) (PushConfig, error)
	// DeletePushConfig removes the app's configuration (no error when
	// there is none).
	DeletePushConfig(ctx context.Context, c Caller) error
}
