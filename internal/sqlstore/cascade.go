package sqlstore

import (
	"context"
	"strings"

	"github.com/kumo-iot/kumo"
)

// The cascade table: for every table of the schema, the columns that tie
// its rows to an app, a scope, a bucket, an object, a topic, or name a
// user, thing, group or installation. Every delete (object, bucket,
// topic, group, thing, user, installation) is derived from it by
// cascade, which deletes, in the table's order, the rows that name what
// is deleted, with each table's side effects (blobs to the trash, cache
// forgetting, ledger records of dropped pushes, MQTT revocation). The
// rules it implements are stated in docs/compat.md, "What a delete
// removes"; storetest's Cascade checks them by dumping the database after
// each kind of delete, and a table of the schema missing here fails its
// CascadeTable test.

// named is what a column names.
type named int

const (
	namesUser         named = iota + 1 // a user ID
	namesThing                         // a thing ID
	namesGroup                         // a group ID
	namesPrincipal                     // a user or thing ID, its kumo.CallerKind in the kind column
	namesPrincipalID                   // a user or thing ID, of either kind
	namesOwner                         // a user or group ID, its kumo.OwnerKind in the kind column
	namesSubject                       // an ACL subject in its path form (kumo.Subject.String)
	namesOwnershipKey                  // a thing's ownership-code guesses (ownershipLockKey)
	namesInstallation                  // an installation ID
	namesMQTTTopic                     // an MQTT installation's topic
	namesUpload                        // a body upload (body_uploads.id)
	namesMaker                         // the user or thing that made the row (kept: see keep)
)

// naming is a column that names a principal, group, installation or
// upload.
type naming struct {
	column string
	names  named
	kind   string // the column of its kind, for namesPrincipal and namesOwner
	// clear: when what it names is deleted the column is set to '', the
	// row stays.
	clear bool
	// keep: when what it names is deleted the row stays, for this reason.
	keep string
}

// cascadeTable is one table of the schema and what ties its rows.
type cascadeTable struct {
	name string
	// The columns of the app ID, the scope (kumo.Scope key), the bucket
	// name, the object ID and the topic name; "" when it has none.
	app, scope, bucket, object, topic string
	names                             []naming
	// keepBucket: rows stay when their bucket is dropped, for this reason.
	keepBucket string
	// keep: no delete removes its rows, for this reason.
	keep string
}

