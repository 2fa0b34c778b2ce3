package kumo

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
)

// PushMessage is a message an app sends to a topic's subscribers (Kii's
// push to user) or directly to a user or thing: the body of POST
// …/push/messages (spec push-mqtt §4.4).
type PushMessage struct {
	Data              map[string]any // one level: strings, numbers, booleans
	SendToDevelopment bool           // default true
	SendToProduction  bool           // default true
	PushMessageType   string         // copied into "type"
	SendAppID         bool           // default false
	SendSender        bool           // default true
	SendWhen          bool           // default false
	SendOrigin        bool           // default false
	SendObjectScope   bool           // default true
	SendTopicID       bool           // default true
	MQTT              MessageChannel
	FCM               MessageChannel // "fcm", or "gcm" when fcm is not enabled
	APNs              MessageChannel // (a jpush section is checked, then left: JPush is not delivered)
}

// MessageChannel is one channel's section of a message: whether it is
// enabled and its own data; Raw keeps the whole section (notification,
// alert, sound, …) for the phone senders.
type MessageChannel struct {
	Enabled bool
	Data    map[string]any
	Raw     map[string]any
}

// MaxFCMPayload and MaxAPNsPayload are the providers' limits that Kii
// checks at send time (spec push-mqtt §4.4, §8).
const (
	MaxFCMPayload  = 4096
	MaxAPNsPayload = 2048
)

// ParsePushMessage parses and validates a SendPushMessageRequest body with
// Kii's rules (spec push-mqtt §4.4): INVALID_JSON, or INVALID_INPUT_DATA
// when no channel section is present, none of fcm, gcm and apns says
// whether it is enabled, data is nested, FCM data has values that are not
// strings or reserved keys, or gcm.dryRun comes with apns enabled.
func ParsePushMessage(raw []byte) (PushMessage, error) {
	m := PushMessage{SendToDevelopment: true, SendToProduction: true, SendSender: true, SendObjectScope: true, SendTopicID: true}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var body map[string]any
	if err := d.Decode(&body); err != nil || body == nil || d.More() {
		return m, Errorf(ErrInvalidJSON, "The request body must be a JSON object")
	}
	invalid := func(format string, args ...any) error {
		return Errorf(ErrInvalidInputData, "Invalid push message: "+format, args...)
	}
	for key, dst := range map[string]*bool{
		"sendToDevelopment": &m.SendToDevelopment, "sendToProduction": &m.SendToProduction,
		"sendAppID": &m.SendAppID, "sendSender": &m.SendSender, "sendWhen": &m.SendWhen, "sendOrigin": &m.SendOrigin,
		"sendObjectScope": &m.SendObjectScope, "sendTopicID": &m.SendTopicID,
	} {
		if v, ok := body[key]; ok && v != nil {
			b, ok := v.(bool)
			if !ok {
				return m, invalid("%s must be a boolean", key)
			}
			*dst = b
		}
	}
	if v, ok := body["pushMessageType"]; ok && v != nil {
		s, ok := v.(string)
		if !ok {
			return m, invalid("pushMessageType must be a string")
		}
		m.PushMessageType = s
	}
	var err error
	if m.Data, err = flatData(body["data"], "data", false); err != nil {
		return m, err
	}
	channels := map[string]*MessageChannel{}
	enabledGiven := false
	for _, name := range []string{"mqtt", "fcm", "gcm", "apns", "jpush"} {
		v, ok := body[name]
		if !ok || v == nil {
			continue
		}
		sec, ok := v.(map[string]any)
		if !ok {
			return m, invalid("%s must be an object", name)
		}
		ch := MessageChannel{Raw: sec}
		if e, ok := sec["enabled"]; ok {
			b, ok := e.(bool)
			if !ok {
				return m, invalid("%s.enabled must be a boolean", name)
			}
			ch.Enabled = b
			if name == "fcm" || name == "gcm" || name == "apns" {
				enabledGiven = true
			}
		}
		stringsOnly := name == "fcm" || name == "gcm"
		if ch.Data, err = flatData(sec["data"], name+".data", stringsOnly); err != nil {
			return m, err
		}
		channels[name] = &ch
	}
	if len(channels) == 0 {
		return m, invalid("one of mqtt, fcm, gcm, apns and jpush is required")
	}
	if !enabledGiven {
		return m, invalid("one of fcm.enabled, gcm.enabled and apns.enabled is required")
	}
	for name, dst := range map[string]*MessageChannel{"mqtt": &m.MQTT, "apns": &m.APNs} {
		if ch := channels[name]; ch != nil {
			*dst = *ch
		}
	}
	switch { // both sent: FCM wins when enabled
	case channels["fcm"] != nil && (channels["fcm"].Enabled || channels["gcm"] == nil):
		m.FCM = *channels["fcm"]
	case channels["gcm"] != nil:
		m.FCM = *channels["gcm"]
	}
	if m.FCM.Enabled { // FCM gets data overlaid with its section's data: no key of either may be one FCM reserves
		for _, d := range []map[string]any{m.Data, m.FCM.Data} {
			for k := range d {
				if fcmReserved(k) {
					return m, invalid("data for FCM may not use the reserved key %q", k)
				}
			}
		}
	}
	if dry, _ := m.FCM.Raw["dryRun"].(bool); dry && m.APNs.Enabled {
		return m, invalid("gcm.dryRun cannot be set with apns enabled")
	}
	return m, nil
}

