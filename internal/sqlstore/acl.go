package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/kumo-iot/kumo"
)

// ACLService implements kumo.ACLService, and holds the access checks every
// other service makes: the scope of a request (scope.go), the caller's
// standing in it and the ACL entries of its target, through a cache of
// recent ACL changes.
type ACLService struct {
	db     *DB
	things *ThingService
	users  *UserService
	groups *GroupService
	topics *TopicService

	cache *versioned[string, []kumo.ACLChange] // stored ACL changes of recent targets, by aclKey
}

func newACLService(db *DB) *ACLService {
	return &ACLService{db: db, cache: newVersioned[string, []kumo.ACLChange](db, counterACL, aclCheckInterval, maxCachedACLs)}
}

var _ kumo.ACLService = (*ACLService)(nil)

// The ACL model (kumo/acl.go): a target's ACL is its default entries,
// computed from its scope and creator, with the changes stored in
// acl_entries applied; the scope's owners have implicit rights besides.
// Every service checks its operation here, before it reads or writes
// anything a caller may not see.

// counterACL counts ACL changes, for the ACL cache of every node.
const counterACL = "acl"

// The ACL cache holds the stored changes of recently checked targets
// (none, mostly), valid while the acl counter keeps its value. The counter
// is read at most once per aclCheckInterval, so a change made on another
// node applies here within that interval (at once on the node that made
// it).
const (
	aclCheckInterval = 1000 // ms
	maxCachedACLs    = 100_000
)

func aclKey(t kumo.ACLTarget) string {
	return t.Bucket.AppID + "\x00" + t.Bucket.Scope.Key() + "\x00" + t.Bucket.Name + "\x00" + t.ObjectID + "\x00" + t.Topic
}

// aclChanges returns the stored changes of t's ACL.
func (as *ACLService) aclChanges(ctx context.Context, t kumo.ACLTarget) ([]kumo.ACLChange, error) {
	key := aclKey(t)
	changes, ok, gen, err := as.cache.get(ctx, key)
	if err != nil {
		return nil, err
	}
	if ok {
		return changes, nil
	}
	b := t.Bucket
	rows, err := as.db.query(ctx, `SELECT verb, subject, granted FROM acl_entries
		WHERE app_id = ? AND scope = ? AND bucket = ? AND object_id = ? AND topic = ? ORDER BY verb, subject`,
		b.AppID, b.Scope.Key(), b.Name, t.ObjectID, t.Topic)
	if err != nil {
		return nil, as.db.readErr(err)
	}
	changes, err = scanACLChanges(rows)
	if err != nil {
		return nil, err
	}
	as.cache.put(gen, key, changes)
	return changes, nil
}

func scanACLChanges(rows *sql.Rows) ([]kumo.ACLChange, error) {
	defer rows.Close()
	var out []kumo.ACLChange
	for rows.Next() {
		var (
			ch      kumo.ACLChange
			verb    string
			subject string
		)
		if err := rows.Scan(&verb, &subject, &ch.Granted); err != nil {
			return nil, err
		}
		s, err := kumo.ParseSubject(subject)
		if err != nil {
			return nil, err
		}
		ch.Verb, ch.Subject = kumo.ACLVerb(verb), s
		out = append(out, ch)
	}
	return out, rows.Err()
}

// forgetACLs makes every node drop its cached ACLs after a write that
// changed or deleted some.
func forgetACLs(ctx context.Context, tx *Tx) error {
	return bumpCounter(ctx, tx, counterACL)
}

// principalOf returns the principal a stored owner or creator ID names:
// thing IDs start with "th."; "" is the admin (no principal).
func principalOf(id string) kumo.Principal {
	switch {
	case id == "":
		return kumo.Principal{}
	case strings.HasPrefix(id, "th."):
		return kumo.Principal{Kind: kumo.ThingCaller, ID: id}
	}
	return kumo.Principal{Kind: kumo.UserCaller, ID: id}
}