// cascadeTables is the cascade table, in the order a delete goes through
// it: a table whose rows are found through another's (an upload's
// chunks, an installation's queued pushes) before that one.
var cascadeTables = []cascadeTable{
	{name: "meta", keep: "the server's own secrets: no app's"},
	{name: "schema_migrations", keep: "the migrations applied: no app's"},
	{name: "apps", app: "id", keep: "apps are not deleted"},
	{name: "push_configs", app: "app_id", keep: "an app's push configuration: it goes with DELETE …/push-config only"},
	{name: "counters", keep: "change counters of the caches, no app's"},
	{name: "outbox", app: "app_id", scope: "scope", bucket: "bucket", object: "object_id",
		names: []naming{{column: "sender_id", names: namesPrincipalID, keep: "an event's sender"}},
		keep: "committed events: dispatched after the delete that follows them (its MQTT_REVOKED, BUCKET_DELETED, " +
			"DATA_OBJECT_DELETED included), deleted once dispatched"},
	// server code: hooks
	{name: "server_code_jobs", app: "app_id",
		keep: "queued runs of server code: a hook runs after the delete that caused it (USER_DELETED, DATA_OBJECT_DELETED ...), " +
			"a Thing-IF trigger's run of a deleted thing records no result; deleted once run"},
	{name: "push_deliveries", app: "app_id",
		names: []naming{{column: "installation_id", names: namesInstallation}, {column: "owner_id", names: namesPrincipal, kind: "owner_kind"}},
		keep:  "the delivery ledger is a history: its records stay until pruned (--ledger-retention)"},
	{name: "blob_trash", keep: "blobs no row names any more, until deleted after the commit"},
	{name: "blobs", keep: "body bytes kept in the database (SQLBlobs), named by blob ID only: deleted through blob_trash"},
	{name: "blob_chunks", keep: "body bytes kept in the database (SQLBlobs), named by blob ID only: deleted through blob_trash"},

	{name: "body_upload_chunks", names: []naming{{column: "upload_id", names: namesUpload}}},
	{name: "body_uploads", app: "app_id", scope: "scope", bucket: "bucket", object: "object_id"},
	{name: "body_publications", app: "app_id", scope: "scope", bucket: "bucket", object: "object_id"},
	{name: "object_bodies", app: "app_id", scope: "scope", bucket: "bucket", object: "object_id"},
	{name: "object_fields", app: "app_id", scope: "scope", bucket: "bucket", object: "object_id"},
	{name: "objects", app: "app_id", scope: "scope", bucket: "bucket", object: "id",
		names: []naming{{column: "owner", names: namesMaker, keep: "an object of another scope is that scope's; its _owner records who made it"}}},
	{name: "buckets", app: "app_id", scope: "scope", bucket: "name",
		names: []naming{{column: "creator", names: namesMaker, keep: "a bucket of another scope is that scope's; creator records who made it"}}},
	{name: "bucket_subscriptions", app: "app_id", scope: "scope", bucket: "bucket",
		names:      []naming{{column: "subscriber_id", names: namesPrincipal, kind: "subscriber_kind"}},
		keepBucket: "subscribers get the dropped bucket's BUCKET_DELETED, and the pushes of a bucket made again under its name"},
	{name: "topic_subscriptions", app: "app_id", scope: "scope", topic: "topic",
		names: []naming{{column: "subscriber_id", names: namesPrincipal, kind: "subscriber_kind"}}},
	{name: "topics", app: "app_id", scope: "scope", topic: "name",
		names: []naming{{column: "creator", names: namesMaker, keep: "a topic of another scope is that scope's; creator records who made it"}}},
	{name: "acl_entries", app: "app_id", scope: "scope", bucket: "bucket", object: "object_id", topic: "topic",
		names: []naming{{column: "subject", names: namesSubject}}},
	{name: "trigger_server_code_results", app: "app_id", names: []naming{{column: "thing_id", names: namesThing}}},
	{name: "triggers", app: "app_id", names: []naming{{column: "thing_id", names: namesThing},
		{column: "command_thing_id", names: namesThing}, {column: "issuer_id", names: namesOwner, kind: "issuer_kind"}}},
	// server code: sched
	{name: "dev_logs", app: "app_id", names: []naming{{column: "user_id", names: namesUser, keep: "the developer log is a history: pruned by age and size"}}},
	{name: "schedule_executions", app: "app_id", keep: "the app's job runs: pruned by age (--servercode-log-days)"},
	{name: "mqtt_queue", app: "app_id", names: []naming{{column: "mqtt_topic", names: namesMQTTTopic}}},
	{name: "phone_pushes", app: "app_id", names: []naming{{column: "installation_id", names: namesInstallation}}},
	{name: "installations", app: "app_id",
		names: []naming{{column: "id", names: namesInstallation}, {column: "owner_id", names: namesPrincipal, kind: "owner_kind"}}},
	{name: "tokens", app: "app_id", names: []naming{{column: "principal_id", names: namesPrincipalID}}},
	{name: "refresh_tokens", app: "app_id", names: []naming{{column: "principal_id", names: namesPrincipalID}}},
	{name: "login_failures", app: "app_id",
		names: []naming{{column: "principal_id", names: namesPrincipalID}, {column: "principal_id", names: namesOwnershipKey}}},
	{name: "commands", app: "app_id",
		names: []naming{{column: "thing_id", names: namesThing}, {column: "issuer_id", names: namesOwner, kind: "issuer_kind"}}},
	{name: "thing_owners", app: "app_id",
		names: []naming{{column: "thing_id", names: namesThing}, {column: "owner_id", names: namesOwner, kind: "owner_kind"}}},
	{name: "thing_ownership_codes", app: "app_id",
		names: []naming{{column: "thing_id", names: namesThing}, {column: "owner_id", names: namesOwner, kind: "owner_kind"}}},
	{name: "end_nodes", app: "app_id",
		names: []naming{{column: "end_node_id", names: namesThing}, {column: "gateway_id", names: namesThing}}},
	{name: "states", app: "app_id", names: []naming{{column: "thing_id", names: namesThing}}},
	{name: "state_history", app: "app_id", names: []naming{{column: "thing_id", names: namesThing}}},
	{name: "thing_types", app: "app_id", keep: "Thing-IF configuration: the app's, changed by the admin only"},
	{name: "firmware_versions", app: "app_id", keep: "Thing-IF configuration: the app's, changed by the admin only"},
	{name: "trait_versions", app: "app_id", keep: "Thing-IF configuration: the app's, changed by the admin only"},
	{name: "trait_aliases", app: "app_id", keep: "Thing-IF configuration: the app's, changed by the admin only"},
	// server code: scapi
	{name: "server_code_versions", app: "app_id", keep: "server code: the app's, changed by the admin only"},
	{name: "server_code_current", app: "app_id", keep: "server code: the app's, changed by the admin only"},
	{name: "server_code_hooks", app: "app_id", keep: "server code: the app's, changed by the admin only"},
	{name: "group_members", app: "app_id",
		names: []naming{{column: "group_id", names: namesGroup}, {column: "user_id", names: namesUser}}},
	{name: "groups", app: "app_id",
		names: []naming{{column: "id", names: namesGroup}, {column: "owner", names: namesUser, clear: true}}},
	{name: "users", app: "app_id", names: []naming{{column: "id", names: namesUser}}},
	{name: "things", app: "app_id", names: []naming{{column: "id", names: namesThing}}},
}

