package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"

	"github.com/kumo-iot/kumo"
)

// GroupService implements kumo.GroupService: groups and their members.
type GroupService struct {
	db    *DB
	users *UserService
	hooks *HookService // server code: hooks
}

var _ kumo.GroupService = (*GroupService)(nil)

// CreateGroup implements kumo.GroupService.
func (s *GroupService) CreateGroup(ctx context.Context, c kumo.Caller, r kumo.GroupCreation) (kumo.Group, []string, error) {
	switch {
	case c.IsAdmin():
	case c.Kind == kumo.UserCaller:
		if r.Owner == "" {
			r.Owner = c.ID
		}
		if r.Owner != c.ID {
			return kumo.Group{}, nil, kumo.Unauthorized(c, "A user may only create groups that he owns")
		}
	default:
		return kumo.Group{}, nil, kumo.Unauthorized(c, "Only users and the app admin may create groups")
	}
	if !kumo.ValidGroupName(r.Name) {
		return kumo.Group{}, nil, kumo.InvalidInput(map[string]string{"name": "must be a string of 1 to 190 characters"})
	}
	now := s.db.now()
	g := kumo.Group{ID: r.ID, Name: r.Name, Owner: r.Owner, Created: now, Modified: now}
	if g.ID == "" {
		g.ID = kumo.NewGroupID()
	}
	var notFound []string
	err := s.db.writeTx(ctx, func(tx *Tx) error {
		notFound = []string{}
		if g.Owner != "" {
			ok, err := userExists(ctx, tx, c.AppID, g.Owner)
			if err != nil {
				return err
			}
			if !ok {
				return userNotFound(c.AppID, g.Owner)
			}
		}
		_, err := tx.Exec(ctx, "INSERT INTO groups (app_id, id, name, owner, created, modified) VALUES (?, ?, ?, ?, ?, ?)",
			c.AppID, g.ID, g.Name, g.Owner, now, now)
		if s.db.dialect.IsUniqueViolation(err) {
			return kumo.Errorf(kumo.ErrGroupAlreadyExists, "Group %s already exists", g.ID).With("groupID", g.ID).With("appID", c.AppID)
		}
		if err != nil {
			return err
		}
		members := []string{}
		if g.Owner != "" {
			members = append(members, g.Owner)
		}
		for _, m := range r.Members {
			if slices.Contains(members, m) || slices.Contains(notFound, m) {
				continue
			}
			ok, err := userExists(ctx, tx, c.AppID, m)
			if err != nil {
				return err
			}
			if !ok {
				notFound = append(notFound, m)
				continue
			}
			members = append(members, m)
		}
		for _, m := range members {
			if err := addMember(ctx, tx, c.AppID, g.ID, m, now); err != nil {
				return err
			}
		}
		return s.hooks.group(ctx, tx, "GROUP_CREATED", c.AppID, g.ID, nil, c.Principal())
	})
	if err != nil {
		return kumo.Group{}, nil, err
	}
	return g, notFound, nil
}

// userExists reports whether the app has a user with ID id, within a
// write; on PostgreSQL the user's row stays locked (shared) until the
// write ends, so that a deletion by another node cannot slip in between.
func userExists(ctx context.Context, tx *Tx, appID, id string) (bool, error) {
	return rowExists(ctx, tx, tx.db.locks.LockShared("SELECT 1 FROM users WHERE app_id = ? AND id = ?"), appID, id)
}

// groupExists is userExists for a group.
func groupExists(ctx context.Context, tx *Tx, appID, id string) (bool, error) {
	return rowExists(ctx, tx, tx.db.locks.LockShared("SELECT 1 FROM groups WHERE app_id = ? AND id = ?"), appID, id)
}