// fcmReserved reports whether FCM refuses k as a key of a message's data.
func fcmReserved(k string) bool {
	return k == "from" || k == "collapse_key" || k == "notification" || strings.HasPrefix(k, "google.") || strings.HasPrefix(k, "gcm.")
}

// flatData checks a data section: absent, or an object of strings,
// numbers and booleans (only strings with stringsOnly).
func flatData(v any, what string, stringsOnly bool) (map[string]any, error) {
	if v == nil {
		return map[string]any{}, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, Errorf(ErrInvalidInputData, "Invalid push message: %s must be an object", what)
	}
	for k, x := range m {
		switch x.(type) {
		case string:
		case json.Number, bool:
			if n, ok := x.(json.Number); ok {
				if _, err := n.Float64(); err != nil { // out of range: no receiver could read it
					return nil, Errorf(ErrInvalidInputData, "Invalid push message: %s.%s is not a number a device can read", what, k)
				}
			}
			if stringsOnly {
				return nil, Errorf(ErrInvalidInputData, "Invalid push message: %s.%s must be a string", what, k)
			}
		default:
			return nil, Errorf(ErrInvalidInputData, "Invalid push message: %s.%s must be a string, a number or a boolean (data is one level)", what, k)
		}
	}
	return m, nil
}

// MessageSource is where a message comes from and goes: the app, the
// sender, the time, and the topic (for push to user) or the user or thing
// it is sent to directly.
type MessageSource struct {
	AppID  string
	Sender Caller
	When   int64     // epoch ms
	Topic  *TopicRef // push to user; nil for a direct push
	Target Principal // direct push
}

// MQTTPayload renders the message as an MQTT subscriber receives it: the
// data, overlaid with mqtt.data, and Kii's metadata keys as the send*
// flags ask (spec push-mqtt §5.2, §9.3, §9.5).
func (m PushMessage) MQTTPayload(src MessageSource) []byte {
	b, _ := json.Marshal(m.channelData(m.MQTT, src, false)) // flat strings, numbers and booleans
	return b
}

// apnsKeys maps Kii's long metadata keys (spec push-mqtt §5.2), which MQTT
// and FCM carry, to the short keys of APNs payloads.
var apnsKeys = map[string]string{
	"appID":              "a",
	"sender":             "s",
	"origin":             "o",
	"when":               "w",
	"type":               "t",
	"topic":              "to",
	"objectScopeAppID":   "sa",
	"objectScopeUserID":  "su",
	"objectScopeGroupID": "sg",
	"objectScopeThingID": "sth",
	"objectScopeType":    "st",
	"bucketID":           "bi",
	"bucketType":         "bt",
	"objectID":           "oi",
	"modifiedAt":         "om",
}

// APNsKey returns the short name of a metadata key in APNs payloads, and
// whether it has one (sourceURI and senderURI have none: APNs payloads
// leave them out).
func APNsKey(long string) (string, bool) {
	s, ok := apnsKeys[long]
	return s, ok
}

// metadata adds Kii's keys to a payload: long names, or APNs' short ones.
func (m PushMessage) metadata(out map[string]any, src MessageSource, short bool) {
	key := func(long string) string {
		if short {
			return apnsKeys[long] // metadata sets the keys that have one only
		}
		return long
	}
	if m.SendAppID && src.Topic != nil {
		out[key("appID")] = src.AppID
	}
	if m.SendSender && (src.Sender.Kind == UserCaller || src.Sender.Kind == ThingCaller) {
		out[key("sender")] = src.Sender.ID
	}
	if m.SendOrigin {
		out[key("origin")] = "EXPLICIT"
	}
	if m.SendWhen {
		out[key("when")] = src.When
	}
	if m.PushMessageType != "" {
		out[key("type")] = m.PushMessageType
	}
	if t := src.Topic; t != nil {
		if m.SendTopicID {
			out[key("topic")] = t.Name
		}
		if m.SendObjectScope {
			out[key("objectScopeType")] = string(t.Scope.Kind)
			out[key("objectScopeAppID")] = t.AppID
			switch t.Scope.Kind {
			case ScopeUser:
				out[key("objectScopeUserID")] = t.Scope.ID
			case ScopeGroup:
				out[key("objectScopeGroupID")] = t.Scope.ID
			case ScopeThing:
				out[key("objectScopeThingID")] = t.Scope.ID
			}
		}
	}
	if short {
		return // APNs: the keys that have a short name (§5.2) only
	}
	switch src.Sender.Kind {
	case UserCaller:
		out["senderURI"] = "kiicloud://users/" + src.Sender.ID
	case ThingCaller:
		out["senderURI"] = "kiicloud://things/" + src.Sender.ID
	case Admin:
		out["senderURI"] = "kiicloud://admins/APP_ADMIN"
	}
	if t := src.Topic; t != nil {
		out["sourceURI"] = "kiicloud:/" + t.Scope.Path() + "/topics/" + t.Name
		return
	}
	switch src.Target.Kind {
	case UserCaller:
		out["sourceURI"] = "kiicloud://users/" + src.Target.ID
	case ThingCaller:
		out["sourceURI"] = "kiicloud://things/" + src.Target.ID
	}
}