// CascadeTables returns, for every table of the cascade table, the
// columns it names (for the test that checks it against the schema).
func CascadeTables() map[string][]string {
	out := map[string][]string{}
	for _, t := range cascadeTables {
		cols := []string{}
		for _, c := range []string{t.app, t.scope, t.bucket, t.object, t.topic} {
			if c != "" {
				cols = append(cols, c)
			}
		}
		for _, n := range t.names {
			cols = append(cols, n.column)
			if n.kind != "" {
				cols = append(cols, n.kind)
			}
		}
		out[t.name] = cols
	}
	return out
}

// doomedKind is the kind of what a delete removes.
type doomedKind int

const (
	doomObject doomedKind = iota + 1
	doomBucket
	doomTopic
	doomInstallation
	doomUser
	doomThing
	doomGroup
)

// doomed is what one delete removes.
type doomed struct {
	kind  doomedKind
	appID string
	// scope is the kumo.Scope key of the object, bucket or topic, or of
	// the user, thing or group (its scope goes with it).
	scope                string
	bucket, object, name string // name: the topic's
	id                   string // the user's, thing's, group's or installation's ID
	// phones limits an installation's delete to phone installations (a
	// provider reports its token gone).
	phones bool
	// reason is the ledger's reason for the queued pushes dropped; owner
	// the owner the records name, when known.
	reason string
	owner  kumo.Principal
}

// doomedPrincipal is the delete of a user or thing.
func doomedPrincipal(appID string, p kumo.Principal) doomed {
	d := doomed{kind: doomUser, appID: appID, id: p.ID, reason: "the " + p.Kind.String() + " was deleted", owner: p}
	scope := kumo.Scope{Kind: kumo.ScopeUser, ID: p.ID}
	if p.Kind == kumo.ThingCaller {
		d.kind, scope.Kind = doomThing, kumo.ScopeThing
	}
	d.scope = scope.Key()
	return d
}

// principal returns the user or thing d deletes.
func (d doomed) principal() (kumo.Principal, bool) {
	switch d.kind {
	case doomUser:
		return kumo.Principal{Kind: kumo.UserCaller, ID: d.id}, true
	case doomThing:
		return kumo.Principal{Kind: kumo.ThingCaller, ID: d.id}, true
	}
	return kumo.Principal{}, false
}

