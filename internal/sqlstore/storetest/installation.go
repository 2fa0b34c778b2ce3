package storetest

import (
	"strings"
	"testing"

	"github.com/kumo-iot/kumo"
)

// testInstallations checks kumo.InstallationService.
func testInstallations(t *testing.T, s suite) {
	t.Run("MQTT", func(t *testing.T) {
		f := newFixture(t, s)
		a, aCaller := f.mustThing("vt-a")
		_, bCaller := f.mustThing("vt-b")
		_, uCaller := f.mustUser("alice")

		in := f.mustInstall(aCaller, kumo.InstallationCreate{DeviceType: kumo.DeviceMQTT, Development: true})
		checkMQTTInstallation(t, f, in, kumo.Principal{Kind: kumo.ThingCaller, ID: a.ID})
		if !in.Development {
			t.Error("Development = false, want true as asked")
		}

		// Idempotent per owner: the thing itself, the admin naming it by ID
		// or by vendor thing ID all get the same installation back.
		for _, tt := range []struct {
			name   string
			caller kumo.Caller
			r      kumo.InstallationCreate
		}{
			{"repeat", aCaller, kumo.InstallationCreate{DeviceType: kumo.DeviceMQTT}},
			{"admin by thing ID", f.admin, kumo.InstallationCreate{DeviceType: kumo.DeviceMQTT, ThingID: a.ID}},
			{"admin by vendor thing ID", f.admin, kumo.InstallationCreate{DeviceType: kumo.DeviceMQTT, ThingID: "VENDOR_THING_ID:vt-a"}},
		} {
			again := f.mustInstall(tt.caller, tt.r)
			if again != in {
				t.Errorf("%s: CreateInstallation = %+v, want the first one %+v", tt.name, again, in)
			}
		}

		// Other owners get installations of their own.
		seen := map[string]bool{in.ID: true, in.MQTTUsername: true, in.MQTTTopic: true}
		for _, c := range []kumo.Caller{bCaller, uCaller} {
			other := f.mustInstall(c, kumo.InstallationCreate{DeviceType: kumo.DeviceMQTT})
			checkMQTTInstallation(t, f, other, c.Principal())
			for _, v := range []string{other.ID, other.MQTTUsername, other.MQTTTopic} {
				if seen[v] {
					t.Errorf("the MQTT installation of %s reuses %q", c.ID, v)
				}
				seen[v] = true
			}
		}

		// The broker finds the installation by its MQTT username.
		got, err := f.db.Installations.MQTTInstallation(f.ctx, in.MQTTUsername)
		if err != nil || got != in {
			t.Errorf("MQTTInstallation(%q) = %+v, %v; want %+v", in.MQTTUsername, got, err, in)
		}
		_, err = f.db.Installations.MQTTInstallation(f.ctx, f.app.AppID+"-nope")
		wantCode(t, "MQTTInstallation(unknown)", err, kumo.ErrInstallationNotFound)
	})

	t.Run("Create", func(t *testing.T) {
		f := newFixture(t, s)
		a, aCaller := f.mustThing("vt-a")
		u, uCaller := f.mustUser("alice")
		tests := []struct {
			name   string
			caller kumo.Caller
			r      kumo.InstallationCreate
			code   kumo.Code
			owner  kumo.Principal
		}{
			{name: "IOS by a user", caller: uCaller, r: kumo.InstallationCreate{DeviceType: kumo.DeviceIOS, RegistrationID: "ios-token-1"},
				owner: uCaller.Principal()},
			{name: "ANDROID by a thing", caller: aCaller, r: kumo.InstallationCreate{DeviceType: kumo.DeviceAndroid, RegistrationID: "fcm-1"},
				owner: aCaller.Principal()},
			{name: "ANDROID without a registration ID", caller: uCaller, r: kumo.InstallationCreate{DeviceType: kumo.DeviceAndroid},
				code: kumo.ErrInvalidInputData},
			{name: "IOS without a registration ID", caller: uCaller, r: kumo.InstallationCreate{DeviceType: kumo.DeviceIOS},
				code: kumo.ErrInvalidInputData},
			{name: "admin for a user", caller: f.admin, r: kumo.InstallationCreate{DeviceType: kumo.DeviceIOS, RegistrationID: "ios-token-2", UserID: u.ID},
				owner: uCaller.Principal()},
			{name: "admin for a user by LOGIN_NAME:", caller: f.admin, r: kumo.InstallationCreate{DeviceType: kumo.DeviceIOS, RegistrationID: "ios-token-3", UserID: "LOGIN_NAME:alice"},
				owner: uCaller.Principal()},
			{name: "admin for a thing", caller: f.admin, r: kumo.InstallationCreate{DeviceType: kumo.DeviceJPush, RegistrationID: "jp-1", ThingID: a.ID},
				owner: aCaller.Principal()},
			{name: "admin naming no owner", caller: f.admin, r: kumo.InstallationCreate{DeviceType: kumo.DeviceMQTT},
				code: kumo.ErrInvalidInputData},
			{name: "admin naming no owner, phone", caller: f.admin, r: kumo.InstallationCreate{DeviceType: kumo.DeviceIOS, RegistrationID: "x"},
				code: kumo.ErrInvalidInputData},
			{name: "admin for an unknown thing", caller: f.admin, r: kumo.InstallationCreate{DeviceType: kumo.DeviceMQTT, ThingID: "VENDOR_THING_ID:vt-z"},
				code: kumo.ErrThingNotFound},
			{name: "admin for an unknown user", caller: f.admin, r: kumo.InstallationCreate{DeviceType: kumo.DeviceMQTT, UserID: "000000000000-0000-0000-0000-00000000"},
				code: kumo.ErrUserNotFound},
			{name: "anonymous", caller: f.anon, r: kumo.InstallationCreate{DeviceType: kumo.DeviceMQTT},
				code: kumo.ErrUnauthorized},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				in, err := f.db.Installations.CreateInstallation(f.ctx, tt.caller, tt.r)
				if !wantCode(t, "CreateInstallation", err, tt.code) || tt.code != "" {
					return
				}
				wantShape(t, "installation ID", in.ID, 25, lowerAlnum)
				if in.Owner != tt.owner || in.DeviceType != tt.r.DeviceType || in.RegistrationID != tt.r.RegistrationID || in.AppID != f.app.AppID {
					t.Errorf("CreateInstallation = %+v, want owner %+v, type %s, registration ID %s", in, tt.owner, tt.r.DeviceType, tt.r.RegistrationID)
				}
				if in.MQTTUsername != "" || in.MQTTTopic != "" {
					t.Errorf("a %s installation has MQTT username %q and topic %q, want none", in.DeviceType, in.MQTTUsername, in.MQTTTopic)
				}
				got, err := f.db.Installations.GetInstallation(f.ctx, f.admin, in.ID)
				if err != nil || got != in {
					t.Errorf("GetInstallation = %+v, %v; want %+v", got, err, in)
				}
			})
		}
	})

	t.Run("PhoneTokenMoves", func(t *testing.T) {
		f := newFixture(t, s)
		_, u1 := f.mustUser("alice")
		_, u2 := f.mustUser("bob")
		first := f.mustInstall(u1, kumo.InstallationCreate{DeviceType: kumo.DeviceIOS, RegistrationID: "tok-1"})
		second := f.mustInstall(u1, kumo.InstallationCreate{DeviceType: kumo.DeviceIOS, RegistrationID: "tok-2"})
		if second.ID == first.ID {
			t.Fatalf("two phone tokens of one user share installation %s", first.ID)
		}
		moved := f.mustInstall(u2, kumo.InstallationCreate{DeviceType: kumo.DeviceIOS, RegistrationID: "tok-1", Development: true})
		if moved.ID != first.ID || moved.Owner != u2.Principal() || !moved.Development {
			t.Errorf("re-install of tok-1 by bob = %+v, want installation %s owned by bob, development", moved, first.ID)
		}
		got, err := f.db.Installations.GetInstallation(f.ctx, u2, "IOS:tok-1")
		if err != nil || got != moved {
			t.Errorf("GetInstallation(IOS:tok-1) by bob = %+v, %v; want %+v", got, err, moved)
		}
		_, err = f.db.Installations.GetInstallation(f.ctx, u1, first.ID)
		wantCode(t, "GetInstallation of the moved token by alice", err, kumo.ErrUnauthorized)
		if _, err := f.db.Installations.GetInstallation(f.ctx, u1, second.ID); err != nil {
			t.Errorf("alice's other token: GetInstallation: %v", err)
		}
		// The same token under another device type is another installation.
		android := f.mustInstall(u1, kumo.InstallationCreate{DeviceType: kumo.DeviceAndroid, RegistrationID: "tok-1"})
		if android.ID == first.ID || android.Owner != u1.Principal() {
			t.Errorf("ANDROID tok-1 = %+v, want a new installation owned by alice", android)
		}
	})

	t.Run("Get", func(t *testing.T) {
		f := newFixture(t, s)
		_, aCaller := f.mustThing("vt-a")
		_, bCaller := f.mustThing("vt-b")
		_, uCaller := f.mustUser("alice")
		mqtt := f.mustInstall(aCaller, kumo.InstallationCreate{DeviceType: kumo.DeviceMQTT})
		ios := f.mustInstall(uCaller, kumo.InstallationCreate{DeviceType: kumo.DeviceIOS, RegistrationID: "apns-token"})
		tests := []struct {
			name     string
			caller   kumo.Caller
			selector string
			want     kumo.Installation
			code     kumo.Code
			fields   map[string]any
		}{
			{name: "MQTT by ID, owner", caller: aCaller, selector: mqtt.ID, want: mqtt},
			{name: "MQTT by ID, admin", caller: f.admin, selector: mqtt.ID, want: mqtt},
			{name: "MQTT by registration ID", caller: aCaller, selector: "MQTT:" + mqtt.RegistrationID, want: mqtt},
			{name: "IOS by token", caller: uCaller, selector: "IOS:apns-token", want: ios},
			{name: "IOS by token, lower-case type", caller: uCaller, selector: "ios:apns-token", want: ios},
			{name: "IOS by ID, admin", caller: f.admin, selector: ios.ID, want: ios},
			{name: "MQTT, another thing", caller: bCaller, selector: mqtt.ID, code: kumo.ErrUnauthorized},
			{name: "MQTT, a user", caller: uCaller, selector: mqtt.ID, code: kumo.ErrUnauthorized},
			{name: "MQTT, anonymous", caller: f.anon, selector: mqtt.ID, code: kumo.ErrUnauthorized},
			{name: "IOS, a thing", caller: aCaller, selector: "IOS:apns-token", code: kumo.ErrUnauthorized},
			{name: "unknown ID", caller: f.admin, selector: "aaaaaaaaaaaaaaaaaaaaaaaaa", code: kumo.ErrInstallationNotFound,
				fields: map[string]any{"installationID": "aaaaaaaaaaaaaaaaaaaaaaaaa", "appID": f.app.AppID}},
			{name: "unknown token", caller: f.admin, selector: "IOS:nope", code: kumo.ErrInstallationNotFound,
				fields: map[string]any{"deviceType": "IOS", "installationRegistrationID": "nope"}},
			{name: "token under another type", caller: f.admin, selector: "ANDROID:apns-token", code: kumo.ErrInstallationNotFound},
			{name: "unknown device type", caller: f.admin, selector: "FAX:apns-token", code: kumo.ErrInstallationNotFound},
			{name: "installation of another app", caller: kumo.Caller{AppID: "app2", Kind: kumo.Admin, ID: "x"}, selector: mqtt.ID,
				code: kumo.ErrInstallationNotFound},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := f.db.Installations.GetInstallation(f.ctx, tt.caller, tt.selector)
				if !wantCode(t, "GetInstallation", err, tt.code) {
					return
				}
				if tt.code != "" {
					wantFields(t, "GetInstallation", err, tt.fields)
					if got.ID != "" {
						t.Errorf("a failed GetInstallation returned installation %s", got.ID)
					}
					return
				}
				if got != tt.want {
					t.Errorf("GetInstallation = %+v, want %+v", got, tt.want)
				}
			})
		}
	})

	t.Run("Delete", func(t *testing.T) {
		f := newFixture(t, s)
		_, aCaller := f.mustThing("vt-a")
		_, bCaller := f.mustThing("vt-b")
		_, uCaller := f.mustUser("alice")
		mqtt := f.mustInstall(aCaller, kumo.InstallationCreate{DeviceType: kumo.DeviceMQTT})
		ios := f.mustInstall(uCaller, kumo.InstallationCreate{DeviceType: kumo.DeviceIOS, RegistrationID: "apns-token"})

		err := f.db.Installations.DeleteInstallation(f.ctx, bCaller, mqtt.ID)
		wantCode(t, "DeleteInstallation by another thing", err, kumo.ErrUnauthorized)
		err = f.db.Installations.DeleteInstallation(f.ctx, f.anon, mqtt.ID)
		wantCode(t, "DeleteInstallation by anonymous", err, kumo.ErrUnauthorized)
		if _, err := f.db.Installations.GetInstallation(f.ctx, aCaller, mqtt.ID); err != nil {
			t.Fatalf("after refused deletes, GetInstallation: %v", err)
		}

		if err := f.db.Installations.DeleteInstallation(f.ctx, aCaller, mqtt.ID); err != nil {
			t.Fatalf("DeleteInstallation by the owner: %v", err)
		}
		_, err = f.db.Installations.GetInstallation(f.ctx, aCaller, mqtt.ID)
		wantCode(t, "GetInstallation after delete", err, kumo.ErrInstallationNotFound)
		err = f.db.Installations.DeleteInstallation(f.ctx, aCaller, mqtt.ID)
		wantCode(t, "DeleteInstallation again", err, kumo.ErrInstallationNotFound)
		_, err = f.db.Installations.MQTTInstallation(f.ctx, mqtt.MQTTUsername)
		wantCode(t, "MQTTInstallation after delete", err, kumo.ErrInstallationNotFound)

		// A new MQTT install after the delete is a new installation.
		fresh := f.mustInstall(aCaller, kumo.InstallationCreate{DeviceType: kumo.DeviceMQTT})
		if fresh.ID == mqtt.ID || fresh.MQTTUsername == mqtt.MQTTUsername || fresh.MQTTTopic == mqtt.MQTTTopic {
			t.Errorf("MQTT install after delete = %+v, want new ID, username and topic (old %+v)", fresh, mqtt)
		}

		// The admin deletes by registration ID.
		if err := f.db.Installations.DeleteInstallation(f.ctx, f.admin, "IOS:apns-token"); err != nil {
			t.Fatalf("DeleteInstallation(IOS:apns-token) by the admin: %v", err)
		}
		_, err = f.db.Installations.GetInstallation(f.ctx, uCaller, ios.ID)
		wantCode(t, "GetInstallation after delete", err, kumo.ErrInstallationNotFound)
	})
}

// checkMQTTInstallation checks the shape of a new MQTT installation of
// owner in the fixture's app.
func checkMQTTInstallation(t *testing.T, f *fixture, in kumo.Installation, owner kumo.Principal) {
	t.Helper()
	wantShape(t, "installation ID", in.ID, 25, lowerAlnum)
	if in.AppID != f.app.AppID || in.DeviceType != kumo.DeviceMQTT || in.Owner != owner {
		t.Errorf("installation = %+v, want an MQTT installation of %+v in %s", in, owner, f.app.AppID)
	}
	user, ok := strings.CutPrefix(in.MQTTUsername, f.app.AppID+"-")
	if !ok || !hasShape(user, 23, alnum) {
		t.Errorf("MQTTUsername = %q, want %s- and 23 alphanumerics", in.MQTTUsername, f.app.AppID)
	}
	wantShape(t, "MQTTTopic", in.MQTTTopic, 23, alnum)
	if in.RegistrationID == "" {
		t.Error("an MQTT installation has no registration ID")
	}
	if in.Created != f.clock.Millis() {
		t.Errorf("Created = %d, want %d", in.Created, f.clock.Millis())
	}
}
