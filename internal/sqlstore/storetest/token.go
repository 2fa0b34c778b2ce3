package storetest

import (
	"testing"
	"time"

	"github.com/kumo-iot/kumo"
)

// testTokens checks kumo.TokenService.
func testTokens(t *testing.T, s suite) {
	f := newFixture(t, s)
	thing, thingCaller := f.mustThing("vt-1")
	user, _, err := f.db.Users.RegisterUser(f.ctx, f.anon, kumo.UserRegistration{LoginName: "alice", Email: "alice@example.com",
		Phone: "+819012345678", Password: "pw-alice"}, false)
	if err != nil {
		t.Fatalf("RegisterUser: %v", err)
	}
	userCaller := kumo.Caller{AppID: f.app.AppID, Kind: kumo.UserCaller, ID: user.ID}
	adminCaller := f.admin
	anonCaller := f.anon

	t.Run("Login", func(t *testing.T) {
		tests := []struct {
			name      string
			req       kumo.LoginRequest
			want      kumo.Caller // when the login succeeds
			principal string      // the token's PrincipalID
			code      kumo.Code   // when it fails
		}{
			{name: "admin", req: kumo.LoginRequest{GrantType: kumo.GrantClientCredentials, ClientID: f.app.ClientID, ClientSecret: f.app.ClientSecret},
				want: adminCaller, principal: f.app.ClientID},
			{name: "admin, grant inferred", req: kumo.LoginRequest{ClientID: f.app.ClientID, ClientSecret: f.app.ClientSecret},
				want: adminCaller, principal: f.app.ClientID},
			{name: "admin, wrong secret", req: kumo.LoginRequest{GrantType: kumo.GrantClientCredentials, ClientID: f.app.ClientID, ClientSecret: "wrong"},
				code: kumo.ErrInvalidGrant},
			{name: "admin, empty secret", req: kumo.LoginRequest{GrantType: kumo.GrantClientCredentials, ClientID: f.app.ClientID},
				code: kumo.ErrInvalidGrant},
			{name: "admin, secret of another kind", req: kumo.LoginRequest{GrantType: kumo.GrantClientCredentials, ClientID: f.app.ClientID, ClientSecret: f.app.ClientID},
				code: kumo.ErrInvalidGrant},
			{name: "unknown client ID", req: kumo.LoginRequest{GrantType: kumo.GrantClientCredentials, ClientID: "nope", ClientSecret: f.app.ClientSecret},
				code: kumo.ErrInvalidGrant},
			{name: "app ID as client ID", req: kumo.LoginRequest{GrantType: kumo.GrantClientCredentials, ClientID: f.app.AppID, ClientSecret: "dummy"},
				want: anonCaller, principal: "ANONYMOUS_" + f.app.AppID},
			{name: "app ID as client ID, grant inferred, no secret", req: kumo.LoginRequest{ClientID: f.app.AppID},
				want: anonCaller, principal: "ANONYMOUS_" + f.app.AppID},
			{name: "thing by vendor thing ID", req: kumo.LoginRequest{GrantType: kumo.GrantPassword, Username: "VENDOR_THING_ID:vt-1", Password: "pw-vt-1"},
				want: thingCaller, principal: thing.ID},
			{name: "thing by thing ID", req: kumo.LoginRequest{GrantType: kumo.GrantPassword, Username: thing.ID, Password: "pw-vt-1"},
				want: thingCaller, principal: thing.ID},
			{name: "thing, grant inferred", req: kumo.LoginRequest{Username: "VENDOR_THING_ID:vt-1", Password: "pw-vt-1"},
				want: thingCaller, principal: thing.ID},
			{name: "thing, wrong password", req: kumo.LoginRequest{Username: "VENDOR_THING_ID:vt-1", Password: "pw-vt-2"},
				code: kumo.ErrInvalidGrant},
			{name: "thing, unknown vendor thing ID", req: kumo.LoginRequest{Username: "VENDOR_THING_ID:vt-9", Password: "pw-vt-1"},
				code: kumo.ErrInvalidGrant},
			{name: "thing, unknown thing ID", req: kumo.LoginRequest{Username: "th.000000000000-0000-0000-0000-00000000", Password: "pw-vt-1"},
				code: kumo.ErrInvalidGrant},
			{name: "vendor thing ID without its prefix", req: kumo.LoginRequest{Username: "vt-1", Password: "pw-vt-1"},
				code: kumo.ErrInvalidGrant},
			{name: "user by login name", req: kumo.LoginRequest{GrantType: kumo.GrantPassword, Username: "alice", Password: "pw-alice"},
				want: userCaller, principal: user.ID},
			{name: "user by LOGIN_NAME:", req: kumo.LoginRequest{Username: "LOGIN_NAME:alice", Password: "pw-alice"},
				want: userCaller, principal: user.ID},
			{name: "user by EMAIL:", req: kumo.LoginRequest{Username: "EMAIL:alice@example.com", Password: "pw-alice"},
				want: userCaller, principal: user.ID},
			{name: "user by email", req: kumo.LoginRequest{Username: "alice@example.com", Password: "pw-alice"},
				want: userCaller, principal: user.ID},
			{name: "user by PHONE:", req: kumo.LoginRequest{Username: "PHONE:+819012345678", Password: "pw-alice"},
				want: userCaller, principal: user.ID},
			{name: "user by +phone", req: kumo.LoginRequest{Username: "+819012345678", Password: "pw-alice"},
				want: userCaller, principal: user.ID},
			{name: "user, wrong password", req: kumo.LoginRequest{Username: "alice", Password: "pw-alicE"},
				code: kumo.ErrInvalidGrant},
			{name: "user, empty password", req: kumo.LoginRequest{Username: "alice"},
				code: kumo.ErrInvalidGrant},
			{name: "user, another user's password", req: kumo.LoginRequest{Username: "alice", Password: "pw-vt-1"},
				code: kumo.ErrInvalidGrant},
			{name: "unknown user", req: kumo.LoginRequest{Username: "bob", Password: "pw-alice"},
				code: kumo.ErrInvalidGrant},
			{name: "unknown email", req: kumo.LoginRequest{Username: "bob@example.com", Password: "pw-alice"},
				code: kumo.ErrInvalidGrant},
			{name: "refresh token", req: kumo.LoginRequest{RefreshToken: "abc"},
				code: kumo.ErrInvalidGrant},
			{name: "unknown grant type", req: kumo.LoginRequest{GrantType: "magic", Username: "alice", Password: "pw-alice"},
				code: kumo.ErrInvalidGrant},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				tok, err := f.db.Tokens.Login(f.ctx, f.app.AppID, tt.req)
				if tt.code != "" {
					wantCode(t, "Login", err, tt.code)
					if tok.AccessToken != "" {
						t.Errorf("a failed Login returned access token %q", tok.AccessToken)
					}
					if got := errFields(err)["error"]; tt.code == kumo.ErrInvalidGrant && got == nil {
						t.Errorf("Login error has no OAuth \"error\" field: %v", err)
					}
					return
				}
				if err != nil {
					t.Fatalf("Login: %v", err)
				}
				if len(tok.AccessToken) < 32 {
					t.Errorf("AccessToken = %q, want a long random token", tok.AccessToken)
				}
				if tok.ExpiresIn != kumo.NeverExpires {
					t.Errorf("ExpiresIn = %d, want %d when no expiry was asked", tok.ExpiresIn, kumo.NeverExpires)
				}
				if tok.PrincipalID != tt.principal {
					t.Errorf("PrincipalID = %q, want %q", tok.PrincipalID, tt.principal)
				}
				got, err := f.db.Tokens.Authenticate(f.ctx, f.app.AppID, tok.AccessToken)
				if err != nil {
					t.Fatalf("Authenticate(new token): %v", err)
				}
				if got != tt.want {
					t.Errorf("Authenticate(new token) = %+v, want %+v", got, tt.want)
				}
			})
		}
	})

	t.Run("LoginByAppKey", func(t *testing.T) {
		tok, err := f.db.Tokens.Login(f.ctx, f.app.AppKey, kumo.LoginRequest{Username: "alice", Password: "pw-alice"})
		if err != nil {
			t.Fatalf("Login with the app key as app ID: %v", err)
		}
		got, err := f.db.Tokens.Authenticate(f.ctx, f.app.AppID, tok.AccessToken)
		if err != nil || got != userCaller {
			t.Errorf("Authenticate = %+v, %v; want %+v", got, err, userCaller)
		}
	})

	t.Run("UnknownApp", func(t *testing.T) {
		_, err := f.db.Tokens.Login(f.ctx, "nope", kumo.LoginRequest{Username: "alice", Password: "pw-alice"})
		wantCode(t, "Login to an unknown app", err, kumo.ErrAppNotFound)
	})

	t.Run("TokensDiffer", func(t *testing.T) {
		req := kumo.LoginRequest{Username: "alice", Password: "pw-alice"}
		a, err1 := f.db.Tokens.Login(f.ctx, f.app.AppID, req)
		b, err2 := f.db.Tokens.Login(f.ctx, f.app.AppID, req)
		if err1 != nil || err2 != nil {
			t.Fatalf("Login: %v, %v", err1, err2)
		}
		if a.AccessToken == b.AccessToken {
			t.Error("two logins got the same token")
		}
		for _, tok := range []string{a.AccessToken, b.AccessToken} {
			if _, err := f.db.Tokens.Authenticate(f.ctx, f.app.AppID, tok); err != nil {
				t.Errorf("Authenticate: %v", err)
			}
		}
	})

	t.Run("WrongToken", func(t *testing.T) {
		other := f.mustApp(kumo.AppCreate{ID: "app2"})
		tok, err := f.db.Tokens.Login(f.ctx, f.app.AppID, kumo.LoginRequest{Username: "alice", Password: "pw-alice"})
		if err != nil {
			t.Fatalf("Login: %v", err)
		}
		// Used once in its own app first: a store that remembers tokens
		// must still refuse it elsewhere.
		if _, err := f.db.Tokens.Authenticate(f.ctx, f.app.AppID, tok.AccessToken); err != nil {
			t.Fatalf("Authenticate in its own app: %v", err)
		}
		tests := []struct {
			name, appID, token string
		}{
			{"unknown token", f.app.AppID, kumo.NewToken()},
			{"empty token", f.app.AppID, ""},
			{"token of another app", other.AppID, tok.AccessToken},
			{"token with a changed letter", f.app.AppID, flipLast(tok.AccessToken)},
			{"the token's stored form", f.app.AppID, kumo.TokenKey(tok.AccessToken)},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				c, err := f.db.Tokens.Authenticate(f.ctx, tt.appID, tt.token)
				wantCode(t, "Authenticate", err, kumo.ErrWrongToken)
				if c != (kumo.Caller{}) {
					t.Errorf("Authenticate failed but returned caller %+v", c)
				}
			})
		}
	})

	t.Run("Expiry", func(t *testing.T) {
		f := newFixture(t, s) // a clock of its own
		f.mustThing("vt-e")
		expiresAt := f.clock.Millis() + 10_000
		tok, err := f.db.Tokens.Login(f.ctx, f.app.AppID, kumo.LoginRequest{Username: "VENDOR_THING_ID:vt-e", Password: "pw-vt-e", ExpiresAt: expiresAt})
		if err != nil {
			t.Fatalf("Login: %v", err)
		}
		if tok.ExpiresIn != 10 {
			t.Errorf("ExpiresIn = %d, want 10 (seconds until ExpiresAt)", tok.ExpiresIn)
		}
		admin, err := f.db.Tokens.Login(f.ctx, f.app.AppID, kumo.LoginRequest{ClientID: f.app.ClientID, ClientSecret: f.app.ClientSecret, ExpiresAt: expiresAt})
		if err != nil {
			t.Fatalf("admin Login: %v", err)
		}
		forever, err := f.db.Tokens.Login(f.ctx, f.app.AppID, kumo.LoginRequest{Username: "VENDOR_THING_ID:vt-e", Password: "pw-vt-e"})
		if err != nil {
			t.Fatalf("Login: %v", err)
		}
		f.clock.Advance(10*time.Second - time.Millisecond)
		for _, tk := range []string{tok.AccessToken, admin.AccessToken, forever.AccessToken} {
			if _, err := f.db.Tokens.Authenticate(f.ctx, f.app.AppID, tk); err != nil {
				t.Errorf("Authenticate before expiry: %v", err)
			}
		}
		f.clock.Advance(2 * time.Millisecond)
		for _, tk := range []string{tok.AccessToken, admin.AccessToken} {
			_, err := f.db.Tokens.Authenticate(f.ctx, f.app.AppID, tk)
			wantCode(t, "Authenticate after expiry", err, kumo.ErrWrongToken)
		}
		f.clock.Advance(1000 * 24 * time.Hour)
		if _, err := f.db.Tokens.Authenticate(f.ctx, f.app.AppID, forever.AccessToken); err != nil {
			t.Errorf("Authenticate of a token without expiry, 1000 days later: %v", err)
		}
	})

	t.Run("ExpiresAtInThePast", func(t *testing.T) {
		f := newFixture(t, s)
		f.mustThing("vt-p")
		tok, err := f.db.Tokens.Login(f.ctx, f.app.AppID, kumo.LoginRequest{Username: "VENDOR_THING_ID:vt-p", Password: "pw-vt-p",
			ExpiresAt: f.clock.Millis() - 5000})
		if err != nil {
			t.Fatalf("Login: %v", err)
		}
		if tok.ExpiresIn != 0 {
			t.Errorf("ExpiresIn = %d, want 0 for an ExpiresAt in the past", tok.ExpiresIn)
		}
		_, err = f.db.Tokens.Authenticate(f.ctx, f.app.AppID, tok.AccessToken)
		wantCode(t, "Authenticate", err, kumo.ErrWrongToken)
	})

	// server code (issue 13, engine): tokens issued to server code.
	t.Run("ServerCodeToken", func(t *testing.T) {
		f := newFixture(t, s)
		user, _, err := f.db.Users.RegisterUser(f.ctx, f.anon, kumo.UserRegistration{LoginName: "sc-user", Password: "pw-sc-user"}, false)
		if err != nil {
			t.Fatalf("RegisterUser: %v", err)
		}
		_, thing := f.mustThing("vt-sc")
		tests := []struct {
			name string
			c    kumo.Caller
			want kumo.Caller
		}{
			{"admin without ID", kumo.Caller{AppID: f.app.AppID, Kind: kumo.Admin}, f.admin},
			{"admin", f.admin, f.admin},
			{"user", kumo.Caller{AppID: f.app.AppID, Kind: kumo.UserCaller, ID: user.ID}, kumo.Caller{AppID: f.app.AppID, Kind: kumo.UserCaller, ID: user.ID}},
			{"thing", thing, thing},
		}
		var tokens []string
		for _, tt := range tests {
			tok, err := f.db.Tokens.IssueServerCodeToken(f.ctx, tt.c, time.Minute)
			if err != nil {
				t.Fatalf("%s: IssueServerCodeToken: %v", tt.name, err)
			}
			got, err := f.db.Tokens.Authenticate(f.ctx, f.app.AppID, tok)
			if err != nil || got != tt.want {
				t.Errorf("%s: Authenticate = %+v, %v; want %+v", tt.name, got, err, tt.want)
			}
			tokens = append(tokens, tok)
		}
		for _, c := range []kumo.Caller{f.anon, {AppID: f.app.AppID, Kind: kumo.UserCaller}} {
			if _, err := f.db.Tokens.IssueServerCodeToken(f.ctx, c, time.Minute); kumo.ErrorCode(err) != kumo.ErrInvalidInputData {
				t.Errorf("IssueServerCodeToken(%+v) = %v, want INVALID_INPUT_DATA", c, err)
			}
		}
		f.clock.Advance(time.Minute + time.Millisecond)
		for _, tok := range tokens {
			_, err := f.db.Tokens.Authenticate(f.ctx, f.app.AppID, tok)
			wantCode(t, "Authenticate after the ttl", err, kumo.ErrWrongToken)
		}
	})
}

// flipLast returns s with its last character changed.
func flipLast(s string) string {
	if s == "" {
		return "x"
	}
	c := byte('A')
	if s[len(s)-1] == 'A' {
		c = 'B'
	}
	return s[:len(s)-1] + string(c)
}
