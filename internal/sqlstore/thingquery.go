package sqlstore

import (
	"context"
	"encoding/json"
	"sort"
	"strconv"
	"strings"

	"github.com/kumo-iot/kumo"
)

// QueryThings implements kumo.ThingQueryService. The things a caller may
// see (all for the admin; for a user those he or his groups own) are read
// with their owners and evaluated by the reference evaluator
// (kumo.Query.Selects and Compare): thing queries are an operator's and
// an owner's tool over at most an app's things, not a hot path. The
// paginationKey is an offset in that order.
func (s *ThingService) QueryThings(ctx context.Context, c kumo.Caller, q kumo.Query) ([]kumo.Thing, string, error) {
	if !c.IsAdmin() && c.Kind != kumo.UserCaller {
		return nil, "", kumo.Unauthorized(c, "Only the app admin and users may query things")
	}
	if _, ok := q.Count(); ok {
		return nil, "", kumo.Errorf(kumo.ErrQueryNotSupported, "Thing queries do not count")
	}
	offset, err := offsetKey(q.PaginationKey)
	if err != nil {
		return nil, "", err
	}
	users, groups, err := s.thingOwners(ctx, c.AppID)
	if err != nil {
		return nil, "", err
	}
	var mine map[string]bool // the things a user may see
	if !c.IsAdmin() {
		myGroups, err := s.acls.callerGroups(ctx, c)
		if err != nil {
			return nil, "", err
		}
		mine = map[string]bool{}
		for id, us := range users {
			for _, u := range us {
				mine[id] = mine[id] || u == c.ID
			}
		}
		for id, gs := range groups {
			for _, g := range gs {
				for _, my := range myGroups {
					mine[id] = mine[id] || g == my
				}
			}
		}
	}
	rows, err := s.db.query(ctx, `SELECT id, vendor_thing_id, fields, disabled, online, online_modified, created
		FROM things WHERE app_id = ?`, c.AppID)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	type hit struct {
		thing kumo.Thing
		obj   kumo.Object
	}
	var hits []hit
	for rows.Next() {
		var (
			t      kumo.Thing
			fields string
		)
		if err := rows.Scan(&t.ID, &t.VendorThingID, &fields, &t.Disabled, &t.Online, &t.OnlineModified, &t.Created); err != nil {
			return nil, "", err
		}
		if mine != nil && !mine[t.ID] {
			continue
		}
		d := json.NewDecoder(strings.NewReader(fields))
		d.UseNumber()
		if err := d.Decode(&t.Fields); err != nil {
			return nil, "", err
		}
		o := kumo.ThingQueryObject(t, users[t.ID], groups[t.ID])
		if q.Selects(o) {
			hits = append(hits, hit{t, o})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	sort.SliceStable(hits, func(i, j int) bool { return q.Compare(hits[i].obj, hits[j].obj) < 0 })
	if offset > len(hits) {
		offset = len(hits)
	}
	end := min(offset+q.Limit, len(hits))
	out := make([]kumo.Thing, 0, end-offset)
	for _, h := range hits[offset:end] {
		out = append(out, h.thing)
	}
	next := ""
	if end < len(hits) {
		next = strconv.Itoa(end)
	}
	return out, next, nil
}

// thingOwners returns, per thing, the users and the groups that own it.
func (s *ThingService) thingOwners(ctx context.Context, appID string) (users, groups map[string][]string, err error) {
	rows, err := s.db.query(ctx, "SELECT thing_id, owner_kind, owner_id FROM thing_owners WHERE app_id = ?", appID)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	users, groups = map[string][]string{}, map[string][]string{}
	for rows.Next() {
		var thing, kind, id string
		if err := rows.Scan(&thing, &kind, &id); err != nil {
			return nil, nil, err
		}
		if kind == string(kumo.OwnerGroup) {
			groups[thing] = append(groups[thing], id)
		} else {
			users[thing] = append(users[thing], id)
		}
	}
	return users, groups, rows.Err()
}

// offsetKey reads the paginationKey of a query evaluated in memory: an
// offset in the sorted results ("" is 0).
func offsetKey(key string) (int, error) {
	if key == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(key)
	if err != nil || n < 0 {
		return 0, kumo.Errorf(kumo.ErrInvalidInputData, "paginationKey %q was not issued by this server", key)
	}
	return n, nil
}