// aclOwners loads the facts t's default ACL depends on. creator, when
// known (an object's owner, or the caller about to create a bucket), is
// used as it is; else a bucket's or a topic's is read. The group's owner
// is read only for a group scope's own ACL.
func (as *ACLService) aclOwners(ctx context.Context, t kumo.ACLTarget, creator *kumo.Principal) (kumo.ACLOwners, error) {
	var o kumo.ACLOwners
	b := t.Bucket
	switch {
	case creator != nil:
		o.Creator = *creator
	case t.Topic != "":
		var id string
		err := as.db.queryRow(ctx, "SELECT creator FROM topics WHERE app_id = ? AND scope = ? AND name = ?",
			b.AppID, b.Scope.Key(), t.Topic).Scan(&id)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return o, err
		}
		o.Creator = principalOf(id)
	case t.ObjectID == "" && b.Name != "" && b.Scope.Kind != kumo.ScopeApp: // app buckets' defaults name no creator
		var id string
		err := as.db.queryRow(ctx, "SELECT creator FROM buckets WHERE app_id = ? AND scope = ? AND name = ?",
			b.AppID, b.Scope.Key(), b.Name).Scan(&id)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return o, err
		}
		o.Creator = principalOf(id)
	}
	if b.Name == "" && t.Topic == "" && b.Scope.Kind == kumo.ScopeGroup {
		err := as.db.queryRow(ctx, "SELECT owner FROM groups WHERE app_id = ? AND id = ?", b.AppID, b.Scope.ID).Scan(&o.GroupOwner)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return o, err
		}
	}
	return o, nil
}

