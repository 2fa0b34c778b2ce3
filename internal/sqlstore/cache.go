package sqlstore

import (
	"context"
	"sync"

	"github.com/kumo-iot/kumo"
)

// Counters whose change invalidates caches.
const (
	counterSubscriptions = "subscriptions" // bucket subscriptions and MQTT installations
	counterTokens        = "tokens"        // token revocations
)

// bumpCounter records, inside a write, that data a cache derives from has
// changed: every node's caches of the counter see it at their next read of
// the counter, and this node's forget once the write has committed (so
// that no read between the change and its commit can put the old back).
func bumpCounter(ctx context.Context, tx *Tx, name string) error {
	if _, err := tx.Exec(ctx, "UPDATE counters SET value = value + 1 WHERE name = ?", name); err != nil {
		return err
	}
	if cs := tx.db.caches[name]; len(cs) > 0 {
		tx.afterCommit = append(tx.afterCommit, func() {
			for _, c := range cs {
				c.forget()
			}
		})
	}
	return nil
}

// forgetter is a cache that bumpCounter tells of a change committed.
type forgetter interface {
	forget()
}

func (db *DB) counter(ctx context.Context, name string) (int64, error) {
	var v int64
	err := db.queryRow(ctx, "SELECT value FROM counters WHERE name = ?", name).Scan(&v)
	return v, db.readErr(err)
}

// versioned is a cache of what a service reads from the database, valid
// while a database counter keeps the value it had when it was read: the
// writes that change what the cache holds bump the counter (bumpCounter),
// so that every node's cache follows. The counter is read at most once per
// interval (at every check when 0): a change made on another node applies
// here within that interval, at once on this node, whose caches bumpCounter
// tells after the commit.
//
// Each time the cache is emptied (the counter moved, or a local change)
// its generation grows. A value read from the database is put with the
// generation of the check that preceded the read, and dropped when the
// cache was emptied since: the read may predate the change.
type versioned[K comparable, V any] struct {
	db       *DB
	counter  string // the counter's name in the counters table
	interval int64  // ms between two reads of the counter; 0: every check reads it
	max      int    // the most entries: a cache that is full starts over

	mu      sync.Mutex // guards the fields below
	version int64      // the counter's value when the entries were read
	gen     int64      // times emptied so far
	checked int64      // epoch ms of the last read of the counter
	m       map[K]V    // nil until the counter is read, and after a forget
}

// newVersioned returns a cache valid while counter keeps its value, and
// registers it to be told of this node's changes (bumpCounter). Called
// while the store is built (sqlstore.New), before any write.
func newVersioned[K comparable, V any](db *DB, counter string, interval int64, max int) *versioned[K, V] {
	c := &versioned[K, V]{db: db, counter: counter, interval: interval, max: max}
	db.caches[counter] = append(db.caches[counter], c)
	return c
}

// get returns the value of k if the cache holds it, and the generation to
// hand to put with a value read from the database instead.
func (c *versioned[K, V]) get(ctx context.Context, k K) (v V, ok bool, gen int64, err error) {
	if c.interval > 0 {
		// The common case (a token, an ACL): one lock, no database.
		now := c.db.now()
		c.mu.Lock()
		if c.m != nil && now-c.checked < c.interval {
			v, ok = c.m[k]
			gen = c.gen
			c.mu.Unlock()
			return v, ok, gen, nil
		}
		c.mu.Unlock()
	}
	if gen, err = c.check(ctx); err != nil {
		return v, false, 0, err
	}
	v, ok = c.lookup(k)
	return v, ok, gen, nil
}

