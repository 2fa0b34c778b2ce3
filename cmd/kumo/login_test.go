package main

import (
	"fmt"
	"testing"
	"time"
)

func TestLoginAPI(t *testing.T) { forEachStore(t, testLoginAPI) }

// testLoginAPI checks app parameters, lockout (the sequence of ebisu's
// large test, with its exact error), refresh tokens and pseudo users over
// HTTP.
func testLoginAPI(t *testing.T, cfg config) {
	f := newFixture(t, cfg)
	params := "/api/apps/{app}/configuration/parameters"
	admin := []string{"Authorization", "Bearer {admin}"}
	token := "/api/apps/{app}/oauth2/token"
	thingLogin := `{"username":"VENDOR_THING_ID:{vendor}","password":"%s","grant_type":"password"}`
	f.run(t, []apiCase{
		{name: "a user may not read parameters", method: "GET", path: params, headers: []string{"Authorization", "Bearer {usertoken}"},
			status: 401, code: "UNAUTHORIZED"},
		{name: "a thing may not set parameters", method: "PATCH", path: params, body: `{"maxLoginAttempts":1}`,
			headers: []string{"Authorization", thingAuth}, status: 401, code: "UNAUTHORIZED"},
		{name: "initapp.sh sets lockout", method: "PATCH", path: params, body: `{"maxLoginAttempts":2,"loginLockPeriodSeconds":1}`,
			headers: append([]string{"Content-Type", "application/vnd.kii.AppConfigParamsModificationRequest+json"}, admin...),
			status:  200, bodyHas: []string{`"maxLoginAttempts" : 2`}},
		{name: "a wrong type is refused", method: "PATCH", path: params, body: `{"maxLoginAttempts":"2"}`, headers: admin,
			status: 400, code: "INVALID_INPUT_DATA"},
		{name: "read back", method: "GET", path: params, headers: admin, status: 200,
			bodyHas: []string{`"maxLoginAttempts" : 2`, `"loginLockPeriodSeconds" : 1`}},
		{name: "wrong password 1", method: "POST", path: token, body: fmt.Sprintf(thingLogin, "wrong"),
			headers: []string{"Content-Type", "application/vnd.kii.OauthTokenRequest+json"}, status: 400, code: "invalid_grant"},
		{name: "wrong password 2", method: "POST", path: token, body: fmt.Sprintf(thingLogin, "wrong"), status: 400, code: "invalid_grant"},
		{name: "right password while locked", method: "POST", path: token, body: fmt.Sprintf(thingLogin, "pass-1234"),
			status: 400, code: "invalid_grant", bodyHas: []string{`"error_description" : "The login name is locked"`}},
	})
	// After the lock period the right password works again.
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := do(t, "POST", f.n.base+f.expand(token), f.expand(fmt.Sprintf(thingLogin, "pass-1234")))
		if r.Status == 200 {
			break
		}
		if r.Status != 400 || r.JSON(t)["error_description"] != "The login name is locked" || time.Now().After(deadline) {
			t.Fatalf("login after the lock period: %d %s", r.Status, r.Body)
		}
		time.Sleep(100 * time.Millisecond)
	}

	f.run(t, []apiCase{
		{name: "turn refresh tokens on", method: "PATCH", path: params, body: `{"refreshTokenEnabled":true,"accessTokenExpirationSeconds":3600}`,
			headers: admin, status: 200},
		{name: "pseudo user", method: "POST", path: "/api/apps/{app}/users", body: `{"displayName":"Guest"}`,
			headers: []string{"Content-Type", "application/vnd.kii.RegistrationAndAuthorizationRequest+json"},
			status:  201, bodyHas: []string{`"_accessToken" : "`, `"_hasPassword" : false`, `"displayName" : "Guest"`}},
		{name: "no pseudo user without a token", method: "POST", path: "/api/apps/{app}/users", body: `{"displayName":"Guest"}`,
			headers: []string{"Content-Type", "application/vnd.kii.RegistrationRequest+json"}, status: 400, code: "PASSWORD_TOO_SHORT"},
		{name: "registration returns a refresh token", method: "POST", path: "/api/apps/{app}/users", body: `{"loginName":"carol","password":"carol-pass"}`,
			headers: []string{"Content-Type", "application/vnd.kii.RegistrationAndAuthorizationRequest+json"},
			status:  201, bodyHas: []string{`"_refreshToken" : "`, `"_hasPassword" : true`}},
	})
	r := do(t, "POST", f.n.base+f.expand(token), `{"username":"carol","password":"carol-pass"}`)
	wantStatus(t, r, 200)
	m := r.JSON(t)
	refresh, _ := m["refresh_token"].(string)
	if refresh == "" || fmt.Sprint(m["expires_in"]) != "3600" {
		t.Fatalf("login = %s; want a refresh_token and expires_in 3600", r.Body)
	}
	r = do(t, "POST", f.n.base+f.expand(token), fmt.Sprintf(`{"grant_type":"refresh_token","refresh_token":%q}`, refresh),
		"Content-Type", "application/vnd.kii.OauthTokenRequest+json")
	wantStatus(t, r, 200)
	fresh := r.Str(t, "access_token")
	if r.Str(t, "refresh_token") == refresh {
		t.Error("a refresh returned the same refresh token")
	}
	wantStatus(t, do(t, "GET", f.n.base+f.expand("/api/apps/{app}/users/me"), "", "Authorization", "Bearer "+fresh), 200)
	r = do(t, "POST", f.n.base+f.expand(token), fmt.Sprintf(`{"refresh_token":%q}`, refresh))
	if r.Status != 400 || r.JSON(t)["errorCode"] != "invalid_grant" {
		t.Errorf("second use of a refresh token: %d %s; want 400 invalid_grant", r.Status, r.Body)
	}
}
