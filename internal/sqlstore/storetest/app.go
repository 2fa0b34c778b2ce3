package storetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kumo-iot/kumo"
)

// testApps checks kumo.AppService.
func testApps(t *testing.T, s suite) {
	t.Run("Generated", func(t *testing.T) {
		f := newFixture(t, s)
		a := f.mustApp(kumo.AppCreate{})
		b := f.mustApp(kumo.AppCreate{})
		// Kii's own app IDs are 8 lower-case hex digits.
		wantShape(t, "generated AppID", a.AppID, 8, lowerHex)
		for name, v := range map[string]string{"AppKey": a.AppKey, "ClientID": a.ClientID, "ClientSecret": a.ClientSecret} {
			if v == "" {
				t.Errorf("generated %s is empty", name)
			}
		}
		if !kumo.ValidAppID(a.AppKey) {
			t.Errorf("generated AppKey %q is not a valid app ID or key", a.AppKey)
		}
		if a.AppID == b.AppID || a.AppKey == b.AppKey || a.ClientID == b.ClientID || a.ClientSecret == b.ClientSecret {
			t.Errorf("two generated apps share a value:\n%+v\n%+v", a, b)
		}
		got, err := f.db.Apps.FindApp(f.ctx, a.AppID)
		if err != nil {
			t.Fatalf("FindApp(%q): %v", a.AppID, err)
		}
		want := kumo.App{ID: a.AppID, Key: a.AppKey, Name: a.AppID, ClientID: a.ClientID, Created: epoch}
		if got != want {
			t.Errorf("FindApp(%q) = %+v, want %+v (an empty name defaults to the ID)", a.AppID, got, want)
		}
	})

	t.Run("GivenIDAndKey", func(t *testing.T) {
		f := newFixture(t, s)
		f.clock.Advance(time.Second)
		creds := f.mustApp(kumo.AppCreate{ID: "my-app_2", Key: "myKey", Name: "My App"})
		if creds.AppID != "my-app_2" || creds.AppKey != "myKey" {
			t.Errorf("CreateApp = %+v, want AppID my-app_2 and AppKey myKey", creds)
		}
		want := kumo.App{ID: "my-app_2", Key: "myKey", Name: "My App", ClientID: creds.ClientID, Created: epoch + 1000}
		for _, idOrKey := range []string{"my-app_2", "myKey"} {
			got, err := f.db.Apps.FindApp(f.ctx, idOrKey)
			if err != nil {
				t.Errorf("FindApp(%q): %v", idOrKey, err)
				continue
			}
			if got != want {
				t.Errorf("FindApp(%q) = %+v, want %+v", idOrKey, got, want)
			}
		}
	})

	t.Run("Invalid", func(t *testing.T) {
		f := newFixture(t, s) // holds app1 with key key1
		f.mustApp(kumo.AppCreate{ID: "app2", Key: "key2"})
		tests := []struct {
			name string
			in   kumo.AppCreate
		}{
			{"duplicate ID", kumo.AppCreate{ID: "app1", Key: "other"}},
			{"duplicate key", kumo.AppCreate{ID: "other", Key: "key1"}},
			{"key equal to another app's ID", kumo.AppCreate{ID: "other", Key: "app2"}},
			{"ID equal to another app's key", kumo.AppCreate{ID: "key2", Key: "other"}},
			{"duplicate ID with a generated key", kumo.AppCreate{ID: "app2"}},
			{"ID with a space", kumo.AppCreate{ID: "bad id"}},
			{"ID too long", kumo.AppCreate{ID: strings.Repeat("a", 65)}},
			{"key with a slash", kumo.AppCreate{ID: "other", Key: "a/b"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := f.db.Apps.CreateApp(f.ctx, tt.in)
				wantCode(t, "CreateApp", err, kumo.ErrInvalidInputData)
			})
		}
		apps, err := f.db.Apps.ListApps(f.ctx)
		if err != nil {
			t.Fatalf("ListApps: %v", err)
		}
		if got := appIDs(apps); !slices.Equal(got, []string{"app1", "app2"}) {
			t.Errorf("after the failed creates, ListApps = %v, want [app1 app2]", got)
		}
		if _, err := f.db.Apps.FindApp(f.ctx, "other"); !wantCode(t, `FindApp("other")`, err, kumo.ErrAppNotFound) {
			t.Log("a failed CreateApp left an app behind")
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		f := newFixture(t, s)
		_, err := f.db.Apps.FindApp(f.ctx, "nope")
		wantCode(t, `FindApp("nope")`, err, kumo.ErrAppNotFound)
		wantFields(t, `FindApp("nope")`, err, map[string]any{"appID": "nope"})
		// A miss is not remembered: the app can be created and found.
		f.mustApp(kumo.AppCreate{ID: "nope"})
		if _, err := f.db.Apps.FindApp(f.ctx, "nope"); err != nil {
			t.Errorf("FindApp after CreateApp: %v", err)
		}
	})

	t.Run("ListOrder", func(t *testing.T) {
		f := newFixture(t, s) // app1 at epoch
		for _, id := range []string{"zeta", "alpha", "mid"} {
			f.clock.Advance(time.Millisecond)
			f.mustApp(kumo.AppCreate{ID: id})
		}
		apps, err := f.db.Apps.ListApps(f.ctx)
		if err != nil {
			t.Fatalf("ListApps: %v", err)
		}
		if got, want := appIDs(apps), []string{"app1", "zeta", "alpha", "mid"}; !slices.Equal(got, want) {
			t.Errorf("ListApps = %v, want %v (oldest first)", got, want)
		}
		for _, a := range apps {
			if a.Key == "" || a.ClientID == "" || a.Created == 0 {
				t.Errorf("ListApps returned an incomplete app %+v", a)
			}
		}
	})

	t.Run("RotateClientSecret", func(t *testing.T) {
		f := newFixture(t, s) // holds app1 with key key1
		other := f.mustApp(kumo.AppCreate{ID: "app2"})
		admin := func(appID, clientID, secret string) (kumo.Token, error) {
			return f.db.Tokens.Login(f.ctx, appID, kumo.LoginRequest{GrantType: kumo.GrantClientCredentials, ClientID: clientID, ClientSecret: secret})
		}
		old, err := admin(f.app.AppID, f.app.ClientID, f.app.ClientSecret)
		if err != nil {
			t.Fatalf("admin login before the rotation: %v", err)
		}
		otherTok, err := admin(other.AppID, other.ClientID, other.ClientSecret)
		if err != nil {
			t.Fatalf("other app's admin login: %v", err)
		}
		creds, err := f.db.Apps.RotateClientSecret(f.ctx, "key1") // by key, as FindApp
		if err != nil {
			t.Fatalf("RotateClientSecret: %v", err)
		}
		if creds.AppID != f.app.AppID || creds.AppKey != f.app.AppKey || creds.ClientID != f.app.ClientID {
			t.Errorf("RotateClientSecret = %+v, want the app's ID, key and client ID %+v", creds, f.app)
		}
		if creds.ClientSecret == "" || creds.ClientSecret == f.app.ClientSecret {
			t.Fatalf("RotateClientSecret gave the secret %q (old %q)", creds.ClientSecret, f.app.ClientSecret)
		}
		_, err = admin(f.app.AppID, f.app.ClientID, f.app.ClientSecret)
		wantCode(t, "admin login with the old secret", err, kumo.ErrInvalidGrant)
		if _, err := admin(f.app.AppID, f.app.ClientID, creds.ClientSecret); err != nil {
			t.Errorf("admin login with the new secret: %v", err)
		}
		_, err = f.db.Tokens.Authenticate(f.ctx, f.app.AppID, old.AccessToken)
		wantCode(t, "admin token issued before the rotation", err, kumo.ErrWrongToken)
		// Another app is untouched.
		if _, err := f.db.Tokens.Authenticate(f.ctx, other.AppID, otherTok.AccessToken); err != nil {
			t.Errorf("another app's admin token after the rotation: %v", err)
		}
		if _, err := admin(other.AppID, other.ClientID, other.ClientSecret); err != nil {
			t.Errorf("another app's admin login after the rotation: %v", err)
		}
		_, err = f.db.Apps.RotateClientSecret(f.ctx, "nope")
		wantCode(t, `RotateClientSecret("nope")`, err, kumo.ErrAppNotFound)
	})

	t.Run("ListEmpty", func(t *testing.T) {
		db := s.open(t)
		apps, err := db.Apps.ListApps(t.Context())
		if err != nil || len(apps) != 0 {
			t.Errorf("ListApps on an empty store = %v, %v; want no apps", apps, err)
		}
	})
}

func appIDs(apps []kumo.App) []string {
	ids := make([]string, len(apps))
	for i, a := range apps {
		ids[i] = a.ID
	}
	return ids
}
