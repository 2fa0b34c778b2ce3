package storetest

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/kumo-iot/kumo"
)

// testUsers checks kumo.UserService.
func testUsers(t *testing.T, s suite) {
	reg := kumo.UserRegistration{LoginName: "alice", Email: "alice@example.com", Phone: "+819012345678",
		Password: "pw-alice", DisplayName: "Alice", Country: "JP", Locale: "ja",
		Custom: map[string]any{"age": json.Number("30"), "tags": []any{"a", "b"}}}

	t.Run("Register", func(t *testing.T) {
		f := newFixture(t, s)
		u, tok, err := f.db.Users.RegisterUser(f.ctx, f.anon, reg, false)
		if err != nil {
			t.Fatalf("RegisterUser: %v", err)
		}
		if tok != nil {
			t.Errorf("RegisterUser without withToken returned a token %+v", tok)
		}
		if !isKiiID(u.ID) {
			t.Errorf("user ID = %q, want 12-4-4-4-8 lower-case alphanumerics", u.ID)
		}
		want := kumo.User{ID: u.ID, LoginName: "alice", Email: "alice@example.com", Phone: "+819012345678",
			DisplayName: "Alice", Country: "JP", Locale: "ja", Custom: reg.Custom, Created: epoch, Modified: epoch, HasPassword: true}
		if !reflect.DeepEqual(u, want) {
			t.Errorf("RegisterUser = %+v, want %+v", u, want)
		}
		self := kumo.Caller{AppID: f.app.AppID, Kind: kumo.UserCaller, ID: u.ID}
		for _, c := range []kumo.Caller{self, f.admin} {
			got, err := f.db.Users.FindUser(f.ctx, c, u.ID)
			if err != nil {
				t.Errorf("FindUser as %s: %v", c.Kind, err)
				continue
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("FindUser as %s = %+v, want %+v", c.Kind, got, want)
			}
		}
	})

	t.Run("RegisterWithToken", func(t *testing.T) {
		f := newFixture(t, s)
		u, tok, err := f.db.Users.RegisterUser(f.ctx, f.anon, reg, true)
		if err != nil {
			t.Fatalf("RegisterUser: %v", err)
		}
		if tok == nil {
			t.Fatal("RegisterUser with withToken returned no token")
		}
		if tok.PrincipalID != u.ID || tok.ExpiresIn != kumo.NeverExpires {
			t.Errorf("token = %+v, want PrincipalID %s and ExpiresIn %d", tok, u.ID, kumo.NeverExpires)
		}
		c, err := f.db.Tokens.Authenticate(f.ctx, f.app.AppID, tok.AccessToken)
		want := kumo.Caller{AppID: f.app.AppID, Kind: kumo.UserCaller, ID: u.ID}
		if err != nil || c != want {
			t.Errorf("Authenticate(registration token) = %+v, %v; want %+v", c, err, want)
		}
	})

	t.Run("Duplicate", func(t *testing.T) {
		f := newFixture(t, s)
		if _, _, err := f.db.Users.RegisterUser(f.ctx, f.anon, reg, false); err != nil {
			t.Fatalf("RegisterUser: %v", err)
		}
		tests := []struct {
			name string
			r    kumo.UserRegistration
			code kumo.Code
		}{
			{"same login name", kumo.UserRegistration{LoginName: "alice", Password: "pw"}, kumo.ErrUserAlreadyExists},
			{"same email", kumo.UserRegistration{LoginName: "bob", Email: "alice@example.com", Password: "pw"}, kumo.ErrUserAlreadyExists},
			{"same phone", kumo.UserRegistration{Phone: "+819012345678", Password: "pw"}, kumo.ErrUserAlreadyExists},
			{"email only, new", kumo.UserRegistration{Email: "carol@example.com", Password: "pw"}, ""},
			{"another with no login name", kumo.UserRegistration{Email: "dave@example.com", Password: "pw"}, ""},
			{"phone only, new", kumo.UserRegistration{Phone: "+819000000000", Password: "pw"}, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, tok, err := f.db.Users.RegisterUser(f.ctx, f.anon, tt.r, true)
				wantCode(t, "RegisterUser", err, tt.code)
				if err != nil && tok != nil {
					t.Error("a failed RegisterUser returned a token")
				}
			})
		}
	})

	t.Run("Find", func(t *testing.T) {
		f := newFixture(t, s)
		u, _, err := f.db.Users.RegisterUser(f.ctx, f.anon, reg, false)
		if err != nil {
			t.Fatalf("RegisterUser: %v", err)
		}
		self := kumo.Caller{AppID: f.app.AppID, Kind: kumo.UserCaller, ID: u.ID}
		_, other := f.mustUser("bob")
		_, thing := f.mustThing("vt-1")
		public := kumo.User{ID: u.ID, LoginName: "alice", DisplayName: "Alice"}
		tests := []struct {
			name     string
			caller   kumo.Caller
			selector string
			code     kumo.Code
			public   bool // only the public fields come back
			fields   map[string]any
		}{
			{name: "by ID", caller: self, selector: u.ID},
			{name: "me", caller: self, selector: "me"},
			{name: "LOGIN_NAME:", caller: self, selector: "LOGIN_NAME:alice"},
			{name: "EMAIL:", caller: self, selector: "EMAIL:alice@example.com"},
			{name: "PHONE:", caller: self, selector: "PHONE:+819012345678"},
			{name: "admin by LOGIN_NAME:", caller: f.admin, selector: "LOGIN_NAME:alice"},
			{name: "another user", caller: other, selector: u.ID, public: true},
			{name: "another user by EMAIL:", caller: other, selector: "EMAIL:alice@example.com", public: true},
			{name: "a thing", caller: thing, selector: u.ID, public: true},
			{name: "anonymous", caller: f.anon, selector: u.ID, code: kumo.ErrUnauthorized},
			{name: "me, anonymous", caller: f.anon, selector: "me", code: kumo.ErrUnauthorized},
			{name: "me, a thing", caller: thing, selector: "me", code: kumo.ErrUnauthorized},
			{name: "me, the admin", caller: f.admin, selector: "me", code: kumo.ErrUnauthorized},
			{name: "unknown ID", caller: f.admin, selector: "000000000000-0000-0000-0000-00000000", code: kumo.ErrUserNotFound,
				fields: map[string]any{"field": "userID", "value": "000000000000-0000-0000-0000-00000000"}},
			{name: "unknown login name", caller: f.admin, selector: "LOGIN_NAME:zed", code: kumo.ErrUserNotFound,
				fields: map[string]any{"field": "loginName", "value": "zed"}},
			{name: "unknown email", caller: f.admin, selector: "EMAIL:zed@example.com", code: kumo.ErrUserNotFound,
				fields: map[string]any{"field": "emailAddress", "value": "zed@example.com"}},
			{name: "unknown phone", caller: f.admin, selector: "PHONE:+1555", code: kumo.ErrUserNotFound,
				fields: map[string]any{"field": "phoneNumber", "value": "+1555"}},
			{name: "login name without its prefix", caller: f.admin, selector: "alice", code: kumo.ErrUserNotFound},
			{name: "unknown account type", caller: f.admin, selector: "FACEBOOK:alice", code: kumo.ErrAccountTypeUnknown},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := f.db.Users.FindUser(f.ctx, tt.caller, tt.selector)
				if !wantCode(t, "FindUser", err, tt.code) {
					return
				}
				if tt.code != "" {
					wantFields(t, "FindUser", err, tt.fields)
					return
				}
				if tt.public {
					if !reflect.DeepEqual(got, public) {
						t.Errorf("FindUser = %+v, want only the public fields %+v", got, public)
					}
					return
				}
				if got.ID != u.ID || got.Email != reg.Email || got.Phone != reg.Phone || got.Country != reg.Country {
					t.Errorf("FindUser = %+v, want all of user %s", got, u.ID)
				}
			})
		}
	})
}
