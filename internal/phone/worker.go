package phone

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/kumo-iot/kumo"
)

// Worker sends the pushes of the phone queue (kumo.PhoneQueue) through
// each app's senders: it claims a batch, sends each push, records what
// became of it in the delivery ledger, removes installations whose token
// is gone, and puts back the pushes to retry later. Every node runs one;
// claims are leased, so a node that dies leaves its pushes to the others.
type Worker struct {
	Queue  kumo.PhoneQueue
	Ledger kumo.DeliveryLedger // optional
	Log    *slog.Logger
	// Node names this node in claims.
	Node string
	// Poll is how often the queue is read (default one second), Batch
	// how many pushes a claim takes (default 50), Lease how long a claim
	// holds (default two minutes), MaxAttempts how many times a push is
	// tried before it is recorded failed (default 5).
	Poll        time.Duration
	Batch       int
	Lease       time.Duration
	MaxAttempts int
	// Configure, when set, adjusts the senders built for an app (tests
	// point them at local servers).
	Configure func(*Senders)

	mu      sync.Mutex // guards senders
	senders map[string]appSenders

	stop chan struct{}
	done chan struct{}
}

// appSenders are an app's senders with the fingerprint of the
// configuration they were built from: a changed configuration builds new
// ones.
type appSenders struct {
	fingerprint [32]byte
	Senders
}

// Open starts the worker.
func (w *Worker) Open() {
	if w.Log == nil {
		w.Log = slog.Default()
	}
	if w.Poll <= 0 {
		w.Poll = time.Second
	}
	if w.Batch <= 0 {
		w.Batch = 50
	}
	if w.Lease <= 0 {
		w.Lease = 2 * time.Minute
	}
	if w.MaxAttempts <= 0 {
		w.MaxAttempts = 5
	}
	w.senders = map[string]appSenders{}
	w.stop, w.done = make(chan struct{}), make(chan struct{})
	go w.run()
}

// Close stops the worker after the push it is sending; pushes claimed and
// not sent are claimed again when their lease ends.
func (w *Worker) Close() {
	if w.stop == nil {
		return
	}
	close(w.stop)
	<-w.done
}

func (w *Worker) run() {
	defer close(w.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-w.stop
		cancel()
	}()
	t := time.NewTicker(w.Poll)
	defer t.Stop()
	for {
		ps, err := w.Queue.ClaimPhonePushes(ctx, w.Node, w.Batch, w.Lease)
		if err != nil && ctx.Err() == nil {
			w.Log.Error("phone pushes: claim failed", "error", err)
		}
		for _, p := range ps {
			if ctx.Err() != nil {
				return
			}
			w.send(ctx, p)
		}
		if len(ps) == w.Batch {
			continue // more may be due
		}
		select {
		case <-t.C:
		case <-w.stop:
			return
		}
	}
}

// send sends one push and settles it.
func (w *Worker) send(ctx context.Context, p kumo.PhonePush) {
	record := func(state kumo.DeliveryState, reason string) {
		if w.Ledger == nil {
			return
		}
		r := kumo.DeliveryRecord{AppID: p.AppID, MessageID: p.MessageID, EventType: p.EventType, InstallationID: p.InstallationID,
			DeviceType: p.DeviceType, State: state, Reason: reason}
		if err := w.Ledger.RecordDeliveries(ctx, []kumo.DeliveryRecord{r}); err != nil && ctx.Err() == nil {
			w.Log.Warn("delivery ledger: record not written", "error", err)
		}
	}
	finish := func(retryAt int64) {
		if err := w.Queue.FinishPhonePush(ctx, p.ID, retryAt); err != nil && ctx.Err() == nil {
			w.Log.Error("phone pushes: settling failed", "push", p.ID, "error", err)
		}
	}
	s, err := w.sendersOf(ctx, p.AppID)
	if err != nil {
		if ctx.Err() == nil {
			w.Log.Error("phone pushes: the app's senders", "app", p.AppID, "error", err)
			finish(time.Now().Add(time.Minute).UnixMilli())
		}
		return
	}
	var payload kumo.PhonePayload
	if err := json.Unmarshal(p.Payload, &payload); err != nil {
		record(kumo.DeliveryFailed, "the stored push does not parse")
		finish(0)
		return
	}
	var res Result
	switch p.DeviceType {
	case "ANDROID":
		if s.FCM == nil {
			record(kumo.DeliveryDropped, "the app has no FCM configuration")
			finish(0)
			return
		}
		m, err := fcmMessageOf(p, payload)
		if err == nil {
			res, err = s.FCM.Send(ctx, m)
		}
		if err != nil {
			w.refused(ctx, p, err, record, finish)
			return
		}
	case "IOS":
		if s.APNs == nil {
			record(kumo.DeliveryDropped, "the app has no APNs configuration")
			finish(0)
			return
		}
		res, err = s.APNs.Send(ctx, apnsMessageOf(p, payload))
		if err != nil {
			w.refused(ctx, p, err, record, finish)
			return
		}
	default:
		record(kumo.DeliveryDropped, "no sender for device type "+p.DeviceType)
		finish(0)
		return
	}
	switch res.Outcome {
	case Delivered:
		record(kumo.DeliverySent, "")
		finish(0)
	case TokenGone:
		if err := w.Queue.DropPhoneInstallation(ctx, p.AppID, p.InstallationID); err != nil && ctx.Err() == nil {
			w.Log.Error("phone pushes: deleting an installation whose token is gone", "installation", p.InstallationID, "error", err)
		}
		record(kumo.DeliveryDropped, "the provider reports the token gone: the installation is deleted")
	case Retryable:
		if p.Attempts >= w.MaxAttempts {
			record(kumo.DeliveryFailed, fmt.Sprintf("still refused after %d attempts: %s", p.Attempts, res.Reason))
			finish(0)
			return
		}
		wait := max(res.RetryAfter, time.Duration(p.Attempts)*30*time.Second)
		finish(time.Now().Add(wait).UnixMilli())
	default:
		record(kumo.DeliveryFailed, res.Reason)
		finish(0)
	}
}

