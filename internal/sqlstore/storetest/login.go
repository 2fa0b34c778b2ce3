package storetest

import (
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kumo-iot/kumo"
)

// setParams sets app parameters as the admin would.
func (f *fixture) setParams(patch map[string]any) {
	f.t.Helper()
	if _, err := f.db.Apps.UpdateAppParams(f.ctx, f.admin, patch); err != nil {
		f.t.Fatalf("UpdateAppParams(%v): %v", patch, err)
	}
}

// testAppParams checks kumo.AppParamsService.
func testAppParams(t *testing.T, s suite) {
	f := newFixture(t, s)
	_, alice := f.mustUser("alice")
	for _, c := range []kumo.Caller{alice, f.anon} {
		if _, err := f.db.Apps.AppParams(f.ctx, c); !wantCode(t, "AppParams as non-admin", err, kumo.ErrUnauthorized) {
			return
		}
		_, err := f.db.Apps.UpdateAppParams(f.ctx, c, map[string]any{"maxLoginAttempts": 1})
		wantCode(t, "UpdateAppParams as non-admin", err, kumo.ErrUnauthorized)
	}
	got, err := f.db.Apps.AppParams(f.ctx, f.admin)
	if err != nil || len(got) != 0 {
		t.Fatalf("AppParams of a new app = %v, %v; want {}", got, err)
	}
	got, err = f.db.Apps.UpdateAppParams(f.ctx, f.admin, map[string]any{"maxLoginAttempts": json.Number("2"), "loginLockPeriodSeconds": 3, "somethingElse": "kept"})
	if err != nil {
		t.Fatalf("UpdateAppParams: %v", err)
	}
	got, err = f.db.Apps.UpdateAppParams(f.ctx, f.admin, map[string]any{"loginLockPeriodSeconds": nil, "refreshTokenEnabled": true})
	if err != nil {
		t.Fatalf("UpdateAppParams: %v", err)
	}
	b, _ := json.Marshal(got)
	if want := `{"maxLoginAttempts":2,"refreshTokenEnabled":true,"somethingElse":"kept"}`; string(b) != want {
		t.Errorf("parameters = %s, want %s", b, want)
	}
	for _, bad := range []map[string]any{{"maxLoginAttempts": "two"}, {"maxLoginAttempts": -1}, {"refreshTokenEnabled": "yes"}} {
		_, err := f.db.Apps.UpdateAppParams(f.ctx, f.admin, bad)
		wantCode(t, "UpdateAppParams with a bad value", err, kumo.ErrInvalidInputData)
	}
	if got2, _ := f.db.Apps.AppParams(f.ctx, f.admin); len(got2) != 3 {
		t.Errorf("a refused update changed the parameters: %v", got2)
	}
}

// testLockout checks that repeated failed logins lock a user or thing,
// with Kii's exact error, until the lock period ends.
func testLockout(t *testing.T, s suite) {
	f := newFixture(t, s)
	f.mustUser("alice")
	f.mustThing("vt-1")
	f.setParams(map[string]any{"maxLoginAttempts": 2, "loginLockPeriodSeconds": 3, "loginAttemptsTimeoutSeconds": 60})
	login := func(user, pw string) error {
		_, err := f.db.Tokens.Login(f.ctx, f.app.AppID, kumo.LoginRequest{Username: user, Password: pw})
		return err
	}
	locked := func(err error) bool {
		return kumo.ErrorCode(err) == kumo.ErrInvalidGrant && errFields(err)["error_description"] == "The login name is locked"
	}
	for _, who := range []struct{ user, pw string }{{"alice", "pw-alice"}, {"VENDOR_THING_ID:vt-1", "pw-vt-1"}} {
		t.Run(who.user, func(t *testing.T) {
			for i := 0; i < 2; i++ {
				err := login(who.user, "wrong")
				if !wantCode(t, "wrong password", err, kumo.ErrInvalidGrant) || locked(err) {
					t.Fatalf("failure %d: %v (locked too early)", i+1, err)
				}
			}
			if err := login(who.user, who.pw); !locked(err) {
				t.Fatalf("right password after 2 failures: %v; want locked", err)
			}
			f.clock.Advance(2 * time.Second)
			if err := login(who.user, who.pw); !locked(err) {
				t.Fatalf("right password 2 s into a 3 s lock: %v; want locked", err)
			}
			f.clock.Advance(1100 * time.Millisecond)
			if err := login(who.user, who.pw); err != nil {
				t.Fatalf("right password after the lock period: %v", err)
			}
			// A success clears the count: one more failure does not lock.
			if err := login(who.user, "wrong"); locked(err) {
				t.Fatalf("one failure after a success locked: %v", err)
			}
			if err := login(who.user, who.pw); err != nil {
				t.Fatalf("login after one failure: %v", err)
			}
		})
	}
	t.Run("window", func(t *testing.T) {
		// Failures further apart than loginAttemptsTimeoutSeconds do not add up.
		for i := 0; i < 3; i++ {
			if err := login("alice", "wrong"); locked(err) {
				t.Fatalf("failure %d locked although the earlier one was outside the window", i+1)
			}
			f.clock.Advance(61 * time.Second)
		}
	})
	t.Run("off", func(t *testing.T) {
		f.setParams(map[string]any{"maxLoginAttempts": 0})
		for i := 0; i < 12; i++ {
			if err := login("alice", "wrong"); locked(err) {
				t.Fatalf("lockout with maxLoginAttempts 0: %v", err)
			}
		}
		if err := login("alice", "pw-alice"); err != nil {
			t.Fatalf("login: %v", err)
		}
	})
	t.Run("default", func(t *testing.T) {
		f.setParams(map[string]any{"maxLoginAttempts": nil, "loginLockPeriodSeconds": nil, "loginAttemptsTimeoutSeconds": nil})
		for i := 0; i < 10; i++ {
			login("alice", "wrong")
		}
		if err := login("alice", "pw-alice"); !locked(err) {
			t.Fatalf("login after 10 failures with the default parameters: %v; want locked", err)
		}
	})
}

