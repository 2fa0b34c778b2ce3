package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"

	"github.com/kumo-iot/kumo"
)

// ObjectService implements kumo.ObjectService: objects, and their queries
// (query.go) over the index rows it keeps, with the buckets it indexes in
// the background.
type ObjectService struct {
	db    *DB
	acls  *ACLService
	hooks *HookService // server code: hooks

	indexingMu   sync.Mutex           // guards indexingRuns and indexingStop
	indexingRuns map[string]*indexRun // buckets being indexed by this node
	indexingStop context.CancelFunc   // cancels the runs (Close)
	indexingCtx  context.Context      // the runs' context
	indexingWG   sync.WaitGroup       // the runs
}

var _ kumo.ObjectService = (*ObjectService)(nil)

// CreateObject implements kumo.ObjectService.
func (s *ObjectService) CreateObject(ctx context.Context, c kumo.Caller, o kumo.ObjectCreate) (kumo.Object, error) {
	b, st, err := s.acls.resolveBucket(ctx, c, o.Bucket)
	if err != nil {
		return kumo.Object{}, err
	}
	if err := s.acls.mayCreateObject(ctx, c, st, b); err != nil {
		return kumo.Object{}, err
	}
	data := o.JSON
	if len(data) == 0 {
		if data, err = json.Marshal(o.Data); err != nil {
			return kumo.Object{}, kumo.Errorf(kumo.ErrInvalidJSON, "The object cannot be stored as JSON")
		}
	}
	now := s.db.now()
	obj := kumo.Object{ID: kumo.NewObjectID(), Bucket: b, Data: o.Data, DataType: o.DataType,
		Owner: owner(c), Version: 1, Created: now, Modified: now}
	e := kumo.Event{Type: kumo.DataObjectCreated, Bucket: b, ObjectID: obj.ID, Sender: c.Principal(), When: now, ModifiedAt: now}
	// The dialect's ObjectWriter: on PostgreSQL one statement, one round
	// trip, for the object, its bucket, its index rows and its event.
	err = s.db.writeTx(ctx, func(tx *Tx) error {
		if err := tx.db.objects.InsertObject(ctx, tx, NewObject{Object: obj, JSON: string(data), Event: e}); err != nil {
			return err
		}
		tx.events++
		return s.hooks.object(ctx, tx, "DATA_OBJECT_CREATED", b, obj.ID, c.Principal())
	})
	if err != nil {
		return kumo.Object{}, err
	}
	return obj, nil
}

// GetObject implements kumo.ObjectService.
func (s *ObjectService) GetObject(ctx context.Context, c kumo.Caller, b kumo.BucketRef, id string) (kumo.Object, error) {
	b, st, err := s.acls.resolveBucket(ctx, c, b)
	if err != nil {
		return kumo.Object{}, err
	}
	readAll, err := s.acls.allowed(ctx, c, st, kumo.ACLTarget{Bucket: b}, kumo.ReadObjectsInBucket, nil)
	if err != nil {
		return kumo.Object{}, err
	}
	o := kumo.Object{ID: id, Bucket: b}
	var data string
	err = s.db.queryRow(ctx, `SELECT data, data_type, owner, version, created, modified FROM objects
		WHERE app_id = ? AND scope = ? AND bucket = ? AND id = ?`, b.AppID, b.Scope.Key(), b.Name, id).
		Scan(&data, &o.DataType, &o.Owner, &o.Version, &o.Created, &o.Modified)
	switch {
	case errors.Is(err, sql.ErrNoRows) && !readAll:
		// A caller who may not read the bucket learns nothing of what it holds.
		return o, kumo.Unauthorized(c, "The caller may not read objects in bucket %s", b.Name)
	case errors.Is(err, sql.ErrNoRows):
		return o, kumo.ObjectNotFound(b, id)
	case err != nil:
		return o, err
	}
	if !readAll {
		if err := s.acls.mayObject(ctx, c, st, b, id, o.Owner, kumo.ReadExistingObject); err != nil {
			return kumo.Object{}, err
		}
	}
	d := json.NewDecoder(strings.NewReader(data))
	d.UseNumber()
	err = d.Decode(&o.Data)
	return o, err
}

// owner is the _owner of what c creates: its user or thing ID.
func owner(c kumo.Caller) string {
	if c.Kind == kumo.UserCaller || c.Kind == kumo.ThingCaller {
		return c.ID
	}
	return ""
}