// refused settles a push its sender would not send (too large, invalid)
// or that the worker's stop interrupted.
func (w *Worker) refused(ctx context.Context, p kumo.PhonePush, err error, record func(kumo.DeliveryState, string), finish func(int64)) {
	if ctx.Err() != nil {
		return // stopping: the claim ends, the push is sent later
	}
	if errors.Is(err, ErrTooLarge) || errors.Is(err, ErrInvalidMessage) {
		record(kumo.DeliveryFailed, err.Error())
		finish(0)
		return
	}
	w.Log.Warn("phone pushes: send failed", "push", p.ID, "error", err)
	finish(time.Now().Add(time.Minute).UnixMilli())
}

// sendersOf returns an app's senders, built again when its configuration
// changed.
func (w *Worker) sendersOf(ctx context.Context, appID string) (Senders, error) {
	cfg, err := w.Queue.PushConfigOf(ctx, appID)
	if err != nil {
		return Senders{}, err
	}
	raw, _ := json.Marshal(cfg)
	fp := sha256.Sum256(raw)
	w.mu.Lock()
	defer w.mu.Unlock()
	if s, ok := w.senders[appID]; ok && s.fingerprint == fp {
		return s.Senders, nil
	}
	s, err := New(cfg)
	if err != nil {
		return Senders{}, err
	}
	if w.Configure != nil {
		w.Configure(&s)
	}
	w.senders[appID] = appSenders{fp, s}
	return s, nil
}

// fcmMessageOf is the FCM message of a push: its data (all strings) and the
// notification and Android options of a message's fcm/gcm section.
func fcmMessageOf(p kumo.PhonePush, payload kumo.PhonePayload) (FCMMessage, error) {
	data, err := FCMData(payload.FCMData)
	if err != nil {
		return FCMMessage{}, err
	}
	m := FCMMessage{Token: p.RegistrationID, Data: data}
	sec := payload.FCM
	if n, ok := sec["notification"].(map[string]any); ok {
		title, _ := n["title"].(string)
		body, _ := n["body"].(string)
		m.Notification = &FCMNotification{Title: title, Body: body}
	}
	a := FCMAndroid{}
	a.CollapseKey, _ = sec["collapseKey"].(string)
	a.RestrictedPackageName, _ = sec["restrictedPackageName"].(string)
	if ttl, ok := sec["timeToLive"].(float64); ok && ttl > 0 {
		// FCM keeps a message four weeks at most: a longer time to live
		// (one that would overflow a Duration too) is that.
		a.TTL = maxFCMTTL
		if ttl < maxFCMTTL.Seconds() {
			a.TTL = time.Duration(ttl) * time.Second
		}
	}
	if a != (FCMAndroid{}) {
		m.Android = &a
	}
	m.DryRun, _ = sec["dryRun"].(bool)
	return m, nil
}

// apnsMessageOf is the APNs message of a push: its data with Kii's short
// keys beside "aps", and the alert, sound, badge and flags of a message's
// apns section; a bucket event (no section) is a background push.
func apnsMessageOf(p kumo.PhonePush, payload kumo.PhonePayload) APNsMessage {
	m := APNsMessage{Token: p.RegistrationID, Development: p.Development, Data: payload.APNsData}
	if p.EventType != kumo.PushMessageSent {
		m.Data = ShortKeys(m.Data) // a bucket event: its keys are all metadata (a message's are short already)
	}
	sec := payload.APNs
	if len(sec) == 0 {
		m.ContentAvailable = true
		return m
	}
	switch a := sec["alert"].(type) {
	case map[string]any:
		m.Alert = a
	case string:
		m.Alert = map[string]any{"body": a}
	}
	m.Sound, _ = sec["sound"].(string)
	if b, ok := sec["badge"].(float64); ok {
		n := int(b)
		m.Badge = &n
	}
	m.ContentAvailable, _ = sec["contentAvailable"].(bool)
	if m.Alert == nil && m.Sound == "" && m.Badge == nil {
		m.ContentAvailable = true // nothing to show: a background push, which Apple delivers only with content-available
	}
	m.Category, _ = sec["category"].(string)
	m.MutableContent, _ = sec["mutableContent"].(bool)
	return m
}

// maxFCMTTL is the longest time to live FCM accepts (four weeks).
const maxFCMTTL = 28 * 24 * time.Hour
