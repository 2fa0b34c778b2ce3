package storetest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"reflect"
	"testing"

	"github.com/kumo-iot/kumo"
)

// PushKeys returns a new FCM service account key file (project "proj-1")
// and a new APNs .p8 key, for tests.
func PushKeys(t testing.TB) (serviceAccount, p8 []byte) {
	t.Helper()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pemOf := func(k any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	serviceAccount, _ = json.Marshal(map[string]string{
		"type": "service_account", "project_id": "proj-1", "private_key_id": "kid-1",
		"private_key": string(pemOf(rk)), "client_email": "kumo@proj-1.iam.gserviceaccount.com",
		"token_uri": "https://oauth2.googleapis.com/token",
	})
	return serviceAccount, pemOf(ek)
}

// testPushConfig checks kumo.PushConfigService: admin only, validated,
// replaced as a whole, kept across a restart, deleted.
func testPushConfig(t *testing.T, s suite) {
	f := newFixture(t, s)
	_, alice := f.mustUser("alice")
	sa, p8 := PushKeys(t)
	full := kumo.PushConfig{
		FCM:  &kumo.FCMConfig{ServiceAccount: sa},
		APNs: &kumo.APNsConfig{KeyID: "KEY1234567", TeamID: "TEAM123456", BundleID: "com.example.app", Key: p8},
	}
	for _, c := range []kumo.Caller{alice, f.anon} {
		_, err := f.db.PushConfigs.PushConfig(f.ctx, c)
		wantCode(t, "PushConfig as non-admin", err, kumo.ErrUnauthorized)
		_, err = f.db.PushConfigs.SetPushConfig(f.ctx, c, full)
		wantCode(t, "SetPushConfig as non-admin", err, kumo.ErrUnauthorized)
		wantCode(t, "DeletePushConfig as non-admin", f.db.PushConfigs.DeletePushConfig(f.ctx, c), kumo.ErrUnauthorized)
	}
	if p, err := f.db.PushConfigs.PushConfig(f.ctx, f.admin); err != nil || p.FCM != nil || p.APNs != nil {
		t.Fatalf("PushConfig of a new app = %+v, %v; want empty", p, err)
	}
	stored, err := f.db.PushConfigs.SetPushConfig(f.ctx, f.admin, full)
	if err != nil {
		t.Fatalf("SetPushConfig: %v", err)
	}
	if stored.FCM.ProjectID != "proj-1" {
		t.Errorf("FCM project = %q, want the key's project_id", stored.FCM.ProjectID)
	}
	f.reopen()
	got, err := f.db.PushConfigs.PushConfig(f.ctx, f.admin)
	if err != nil || got.FCM == nil || got.APNs == nil {
		t.Fatalf("PushConfig after a restart = %+v, %v", got, err)
	}
	if got.FCM.ProjectID != "proj-1" || !bytes.Equal(got.FCM.ServiceAccount, sa) || !reflect.DeepEqual(got.APNs, full.APNs) {
		t.Errorf("PushConfig = %+v / %+v, want what was set", got.FCM, got.APNs)
	}
	other := f.mustApp(kumo.AppCreate{ID: "app2"})
	if p, _ := f.db.PushConfigs.PushConfig(f.ctx, kumo.Caller{AppID: other.AppID, Kind: kumo.Admin, ID: other.ClientID}); p.FCM != nil || p.APNs != nil {
		t.Errorf("another app sees the configuration: %+v", p)
	}

	bad := []kumo.PushConfig{
		{FCM: &kumo.FCMConfig{ServiceAccount: []byte(`{"type":"authorized_user"}`)}},
		{FCM: &kumo.FCMConfig{ServiceAccount: []byte(`not json`)}},
		{APNs: &kumo.APNsConfig{KeyID: "K", TeamID: "T", BundleID: "B", Key: []byte("not a key")}},
		{APNs: &kumo.APNsConfig{KeyID: "K", TeamID: "T", Key: p8}},
		{APNs: &kumo.APNsConfig{KeyID: "K", TeamID: "T", BundleID: "B", Key: rsaPEM(t, sa)}},
	}
	for i, p := range bad {
		_, err := f.db.PushConfigs.SetPushConfig(f.ctx, f.admin, p)
		wantCode(t, fmt.Sprintf("SetPushConfig of bad configuration %d", i), err, kumo.ErrInvalidInputData)
	}

	// A set replaces the whole configuration.
	if _, err := f.db.PushConfigs.SetPushConfig(f.ctx, f.admin, kumo.PushConfig{APNs: full.APNs}); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.db.PushConfigs.PushConfig(f.ctx, f.admin); got.FCM != nil || got.APNs == nil {
		t.Errorf("after setting APNs only: %+v", got)
	}
	if err := f.db.PushConfigs.DeletePushConfig(f.ctx, f.admin); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.db.PushConfigs.PushConfig(f.ctx, f.admin); got.FCM != nil || got.APNs != nil {
		t.Errorf("after delete: %+v", got)
	}
	if err := f.db.PushConfigs.DeletePushConfig(f.ctx, f.admin); err != nil {
		t.Errorf("deleting no configuration: %v", err)
	}
}

// rsaPEM returns the private key of a service account key file.
func rsaPEM(t *testing.T, sa []byte) []byte {
	var m map[string]string
	if err := json.Unmarshal(sa, &m); err != nil {
		t.Fatal(err)
	}
	return []byte(m["private_key"])
}
