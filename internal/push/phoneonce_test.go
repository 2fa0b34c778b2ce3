package push

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/auth"
	"github.com/kumo-iot/kumo/internal/sqlstore"
	"github.com/kumo-iot/kumo/internal/sqlstore/postgres"
	"github.com/kumo-iot/kumo/internal/sqlstore/postgres/pgtest"
	"github.com/kumo-iot/kumo/internal/sqlstore/sqlite"
	"github.com/kumo-iot/kumo/internal/sqlstore/storetest"
)

// failingOutbox is an Outbox whose CompleteEvents fails the first
// fails times (the node died, or its database went away, between
// queueing an event's pushes and completing it), calling onFail(n) at the
// nth failure.
type failingOutbox struct {
	Outbox
	fails  int
	onFail func(n int)

	mu       sync.Mutex
	attempts int
	done     bool
}

func (o *failingOutbox) CompleteEvents(ctx context.Context, es []kumo.Event) error {
	o.mu.Lock()
	o.attempts++
	n := o.attempts
	o.mu.Unlock()
	if n <= o.fails {
		o.onFail(n)
		return errors.New("injected: completing the events failed")
	}
	err := o.Outbox.CompleteEvents(ctx, es)
	o.mu.Lock()
	o.done = err == nil
	o.mu.Unlock()
	return err
}

func (o *failingOutbox) completed() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.done
}

// TestPhonePushesQueuedOnce dispatches a batch whose completion fails
// twice, over a real store: after the first failure its phone push and
// its push to a persistent MQTT device wait in their queues, after the
// second they were sent (and removed). The batch dispatched three times
// queues each push once, on SQLite and PostgreSQL.
func TestPhonePushesQueuedOnce(t *testing.T) {
	stores := []struct {
		name string
		open func(t *testing.T) *sqlstore.Store
	}{
		{"sqlite", func(t *testing.T) *sqlstore.Store {
			db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "kumo.db"))
			if err != nil {
				t.Fatal(err)
			}
			return openStore(t, db)
		}},
		{"postgres", func(t *testing.T) *sqlstore.Store {
			db, err := postgres.Open(context.Background(), pgtest.NewDatabase(t))
			if err != nil {
				t.Fatal(err)
			}
			return openStore(t, db)
		}},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			ctx := context.Background()
			db := st.open(t)
			app, err := db.Apps.CreateApp(ctx, kumo.AppCreate{ID: "app1", Key: "key1", Name: "App"})
			if err != nil {
				t.Fatal(err)
			}
			admin := kumo.Caller{AppID: app.AppID, Kind: kumo.Admin, ID: app.ClientID}
			sa, _ := storetest.PushKeys(t)
			if _, err := db.PushConfigs.SetPushConfig(ctx, admin, kumo.PushConfig{FCM: &kumo.FCMConfig{ServiceAccount: sa}}); err != nil {
				t.Fatal(err)
			}
			th, _, err := db.Things.RegisterThing(ctx, kumo.Caller{AppID: app.AppID, Kind: kumo.Anonymous},
				kumo.ThingRegistration{VendorThingID: "vt-phone", Password: "pw-vt-phone", Fields: map[string]any{}}, false)
			if err != nil {
				t.Fatal(err)
			}
			thing := kumo.Caller{AppID: app.AppID, Kind: kumo.ThingCaller, ID: th.ID}
			if _, err := db.Installations.CreateInstallation(ctx, thing, kumo.InstallationCreate{DeviceType: kumo.DeviceAndroid, RegistrationID: "tok"}); err != nil {
				t.Fatal(err)
			}
			mqttIn, err := db.Installations.CreateInstallation(ctx, thing, kumo.InstallationCreate{DeviceType: kumo.DeviceMQTT})
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Queue.SetPersistent(ctx, mqttIn.MQTTTopic, true); err != nil { // its pushes go to the offline queue
				t.Fatal(err)
			}
			b := kumo.BucketRef{AppID: app.AppID, Scope: kumo.AppScope, Name: "b"}
			if err := db.Subscriptions.SubscribeBucket(ctx, thing, b, thing.Principal()); err != nil {
				t.Fatal(err)
			}

			var mu sync.Mutex
			sent, replayed := 0, 0 // pushes the "phone worker" sent, and the broker replayed from the offline queue
			send := func() {
				qs, err := db.Queue.Queued(ctx, mqttIn.MQTTTopic, nil, 100)
				if err != nil {
					t.Error(err)
					return
				}
				for _, q := range qs {
					if err := db.Queue.Dequeue(ctx, q.Topic, []int64{q.Seq}); err != nil {
						t.Error(err)
					}
				}
				ps, err := db.Phones.ClaimPhonePushes(ctx, "worker", 100, time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				for _, p := range ps {
					if err := db.Phones.FinishPhonePush(ctx, p.ID, 0); err != nil {
						t.Error(err)
					}
				}
				mu.Lock()
				sent += len(ps)
				replayed += len(qs)
				mu.Unlock()
			}
			o := &failingOutbox{Outbox: db.Outbox, fails: 2, onFail: func(n int) {
				if n == 2 { // the push was sent meanwhile: the batch is dispatched again after it left the queue
					send()
				}
			}}
			if _, err := db.Objects.CreateObject(ctx, admin, kumo.ObjectCreate{Bucket: b, Data: map[string]any{}}); err != nil {
				t.Fatal(err)
			}
			openDispatcher(t, o, &recordingBus{}, func(d *Dispatcher) { d.Phones, d.Queue = db.Phones, db.Queue })
			waitFor(t, func() error {
				if !o.completed() {
					return errors.New("the batch is not completed yet")
				}
				return nil
			})
			send()
			if sent != 1 {
				t.Errorf("%d phone pushes sent of an event dispatched 3 times to one phone; want 1", sent)
			}
			if replayed != 1 {
				t.Errorf("%d offline pushes replayed of an event dispatched 3 times to one persistent device; want 1", replayed)
			}
		})
	}
}

// openStore opens db with a fast password hasher, and closes it when the
// test ends.
func openStore(t *testing.T, db *sqlstore.Store) *sqlstore.Store {
	db.Hasher = auth.Hasher{Iterations: 1000}
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