// currentObject loads an object inside a write, for update.
func currentObject(ctx context.Context, tx *Tx, b kumo.BucketRef, id string) (kumo.Object, bool, error) {
	o := kumo.Object{ID: id, Bucket: b}
	var data string
	err := tx.QueryRow(ctx, `SELECT data, data_type, owner, version, created, modified FROM objects
		WHERE app_id = ? AND scope = ? AND bucket = ? AND id = ?`, b.AppID, b.Scope.Key(), b.Name, id).
		Scan(&data, &o.DataType, &o.Owner, &o.Version, &o.Created, &o.Modified)
	if errors.Is(err, sql.ErrNoRows) {
		return o, false, nil
	}
	if err != nil {
		return o, false, err
	}
	d := json.NewDecoder(strings.NewReader(data))
	d.UseNumber()
	err = d.Decode(&o.Data)
	return o, true, err
}

// checkVersion applies If-Match.
func checkVersion(o kumo.Object, ifMatch string) error {
	if ifMatch != "" && ifMatch != strconv.FormatInt(o.Version, 10) {
		return kumo.StaleVersion(o.Bucket, o.ID)
	}
	return nil
}

// saveObject writes o's new version and its event.
func saveObject(ctx context.Context, tx *Tx, o kumo.Object, c kumo.Caller) error {
	data, err := json.Marshal(o.Data)
	if err != nil {
		return kumo.Errorf(kumo.ErrInvalidJSON, "The object cannot be stored as JSON")
	}
	b := o.Bucket
	_, err = tx.Exec(ctx, `UPDATE objects SET data = ?, data_type = ?, version = ?, modified = ?
		WHERE app_id = ? AND scope = ? AND bucket = ? AND id = ?`,
		string(data), o.DataType, o.Version, o.Modified, b.AppID, b.Scope.Key(), b.Name, o.ID)
	if err != nil {
		return err
	}
	if err := writeFields(ctx, tx, o, true); err != nil {
		return err
	}
	return insertEvent(ctx, tx, kumo.Event{Type: kumo.DataObjectUpdated, Bucket: b, ObjectID: o.ID,
		Sender: c.Principal(), When: o.Modified, ModifiedAt: o.Modified})
}

// ReplaceObject implements kumo.ObjectService.
func (s *ObjectService) ReplaceObject(ctx context.Context, c kumo.Caller, w kumo.ObjectWrite) (kumo.Object, bool, error) {
	if !kumo.ValidObjectID(w.ID) {
		return kumo.Object{}, false, kumo.Errorf(kumo.ErrInvalidObjectID, "Object ID %q is not valid: 2 to 100 characters of [a-zA-Z0-9-_.]", w.ID)
	}
	b, st, err := s.acls.resolveBucket(ctx, c, w.Bucket)
	if err != nil {
		return kumo.Object{}, false, err
	}
	// mayReplace checks the caller may create the object (when absent)
	// or write it (when present).
	mayReplace := func(exists bool, owner string) error {
		if !exists {
			return s.acls.mayCreateObject(ctx, c, st, b)
		}
		return s.acls.mayObject(ctx, c, st, b, w.ID, owner, kumo.WriteExistingObject)
	}
	checked, err := s.acls.objectStamp(ctx, b, w.ID)
	checkedExists := err == nil
	if err != nil && kumo.ErrorCode(err) != kumo.ErrObjectNotFound {
		return kumo.Object{}, false, err
	}
	if err := mayReplace(checkedExists, checked.owner); err != nil {
		return kumo.Object{}, false, err
	}
	now := s.db.now()
	var (
		out     kumo.Object
		created bool
	)
	err = s.db.writeTx(ctx, func(tx *Tx) error {
		o, exists, err := currentObject(ctx, tx, b, w.ID)
		if err != nil {
			return err
		}
		if exists != checkedExists || exists && !checked.same(o) { // created, deleted or made again since the check
			if err := mayReplace(exists, o.Owner); err != nil {
				return err
			}
		}
		if !exists {
			if w.IfMatch != "" {
				return kumo.ObjectNotFound(b, w.ID)
			}
			data, err := json.Marshal(w.Data)
			if err != nil {
				return kumo.Errorf(kumo.ErrInvalidJSON, "The object cannot be stored as JSON")
			}
			out = kumo.Object{ID: w.ID, Bucket: b, Data: w.Data, DataType: w.DataType, Owner: owner(c), Version: 1, Created: now, Modified: now}
			if err := ensureBucket(ctx, tx, b, c, now); err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `INSERT INTO objects (app_id, scope, bucket, id, data, data_type, owner, version, created, modified)
				VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?)`, b.AppID, b.Scope.Key(), b.Name, out.ID, string(data), out.DataType, out.Owner, now, now)
			if err != nil {
				return err
			}
			if err := writeFields(ctx, tx, out, false); err != nil {
				return err
			}
			created = true
			if err := insertEvent(ctx, tx, kumo.Event{Type: kumo.DataObjectCreated, Bucket: b, ObjectID: out.ID,
				Sender: c.Principal(), When: now, ModifiedAt: now}); err != nil {
				return err
			}
			return s.hooks.object(ctx, tx, "DATA_OBJECT_CREATED", b, out.ID, c.Principal())
		}
		if w.IfNoneMatch {
			return kumo.Errorf(kumo.ErrObjectAlreadyExists, "The object %s already exists", w.ID).
				With("bucketID", b.Name).With("objectID", w.ID)
		}
		if err := checkVersion(o, w.IfMatch); err != nil {
			return err
		}
		o.Data, o.Version, o.Modified = w.Data, o.Version+1, max(now, o.Modified)
		if w.TypeGiven {
			o.DataType = w.DataType
		}
		out, created = o, false
		if err := saveObject(ctx, tx, o, c); err != nil {
			return err
		}
		return s.hooks.object(ctx, tx, "DATA_OBJECT_UPDATED", b, o.ID, c.Principal())
	})
	return out, created, err
}

