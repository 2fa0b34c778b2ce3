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
// changed.
func bumpCounter(ctx context.Context, tx *Tx, name string) error {
	_, err := tx.Exec(ctx, "UPDATE counters SET value = value + 1 WHERE name = ?", name)
	return err
}

func (db *DB) counter(ctx context.Context, name string) (int64, error) {
	var v int64
	err := db.queryRow(ctx, "SELECT value FROM counters WHERE name = ?", name).Scan(&v)
	return v, db.readErr(err)
}

// topicCache holds the MQTT topics of each bucket's subscribers, valid
// while the subscriptions counter keeps the value it had when they were
// read.
type topicCache struct {
	mu      sync.Mutex // guards the fields below
	version int64
	topics  map[kumo.BucketRef][]string
}

const maxCachedBuckets = 100_000

// SubscriberTopics implements push.Outbox. It asks the database for the
// subscriptions counter once, and for each bucket not cached.
func (o *Recipients) SubscriberTopics(ctx context.Context, buckets []kumo.BucketRef) (map[kumo.BucketRef][]string, error) {
	v, err := o.db.counter(ctx, counterSubscriptions)
	if err != nil {
		return nil, err
	}
	c := &o.db.topics
	c.mu.Lock()
	if c.topics == nil || c.version != v || len(c.topics) > maxCachedBuckets {
		c.topics, c.version = map[kumo.BucketRef][]string{}, v
	}
	out := make(map[kumo.BucketRef][]string, len(buckets))
	var missing []kumo.BucketRef
	for _, b := range buckets {
		if ts, ok := c.topics[b]; ok {
			out[b] = ts
		} else {
			missing = append(missing, b)
		}
	}
	c.mu.Unlock()
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
	if len(missing) > 0 {
		c.mu.Lock()
		if c.version == v {
			for _, b := range missing {
				c.topics[b] = out[b]
			}
		}
		c.mu.Unlock()
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

// tokenCache holds callers of recently seen tokens, valid while the tokens
// counter keeps its value. The counter is read at most once per
// tokenCheckInterval, so a token revoked on another node stops working
// there within that interval (at once on the node that revoked it).
type tokenCache struct {
	mu      sync.Mutex // guards the fields below
	version int64
	gen     int64 // local forgets so far: a read older than one is not cached
	checked int64 // epoch ms of the last counter read
	callers map[string]cachedCaller
}

type cachedCaller struct {
	caller  kumo.Caller
	expires int64 // epoch ms; 0 never
}

const (
	tokenCheckInterval = 1000 // ms
	maxCachedTokens    = 100_000
)

// cachedToken returns the caller of a token key if the cache knows it,
// and the cache's generation, to hand back to cacheToken.
func (s *TokenService) cachedToken(ctx context.Context, key string) (cachedCaller, bool, int64) {
	now := s.db.now()
	c := &s.db.tokens
	c.mu.Lock()
	stale := now-c.checked >= tokenCheckInterval
	c.mu.Unlock()
	if stale {
		v, err := s.db.counter(ctx, counterTokens)
		if err != nil {
			return cachedCaller{}, false, -1
		}
		c.mu.Lock()
		if v != c.version || c.callers == nil {
			c.callers, c.version = map[string]cachedCaller{}, v
			c.gen++
		}
		c.checked = now
		c.mu.Unlock()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cc, ok := c.callers[key]
	return cc, ok, c.gen
}

// cacheToken caches a caller read from the database, unless the cache
// forgot tokens since gen (the read may predate a revocation).
func (s *TokenService) cacheToken(key string, cc cachedCaller, gen int64) {
	c := &s.db.tokens
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen || c.callers == nil {
		return
	}
	if len(c.callers) >= maxCachedTokens {
		c.callers = map[string]cachedCaller{}
	}
	c.callers[key] = cc
}
