package kumo

import (
	"context"
	"unicode/utf8"
)

// Group is a named set of users in an app, with an owner. Groups have
// buckets of their own (the group scope) and may own things.
type Group struct {
	ID       string
	Name     string
	Owner    string // the owner's user ID; "" for a group the admin created without one
	Created  int64  // epoch ms
	Modified int64  // epoch ms
}

// GroupCreation is the body of POST /api/apps/{appID}/groups (and of PUT
// …/groups/{groupID}, which also sets ID).
type GroupCreation struct {
	ID      string   // "" to have one generated
	Name    string   // 1 to 190 characters
	Owner   string   // a user ID; "" means the caller (the admin may leave it out)
	Members []string // user IDs; the owner is added in any case
}

// GroupFilter selects the groups GET /api/apps/{appID}/groups lists.
// Member and Owner are user selectors ("me", an ID, LOGIN_NAME:…); at
// most one is set.
type GroupFilter struct {
	Member string // ?is_member=
	Owner  string // ?owner=
}

// GroupService manages groups and their members.
//
// Who may do what: anonymous callers and things may do nothing. Any user
// may create a group, owned by himself. The members of a group (its owner
// is always one) may read it and list its members. Its owner and the admin
// may rename it, change its owner, delete it and add or remove members; a
// member may remove himself. Every method that names a group returns
// GROUP_NOT_FOUND ({groupID, appID}) when it does not exist.
type GroupService interface {
	// CreateGroup creates a group and returns it with the requested
	// members that are not users of the app (they are left out, not an
	// error). USER_NOT_FOUND when the owner is not a user;
	// GROUP_ALREADY_EXISTS ({groupID, appID}) when g.ID is taken;
	// UNAUTHORIZED for anonymous callers, things, and users naming
	// another owner.
	CreateGroup(ctx context.Context, c Caller, g GroupCreation) (Group, []string, error)
	// FindGroup returns a group. UNAUTHORIZED unless the caller is a
	// member or the admin.
	FindGroup(ctx context.Context, c Caller, id string) (Group, error)
	// RenameGroup changes a group's name (1 to 190 characters).
	RenameGroup(ctx context.Context, c Caller, id, name string) error
	// ChangeGroupOwner makes user owner the group's owner (and a member).
	// USER_NOT_FOUND when owner is not a user.
	ChangeGroupOwner(ctx context.Context, c Caller, id, owner string) error
	// DeleteGroup deletes a group with its memberships, its thing
	// ownerships, the buckets and objects of its scope and the push
	// subscriptions to them.
	DeleteGroup(ctx context.Context, c Caller, id string) error
	// AddGroupMember adds user userID to a group; adding a member again
	// succeeds. USER_NOT_FOUND when userID is not a user.
	AddGroupMember(ctx context.Context, c Caller, id, userID string) error
	// RemoveGroupMember removes user userID from a group. USER_NOT_FOUND
	// when userID is not a member. The owner cannot leave his group
	// (UNAUTHORIZED): the owner is always a member.
	RemoveGroupMember(ctx context.Context, c Caller, id, userID string) error
	// GroupMembers returns the user IDs of a group's members, in the
	// order they joined (by ID within a millisecond).
	GroupMembers(ctx context.Context, c Caller, id string) ([]string, error)
	// ListGroups returns the groups a user is a member of, or owns, in
	// the order they were created. A user may list his own groups only;
	// the admin anyone's, and every group of the app with an empty
	// filter. USER_NOT_FOUND when the filter names no user.
	ListGroups(ctx context.Context, c Caller, f GroupFilter) ([]Group, error)
}

// groupIDChars are the characters of a client-chosen group ID.
const groupIDChars = "abcdefghijklmnopqrstuvwxyz0123456789_-."

// maxGroupName is the longest group name, in characters.
const maxGroupName = 190

// ValidGroupName reports whether name may name a group: 1 to 190
// characters of any kind.
func ValidGroupName(name string) bool {
	n := utf8.RuneCountInString(name)
	return n >= 1 && n <= maxGroupName && utf8.ValidString(name)
}

// ParseGroupCreation validates a group creation body. id is the group ID
// of a PUT ("" for a POST): 1 to 30 characters of [a-z0-9_.-]. members may
// be a JSON array of user IDs or a single user ID.
func ParseGroupCreation(id string, body map[string]any) (GroupCreation, error) {
	g := GroupCreation{ID: id}
	invalid := map[string]string{}
	if id != "" && !validChars(id, 1, 30, groupIDChars) {
		invalid["groupID"] = "must be 1 to 30 characters of [a-z0-9_.-]"
	}
	name, ok := body["name"].(string)
	if !ok || !ValidGroupName(name) {
		invalid["name"] = "must be a string of 1 to 190 characters"
	}
	g.Name = name
	if v, ok := body["owner"]; ok && v != nil {
		s, ok := v.(string)
		if !ok {
			invalid["owner"] = "must be a user ID"
		}
		g.Owner = s
	}
	switch v := body["members"].(type) {
	case nil:
	case string:
		g.Members = []string{v}
	case []any:
		for _, m := range v {
			s, ok := m.(string)
			if !ok {
				invalid["members"] = "must be an array of user IDs"
				break
			}
			g.Members = append(g.Members, s)
		}
	default:
		invalid["members"] = "must be an array of user IDs"
	}
	if len(invalid) > 0 {
		return g, InvalidInput(invalid)
	}
	return g, nil
}

// GroupNotFound returns Kii's GROUP_NOT_FOUND error.
func GroupNotFound(appID, id string) *Error {
	return Errorf(ErrGroupNotFound, "Group %s was not found", id).With("groupID", id).With("appID", appID)
}