// check reads the counter when it is due, empties the cache when the
// counter moved, and returns the generation to hand to put.
func (c *versioned[K, V]) check(ctx context.Context) (int64, error) {
	var now int64
	if c.interval > 0 {
		now = c.db.now()
		c.mu.Lock()
		if c.m != nil && now-c.checked < c.interval {
			gen := c.gen
			c.mu.Unlock()
			return gen, nil
		}
		c.mu.Unlock()
	}
	v, err := c.db.counter(ctx, c.counter)
	if err != nil {
		return 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || v != c.version {
		c.m, c.version = map[K]V{}, v
		c.gen++
	}
	c.checked = now
	return c.gen, nil
}

// lookup returns the value of k if the cache holds it (after a check).
func (c *versioned[K, V]) lookup(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	return v, ok
}

// put caches the value of k read from the database after the check that
// returned gen, unless the cache was emptied since.
func (c *versioned[K, V]) put(gen int64, k K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen || c.m == nil {
		return
	}
	if len(c.m) >= c.max {
		c.m = map[K]V{}
	}
	c.m[k] = v
}

// forget empties the cache after a change this node committed: a read
// under way when it happened is not cached.
func (c *versioned[K, V]) forget() {
	c.mu.Lock()
	c.m = nil
	c.gen++
	c.mu.Unlock()
}

// The subscriber topics are valid while the subscriptions counter keeps
// the value it had when they were read; SubscriberTopics reads it at every
// call.
const maxCachedBuckets = 100_000

// newRecipients returns the part both outboxes share, with its cache of
// subscriber topics.
func newRecipients(db *DB) Recipients {
	return Recipients{db: db, topics: newVersioned[kumo.BucketRef, []string](db, counterSubscriptions, 0, maxCachedBuckets)}
}

// SubscriberTopics implements push.Outbox. It asks the database for the
// subscriptions counter once, and for each bucket not cached.
func (o *Recipients) SubscriberTopics(ctx context.Context, buckets []kumo.BucketRef) (map[kumo.BucketRef][]string, error) {
	gen, err := o.topics.check(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[kumo.BucketRef][]string, len(buckets))
	var missing []kumo.BucketRef
	for _, b := range buckets {
		if ts, ok := o.topics.lookup(b); ok {
			out[b] = ts
		} else {
			missing = append(missing, b)
		}
	}
	if len(missing) > manyMisses {
		// A cold cache (a start, a subscription change) with many buckets:
		// one query per app instead of one per bucket, which on a network
		// database is one round trip instead of hundreds.
		apps := map[string]bool{}
		for _, b := range missing {
			apps[b.AppID] = true
		}
		for app := range apps {
			all, err := o.appSubscriberTopics(ctx, app)
			if err != nil {
				return nil, err
			}
			for _, b := range missing {
				if b.AppID == app {
					out[b] = append([]string{}, all[b]...)
				}
			}
		}
	} else {
		for _, b := range missing {
			ts, err := o.subscriberTopics(ctx, b)
			if err != nil {
				return nil, err
			}
			out[b] = ts
		}
	}
	for _, b := range missing {
		o.topics.put(gen, b, out[b])
	}
	return out, nil
}

// manyMisses is the number of uncached buckets from which SubscriberTopics
// reads all of an app's subscriptions at once.
const manyMisses = 16

// appSubscriberTopics returns the MQTT topics of the subscribers of every
// bucket of an app.
func (o *Recipients) appSubscriberTopics(ctx context.Context, appID string) (map[kumo.BucketRef][]string, error) {
	rows, err := o.db.query(ctx, `SELECT s.scope, s.bucket, i.mqtt_topic FROM bucket_subscriptions s
		JOIN installations i ON i.app_id = s.app_id AND i.owner_kind = s.subscriber_kind AND i.owner_id = s.subscriber_id
		WHERE s.app_id = ? AND i.device_type = 'MQTT'`, appID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[kumo.BucketRef][]string{}
	for rows.Next() {
		var scope, bucket, topic string
		if err := rows.Scan(&scope, &bucket, &topic); err != nil {
			return nil, err
		}
		b := kumo.BucketRef{AppID: appID, Scope: scopeFromKey(scope), Name: bucket}
		out[b] = append(out[b], topic)
	}
	return out, rows.Err()
}

func (o *Recipients) subscriberTopics(ctx context.Context, b kumo.BucketRef) ([]string, error) {
	rows, err := o.db.query(ctx, `SELECT i.mqtt_topic FROM bucket_subscriptions s
		JOIN installations i ON i.app_id = s.app_id AND i.owner_kind = s.subscriber_kind AND i.owner_id = s.subscriber_id
		WHERE s.app_id = ? AND s.scope = ? AND s.bucket = ? AND i.device_type = 'MQTT'`, b.AppID, b.Scope.Key(), b.Name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	topics := []string{}
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		topics = append(topics, t)
	}
	return topics, rows.Err()
}
