package api

import (
	"net/http"

	"github.com/kumo-iot/kumo"
)

// handleUserRegister serves POST /api/apps/{appID}/users. The media type
// RegistrationAndAuthorizationRequest also issues the user's token.
func (s *Server) handleUserRegister(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	body, err := decodeObject(w, r)
	if err != nil {
		return err
	}
	withToken := isKiiType(r, "RegistrationAndAuthorizationRequest")
	reg, err := kumo.ParseUserRegistration(body, withToken)
	if err != nil {
		return err
	}
	u, tok, err := s.Users.RegisterUser(r.Context(), c, reg, withToken)
	if err != nil {
		return err
	}
	out := userJSON(u)
	if tok != nil {
		out["_accessToken"] = tok.AccessToken
		if tok.RefreshToken != "" {
			out["_refreshToken"] = tok.RefreshToken
		}
	}
	w.Header().Set("Location", baseURL(r)+"/api/apps/"+c.AppID+"/users/"+u.ID)
	writeJSON(w, http.StatusCreated, "application/vnd.kii.RegistrationResponse+json", out)
	return nil
}

// handleUserGet serves GET /api/apps/{appID}/users/{user}.
func (s *Server) handleUserGet(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	u, err := s.Users.FindUser(r.Context(), c, r.PathValue("user"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, "application/vnd.kii.UserDataRetrievalResponse+json", userJSON(u))
	return nil
}

// userJSON is a user's record as Kii returns it: fields appear only when set.
func userJSON(u kumo.User) map[string]any {
	out := make(map[string]any, len(u.Custom)+10)
	for k, v := range u.Custom {
		out[k] = v
	}
	out["userID"] = u.ID
	for k, v := range map[string]string{"loginName": u.LoginName, "emailAddress": u.Email, "phoneNumber": u.Phone,
		"displayName": u.DisplayName, "country": u.Country, "locale": u.Locale} {
		if v != "" {
			out[k] = v
		}
	}
	if u.Created > 0 { // a full record, not another user's public view
		out["_hasPassword"] = u.HasPassword
		out["_disabled"] = u.Disabled
		if u.Email != "" {
			out["emailAddressVerified"] = true
		}
		if u.Phone != "" {
			out["phoneNumberVerified"] = true
		}
	}
	return out
}

// handleUserUpdate serves POST /api/apps/{appID}/users/{user}: predefined
// fields given are changed, custom fields are replaced as a set. 200
// {"modifiedAt"}.
func (s *Server) handleUserUpdate(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	body, err := decodeObject(w, r)
	if err != nil {
		return err
	}
	up, err := kumo.ParseUserUpdate(body)
	if err != nil {
		return err
	}
	u, err := s.Users.UpdateUser(r.Context(), c, r.PathValue("user"), up)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, "application/vnd.kii.UserDataRetrievalResponse+json", map[string]any{"modifiedAt": u.Modified})
	return nil
}

// handleUserDelete serves DELETE /api/apps/{appID}/users/{user}: 204.
func (s *Server) handleUserDelete(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	if err := s.Users.DeleteUser(r.Context(), c, r.PathValue("user")); err != nil {
		return err
	}
	return noContent(w)
}

// handleUserPassword serves PUT .../users/{user}/password with
// {"oldPassword","newPassword"} (the admin sends newPassword only): 204.
func (s *Server) handleUserPassword(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	body, err := decodeObject(w, r)
	if err != nil {
		return err
	}
	if err := s.Users.ChangePassword(r.Context(), c, r.PathValue("user"), stringField(body, "oldPassword"), stringField(body, "newPassword")); err != nil {
		return err
	}
	return noContent(w)
}

// handleUserQuery serves POST /api/apps/{appID}/users/query with a
// UserQueryRequest (admin only): 200 {"queryDescription","results":[users
// as GET renders them],"nextPaginationKey"} (the key only when more
// follow).
func (s *Server) handleUserQuery(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	raw, err := readJSON(w, r, maxJSONBody)
	if err != nil {
		return err
	}
	q, err := kumo.ParseUserQuery(raw)
	if err != nil {
		return err
	}
	users, next, err := s.UserQueries.QueryUsers(r.Context(), c, q)
	if err != nil {
		return err
	}
	results := make([]any, len(users))
	for i, u := range users {
		results[i] = userJSON(u)
	}
	out := map[string]any{"queryDescription": q.Description(), "results": results}
	if next != "" {
		out["nextPaginationKey"] = next
	}
	writeJSON(w, http.StatusOK, "application/vnd.kii.UserQueryResponse+json", out)
	return nil
}