// PatchObject implements kumo.ObjectService.
func (s *ObjectService) PatchObject(ctx context.Context, c kumo.Caller, w kumo.ObjectWrite) (kumo.Object, error) {
	b, st, err := s.acls.resolveBucket(ctx, c, w.Bucket)
	if err != nil {
		return kumo.Object{}, err
	}
	checked, err := s.acls.mayWriteObject(ctx, c, st, b, w.ID)
	if err != nil {
		return kumo.Object{}, err
	}
	now := s.db.now()
	var out kumo.Object
	err = s.db.writeTx(ctx, func(tx *Tx) error {
		o, exists, err := currentObject(ctx, tx, b, w.ID)
		if err != nil {
			return err
		}
		if !exists {
			return kumo.ObjectNotFound(b, w.ID)
		}
		if !checked.same(o) { // deleted and made again since the check
			if err := s.acls.mayObject(ctx, c, st, b, w.ID, o.Owner, kumo.WriteExistingObject); err != nil {
				return err
			}
		}
		if err := checkVersion(o, w.IfMatch); err != nil {
			return err
		}
		if o.Data == nil {
			o.Data = map[string]any{}
		}
		for k, v := range w.Data {
			o.Data[k] = v
		}
		o.Version, o.Modified = o.Version+1, max(now, o.Modified)
		out = o
		if err := saveObject(ctx, tx, o, c); err != nil {
			return err
		}
		return s.hooks.object(ctx, tx, "DATA_OBJECT_UPDATED", b, o.ID, c.Principal())
	})
	return out, err
}

// DeleteObject implements kumo.ObjectService.
func (s *ObjectService) DeleteObject(ctx context.Context, c kumo.Caller, b kumo.BucketRef, id, ifMatch string) error {
	b, st, err := s.acls.resolveBucket(ctx, c, b)
	if err != nil {
		return err
	}
	checked, err := s.acls.mayWriteObject(ctx, c, st, b, id)
	if err != nil {
		return err
	}
	now := s.db.now()
	err = s.db.writeTx(ctx, func(tx *Tx) error {
		o, exists, err := currentObject(ctx, tx, b, id)
		if err != nil {
			return err
		}
		if !exists {
			return kumo.ObjectNotFound(b, id)
		}
		if !checked.same(o) { // deleted and made again since the check
			if err := s.acls.mayObject(ctx, c, st, b, id, o.Owner, kumo.WriteExistingObject); err != nil {
				return err
			}
		}
		if err := checkVersion(o, ifMatch); err != nil {
			return err
		}
		// The object, its ACL changes, body and index rows (cascade.go).
		if _, err := cascade(ctx, tx, doomed{kind: doomObject, appID: b.AppID, scope: b.Scope.Key(), bucket: b.Name, object: id}); err != nil {
			return err
		}
		if err := insertEvent(ctx, tx, kumo.Event{Type: kumo.DataObjectDeleted, Bucket: b, ObjectID: id,
			Sender: c.Principal(), When: now}); err != nil {
			return err
		}
		return s.hooks.object(ctx, tx, "DATA_OBJECT_DELETED", b, id, c.Principal())
	})
	if err == nil {
		s.db.emptyTrash(ctx, s.db.Log)
	}
	return err
}