// rowExists reports whether query (a SELECT 1 … of one row) finds it.
func rowExists(ctx context.Context, tx *Tx, query string, args ...any) (bool, error) {
	var one int
	err := tx.QueryRow(ctx, query, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// userNotFound is USER_NOT_FOUND for a user ID.
func userNotFound(appID, id string) *kumo.Error {
	return kumo.Errorf(kumo.ErrUserNotFound, "User %s was not found", id).
		With("appID", appID).With("field", "userID").With("value", id)
}

// addMember makes a user a member of a group (again, harmlessly).
func addMember(ctx context.Context, tx *Tx, appID, groupID, userID string, now int64) error {
	_, err := addedMember(ctx, tx, appID, groupID, userID, now)
	return err
}

// addedMember adds a member and reports whether the user was not one
// already.
func addedMember(ctx context.Context, tx *Tx, appID, groupID, userID string, now int64) (bool, error) {
	res, err := tx.Exec(ctx, "INSERT INTO group_members (app_id, group_id, user_id, created) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
		appID, groupID, userID, now)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// group loads a group without any permission check.
func (s *GroupService) group(ctx context.Context, appID, id string) (kumo.Group, error) {
	g := kumo.Group{ID: id}
	err := s.db.queryRow(ctx, "SELECT name, owner, created, modified FROM groups WHERE app_id = ? AND id = ?", appID, id).
		Scan(&g.Name, &g.Owner, &g.Created, &g.Modified)
	if errors.Is(err, sql.ErrNoRows) {
		return g, kumo.GroupNotFound(appID, id)
	}
	return g, err
}

// isMember reports whether user userID is a member of group groupID.
func (s *GroupService) isMember(ctx context.Context, appID, groupID, userID string) (bool, error) {
	var n int
	err := s.db.queryRow(ctx, "SELECT COUNT(*) FROM group_members WHERE app_id = ? AND group_id = ? AND user_id = ?",
		appID, groupID, userID).Scan(&n)
	return n > 0, err
}

// groupFor loads group id for a caller who must be a user or the admin:
// with owner set, the group's owner; else one of its members.
func (s *GroupService) groupFor(ctx context.Context, c kumo.Caller, id string, owner bool) (kumo.Group, error) {
	if c.Kind != kumo.UserCaller && !c.IsAdmin() { // before any lookup: such a caller learns nothing
		return kumo.Group{}, kumo.Unauthorized(c, "Only users and the app admin may use groups")
	}
	g, err := s.group(ctx, c.AppID, id)
	if err != nil || c.IsAdmin() || c.ID == g.Owner {
		return g, err
	}
	if owner {
		return kumo.Group{}, kumo.Unauthorized(c, "Only the owner of group %s or the app admin may do this", id)
	}
	ok, err := s.isMember(ctx, c.AppID, id, c.ID)
	if err != nil {
		return kumo.Group{}, err
	}
	if !ok {
		return kumo.Group{}, kumo.Unauthorized(c, "Only the members of group %s or the app admin may do this", id)
	}
	return g, nil
}

// FindGroup implements kumo.GroupService.
func (s *GroupService) FindGroup(ctx context.Context, c kumo.Caller, id string) (kumo.Group, error) {
	return s.groupFor(ctx, c, id, false)
}

// RenameGroup implements kumo.GroupService.
func (s *GroupService) RenameGroup(ctx context.Context, c kumo.Caller, id, name string) error {
	g, err := s.groupFor(ctx, c, id, true)
	if err != nil {
		return err
	}
	if !kumo.ValidGroupName(name) {
		return kumo.InvalidInput(map[string]string{"name": "must be 1 to 190 characters"})
	}
	now := max(s.db.now(), g.Modified)
	return s.db.writeTx(ctx, func(tx *Tx) error {
		_, err := tx.Exec(ctx, "UPDATE groups SET name = ?, modified = ? WHERE app_id = ? AND id = ?", name, now, c.AppID, g.ID)
		return err
	})
}

// ChangeGroupOwner implements kumo.GroupService.
func (s *GroupService) ChangeGroupOwner(ctx context.Context, c kumo.Caller, id, owner string) error {
	g, err := s.groupFor(ctx, c, id, true)
	if err != nil {
		return err
	}
	if owner == "" {
		return kumo.InvalidInput(map[string]string{"owner": "must be a user ID"})
	}
	now := max(s.db.now(), g.Modified)
	return s.db.writeTx(ctx, func(tx *Tx) error {
		ok, err := userExists(ctx, tx, c.AppID, owner)
		if err != nil {
			return err
		}
		if !ok {
			return userNotFound(c.AppID, owner)
		}
		if _, err := tx.Exec(ctx, "UPDATE groups SET owner = ?, modified = ? WHERE app_id = ? AND id = ?", owner, now, c.AppID, g.ID); err != nil {
			return err
		}
		return addMember(ctx, tx, c.AppID, g.ID, owner, now)
	})
}

// DeleteGroup implements kumo.GroupService.
func (s *GroupService) DeleteGroup(ctx context.Context, c kumo.Caller, id string) error {
	g, err := s.groupFor(ctx, c, id, true)
	if err != nil {
		return err
	}
	scope := kumo.Scope{Kind: kumo.ScopeGroup, ID: g.ID}.Key()
	err = s.db.writeTx(ctx, func(tx *Tx) error {
		// The group, its memberships and ownerships, its scope's buckets,
		// objects, bodies and topics with their subscriptions and ACL
		// changes, and the entries naming it (cascade.go).
		if _, err := cascade(ctx, tx, doomed{kind: doomGroup, appID: c.AppID, scope: scope, id: g.ID}); err != nil {
			return err
		}
		if err := s.hooks.group(ctx, tx, "GROUP_DELETED", c.AppID, g.ID, nil, c.Principal()); err != nil {
			return err
		}
		return bumpCounter(ctx, tx, counterSubscriptions)
	})
	if err == nil {
		s.db.emptyTrash(ctx, s.db.Log)
	}
	return err
}

// AddGroupMember implements kumo.GroupService.
func (s *GroupService) AddGroupMember(ctx context.Context, c kumo.Caller, id, userID string) error {
	g, err := s.groupFor(ctx, c, id, true)
	if err != nil {
		return err
	}
	now := s.db.now()
	return s.db.writeTx(ctx, func(tx *Tx) error {
		ok, err := userExists(ctx, tx, c.AppID, userID)
		if err != nil {
			return err
		}
		if !ok {
			return userNotFound(c.AppID, userID)
		}
		added, err := addedMember(ctx, tx, c.AppID, g.ID, userID, now)
		if err != nil || !added {
			return err // a member already: nothing is added, no hook runs
		}
		return s.hooks.group(ctx, tx, "GROUP_MEMBERS_ADDED", c.AppID, g.ID, []string{userID}, c.Principal())
	})
}

// RemoveGroupMember implements kumo.GroupService.
func (s *GroupService) RemoveGroupMember(ctx context.Context, c kumo.Caller, id, userID string) error {
	if c.Kind != kumo.UserCaller && !c.IsAdmin() {
		return kumo.Unauthorized(c, "Only users and the app admin may use groups")
	}
	g, err := s.group(ctx, c.AppID, id)
	if err != nil {
		return err
	}
	if !c.IsAdmin() && c.ID != g.Owner && c.ID != userID {
		return kumo.Unauthorized(c, "Only the owner of group %s, the app admin or the member himself may remove a member", id)
	}
	if userID == g.Owner {
		return kumo.Unauthorized(c, "The owner of group %s cannot leave it: change its owner first", id)
	}
	return s.db.writeTx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(ctx, "DELETE FROM group_members WHERE app_id = ? AND group_id = ? AND user_id = ?", c.AppID, g.ID, userID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return userNotFound(c.AppID, userID).With("groupID", g.ID)
		}
		// A member's rights in the group scope end with his membership:
		// so do his push subscriptions there.
		scope := kumo.Scope{Kind: kumo.ScopeGroup, ID: g.ID}.Key()
		if err := dropSubscriptions(ctx, tx, c.AppID, scope, kumo.Principal{Kind: kumo.UserCaller, ID: userID}); err != nil {
			return err
		}
		return s.hooks.group(ctx, tx, "GROUP_MEMBERS_REMOVED", c.AppID, g.ID, []string{userID}, c.Principal())
	})
}

// GroupMembers implements kumo.GroupService.
func (s *GroupService) GroupMembers(ctx context.Context, c kumo.Caller, id string) ([]string, error) {
	g, err := s.groupFor(ctx, c, id, false)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.query(ctx, "SELECT user_id FROM group_members WHERE app_id = ? AND group_id = ? ORDER BY created, user_id", c.AppID, g.ID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	members := []string{}
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			return nil, err
		}
		members = append(members, m)
	}
	return members, rows.Err()
}

