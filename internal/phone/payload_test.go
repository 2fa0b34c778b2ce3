package phone

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/kumo-iot/kumo"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestPushGolden pins, per kind of push and combination of the send*
// flags and channel sections, what each kind of installation receives: the
// MQTT payload, the FCM v1 request body and the APNs body and headers, as
// the phone worker builds them from what the dispatcher queues. The files
// are testdata/push/{name}.golden.json; go test -update rewrites them.
func TestPushGolden(t *testing.T) {
	const appID = "a1b2c3d4"
	user := kumo.Caller{AppID: appID, Kind: kumo.UserCaller, ID: "u-1111"}
	thing := kumo.Caller{AppID: appID, Kind: kumo.ThingCaller, ID: "th.0123"}
	admin := kumo.Caller{AppID: appID, Kind: kumo.Admin, ID: "client-id"}
	topic := func(kind kumo.ScopeKind, id string) *kumo.TopicRef {
		return &kumo.TopicRef{AppID: appID, Scope: kumo.Scope{Kind: kind, ID: id}, Name: "alerts"}
	}
	const when = 1463363865798
	tests := []struct {
		name string
		body string // the request body of POST …/push/messages
		src  kumo.MessageSource
	}{
		// The defaults (sendSender, sendObjectScope, sendTopicID on) in
		// every scope of topic.
		{"topic-app-defaults", `{"data":{"m":"hi"},"gcm":{"enabled":true},"apns":{"enabled":true},"mqtt":{"enabled":true}}`,
			kumo.MessageSource{AppID: appID, Sender: user, When: when, Topic: topic(kumo.ScopeApp, "")}},
		{"topic-user-defaults", `{"data":{"m":"hi"},"gcm":{"enabled":true},"apns":{"enabled":true},"mqtt":{"enabled":true}}`,
			kumo.MessageSource{AppID: appID, Sender: user, When: when, Topic: topic(kumo.ScopeUser, "u-1111")}},
		{"topic-group-defaults", `{"data":{"m":"hi"},"gcm":{"enabled":true},"apns":{"enabled":true},"mqtt":{"enabled":true}}`,
			kumo.MessageSource{AppID: appID, Sender: thing, When: when, Topic: topic(kumo.ScopeGroup, "g-2222")}},
		{"topic-thing-defaults", `{"data":{"m":"hi"},"gcm":{"enabled":true},"apns":{"enabled":true},"mqtt":{"enabled":true}}`,
			kumo.MessageSource{AppID: appID, Sender: admin, When: when, Topic: topic(kumo.ScopeThing, "th.0123")}},
		// Every flag that adds a key on; every flag that can be turned off, off.
		{"flags-all-on", `{"data":{"m":"hi"},"sendAppID":true,"sendSender":true,"sendWhen":true,"sendOrigin":true,"sendObjectScope":true,"sendTopicID":true,
			"pushMessageType":"reminder","gcm":{"enabled":true},"apns":{"enabled":true},"mqtt":{"enabled":true}}`,
			kumo.MessageSource{AppID: appID, Sender: user, When: when, Topic: topic(kumo.ScopeUser, "u-1111")}},
		{"flags-all-off", `{"data":{"m":"hi"},"sendAppID":false,"sendSender":false,"sendWhen":false,"sendOrigin":false,"sendObjectScope":false,"sendTopicID":false,
			"gcm":{"enabled":true},"apns":{"enabled":true},"mqtt":{"enabled":true}}`,
			kumo.MessageSource{AppID: appID, Sender: user, When: when, Topic: topic(kumo.ScopeUser, "u-1111")}},
		// Each channel's data over the common data, and each channel's options.
		{"channel-sections", `{"data":{"a":"common","b":"common","n":1.5,"ok":true},
			"mqtt":{"enabled":true,"data":{"a":"mqtt"}},
			"fcm":{"enabled":true,"data":{"b":"fcm"},"notification":{"title":"T","body":"B"},"collapseKey":"ck","timeToLive":60,"restrictedPackageName":"com.example"},
			"apns":{"enabled":true,"data":{"a":"apns"},"alert":{"title":"T","body":"B"},"sound":"default","badge":3,"category":"c1","mutableContent":true}}`,
			kumo.MessageSource{AppID: appID, Sender: admin, When: when, Topic: topic(kumo.ScopeApp, "")}},
		{"apns-alert-string-gcm-dryrun", `{"data":{"m":"hi"},"gcm":{"enabled":true,"dryRun":true},"apns":{"enabled":false}}`,
			kumo.MessageSource{AppID: appID, Sender: admin, When: when, Topic: topic(kumo.ScopeApp, "")}},
		{"apns-alert-string", `{"data":{"m":"hi"},"apns":{"enabled":true,"alert":"Hello","contentAvailable":true}}`,
			kumo.MessageSource{AppID: appID, Sender: admin, When: when, Topic: topic(kumo.ScopeApp, "")}},
		{"mqtt-only-to-production", `{"data":{"m":"hi"},"sendToDevelopment":false,"mqtt":{"enabled":true},"gcm":{"enabled":false},"apns":{"enabled":false}}`,
			kumo.MessageSource{AppID: appID, Sender: admin, When: when, Topic: topic(kumo.ScopeApp, "")}},
		// Direct push to a user and to a thing.
		{"direct-user-by-admin", `{"data":{"mymessage":"Hello"},"sendWhen":true,"mqtt":{"enabled":true},"gcm":{"enabled":true},"apns":{"enabled":true}}`,
			kumo.MessageSource{AppID: appID, Sender: admin, When: when, Target: kumo.Principal{Kind: kumo.UserCaller, ID: "u-2222"}}},
		{"direct-thing-by-owner", `{"data":{"cmd":"on"},"sendAppID":true,"pushMessageType":"command","mqtt":{"enabled":true},"gcm":{"enabled":false}}`,
			kumo.MessageSource{AppID: appID, Sender: user, When: when, Target: kumo.Principal{Kind: kumo.ThingCaller, ID: "th.0123"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := kumo.ParsePushMessage([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			d := m.Delivery(tt.src)
			if err := d.CheckSize(); err != nil {
				t.Fatal(err)
			}
			out := map[string]any{"toDevelopment": d.ToDevelopment, "toProduction": d.ToProduction}
			if d.MQTT != nil {
				out["mqtt"] = json.RawMessage(d.MQTT)
			}
			if d.Phone != nil {
				out["fcm"], out["apns"] = phoneWire(t, kumo.PushMessageSent, *d.Phone)
			}
			checkGolden(t, tt.name, out)
		})
	}
}

// TestBucketEventPhoneGolden pins what phones receive of a bucket event:
// the event's MQTT payload (internal/push's golden file of a thing-scope
// DATA_OBJECT_CREATED) as FCM data, and as an APNs background push with
// Kii's short keys.
func TestBucketEventPhoneGolden(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "push", "testdata", "scope-thing.golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var data map[string]any
	if err := json.Unmarshal(raw, &data); err != nil {
		t.Fatal(err)
	}
	fcm, apns := phoneWire(t, kumo.DataObjectCreated, kumo.PhonePayload{FCMEnabled: true, APNsEnabled: true, FCMData: data, APNsData: data})
	checkGolden(t, "bucket-event-phones", map[string]any{"fcm": fcm, "apns": apns})
}

// phoneWire returns the FCM request body and the APNs body and headers of
// a phone payload of an event type, after a round trip through JSON (the phone queue).
func phoneWire(t *testing.T, event kumo.EventType, p kumo.PhonePayload) (fcm, apns any) {
	t.Helper()
	queued, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var payload kumo.PhonePayload
	if err := json.Unmarshal(queued, &payload); err != nil {
		t.Fatal(err)
	}
	if payload.FCMEnabled {
		m, err := fcmMessageOf(kumo.PhonePush{EventType: event, PhoneRecipient: kumo.PhoneRecipient{RegistrationID: "fcm-token"}}, payload)
		if err != nil {
			t.Fatal(err)
		}
		b, err := m.body()
		if err != nil {
			t.Fatal(err)
		}
		fcm = json.RawMessage(b)
	}
	if payload.APNsEnabled {
		m := apnsMessageOf(kumo.PhonePush{EventType: event, PhoneRecipient: kumo.PhoneRecipient{RegistrationID: "apns-token"}}, payload)
		b, err := m.body()
		if err != nil {
			t.Fatal(err)
		}
		pushType, priority := m.headers()
		apns = map[string]any{"body": json.RawMessage(b), "apns-push-type": pushType, "apns-priority": strconv.Itoa(priority)}
	}
	return fcm, apns
}

// checkGolden compares v, indented, with testdata/push/{name}.golden.json.
func checkGolden(t *testing.T, name string, v any) {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := json.Indent(&got, raw, "", "  "); err != nil {
		t.Fatal(err)
	}
	got.WriteByte('\n')
	path := filepath.Join("testdata", "push", name+".golden.json")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update creates it)", err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("%s:\n%s\nwant (%s)\n%s", name, got.Bytes(), path, want)
	}
}
