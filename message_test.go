package kumo

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestParsePushMessage(t *testing.T) {
	tests := []struct {
		name string
		body string
		code Code // "" when valid
	}{
		{"spec example 9.8", `{"data":{"Item":"Do something","Done":0},"sendToDevelopment":true,"sendToProduction":true,"sendWhen":true,"sendOrigin":true,
			"pushMessageType":"reminder","gcm":{"enabled":false},"apns":{"enabled":false},"jpush":{"enabled":false},"mqtt":{"enabled":true,"data":{"priority":"high"}}}`, ""},
		{"JS builder: every channel", `{"data":{"a":"b"},"gcm":{"enabled":true},"apns":{"enabled":true},"jpush":{"enabled":true},"mqtt":{"enabled":true}}`, ""},
		{"fcm instead of gcm", `{"fcm":{"enabled":true,"data":{"k":"v"}}}`, ""},
		{"no channel", `{"data":{"a":1}}`, ErrInvalidInputData},
		{"mqtt only", `{"mqtt":{"enabled":true}}`, ErrInvalidInputData},
		{"apns section without enabled", `{"apns":{},"mqtt":{"enabled":true}}`, ErrInvalidInputData},
		{"nested data", `{"data":{"a":[1]},"gcm":{"enabled":true}}`, ErrInvalidInputData},
		{"null in data", `{"data":{"a":null},"gcm":{"enabled":true}}`, ErrInvalidInputData},
		{"gcm data number", `{"gcm":{"enabled":true,"data":{"a":1}}}`, ErrInvalidInputData},
		{"fcm reserved google.", `{"fcm":{"enabled":true,"data":{"google.x":"1"}}}`, ErrInvalidInputData},
		{"fcm reserved key in the common data", `{"data":{"from":"x"},"fcm":{"enabled":true}}`, ErrInvalidInputData},
		{"reserved key in the common data, fcm off", `{"data":{"from":"x"},"fcm":{"enabled":false},"mqtt":{"enabled":true}}`, ""},
		{"number out of range", `{"data":{"k":1e999999},"mqtt":{"enabled":true},"fcm":{"enabled":false}}`, ErrInvalidInputData},
		{"dryRun with apns", `{"gcm":{"enabled":true,"dryRun":true},"apns":{"enabled":true}}`, ErrInvalidInputData},
		{"flag of the wrong type", `{"sendWhen":"yes","gcm":{"enabled":true}}`, ErrInvalidInputData},
		{"enabled of the wrong type", `{"gcm":{"enabled":"true"}}`, ErrInvalidInputData},
		{"not an object", `[]`, ErrInvalidJSON},
	}
	for _, tt := range tests {
		_, err := ParsePushMessage([]byte(tt.body))
		if ErrorCode(err) != tt.code {
			t.Errorf("%s: error %v, want code %q", tt.name, err, tt.code)
		}
	}
}

// TestMessagePayloads pins the MQTT payload of push messages: the data
// overlaid with mqtt.data and Kii's keys as the flags ask (spec push-mqtt
// §5.2, §9.3, §9.5).
func TestMessagePayloads(t *testing.T) {
	user := Caller{AppID: "a1b2c3d4", Kind: UserCaller, ID: "u-1111"}
	admin := Caller{AppID: "a1b2c3d4", Kind: Admin, ID: "cid"}
	topic := &TopicRef{AppID: "a1b2c3d4", Scope: Scope{Kind: ScopeUser, ID: "u-1111"}, Name: "alerts"}
	tests := []struct {
		name string
		body string
		src  MessageSource
		want string
	}{
		{"spec 9.3: push to user", `{"data":{"greeting":"hi"},"sendWhen":true,"mqtt":{"enabled":true},"gcm":{"enabled":false}}`,
			MessageSource{AppID: "a1b2c3d4", Sender: user, When: 1463363865798, Topic: topic},
			`{"greeting":"hi","objectScopeAppID":"a1b2c3d4","objectScopeType":"APP_AND_USER","objectScopeUserID":"u-1111","sender":"u-1111","senderURI":"kiicloud://users/u-1111","sourceURI":"kiicloud://users/u-1111/topics/alerts","topic":"alerts","when":1463363865798}`},
		{"spec 9.5: direct push by the admin", `{"data":{"mymessage":"Hello"},"mqtt":{"enabled":true},"gcm":{"enabled":false}}`,
			MessageSource{AppID: "a1b2c3d4", Sender: admin, When: 1, Target: Principal{Kind: UserCaller, ID: "u-2222"}},
			`{"mymessage":"Hello","senderURI":"kiicloud://admins/APP_ADMIN","sourceURI":"kiicloud://users/u-2222"}`},
		{"flags off, mqtt.data over data", `{"data":{"a":"data","b":1},"sendSender":false,"sendObjectScope":false,"sendTopicID":false,"sendAppID":true,"sendOrigin":true,
			"pushMessageType":"t1","mqtt":{"enabled":true,"data":{"a":"mqtt"}},"gcm":{"enabled":false}}`,
			MessageSource{AppID: "a1b2c3d4", Sender: user, When: 1, Topic: topic},
			`{"a":"mqtt","appID":"a1b2c3d4","b":1,"origin":"EXPLICIT","senderURI":"kiicloud://users/u-1111","sourceURI":"kiicloud://users/u-1111/topics/alerts","type":"t1"}`},
	}
	for _, tt := range tests {
		m, err := ParsePushMessage([]byte(tt.body))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := string(m.MQTTPayload(tt.src)); got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, got, tt.want)
		}
	}
}

func TestMessageSizeLimits(t *testing.T) {
	src := MessageSource{AppID: "a", Sender: Caller{AppID: "a", Kind: Admin}, When: 1, Target: Principal{Kind: UserCaller, ID: "u"}}
	big := func(n int) string { s, _ := json.Marshal(strings.Repeat("x", n)); return string(s) }
	for _, tt := range []struct {
		name string
		body string
		ok   bool
	}{
		{"mqtt under 4096", `{"data":{"a":` + big(3900) + `},"mqtt":{"enabled":true},"gcm":{"enabled":false}}`, true},
		{"mqtt over 4096", `{"data":{"a":` + big(4100) + `},"mqtt":{"enabled":true},"gcm":{"enabled":false}}`, false},
		{"mqtt disabled: its size does not count", `{"data":{"a":` + big(4100) + `},"mqtt":{"enabled":false},"gcm":{"enabled":false}}`, true},
		{"fcm over 4096", `{"fcm":{"enabled":true,"data":{"a":` + big(4100) + `}}}`, false},
		{"apns over 2048", `{"data":{"a":` + big(2100) + `},"apns":{"enabled":true}}`, false},
		{"apns under 2048", `{"data":{"a":` + big(1900) + `},"apns":{"enabled":true}}`, true},
		{"apns data counted once", `{"apns":{"enabled":true,"data":{"a":` + big(1100) + `}}}`, true},
	} {
		m, err := ParsePushMessage([]byte(tt.body))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if err := m.Delivery(src).CheckSize(); (err == nil) != tt.ok || err != nil && ErrorCode(err) != ErrInvalidInputData {
			t.Errorf("%s: CheckSize = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}