// ListGroups implements kumo.GroupService.
func (s *GroupService) ListGroups(ctx context.Context, c kumo.Caller, f kumo.GroupFilter) ([]kumo.Group, error) {
	if c.Kind != kumo.UserCaller && !c.IsAdmin() {
		return nil, kumo.Unauthorized(c, "Only users and the app admin may list groups")
	}
	const columns = "SELECT g.id, g.name, g.owner, g.created, g.modified FROM groups g "
	var (
		q    string
		args []any
	)
	switch {
	case f.Member != "" && f.Owner != "":
		return nil, kumo.InvalidInput(map[string]string{"is_member": "give is_member or owner, not both"})
	case f.Member == "" && f.Owner == "":
		if !c.IsAdmin() {
			return nil, kumo.Unauthorized(c, "Only the app admin may list every group: give is_member or owner")
		}
		q, args = columns+"WHERE g.app_id = ?", []any{c.AppID}
	default:
		selector, byOwner := f.Member, false
		if selector == "" {
			selector, byOwner = f.Owner, true
		}
		userID, err := s.users.userID(ctx, c, selector, true)
		if err != nil {
			return nil, err
		}
		if !c.IsAdmin() && userID != c.ID {
			return nil, kumo.Unauthorized(c, "A user may only list his own groups")
		}
		if byOwner {
			q, args = columns+"WHERE g.app_id = ? AND g.owner = ?", []any{c.AppID, userID}
		} else {
			q = columns + "JOIN group_members m ON m.app_id = g.app_id AND m.group_id = g.id WHERE g.app_id = ? AND m.user_id = ?"
			args = []any{c.AppID, userID}
		}
	}
	rows, err := s.db.query(ctx, q+" ORDER BY g.created, g.id", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	groups := []kumo.Group{}
	for rows.Next() {
		var g kumo.Group
		if err := rows.Scan(&g.ID, &g.Name, &g.Owner, &g.Created, &g.Modified); err != nil {
			return nil, err
		}
		groups = append(groups, g)
	}
	return groups, rows.Err()
}