// where returns the condition (after "WHERE ") that selects the rows of t
// d deletes, and the rows whose columns d clears (column, condition);
// "" when d leaves the table alone.
func (d doomed) where(t cascadeTable) (string, []any, []clearing) {
	if t.keep != "" {
		return "", nil, nil
	}
	var conds []string
	var args []any
	add := func(cond string, a ...any) { conds, args = append(conds, cond), append(args, a...) }
	switch d.kind {
	case doomObject:
		if t.object != "" {
			add(t.scope+" = ? AND "+t.bucket+" = ? AND "+t.object+" = ?", d.scope, d.bucket, d.object)
		}
	case doomBucket:
		if t.bucket != "" && t.keepBucket == "" {
			add(t.scope+" = ? AND "+t.bucket+" = ?", d.scope, d.bucket)
		}
	case doomTopic:
		if t.topic != "" {
			add(t.scope+" = ? AND "+t.topic+" = ?", d.scope, d.name)
		}
	case doomUser, doomThing, doomGroup:
		if t.scope != "" {
			add(t.scope+" = ?", d.scope)
		}
	}
	p, isPrincipal := d.principal()
	var clears []clearing
	for _, n := range t.names {
		var cond string
		var a []any
		switch {
		case n.keep != "":
			continue
		case n.names == namesUpload:
			if w, wa, _ := d.where(tableNamed("body_uploads")); w != "" {
				cond, a = n.column+" IN (SELECT id FROM body_uploads WHERE "+w+")", wa
			}
		case d.kind == doomInstallation && n.names == namesInstallation:
			cond, a = n.column+" = ?", []any{d.id}
		case d.kind == doomInstallation && n.names == namesMQTTTopic && !d.phones:
			cond, a = n.column+" IN (SELECT mqtt_topic FROM installations WHERE app_id = ? AND id = ?)", []any{d.appID, d.id}
		case isPrincipal && n.names == namesInstallation:
			cond, a = n.column+" IN (SELECT id FROM installations WHERE app_id = ? AND owner_kind = ? AND owner_id = ?)",
				[]any{d.appID, int(p.Kind), p.ID}
		case isPrincipal && n.names == namesMQTTTopic:
			cond, a = n.column+" IN (SELECT mqtt_topic FROM installations WHERE app_id = ? AND owner_kind = ? AND owner_id = ? AND device_type = 'MQTT')",
				[]any{d.appID, int(p.Kind), p.ID}
		case isPrincipal && n.names == namesPrincipal:
			cond, a = n.kind+" = ? AND "+n.column+" = ?", []any{int(p.Kind), p.ID}
		case isPrincipal && n.names == namesPrincipalID,
			d.kind == doomUser && n.names == namesUser,
			d.kind == doomThing && n.names == namesThing,
			d.kind == doomGroup && n.names == namesGroup:
			cond, a = n.column+" = ?", []any{d.id}
		case d.kind == doomThing && n.names == namesOwnershipKey:
			cond, a = n.column+" = ?", []any{ownershipLockKey(d.id)}
		case d.kind == doomUser && n.names == namesOwner:
			cond, a = n.kind+" = ? AND "+n.column+" = ?", []any{string(kumo.OwnerUser), d.id}
		case d.kind == doomGroup && n.names == namesOwner:
			cond, a = n.kind+" = ? AND "+n.column+" = ?", []any{string(kumo.OwnerGroup), d.id}
		case isPrincipal && n.names == namesSubject:
			cond, a = n.column+" = ?", []any{kumo.PrincipalSubject(p).String()}
		case d.kind == doomGroup && n.names == namesSubject:
			cond, a = n.column+" = ?", []any{kumo.Subject{Kind: kumo.SubjectGroup, ID: d.id}.String()}
		}
		switch {
		case cond == "":
		case n.clear:
			clears = append(clears, clearing{n.column, t.app + " = ? AND " + cond, append([]any{d.appID}, a...)})
		default:
			add(cond, a...)
		}
	}
	if len(conds) == 0 {
		return "", nil, clears
	}
	w := "(" + strings.Join(conds, ") OR (") + ")"
	if t.app != "" {
		w, args = t.app+" = ? AND ("+w+")", append([]any{d.appID}, args...)
	}
	if d.phones && t.name == "installations" {
		w += " AND device_type IN ('ANDROID', 'IOS')"
	}
	return w, args, clears
}

// clearing is a column a delete empties, in the rows cond selects.
type clearing struct {
	column, cond string
	args         []any
}

// tableNamed returns the cascade table's entry for a table.
func tableNamed(name string) cascadeTable {
	for _, t := range cascadeTables {
		if t.name == name {
			return t
		}
	}
	panic("sqlstore: table " + name + " is not in the cascade table")
}