// testRefreshTokens checks the refresh_token grant and token lifetimes.
func testRefreshTokens(t *testing.T, s suite) {
	f := newFixture(t, s)
	_, alice := f.mustUser("alice")
	pw := kumo.LoginRequest{Username: "alice", Password: "pw-alice"}
	tok, err := f.db.Tokens.Login(f.ctx, f.app.AppID, pw)
	if err != nil || tok.RefreshToken != "" || tok.ExpiresIn != kumo.NeverExpires {
		t.Fatalf("login with refresh tokens off = %+v, %v; want no refresh token, never expiring", tok, err)
	}
	_, err = f.db.Tokens.Login(f.ctx, f.app.AppID, kumo.LoginRequest{RefreshToken: "anything"})
	wantCode(t, "refresh with refresh tokens off", err, kumo.ErrInvalidGrant)

	f.setParams(map[string]any{"refreshTokenEnabled": true, "accessTokenExpirationSeconds": 600})
	tok, err = f.db.Tokens.Login(f.ctx, f.app.AppID, pw)
	if err != nil || tok.RefreshToken == "" || tok.ExpiresIn != 600 {
		t.Fatalf("login = %+v, %v; want a refresh token and expires_in 600", tok, err)
	}
	f.clock.Advance(601 * time.Second)
	if _, err := f.db.Tokens.Authenticate(f.ctx, f.app.AppID, tok.AccessToken); !wantCode(t, "expired token", err, kumo.ErrWrongToken) {
		return
	}
	next, err := f.db.Tokens.Login(f.ctx, f.app.AppID, kumo.LoginRequest{RefreshToken: tok.RefreshToken})
	if err != nil || next.RefreshToken == "" || next.AccessToken == tok.AccessToken || next.PrincipalID != alice.ID {
		t.Fatalf("refresh = %+v, %v", next, err)
	}
	if c, err := f.db.Tokens.Authenticate(f.ctx, f.app.AppID, next.AccessToken); err != nil || c != alice {
		t.Fatalf("Authenticate(refreshed token) = %+v, %v; want %+v", c, err, alice)
	}
	_, err = f.db.Tokens.Login(f.ctx, f.app.AppID, kumo.LoginRequest{GrantType: kumo.GrantRefreshToken, RefreshToken: tok.RefreshToken})
	wantCode(t, "second use of a refresh token", err, kumo.ErrInvalidGrant)

	// A refresh revokes the access token issued with the refresh token.
	third, err := f.db.Tokens.Login(f.ctx, f.app.AppID, kumo.LoginRequest{RefreshToken: next.RefreshToken, ExpiresAt: f.clock.Millis() + 60_000})
	if err != nil || third.ExpiresIn != 60 {
		t.Fatalf("refresh with expiresAt = %+v, %v; want expires_in 60", third, err)
	}
	_, err = f.db.Tokens.Authenticate(f.ctx, f.app.AppID, next.AccessToken)
	wantCode(t, "access token of a used refresh token", err, kumo.ErrWrongToken)

	// Changing the password revokes refresh tokens too.
	if err := f.db.Users.ChangePassword(f.ctx, alice, "me", "pw-alice", "pw-alice-2"); err != nil {
		t.Fatalf("ChangePassword: %v", err)
	}
	_, err = f.db.Tokens.Login(f.ctx, f.app.AppID, kumo.LoginRequest{RefreshToken: third.RefreshToken})
	wantCode(t, "refresh after a password change", err, kumo.ErrInvalidGrant)

	// Registration with a token gets one too; a pseudo user does not.
	_, reg, err := f.db.Users.RegisterUser(f.ctx, f.anon, kumo.UserRegistration{LoginName: "bob", Password: "pw-bob"}, true)
	if err != nil || reg == nil || reg.RefreshToken == "" || reg.ExpiresIn != 600 {
		t.Fatalf("RegisterUser with token = %+v, %v; want a refresh token", reg, err)
	}
	pseudo, ptok, err := f.db.Users.RegisterUser(f.ctx, f.anon, kumo.UserRegistration{Pseudo: true}, true)
	if err != nil || ptok == nil || ptok.RefreshToken != "" || pseudo.HasPassword {
		t.Fatalf("pseudo user = %+v, %+v, %v; want a token without refresh token and no password", pseudo, ptok, err)
	}
	if c, err := f.db.Tokens.Authenticate(f.ctx, f.app.AppID, ptok.AccessToken); err != nil || c.ID != pseudo.ID {
		t.Fatalf("Authenticate(pseudo user's token) = %+v, %v", c, err)
	}
	got, err := f.db.Users.FindUser(f.ctx, kumo.Caller{AppID: f.app.AppID, Kind: kumo.UserCaller, ID: pseudo.ID}, "me")
	if err != nil || got.HasPassword {
		t.Fatalf("FindUser(pseudo) = %+v, %v; want HasPassword false", got, err)
	}
}

