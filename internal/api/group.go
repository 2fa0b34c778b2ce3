package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/kumo-iot/kumo"
)

// handleGroupCreate serves POST /api/apps/{appID}/groups: 201 with the
// group's ID and the members that are not users.
func (s *Server) handleGroupCreate(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	return s.createGroup(w, r, c, "")
}

// handleGroupPut serves PUT /api/apps/{appID}/groups/{group}: the same,
// with the group ID chosen by the client.
func (s *Server) handleGroupPut(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	return s.createGroup(w, r, c, r.PathValue("group"))
}

func (s *Server) createGroup(w http.ResponseWriter, r *http.Request, c kumo.Caller, id string) error {
	body, err := decodeObject(w, r)
	if err != nil {
		return err
	}
	req, err := kumo.ParseGroupCreation(id, body)
	if err != nil {
		return err
	}
	g, notFound, err := s.Groups.CreateGroup(r.Context(), c, req)
	if err != nil {
		return err
	}
	w.Header().Set("Location", baseURL(r)+"/api/apps/"+c.AppID+"/groups/"+g.ID)
	writeJSON(w, http.StatusCreated, "application/vnd.kii.GroupCreationResponse+json",
		map[string]any{"groupID": g.ID, "notFoundUsers": notFound})
	return nil
}

// handleGroupGet serves GET /api/apps/{appID}/groups/{group}.
func (s *Server) handleGroupGet(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	g, err := s.Groups.FindGroup(r.Context(), c, r.PathValue("group"))
	if err != nil {
		return err
	}
	out := groupJSON(g)
	out["createdAt"] = g.Created
	out["modifiedAt"] = g.Modified
	writeJSON(w, http.StatusOK, "application/vnd.kii.GroupRetrievalResponse+json", out)
	return nil
}

// groupJSON is a group as Kii lists it: groupID, name and owner (left
// out when the group has none).
func groupJSON(g kumo.Group) map[string]any {
	out := map[string]any{"groupID": g.ID, "name": g.Name}
	if g.Owner != "" {
		out["owner"] = g.Owner
	}
	return out
}

// handleGroupList serves GET /api/apps/{appID}/groups?is_member={user}
// or ?owner={user}.
func (s *Server) handleGroupList(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	q := r.URL.Query()
	gs, err := s.Groups.ListGroups(r.Context(), c, kumo.GroupFilter{Member: q.Get("is_member"), Owner: q.Get("owner")})
	if err != nil {
		return err
	}
	list := make([]map[string]any, len(gs))
	for i, g := range gs {
		list[i] = groupJSON(g)
	}
	writeJSON(w, http.StatusOK, "application/vnd.kii.GroupsRetrievalResponse+json", map[string]any{"groups": list})
	return nil
}

// handleGroupDelete serves DELETE /api/apps/{appID}/groups/{group}: 204.
func (s *Server) handleGroupDelete(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	if err := s.Groups.DeleteGroup(r.Context(), c, r.PathValue("group")); err != nil {
		return err
	}
	return noContent(w)
}

// handleGroupName serves PUT …/groups/{group}/name: the body is the new
// name as text/plain (a JSON string is accepted too when the request says
// it is JSON). 204.
func (s *Server) handleGroupName(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	b, err := readBody(w, r, maxJSONBody)
	if err != nil {
		return err
	}
	name := string(b)
	if mt := mediaType(r); mt == "application/json" || strings.HasSuffix(mt, "+json") {
		if err := checkJSONDepth(b); err != nil {
			return err
		}
		var s string
		if json.Unmarshal(bytes.TrimSpace(b), &s) == nil {
			name = s
		}
	}
	if err := s.Groups.RenameGroup(r.Context(), c, r.PathValue("group"), name); err != nil {
		return err
	}
	return noContent(w)
}

// handleGroupOwner serves PUT …/groups/{group}/owner with {"owner"}: 204.
func (s *Server) handleGroupOwner(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	body, err := decodeObject(w, r)
	if err != nil {
		return err
	}
	owner, ok := body["owner"].(string)
	if !ok || owner == "" {
		return kumo.InvalidInput(map[string]string{"owner": "must be a user ID"})
	}
	if err := s.Groups.ChangeGroupOwner(r.Context(), c, r.PathValue("group"), owner); err != nil {
		return err
	}
	return noContent(w)
}

// handleGroupMembers serves GET …/groups/{group}/members.
func (s *Server) handleGroupMembers(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	ids, err := s.Groups.GroupMembers(r.Context(), c, r.PathValue("group"))
	if err != nil {
		return err
	}
	members := make([]map[string]string, len(ids))
	for i, id := range ids {
		members[i] = map[string]string{"userID": id}
	}
	writeJSON(w, http.StatusOK, "application/vnd.kii.MembersRetrievalResponse+json", map[string]any{"members": members})
	return nil
}

// handleGroupMemberAdd serves PUT …/groups/{group}/members/{user}: 204,
// also for a member already in.
func (s *Server) handleGroupMemberAdd(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	if err := s.Groups.AddGroupMember(r.Context(), c, r.PathValue("group"), r.PathValue("user")); err != nil {
		return err
	}
	return noContent(w)
}

// handleGroupMemberRemove serves DELETE …/groups/{group}/members/{user}:
// 204.
func (s *Server) handleGroupMemberRemove(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	if err := s.Groups.RemoveGroupMember(r.Context(), c, r.PathValue("group"), r.PathValue("user")); err != nil {
		return err
	}
	return noContent(w)
}