// cascaded is what a cascade did: the rows it deleted by table, and the
// ledger records of the queued pushes it dropped.
type cascaded struct {
	deleted map[string]int64
	dropped []kumo.DeliveryRecord
}

// cascade deletes, within tx, every row that names what d deletes, table
// by table in the cascade table's order, with each table's side effects:
// the blobs of bodies and upload chunks go to the trash (the caller
// empties it after the commit), an installation's MQTT credentials are
// revoked (an MQTT_REVOKED event), queued pushes are deleted with
// RETURNING and recorded dropped, the ACL and token caches forget. The
// caller bumps the subscriptions counter where the delete changes push
// subscribers.
func cascade(ctx context.Context, tx *Tx, d doomed) (cascaded, error) {
	out := cascaded{deleted: map[string]int64{}}
	now := tx.db.now()
	for _, t := range cascadeTables {
		where, args, clears := d.where(t)
		for _, c := range clears {
			if _, err := tx.Exec(ctx, "UPDATE "+t.name+" SET "+c.column+" = '' WHERE "+c.cond, c.args...); err != nil {
				return out, err
			}
		}
		if where == "" {
			continue
		}
		var n int64
		switch t.name {
		case "mqtt_queue":
			rs, err := dropQueued(ctx, tx, d, where, args, now)
			if err != nil {
				return out, err
			}
			n, out.dropped = int64(len(rs)), append(out.dropped, rs...)
		case "phone_pushes":
			rs, err := dropPhonePushes(ctx, tx, d.appID, where, args, d.reason)
			if err != nil {
				return out, err
			}
			if d.owner.ID != "" {
				for i := range rs {
					rs[i].Owner = d.owner
				}
			}
			n, out.dropped = int64(len(rs)), append(out.dropped, rs...)
		default:
			switch t.name {
			case "object_bodies", "body_upload_chunks":
				if err := trashBlobs(ctx, tx, now, "SELECT blob_id, CAST(? AS BIGINT) FROM "+t.name+" WHERE "+where, args...); err != nil {
					return out, err
				}
			case "installations":
				if _, err := revokeMQTT(ctx, tx, d.appID, where, args...); err != nil {
					return out, err
				}
			}
			res, err := tx.Exec(ctx, "DELETE FROM "+t.name+" WHERE "+where, args...)
			if err != nil {
				return out, err
			}
			n, _ = res.RowsAffected()
		}
		out.deleted[t.name] += n
		switch {
		case t.name == "acl_entries" && n > 0:
			if err := forgetACLs(ctx, tx); err != nil {
				return out, err
			}
		case t.name == "refresh_tokens":
			if err := forgetTokens(ctx, tx); err != nil {
				return out, err
			}
		}
	}
	return out, nil
}

// dropQueued deletes, within tx, the queued offline pushes where selects,
// and returns their ledger records (dropped, for d's reason), each naming
// its installation, found by its topic before the installation goes.
func dropQueued(ctx context.Context, tx *Tx, d doomed, where string, args []any, now int64) ([]kumo.DeliveryRecord, error) {
	rows, err := tx.Query(ctx, "SELECT mqtt_topic, id FROM installations WHERE mqtt_topic IN (SELECT mqtt_topic FROM mqtt_queue WHERE "+where+")", args...)
	if err != nil {
		return nil, err
	}
	installations := map[string]string{} // MQTT topic -> installation ID
	for rows.Next() {
		var topic, id string
		if err := rows.Scan(&topic, &id); err != nil {
			rows.Close()
			return nil, err
		}
		installations[topic] = id
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	ps, err := queuedOf(ctx, tx, "DELETE FROM mqtt_queue WHERE "+where+" RETURNING "+queuedColumns, args...)
	if err != nil {
		return nil, err
	}
	rs := queueRecords(ps, kumo.DeliveryDropped, d.reason+": its offline queue went", now)
	for i := range rs { // the installation is gone: the ledger can no longer find it by its topic
		rs[i].InstallationID, rs[i].Owner = installations[rs[i].MQTTTopic], d.owner
	}
	return rs, nil
}
