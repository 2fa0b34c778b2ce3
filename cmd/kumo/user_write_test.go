package main

import "testing"

// TestUserWriteAPI: update (custom fields replaced as a set), password
// change (tokens revoked), delete.
func TestUserWriteAPI(t *testing.T) { forEachStore(t, testUserWriteAPI) }

func testUserWriteAPI(t *testing.T, cfg config) {
	f := newFixture(t, cfg)
	me := "/api/apps/{app}/users/me"
	user := []string{"Authorization", "Bearer {usertoken}"}
	admin := []string{"Authorization", "Bearer {admin}"}
	f.run(t, []apiCase{
		{name: "update", method: "POST", path: me, body: `{"displayName":"Alice B","country":"JP","hobby":"go"}`,
			headers: append([]string{"Content-Type", "application/vnd.kii.UserUpdateRequest+json"}, user...),
			status:  200, ctype: "application/vnd.kii.UserDataRetrievalResponse+json", bodyHas: []string{`"modifiedAt" : `}},
		{name: "predefined kept, custom replaced as a set", method: "GET", path: me, headers: user, status: 200,
			bodyHas: []string{`"displayName" : "Alice B"`, `"country" : "JP"`, `"loginName" : "alice"`, `"hobby" : "go"`}},
		{name: "a user registers bob", method: "POST", path: "/api/apps/{app}/users", body: `{"loginName":"bob","password":"bob-pass"}`, status: 201},
		{name: "login name taken", method: "POST", path: me, body: `{"loginName":"bob"}`, headers: user, status: 409, code: "USER_ALREADY_EXISTS"},
		{name: "password is not updated here", method: "POST", path: me, body: `{"password":"x"}`, headers: user, status: 400, code: "INVALID_INPUT_DATA"},
		{name: "a thing may not update a user", method: "POST", path: "/api/apps/{app}/users/{user}", body: `{}`, headers: []string{"Authorization", thingAuth},
			status: 401, code: "UNAUTHORIZED"},
		{name: "wrong old password", method: "PUT", path: me + "/password", body: `{"oldPassword":"nope","newPassword":"new-pass"}`, headers: user,
			status: 401, code: "WRONG_PASSWORD"},
		{name: "short new password", method: "PUT", path: me + "/password", body: `{"oldPassword":"alice-pass","newPassword":"x"}`, headers: user,
			status: 400, code: "PASSWORD_TOO_SHORT"},
		{name: "change password", method: "PUT", path: me + "/password", body: `{"oldPassword":"alice-pass","newPassword":"new-pass"}`,
			headers: append([]string{"Content-Type", "application/vnd.kii.ChangePasswordRequest+json"}, user...), status: 204},
		{name: "old token revoked", method: "GET", path: me, headers: user, status: 403, code: "WRONG_TOKEN"},
		{name: "old password refused", method: "POST", path: "/api/apps/{app}/oauth2/token", body: `{"username":"alice","password":"alice-pass"}`,
			status: 400, code: "invalid_grant"},
		{name: "new password works", method: "POST", path: "/api/apps/{app}/oauth2/token", body: `{"username":"alice","password":"new-pass"}`, status: 200},
		{name: "admin sets a password without the old one", method: "PUT", path: "/api/apps/{app}/users/LOGIN_NAME:alice/password",
			body: `{"newPassword":"admin-set"}`, headers: admin, status: 204},
		{name: "admin deletes", method: "DELETE", path: "/api/apps/{app}/users/LOGIN_NAME:alice", headers: admin, status: 204},
		{name: "deleted", method: "GET", path: "/api/apps/{app}/users/{user}", headers: admin, status: 404, code: "USER_NOT_FOUND"},
		{name: "delete again", method: "DELETE", path: "/api/apps/{app}/users/{user}", headers: admin, status: 404, code: "USER_NOT_FOUND"},
	})
}
