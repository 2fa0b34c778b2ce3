package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/kumo-iot/kumo"
)

// HookService queues runs of server code (table server_code_jobs): the
// runs of an app's server hooks on a change, queued by enqueue in the
// transaction of the change (so that they run at least once after it
// commits, and never for a change rolled back), and the runs of Thing-IF
// SERVER_CODE triggers, queued when they fire. A worker
// (internal/servercode) claims the due jobs (Claim), runs them and
// completes them (Done, Retry).
type HookService struct {
	db *DB
	// Configs gives each app's current hook configuration; nil means no
	// app has hooks. It is read on every write that may fire a hook, so
	// it must be cheap (cached).
	Configs HookConfigs

	notify chan struct{} // jobs committed (Notify)

	// Once a worker subscribed (Subscribe), the jobs this node commits
	// are claimed by it at insert, for lease ms, and handed on local.
	subscribed atomic.Bool
	lease      int64
	local      chan kumo.ServerCodeJob
}

// HookConfigs gives an app's current hook configuration: the
// ServerCodeService's CurrentHookConfig (cached per app).
type HookConfigs interface {
	CurrentHookConfig(ctx context.Context, appID string) (cfg kumo.HookConfig, versionID string, ok bool, err error)
}

func newHookService(db *DB) *HookService {
	return &HookService{db: db, notify: make(chan struct{}, 1), local: make(chan kumo.ServerCodeJob, 4096)}
}

// Subscribe has this node run the jobs it commits, for the worker (call
// it once): from now on each is claimed by this node in the write that
// inserts it (for lease ms) and, once committed, handed on the channel
// returned (no claim to write, no query). When the channel is more than
// half full, jobs are inserted unclaimed instead, for any node's Claim.
// The claims this node (DB.NodeID) held in a previous life are released.
func (s *HookService) Subscribe(ctx context.Context, lease int64) (<-chan kumo.ServerCodeJob, error) {
	node := s.db.NodeID
	err := s.db.writeTx(ctx, func(tx *Tx) error {
		_, err := tx.Exec(ctx, "UPDATE server_code_jobs SET claimed_until = 0, claimed_by = '' WHERE claimed_by = ? OR substr(claimed_by, 1, ?) = ?",
			node, len(node)+1, node+"/")
		return err
	})
	if err != nil {
		return nil, err
	}
	s.lease = lease
	s.subscribed.Store(true)
	return s.local, nil
}

// Notify returns a channel that receives when jobs were committed on this
// node: the worker claims then rather than at its next poll.
func (s *HookService) Notify() <-chan struct{} { return s.notify }

func (s *HookService) wake() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// fire queues, within tx (the change's), one run per hook of the app's
// current configuration on event when on path, unless the change is made
// by hook or schedule code (kumo.HooksSuppressed). The configuration is
// looked up once (cached); params builds the runs' params, only when a
// hook runs: a write no hook runs on builds nothing.
func (s *HookService) fire(ctx context.Context, tx *Tx, appID, path, when string, actor kumo.Principal, params func() map[string]any) error {
	if s == nil || s.Configs == nil || kumo.HooksSuppressed(ctx) {
		return nil
	}
	cfg, version, ok, err := s.Configs.CurrentHookConfig(ctx, appID)
	if err != nil {
		return fmt.Errorf("hooks of app %s: %w", appID, err)
	}
	if !ok {
		return nil
	}
	hooks := cfg.Hooks(kumo.HookEvent{Path: path, When: when})
	if len(hooks) == 0 {
		return nil
	}
	b, err := json.Marshal(params())
	if err != nil {
		return err
	}
	for _, h := range hooks {
		err := s.insert(ctx, tx, kumo.ServerCodeJob{AppID: appID, Trigger: kumo.RunHook, Version: version, Endpoint: h.Endpoint,
			Params: b, Path: h.Path, When: h.When, Actor: actor})
		if err != nil {
			return err
		}
	}
	return nil
}

// enqueueThingIF queues, within tx (the fire's), the run of a SERVER_CODE
// trigger t of app appID that fired at at.
func (s *HookService) enqueueThingIF(ctx context.Context, tx *Tx, appID string, t kumo.Trigger, at int64) error {
	sc := t.ServerCode
	if sc == nil {
		return fmt.Errorf("sqlstore: %s has no server code", t)
	}
	params := []byte("{}")
	if sc.Parameters != nil {
		var err error
		if params, err = json.Marshal(sc.Parameters); err != nil {
			return err
		}
	}
	target := appID
	if sc.TargetAppID != "" {
		target = sc.TargetAppID
	}
	return s.insert(ctx, tx, kumo.ServerCodeJob{AppID: target, Trigger: kumo.RunThingIF, Version: kumo.CurrentVersion,
		Endpoint: sc.Endpoint, Params: params, Token: sc.ExecutorAccessToken, TriggerAppID: appID, ThingID: t.ThingID, TriggerID: t.ID,
		CreatedAt: at})
}