// channelData is what a phone channel carries besides its own options:
// the data overlaid with the channel's data, and Kii's keys (APNs's short
// ones with short).
func (m PushMessage) channelData(ch MessageChannel, src MessageSource, short bool) map[string]any {
	out := make(map[string]any, len(m.Data)+len(ch.Data)+8)
	for k, v := range m.Data {
		out[k] = v
	}
	for k, v := range ch.Data {
		out[k] = v
	}
	m.metadata(out, src, short)
	return out
}

// CheckSize returns INVALID_INPUT_DATA when the payload of one of d's
// channels is over its limit: MQTT 4096 bytes, FCM 4096, APNs 2048 (spec
// push-mqtt §4.4, §8). Nothing is ever truncated.
func (d MessageDelivery) CheckSize() error {
	if n := len(d.MQTT); n > MaxPushPayload {
		return Errorf(ErrInvalidInputData, "The MQTT payload would be %d bytes; the limit is %d", n, MaxPushPayload)
	}
	p := d.Phone
	if p == nil {
		return nil
	}
	if p.FCMEnabled {
		if b, _ := json.Marshal(p.FCMData); len(b) > MaxFCMPayload {
			return Errorf(ErrInvalidInputData, "The FCM payload would be %d bytes; the limit is %d", len(b), MaxFCMPayload)
		}
	}
	if p.APNsEnabled {
		// The payload is the data beside "aps", which holds the section's
		// options (alert, sound, badge, …): not its data, already counted,
		// nor "enabled".
		payload := make(map[string]any, len(p.APNsData)+1)
		for k, v := range p.APNsData {
			payload[k] = v
		}
		aps := make(map[string]any, len(p.APNs))
		for k, v := range p.APNs {
			if k != "enabled" && k != "data" {
				aps[k] = v
			}
		}
		payload["aps"] = aps
		if b, _ := json.Marshal(payload); len(b) > MaxAPNsPayload {
			return Errorf(ErrInvalidInputData, "The APNs payload would be %d bytes; the limit is %d", len(b), MaxAPNsPayload)
		}
	}
	return nil
}

// MessageService sends push messages.
type MessageService interface {
	// SendDirect sends m to a user or a thing (selector: an ID, "me", a
	// LOGIN_NAME:… or VENDOR_THING_ID:… form): to every installation of
	// the target that the message's channels and development flags
	// select. The admin, or the target itself, may send (UNAUTHORIZED);
	// USER_NOT_FOUND, THING_NOT_FOUND. It returns the message's ID.
	SendDirect(ctx context.Context, c Caller, target Principal, m PushMessage) (string, error)
	// SendToTopic sends m to every installation of every subscriber of
	// topic t that its channels and development flags select.
	// SEND_MESSAGE_TO_TOPIC is needed (UNAUTHORIZED); TOPIC_NOT_FOUND.
	SendToTopic(ctx context.Context, c Caller, t TopicRef, m PushMessage) (string, error)
}

// MessageDelivery is what the outbox keeps of a sent message: its MQTT
// payload, rendered when it was sent, and which installations it goes to.
type MessageDelivery struct {
	MQTT          json.RawMessage `json:"mqtt,omitempty"` // nil when mqtt is not enabled
	ToDevelopment bool            `json:"toDevelopment"`
	ToProduction  bool            `json:"toProduction"`
	Phone         *PhonePayload   `json:"phone,omitempty"` // nil when neither fcm/gcm nor apns is enabled
}

// Delivery returns the MessageDelivery of m from src.
func (m PushMessage) Delivery(src MessageSource) MessageDelivery {
	d := MessageDelivery{ToDevelopment: m.SendToDevelopment, ToProduction: m.SendToProduction}
	if m.MQTT.Enabled {
		d.MQTT = m.MQTTPayload(src)
	}
	if m.FCM.Enabled || m.APNs.Enabled {
		p := &PhonePayload{FCMEnabled: m.FCM.Enabled, APNsEnabled: m.APNs.Enabled}
		if m.FCM.Enabled {
			p.FCMData, p.FCM = m.channelData(m.FCM, src, false), m.FCM.Raw
		}
		if m.APNs.Enabled {
			p.APNsData, p.APNs = m.channelData(m.APNs, src, true), m.APNs.Raw
		}
		d.Phone = p
	}
	return d
}

// Wants reports whether an installation of the given development flag is
// among the message's addressees.
func (d MessageDelivery) Wants(development bool) bool {
	if development {
		return d.ToDevelopment
	}
	return d.ToProduction
}

// Recipient is an MQTT installation a message goes to.
type Recipient struct {
	MQTTTopic   string
	Development bool
}
