package storetest

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/kumo-iot/kumo"
)

// testThings checks kumo.ThingService.
func testThings(t *testing.T, s suite) {
	t.Run("Register", func(t *testing.T) {
		f := newFixture(t, s)
		fields := map[string]any{
			"_thingType":      "sensor",
			"_vendor":         "ACME",
			"_numberField1":   json.Number("42.50"),
			"_layoutPosition": "STANDALONE",
			"color":           "blue",
			"nested":          map[string]any{"a": json.Number("1"), "b": []any{"x", true, nil}},
		}
		th, tok, err := f.db.Things.RegisterThing(f.ctx, f.anon, kumo.ThingRegistration{VendorThingID: "vt.A-1_b", Password: "secret", Fields: fields}, false)
		if err != nil {
			t.Fatalf("RegisterThing: %v", err)
		}
		if tok != nil {
			t.Errorf("RegisterThing without withToken returned a token %+v", tok)
		}
		id, ok := strings.CutPrefix(th.ID, "th.")
		if !ok || !isKiiID(id) {
			t.Errorf("thing ID = %q, want th. + 12-4-4-4-8 lower-case alphanumerics", th.ID)
		}
		want := kumo.Thing{ID: th.ID, VendorThingID: "vt.A-1_b", Fields: fields, Created: epoch}
		if !reflect.DeepEqual(th, want) {
			t.Errorf("RegisterThing = %+v, want %+v", th, want)
		}
		got, err := f.db.Things.FindThing(f.ctx, f.admin, th.ID)
		if err != nil {
			t.Fatalf("FindThing: %v", err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("FindThing = %+v, want %+v", got, want)
		}
		// The password is stored: it logs in.
		if _, err := f.db.Tokens.Login(f.ctx, f.app.AppID, kumo.LoginRequest{Username: th.ID, Password: "secret"}); err != nil {
			t.Errorf("Login with the registered password: %v", err)
		}
	})

	t.Run("RegisterWithToken", func(t *testing.T) {
		f := newFixture(t, s)
		th, tok, err := f.db.Things.RegisterThing(f.ctx, f.anon, kumo.ThingRegistration{VendorThingID: "vt-1", Password: "pw", Fields: map[string]any{}}, true)
		if err != nil {
			t.Fatalf("RegisterThing: %v", err)
		}
		if tok == nil {
			t.Fatal("RegisterThing with withToken returned no token")
		}
		if tok.PrincipalID != th.ID || tok.ExpiresIn != kumo.NeverExpires || tok.AccessToken == "" {
			t.Errorf("token = %+v, want PrincipalID %s, ExpiresIn %d and an access token", tok, th.ID, kumo.NeverExpires)
		}
		c, err := f.db.Tokens.Authenticate(f.ctx, f.app.AppID, tok.AccessToken)
		want := kumo.Caller{AppID: f.app.AppID, Kind: kumo.ThingCaller, ID: th.ID}
		if err != nil || c != want {
			t.Errorf("Authenticate(registration token) = %+v, %v; want %+v", c, err, want)
		}
	})

	t.Run("Duplicate", func(t *testing.T) {
		f := newFixture(t, s)
		first, _ := f.mustThing("vt-1")
		_, tok, err := f.db.Things.RegisterThing(f.ctx, f.anon, kumo.ThingRegistration{VendorThingID: "vt-1", Password: "other", Fields: map[string]any{}}, true)
		wantCode(t, "RegisterThing(duplicate)", err, kumo.ErrThingAlreadyExists)
		wantFields(t, "RegisterThing(duplicate)", err, map[string]any{"field": "vendorThingID", "value": "vt-1"})
		if tok != nil {
			t.Errorf("a failed RegisterThing returned a token")
		}
		got, err := f.db.Things.FindThing(f.ctx, f.admin, "VENDOR_THING_ID:vt-1")
		if err != nil || got.ID != first.ID {
			t.Errorf("after the duplicate, FindThing = %q, %v; want the first thing %q", got.ID, err, first.ID)
		}
		// The first password still holds; the duplicate's does not.
		if _, err := f.db.Tokens.Login(f.ctx, f.app.AppID, kumo.LoginRequest{Username: "VENDOR_THING_ID:vt-1", Password: "other"}); err == nil {
			t.Error("the duplicate registration's password logs in")
		}
		// Vendor thing IDs are unique per app only.
		f.mustApp(kumo.AppCreate{ID: "app2"})
		if _, _, err := f.db.Things.RegisterThing(f.ctx, kumo.Caller{AppID: "app2"}, kumo.ThingRegistration{VendorThingID: "vt-1", Password: "pw", Fields: map[string]any{}}, false); err != nil {
			t.Errorf("RegisterThing of the same vendor thing ID in another app: %v", err)
		}
		// Vendor thing IDs are case-sensitive strings.
		if _, _, err := f.db.Things.RegisterThing(f.ctx, f.anon, kumo.ThingRegistration{VendorThingID: "VT-1", Password: "pw", Fields: map[string]any{}}, false); err != nil {
			t.Errorf("RegisterThing(VT-1) next to vt-1: %v", err)
		}
	})

	t.Run("Find", func(t *testing.T) {
		f := newFixture(t, s)
		a, aCaller := f.mustThing("vt-a")
		_, bCaller := f.mustThing("vt-b")
		_, userCaller := f.mustUser("alice")
		missing := "th.000000000000-0000-0000-0000-00000000"
		tests := []struct {
			name     string
			caller   kumo.Caller
			selector string
			code     kumo.Code
			fields   map[string]any
		}{
			{name: "itself by ID", caller: aCaller, selector: a.ID},
			{name: "itself by vendor thing ID", caller: aCaller, selector: "VENDOR_THING_ID:vt-a"},
			{name: "admin by ID", caller: f.admin, selector: a.ID},
			{name: "admin by vendor thing ID", caller: f.admin, selector: "VENDOR_THING_ID:vt-a"},
			{name: "another thing", caller: bCaller, selector: a.ID, code: kumo.ErrUnauthorized},
			{name: "another thing by vendor thing ID", caller: bCaller, selector: "VENDOR_THING_ID:vt-a", code: kumo.ErrUnauthorized},
			{name: "a user", caller: userCaller, selector: a.ID, code: kumo.ErrUnauthorized},
			{name: "anonymous", caller: f.anon, selector: a.ID, code: kumo.ErrUnauthorized},
			{name: "unknown ID", caller: f.admin, selector: missing, code: kumo.ErrThingNotFound,
				fields: map[string]any{"field": "thingID", "value": missing}},
			{name: "unknown vendor thing ID", caller: f.admin, selector: "VENDOR_THING_ID:vt-z", code: kumo.ErrThingNotFound,
				fields: map[string]any{"field": "vendorThingID", "value": "vt-z"}},
			{name: "vendor thing ID without its prefix", caller: f.admin, selector: "vt-a", code: kumo.ErrThingNotFound},
			{name: "thing of another app", caller: kumo.Caller{AppID: "app2", Kind: kumo.Admin, ID: "x"}, selector: a.ID, code: kumo.ErrThingNotFound},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := f.db.Things.FindThing(f.ctx, tt.caller, tt.selector)
				if !wantCode(t, "FindThing", err, tt.code) {
					return
				}
				if tt.code != "" {
					wantFields(t, "FindThing", err, tt.fields)
					if got.ID != "" {
						t.Errorf("a failed FindThing returned thing %q", got.ID)
					}
					return
				}
				if got.ID != a.ID || got.VendorThingID != "vt-a" {
					t.Errorf("FindThing = %+v, want thing %s (vt-a)", got, a.ID)
				}
			})
		}
	})
}
