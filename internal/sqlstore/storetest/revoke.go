package storetest

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/kumo-iot/kumo"
)

// testRevokeMQTT checks that each write that revokes MQTT credentials
// commits one MQTT_REVOKED event naming them (topic and username), and
// that MQTTInstallation refuses them from then on: a disabled thing's
// until it is enabled again; after a password change, the installation
// has a new username (same ID and topic) that MQTTInstallation accepts.
func testRevokeMQTT(t *testing.T, s suite) {
	for _, tt := range []struct {
		name     string
		user     bool // the installation is a user's, else a thing's
		revoke   func(f *fixture, owner kumo.Caller, in kumo.Installation) error
		wantCode kumo.Code // MQTTInstallation's with the old username
		rotated  bool      // the installation stays, with a new username
		enable   bool      // SetThingDisabled(false) restores the old credentials
	}{
		{name: "disable thing", wantCode: kumo.ErrThingDisabled, enable: true,
			revoke: func(f *fixture, o kumo.Caller, _ kumo.Installation) error {
				return f.db.Things.SetThingDisabled(f.ctx, f.admin, o.ID, true)
			}},
		{name: "delete thing", wantCode: kumo.ErrInstallationNotFound,
			revoke: func(f *fixture, o kumo.Caller, _ kumo.Installation) error {
				return f.db.Things.DeleteThing(f.ctx, f.admin, o.ID)
			}},
		{name: "delete installation", wantCode: kumo.ErrInstallationNotFound,
			revoke: func(f *fixture, o kumo.Caller, in kumo.Installation) error {
				return f.db.Installations.DeleteInstallation(f.ctx, o, in.ID)
			}},
		{name: "thing password", wantCode: kumo.ErrInstallationNotFound, rotated: true,
			revoke: func(f *fixture, o kumo.Caller, _ kumo.Installation) error {
				return f.db.Things.ChangeThingPassword(f.ctx, o, o.ID, "new-pass")
			}},
		{name: "user password", user: true, wantCode: kumo.ErrInstallationNotFound, rotated: true,
			revoke: func(f *fixture, o kumo.Caller, _ kumo.Installation) error {
				return f.db.Users.ChangePassword(f.ctx, o, "me", "pw-alice", "new-pass")
			}},
		{name: "delete user", user: true, wantCode: kumo.ErrInstallationNotFound,
			revoke: func(f *fixture, o kumo.Caller, _ kumo.Installation) error {
				return f.db.Users.DeleteUser(f.ctx, f.admin, o.ID)
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, s)
			var owner kumo.Caller
			if tt.user {
				_, owner = f.mustUser("alice")
			} else {
				_, owner = f.mustThing("vt-a")
			}
			in := f.mustInstall(owner, kumo.InstallationCreate{DeviceType: kumo.DeviceMQTT})
			_, bystander := f.mustThing("vt-other") // its installation is not revoked
			other := f.mustInstall(bystander, kumo.InstallationCreate{DeviceType: kumo.DeviceMQTT})
			if _, err := f.db.Installations.MQTTInstallation(f.ctx, in.MQTTUsername); err != nil {
				t.Fatalf("MQTTInstallation before: %v", err)
			}
			f.claimAll()

			if err := tt.revoke(f, owner, in); err != nil {
				t.Fatalf("revoking write: %v", err)
			}
			var revs []kumo.MQTTRevocation
			for _, e := range f.claimAll() {
				if e.Type != kumo.MQTTRevoked {
					continue
				}
				if e.Bucket.AppID != f.app.AppID {
					t.Errorf("MQTT_REVOKED event of app %q, want %q", e.Bucket.AppID, f.app.AppID)
				}
				var rs []kumo.MQTTRevocation
				if err := json.Unmarshal(e.Message, &rs); err != nil {
					t.Fatalf("MQTT_REVOKED message %s: %v", e.Message, err)
				}
				revs = append(revs, rs...)
			}
			want := []kumo.MQTTRevocation{{Topic: in.MQTTTopic, Username: in.MQTTUsername}}
			if !reflect.DeepEqual(revs, want) {
				t.Errorf("revoked %+v, want %+v", revs, want)
			}
			_, err := f.db.Installations.MQTTInstallation(f.ctx, in.MQTTUsername)
			wantCode(t, "MQTTInstallation with the old username", err, tt.wantCode)
			if _, err := f.db.Installations.MQTTInstallation(f.ctx, other.MQTTUsername); err != nil {
				t.Errorf("MQTTInstallation of another thing's installation: %v", err)
			}

			if tt.rotated {
				now, err := f.db.Installations.GetInstallation(f.ctx, f.admin, in.ID)
				if err != nil {
					t.Fatalf("GetInstallation after the password change: %v", err)
				}
				if now.MQTTUsername == in.MQTTUsername || now.MQTTTopic != in.MQTTTopic {
					t.Errorf("after the password change: username %s, topic %s; want a new username and topic %s",
						now.MQTTUsername, now.MQTTTopic, in.MQTTTopic)
				}
				checkMQTTInstallation(t, f, now, in.Owner)
				if got, err := f.db.Installations.MQTTInstallation(f.ctx, now.MQTTUsername); err != nil || got.ID != in.ID {
					t.Errorf("MQTTInstallation with the new username = %+v, %v; want installation %s", got, err, in.ID)
				}
			}
			if tt.enable {
				if err := f.db.Things.SetThingDisabled(f.ctx, f.admin, owner.ID, false); err != nil {
					t.Fatal(err)
				}
				if got, err := f.db.Installations.MQTTInstallation(f.ctx, in.MQTTUsername); err != nil || got.ID != in.ID {
					t.Errorf("MQTTInstallation after the thing is enabled = %+v, %v; want installation %s", got, err, in.ID)
				}
				for _, e := range f.claimAll() {
					if e.Type == kumo.MQTTRevoked {
						t.Errorf("enabling a thing revoked %s", e.Message)
					}
				}
			}
		})
	}
}