// testLocalPhone checks Kii's local phone form PHONE:{CC}-{number}: the
// user registered with that number and that country.
func testLocalPhone(t *testing.T, s suite) {
	f := newFixture(t, s)
	jp, _, err := f.db.Users.RegisterUser(f.ctx, f.anon, kumo.UserRegistration{Phone: "09011112222", Country: "JP", Password: "pw-jp"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.db.Users.RegisterUser(f.ctx, f.anon, kumo.UserRegistration{Phone: "0901111222", Country: "US", Password: "pw-us"}, false); err != nil {
		t.Fatal(err)
	}
	tok, err := f.db.Tokens.Login(f.ctx, f.app.AppID, kumo.LoginRequest{Username: "PHONE:JP-09011112222", Password: "pw-jp"})
	if err != nil || tok.PrincipalID != jp.ID {
		t.Fatalf("login by PHONE:JP-… = %+v, %v; want %s", tok, err, jp.ID)
	}
	if u, err := f.db.Users.FindUser(f.ctx, f.admin, "PHONE:JP-09011112222"); err != nil || u.ID != jp.ID {
		t.Fatalf("FindUser(PHONE:JP-…) = %+v, %v", u, err)
	}
	_, err = f.db.Users.FindUser(f.ctx, f.admin, "PHONE:US-09011112222")
	wantCode(t, "FindUser with another country", err, kumo.ErrUserNotFound)
}

// testLockoutConcurrent checks that concurrent wrong passwords cannot get
// more tries than the limit (the password checked at most 3 times; the
// others refused as locked), and that the user is locked once they are
// done.
func testLockoutConcurrent(t *testing.T, s suite) {
	f := newFixture(t, s)
	f.mustUser("alice")
	f.setParams(map[string]any{"maxLoginAttempts": 3, "loginLockPeriodSeconds": 300})
	var wg sync.WaitGroup
	var tried atomic.Int32 // refused for the password, not as locked
	for range 20 {
		wg.Go(func() {
			_, err := f.db.Tokens.Login(f.ctx, f.app.AppID, kumo.LoginRequest{Username: "alice", Password: "wrong"})
			if errFields(err)["error_description"] != "The login name is locked" {
				tried.Add(1)
			}
		})
	}
	wg.Wait()
	if n := tried.Load(); n > 3 {
		t.Errorf("%d of 20 concurrent wrong passwords were checked; want at most maxLoginAttempts, 3", n)
	}
	_, err := f.db.Tokens.Login(f.ctx, f.app.AppID, kumo.LoginRequest{Username: "alice", Password: "pw-alice"})
	if kumo.ErrorCode(err) != kumo.ErrInvalidGrant || errFields(err)["error_description"] != "The login name is locked" {
		t.Fatalf("right password after 20 concurrent failures: %v; want locked", err)
	}
}