// callerGroups returns the groups user caller c is a member of.
func (as *ACLService) callerGroups(ctx context.Context, c kumo.Caller) ([]string, error) {
	if c.Kind != kumo.UserCaller {
		return nil, nil
	}
	rows, err := as.db.query(ctx, "SELECT group_id FROM group_members WHERE app_id = ? AND user_id = ?", c.AppID, c.ID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// allowed reports whether c (with standing st in t's scope) may do v on
// t: implicitly, or by an entry of t's ACL. creator is as for aclOwners.
func (as *ACLService) allowed(ctx context.Context, c kumo.Caller, st kumo.Standing, t kumo.ACLTarget, v kumo.ACLVerb, creator *kumo.Principal) (bool, error) {
	s := t.Bucket.Scope
	if kumo.ImplicitlyAllowed(c, s, st, v) {
		return true, nil
	}
	changes, err := as.aclChanges(ctx, t)
	if err != nil {
		return false, err
	}
	o, err := as.aclOwners(ctx, t, creator)
	if err != nil {
		return false, err
	}
	entries := kumo.DefaultACL(t, o).Apply(changes)[v]
	var groups []string
	for _, e := range entries {
		if e.Kind == kumo.SubjectGroup {
			if groups, err = as.callerGroups(ctx, c); err != nil {
				return false, err
			}
			break
		}
	}
	return kumo.Allowed(c, s, st, groups, v, entries), nil
}

// mayBucket returns UNAUTHORIZED unless c may do v in bucket b.
func (as *ACLService) mayBucket(ctx context.Context, c kumo.Caller, st kumo.Standing, b kumo.BucketRef, v kumo.ACLVerb) error {
	ok, err := as.allowed(ctx, c, st, kumo.ACLTarget{Bucket: b}, v, nil)
	if err == nil && !ok {
		err = kumo.Unauthorized(c, "The caller may not %s in bucket %s", verbText(v), b.Name)
	}
	return err
}

// mayCreateObject returns UNAUTHORIZED unless c may create objects in b
// and, when b does not exist yet, create it in its scope.
func (as *ACLService) mayCreateObject(ctx context.Context, c kumo.Caller, st kumo.Standing, b kumo.BucketRef) error {
	if kumo.ImplicitlyAllowed(c, b.Scope, st, kumo.CreateObjectsInBucket) {
		return nil
	}
	newBucket, err := as.allowed(ctx, c, st, kumo.ACLTarget{Bucket: kumo.BucketRef{AppID: b.AppID, Scope: b.Scope}}, kumo.CreateNewBucket, nil)
	if err != nil {
		return err
	}
	var creator *kumo.Principal
	if b.Scope.Kind != kumo.ScopeApp || !newBucket {
		var id string
		err := as.db.queryRow(ctx, "SELECT creator FROM buckets WHERE app_id = ? AND scope = ? AND name = ?",
			b.AppID, b.Scope.Key(), b.Name).Scan(&id)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if !newBucket {
				return kumo.Unauthorized(c, "The caller may not create bucket %s", b.Name)
			}
			p := c.Principal() // the bucket's creator-to-be
			creator = &p
		case err != nil:
			return err
		default:
			p := principalOf(id)
			creator = &p
		}
	}
	ok, err := as.allowed(ctx, c, st, kumo.ACLTarget{Bucket: b}, kumo.CreateObjectsInBucket, creator)
	if err == nil && !ok {
		err = kumo.Unauthorized(c, "The caller may not create objects in bucket %s", b.Name)
	}
	return err
}

// mayObject returns UNAUTHORIZED unless c may do v (read or write) on
// object id of b, created by owner. Reading is also allowed by
// READ_OBJECTS_IN_BUCKET.
func (as *ACLService) mayObject(ctx context.Context, c kumo.Caller, st kumo.Standing, b kumo.BucketRef, id, owner string, v kumo.ACLVerb) error {
	if v == kumo.ReadExistingObject {
		ok, err := as.allowed(ctx, c, st, kumo.ACLTarget{Bucket: b}, kumo.ReadObjectsInBucket, nil)
		if err != nil || ok {
			return err
		}
	}
	p := principalOf(owner)
	ok, err := as.allowed(ctx, c, st, kumo.ACLTarget{Bucket: b, ObjectID: id}, v, &p)
	if err == nil && !ok {
		err = kumo.Unauthorized(c, "The caller may not %s object %s", verbText(v), id)
	}
	return err
}

func verbText(v kumo.ACLVerb) string {
	return strings.ToLower(strings.ReplaceAll(string(v), "_", " "))
}

// objectOwner returns the owner of object id of b, or OBJECT_NOT_FOUND.
func (as *ACLService) objectOwner(ctx context.Context, b kumo.BucketRef, id string) (string, error) {
	s, err := as.objectStamp(ctx, b, id)
	return s.owner, err
}

// objectStamp is what a permission check on an object read of it: its
// owner, and its creation time, which tells a write whether the object
// it finds is the one checked or one deleted and made again since.
type objectStamp struct {
	owner   string
	created int64
}

// same reports whether o is the object s was read from.
func (s objectStamp) same(o kumo.Object) bool { return o.Owner == s.owner && o.Created == s.created }

// objectStamp reads the stamp of object id of b (OBJECT_NOT_FOUND).
func (as *ACLService) objectStamp(ctx context.Context, b kumo.BucketRef, id string) (objectStamp, error) {
	var s objectStamp
	err := as.db.queryRow(ctx, "SELECT owner, created FROM objects WHERE app_id = ? AND scope = ? AND bucket = ? AND id = ?",
		b.AppID, b.Scope.Key(), b.Name, id).Scan(&s.owner, &s.created)
	if errors.Is(err, sql.ErrNoRows) {
		return s, kumo.ObjectNotFound(b, id)
	}
	return s, err
}

// resolveACLTarget resolves t's scope, checks that c may edit its ACL,
// and returns it with its owners. A missing bucket is BUCKET_NOT_FOUND
// unless mayCreate (a grant creates it), a missing object OBJECT_NOT_FOUND,
// a missing topic TOPIC_NOT_FOUND.
func (as *ACLService) resolveACLTarget(ctx context.Context, c kumo.Caller, t kumo.ACLTarget, mayCreate bool) (kumo.ACLTarget, kumo.ACLOwners, bool, error) {
	b, st, err := as.resolveBucket(ctx, c, t.Bucket)
	t.Bucket = b
	if err != nil {
		return t, kumo.ACLOwners{}, false, err
	}
	var creator *kumo.Principal
	exists := true
	switch {
	case t.Topic != "":
		tp, err := as.topics.topic(ctx, t.TopicRef())
		if err != nil {
			if !kumo.MayEditACL(c, kumo.ACLTarget{Bucket: b}, st, kumo.ACLOwners{}) {
				// A caller who could not edit it learns nothing of the topic.
				return t, kumo.ACLOwners{}, false, kumo.Unauthorized(c, "The caller may not read or change the ACL of topic %s", t.Topic)
			}
			return t, kumo.ACLOwners{}, false, err
		}
		creator = &tp.Creator
	case t.ObjectID != "":
		owner, err := as.objectOwner(ctx, b, t.ObjectID)
		if err != nil {
			if !kumo.MayEditACL(c, kumo.ACLTarget{Bucket: b}, st, kumo.ACLOwners{}) {
				// A caller who could not edit it learns nothing of the object.
				return t, kumo.ACLOwners{}, false, kumo.Unauthorized(c, "The caller may not read or change the ACL of object %s", t.ObjectID)
			}
			return t, kumo.ACLOwners{}, false, err
		}
		p := principalOf(owner)
		creator = &p
	case b.Name != "":
		var n int
		if err := as.db.queryRow(ctx, "SELECT COUNT(*) FROM buckets WHERE app_id = ? AND scope = ? AND name = ?",
			b.AppID, b.Scope.Key(), b.Name).Scan(&n); err != nil {
			return t, kumo.ACLOwners{}, false, err
		}
		exists = n > 0
	}
	o, err := as.aclOwners(ctx, t, creator)
	if err != nil {
		return t, o, exists, err
	}
	if !kumo.MayEditACL(c, t, st, o) {
		return t, o, exists, kumo.Unauthorized(c, "The caller may not read or change this ACL")
	}
	if !exists && !mayCreate {
		return t, o, exists, kumo.BucketNotFound(b)
	}
	return t, o, exists, nil
}

// ACL implements kumo.ACLService.
func (as *ACLService) ACL(ctx context.Context, c kumo.Caller, t kumo.ACLTarget) (kumo.ACL, error) {
	t, o, _, err := as.resolveACLTarget(ctx, c, t, false)
	if err != nil {
		return nil, err
	}
	changes, err := as.aclChanges(ctx, t)
	if err != nil {
		return nil, err
	}
	return kumo.DefaultACL(t, o).Apply(changes), nil
}

// GrantACL implements kumo.ACLService.
func (as *ACLService) GrantACL(ctx context.Context, c kumo.Caller, t kumo.ACLTarget, v kumo.ACLVerb, s kumo.Subject) error {
	return as.changeACL(ctx, c, t, kumo.ACLChange{Verb: v, Subject: s, Granted: true})
}

// RevokeACL implements kumo.ACLService.
func (as *ACLService) RevokeACL(ctx context.Context, c kumo.Caller, t kumo.ACLTarget, v kumo.ACLVerb, s kumo.Subject) error {
	return as.changeACL(ctx, c, t, kumo.ACLChange{Verb: v, Subject: s, Granted: false})
}

// changeACL grants or revokes one entry. Undoing a stored change deletes
// it (a default revoked then granted again leaves no row).
func (as *ACLService) changeACL(ctx context.Context, c kumo.Caller, t kumo.ACLTarget, ch kumo.ACLChange) error {
	if !t.HasVerb(ch.Verb) {
		return kumo.Errorf(kumo.ErrInvalidInputData, "%s is not a verb of this ACL", ch.Verb)
	}
	t, o, exists, err := as.resolveACLTarget(ctx, c, t, ch.Granted)
	if err != nil {
		return err
	}
	if ch.Granted {
		if err := t.CheckSubject(ch.Subject); err != nil {
			return err
		}
	}
	b := t.Bucket
	now := as.db.now()
	defaults := kumo.DefaultACL(t, o)
	return as.db.writeTx(ctx, func(tx *Tx) error {
		// Checked within the write, so that a subject or an object deleted
		// meanwhile leaves no grant behind.
		if ch.Granted {
			// A grant names someone who exists: a grant to a group ID
			// nobody has yet would go to whoever creates that group.
			if err := subjectExists(ctx, tx, c.AppID, ch.Subject); err != nil {
				return err
			}
		}
		if t.ObjectID != "" {
			if _, exists, err := currentObject(ctx, tx, b, t.ObjectID); err != nil || !exists {
				if err == nil {
					err = kumo.ObjectNotFound(b, t.ObjectID)
				}
				return err
			}
		}
		rows, err := tx.Query(ctx, `SELECT verb, subject, granted FROM acl_entries
			WHERE app_id = ? AND scope = ? AND bucket = ? AND object_id = ? AND topic = ? ORDER BY verb, subject`,
			b.AppID, b.Scope.Key(), b.Name, t.ObjectID, t.Topic)
		if err != nil {
			return err
		}
		changes, err := scanACLChanges(rows)
		if err != nil {
			return err
		}
		granted := false
		for _, s := range defaults.Apply(changes)[ch.Verb] {
			granted = granted || s == ch.Subject
		}
		switch {
		case ch.Granted && granted:
			return kumo.Errorf(kumo.ErrACLAlreadyExists, "%s is already granted %s", ch.Subject, ch.Verb).
				With("subject", ch.Subject.String()).With("action", string(ch.Verb))
		case !ch.Granted && !granted:
			return kumo.Errorf(kumo.ErrACLNotFound, "%s is not granted %s", ch.Subject, ch.Verb).
				With("subject", ch.Subject.String()).With("action", string(ch.Verb))
		}
		if !exists {
			_, err := tx.Exec(ctx, "INSERT INTO buckets (app_id, scope, name, created, creator) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
				b.AppID, b.Scope.Key(), b.Name, now, owner(c))
			if err != nil {
				return err
			}
		}
		res, err := tx.Exec(ctx, `DELETE FROM acl_entries WHERE app_id = ? AND scope = ? AND bucket = ? AND object_id = ?
			AND topic = ? AND verb = ? AND subject = ? AND granted = ?`,
			b.AppID, b.Scope.Key(), b.Name, t.ObjectID, t.Topic, string(ch.Verb), ch.Subject.String(), boolInt(!ch.Granted))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			res, err := tx.Exec(ctx, `INSERT INTO acl_entries (app_id, scope, bucket, object_id, topic, verb, subject, granted)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, b.AppID, b.Scope.Key(), b.Name, t.ObjectID, t.Topic, string(ch.Verb), ch.Subject.String(), boolInt(ch.Granted))
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 { // the same change, made concurrently
				return kumo.Errorf(kumo.ErrACLAlreadyExists, "%s was changed concurrently for %s", ch.Subject, ch.Verb).
					With("subject", ch.Subject.String()).With("action", string(ch.Verb))
			}
		}
		if err := forgetACLs(ctx, tx); err != nil {
			return err
		}
		if t.ObjectID == "" {
			return nil
		}
		return insertEvent(ctx, tx, kumo.Event{Type: kumo.DataObjectACLModified, Bucket: b, ObjectID: t.ObjectID,
			Sender: c.Principal(), When: now})
	})
}

// mayWriteObject returns UNAUTHORIZED unless c may write (update or
// delete) object id of b. An absent object is OBJECT_NOT_FOUND to a
// caller who may read the bucket, UNAUTHORIZED to others.
func (as *ACLService) mayWriteObject(ctx context.Context, c kumo.Caller, st kumo.Standing, b kumo.BucketRef, id string) (objectStamp, error) {
	s, err := as.objectStamp(ctx, b, id)
	if kumo.ErrorCode(err) == kumo.ErrObjectNotFound {
		if ok, aerr := as.allowed(ctx, c, st, kumo.ACLTarget{Bucket: b}, kumo.ReadObjectsInBucket, nil); aerr != nil || !ok {
			if aerr != nil {
				return s, aerr
			}
			return s, kumo.Unauthorized(c, "The caller may not write objects in bucket %s", b.Name)
		}
	}
	if err != nil {
		return s, err
	}
	return s, as.mayObject(ctx, c, st, b, id, s.owner, kumo.WriteExistingObject)
}

// mayReadObject returns UNAUTHORIZED unless c may read object id of b.
// An absent object is OBJECT_NOT_FOUND to a caller who may read the
// bucket, UNAUTHORIZED to others.
func (as *ACLService) mayReadObject(ctx context.Context, c kumo.Caller, st kumo.Standing, b kumo.BucketRef, id string) error {
	readAll, err := as.allowed(ctx, c, st, kumo.ACLTarget{Bucket: b}, kumo.ReadObjectsInBucket, nil)
	if err != nil {
		return err
	}
	owner, err := as.objectOwner(ctx, b, id)
	switch {
	case kumo.ErrorCode(err) == kumo.ErrObjectNotFound && !readAll:
		return kumo.Unauthorized(c, "The caller may not read objects in bucket %s", b.Name)
	case err != nil || readAll:
		return err
	}
	return as.mayObject(ctx, c, st, b, id, owner, kumo.ReadExistingObject)
}

// subjectExists returns USER_NOT_FOUND, THING_NOT_FOUND or GROUP_NOT_FOUND
// unless the subject names a user, thing or group of the app (or all
// users).
func subjectExists(ctx context.Context, tx *Tx, appID string, s kumo.Subject) error {
	if s == kumo.AnyAuthenticatedUser || s == kumo.AnonymousUser {
		return nil
	}
	table, notFound := "users", userNotFound(appID, s.ID)
	switch s.Kind {
	case kumo.SubjectThing:
		table, notFound = "things", kumo.Errorf(kumo.ErrThingNotFound, "Thing %s was not found", s.ID).
			With("appID", appID).With("field", "thingID").With("value", s.ID)
	case kumo.SubjectGroup:
		table, notFound = "groups", kumo.GroupNotFound(appID, s.ID)
	}
	// Share-locked, as userExists and groupExists: on PostgreSQL a
	// concurrent delete waits for the grant, or the grant sees it gone.
	ok, err := rowExists(ctx, tx, tx.db.locks.LockShared("SELECT 1 FROM "+table+" WHERE app_id = ? AND id = ?"), appID, s.ID)
	if err != nil {
		return err
	}
	if !ok {
		return notFound
	}
	return nil
}
