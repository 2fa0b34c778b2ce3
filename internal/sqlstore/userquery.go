package sqlstore

import (
	"context"
	"sort"
	"strconv"

	"github.com/kumo-iot/kumo"
)

// QueryUsers implements kumo.UserQueryService, as QueryThings does: the
// app's users evaluated by the reference evaluator, an offset as the
// paginationKey.
func (s *UserService) QueryUsers(ctx context.Context, c kumo.Caller, q kumo.Query) ([]kumo.User, string, error) {
	if !c.IsAdmin() {
		return nil, "", kumo.Unauthorized(c, "Only the app admin may query users")
	}
	if _, ok := q.Count(); ok {
		return nil, "", kumo.Errorf(kumo.ErrQueryNotSupported, "User queries do not count")
	}
	offset, err := offsetKey(q.PaginationKey)
	if err != nil {
		return nil, "", err
	}
	rows, err := s.db.query(ctx, `SELECT id FROM users WHERE app_id = ?`, c.AppID)
	if err != nil {
		return nil, "", err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, "", err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	type hit struct {
		user kumo.User
		obj  kumo.Object
	}
	var hits []hit
	for _, id := range ids {
		u, err := s.user(ctx, c.AppID, id)
		if kumo.ErrorCode(err) == kumo.ErrUserNotFound {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, "", err
		}
		if o := kumo.UserQueryObject(u); q.Selects(o) {
			hits = append(hits, hit{u, o})
		}
	}
	sort.SliceStable(hits, func(i, j int) bool { return q.Compare(hits[i].obj, hits[j].obj) < 0 })
	offset = min(offset, len(hits))
	end := min(offset+q.Limit, len(hits))
	out := make([]kumo.User, 0, end-offset)
	for _, h := range hits[offset:end] {
		out = append(out, h.user)
	}
	next := ""
	if end < len(hits) {
		next = strconv.Itoa(end)
	}
	return out, next, nil
}