// insert inserts job j. Its ID starts with the time, so that inserts go
// to the end of the table's key (a random key costs twice the write).
func (s *HookService) insert(ctx context.Context, tx *Tx, j kumo.ServerCodeJob) error {
	now := s.db.now()
	if j.CreatedAt == 0 {
		j.CreatedAt = now
	}
	j.ID = fmt.Sprintf("%012x", now) + kumo.RandomHex(8)
	claimedBy := ""
	if s.subscribed.Load() && len(s.local) < cap(s.local)/2 {
		j.ClaimedUntil, j.Attempts, claimedBy = now+s.lease, 1, s.db.NodeID
	}
	_, err := tx.Exec(ctx, `INSERT INTO server_code_jobs (id, app_id, kind, version, endpoint, params, hook_path, hook_when,
		actor_kind, actor_id, token, trigger_app_id, thing_id, trigger_id, attempts, next_at, claimed_until, claimed_by, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		j.ID, j.AppID, string(j.Trigger), j.Version, j.Endpoint, string(j.Params), j.Path, j.When,
		int(j.Actor.Kind), j.Actor.ID, j.Token, j.TriggerAppID, j.ThingID, j.TriggerID, j.Attempts, now, j.ClaimedUntil, claimedBy, j.CreatedAt)
	if err != nil {
		return err
	}
	if claimedBy == "" {
		tx.afterCommit = append(tx.afterCommit, s.wake)
		return nil
	}
	tx.afterCommit = append(tx.afterCommit, func() {
		select {
		case s.local <- j:
		default: // full: it runs when its claim ends (Claim)
		}
	})
	return nil
}

const jobColumns = `id, app_id, kind, version, endpoint, params, hook_path, hook_when, actor_kind, actor_id, token, trigger_app_id, thing_id, trigger_id, attempts, created_at`

func scanJob(row interface{ Scan(...any) error }) (kumo.ServerCodeJob, error) {
	var j kumo.ServerCodeJob
	var kind, params string
	var actorKind int
	err := row.Scan(&j.ID, &j.AppID, &kind, &j.Version, &j.Endpoint, &params, &j.Path, &j.When, &actorKind, &j.Actor.ID,
		&j.Token, &j.TriggerAppID, &j.ThingID, &j.TriggerID, &j.Attempts, &j.CreatedAt)
	j.Trigger, j.Params, j.Actor.Kind = kumo.ServerCodeTrigger(kind), json.RawMessage(params), kumo.CallerKind(actorKind)
	return j, err
}

// Claim claims up to limit due jobs for this node (DB.NodeID) for lease
// milliseconds: no other node claims them until the lease ends (a node
// that crashed with a job claimed leaves it to be claimed again then).
// Each claim counts as an attempt.
func (s *HookService) Claim(ctx context.Context, limit int, lease int64) ([]kumo.ServerCodeJob, error) {
	now := s.db.now()
	rows, err := s.db.query(ctx, "SELECT id FROM server_code_jobs WHERE next_at <= ? AND claimed_until <= ? ORDER BY next_at, id LIMIT ?", now, now, limit)
	if err != nil {
		return nil, s.db.readErr(err)
	}
	var ids []any
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(ids) == 0 {
		return nil, err
	}
	// One UPDATE claims those still unclaimed (another node may have
	// taken some since), marked with a claim of their own; one SELECT
	// reads them.
	claim := s.db.NodeID + "/" + kumo.RandomHex(8)
	in, ids := inList(ids)
	var jobs []kumo.ServerCodeJob
	err = s.db.writeTx(ctx, func(tx *Tx) error {
		jobs = jobs[:0]
		if _, err := tx.Exec(ctx, `UPDATE server_code_jobs SET claimed_until = ?, claimed_by = ?, attempts = attempts + 1
			WHERE next_at <= ? AND claimed_until <= ? AND id IN `+in, append([]any{now + lease, claim, now, now}, ids...)...); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, "SELECT "+jobColumns+" FROM server_code_jobs WHERE id IN "+in+" AND claimed_by = ? ORDER BY next_at, id",
			append(ids, claim)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			j, err := scanJob(rows)
			if err != nil {
				return err
			}
			j.ClaimedUntil = now + lease
			jobs = append(jobs, j)
		}
		return rows.Err()
	})
	return jobs, err
}

// Done deletes jobs that ran, in one write: for a Thing-IF trigger's run,
// it records its Result in the trigger's results in that write (unless
// the trigger is gone, or another node completed the job first).
func (s *HookService) Done(ctx context.Context, jobs ...kumo.ServerCodeJob) error {
	var hooks []any
	for _, j := range jobs {
		if j.Trigger != kumo.RunThingIF || j.Result == nil {
			hooks = append(hooks, j.ID)
		}
	}
	return s.db.writeTx(ctx, func(tx *Tx) error {
		if len(hooks) > 0 {
			in, ids := inList(hooks)
			if _, err := tx.Exec(ctx, "DELETE FROM server_code_jobs WHERE id IN "+in, ids...); err != nil {
				return err
			}
		}
		for _, j := range jobs {
			if j.Trigger != kumo.RunThingIF || j.Result == nil {
				continue
			}
			res, err := tx.Exec(ctx, "DELETE FROM server_code_jobs WHERE id = ?", j.ID)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				if err != nil {
					return err
				}
				continue // completed already
			}
			doc, err := json.Marshal(j.Result)
			if err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `INSERT INTO trigger_server_code_results (app_id, trigger_id, id, thing_id, executed_at, result)
				SELECT app_id, id, ?, thing_id, ?, ? FROM triggers WHERE app_id = ? AND id = ?`,
				fmt.Sprintf("%013d-%s", j.Result.ExecutedAt, kumo.RandomHex(4)), j.Result.ExecutedAt, string(doc), j.TriggerAppID, j.TriggerID)
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// Retry releases job j, to be claimed again at next (epoch ms).
func (s *HookService) Retry(ctx context.Context, j kumo.ServerCodeJob, next int64) error {
	return s.db.writeTx(ctx, func(tx *Tx) error {
		_, err := tx.Exec(ctx, "UPDATE server_code_jobs SET next_at = ?, claimed_until = 0, claimed_by = '' WHERE id = ?", next, j.ID)
		return err
	})
}

// Pending returns the number of jobs queued (for tests and tools).
func (s *HookService) Pending(ctx context.Context) (int, error) {
	var n int
	err := s.db.queryRow(ctx, "SELECT COUNT(*) FROM server_code_jobs").Scan(&n)
	return n, s.db.readErr(err)
}

// The events of the hooks (spec §4.2), with their params (§4.3).

// object queues the hooks of event when (DATA_OBJECT_*) on object
// objectID of bucket b, changed by actor.
func (s *HookService) object(ctx context.Context, tx *Tx, when string, b kumo.BucketRef, objectID string, actor kumo.Principal) error {
	return s.fire(ctx, tx, b.AppID, kumo.BucketHookPath(b), when, actor, func() map[string]any {
		scope := map[string]any{"appID": b.AppID}
		uri := "kiicloud://"
		switch b.Scope.Kind {
		case kumo.ScopeUser:
			scope["userID"], uri = b.Scope.ID, uri+"users/"+b.Scope.ID+"/"
		case kumo.ScopeGroup:
			scope["groupID"], uri = b.Scope.ID, uri+"groups/"+b.Scope.ID+"/"
		case kumo.ScopeThing:
			scope["thingID"], uri = b.Scope.ID, uri+"things/"+b.Scope.ID+"/"
		}
		return map[string]any{"objectScope": scope, "bucketID": b.Name, "objectID": objectID,
			"uri": uri + "buckets/" + b.Name + "/objects/" + objectID}
	})
}

// user queues the hooks of event when (USER_*) on user userID.
func (s *HookService) user(ctx context.Context, tx *Tx, when, appID, userID string, actor kumo.Principal) error {
	return s.fire(ctx, tx, appID, "kiicloud://users", when, actor, func() map[string]any {
		return map[string]any{"userID": userID, "uri": "kiicloud://users/" + userID}
	})
}

// group queues the hooks of event when (GROUP_*) on group groupID;
// members are the users added or removed (GROUP_MEMBERS_*), nil for the
// others.
func (s *HookService) group(ctx context.Context, tx *Tx, when, appID, groupID string, members []string, actor kumo.Principal) error {
	return s.fire(ctx, tx, appID, "kiicloud://groups", when, actor, func() map[string]any {
		params := map[string]any{"groupID": groupID, "uri": "kiicloud://groups/" + groupID}
		if members != nil {
			params["members"] = members
		}
		return params
	})
}

// thing queues the hooks of event when (THING_*) on thing thingID.
func (s *HookService) thing(ctx context.Context, tx *Tx, when, appID, thingID, vendorThingID string, actor kumo.Principal) error {
	return s.fire(ctx, tx, appID, "kiicloud://things", when, actor, func() map[string]any {
		return map[string]any{"thingID": thingID, "vendorThingID": vendorThingID, "uri": "kiicloud://things/" + thingID}
	})
}

// installation queues the hooks of event when (INSTALLATION_*) on
// installation in.
func (s *HookService) installation(ctx context.Context, tx *Tx, when string, in kumo.Installation, actor kumo.Principal) error {
	return s.fire(ctx, tx, in.AppID, "kiicloud://installations", when, actor, func() map[string]any {
		params := map[string]any{"installationID": in.ID, "deviceType": in.DeviceType, "uri": "kiicloud://installations/" + in.ID}
		switch in.Owner.Kind {
		case kumo.UserCaller:
			params["userID"] = in.Owner.ID
		case kumo.ThingCaller:
			params["thingID"] = in.Owner.ID
		}
		return params
	})
}

// inList returns "(?, ?, …)" for ids, and ids padded with its last to a
// power of two (at least 8) of them: few statement texts to prepare.
func inList(ids []any) (string, []any) {
	n := 8
	for n < len(ids) {
		n *= 2
	}
	for len(ids) < n {
		ids = append(ids, ids[len(ids)-1])
	}
	return "(?" + strings.Repeat(", ?", n-1) + ")", ids
}
