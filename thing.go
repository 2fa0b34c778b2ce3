package kumo

import (
	"context"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// Thing is a device registered in an app.
type Thing struct {
	ID             string
	VendorThingID  string
	Fields         map[string]any // predefined "_x" fields and custom fields, as stored
	Created        int64          // epoch ms
	Disabled       bool
	Online         bool
	OnlineModified int64 // epoch ms; 0 when the thing never connected
}

// ThingRegistration is the body of POST /api/apps/{appID}/things.
type ThingRegistration struct {
	VendorThingID string
	Password      string
	Fields        map[string]any // validated predefined fields and custom fields
}

// ThingService manages things.
type ThingService interface {
	// RegisterThing creates a thing. THING_ALREADY_EXISTS when the vendor
	// thing ID is taken. With withToken it also issues the thing's token.
	RegisterThing(ctx context.Context, c Caller, r ThingRegistration, withToken bool) (Thing, *Token, error)
	// FindThing returns the thing named by selector: a thing ID or
	// "VENDOR_THING_ID:{id}". THING_NOT_FOUND when absent; UNAUTHORIZED
	// unless the caller is the admin or the thing itself.
	FindThing(ctx context.Context, c Caller, selector string) (Thing, error)
	// UpdateThing merges fields (see ParseThingFields) into a thing's.
	// The admin and the thing itself may.
	UpdateThing(ctx context.Context, c Caller, selector string, fields map[string]any) error
	// DeleteThing deletes a thing with its tokens, installations, push
	// subscriptions and thing-scope buckets. The admin only, for now.
	DeleteThing(ctx context.Context, c Caller, selector string) error
	// SetThingDisabled disables or enables a thing. Disabling revokes its
	// tokens and refuses its logins. The admin only, for now.
	SetThingDisabled(ctx context.Context, c Caller, selector string, disabled bool) error
}

// Predefined thing fields and their kinds.
var thingStringFields = map[string]bool{
	"_thingType": true, "_vendor": true, "_firmwareVersion": true, "_productName": true, "_lot": true,
	"_stringField1": true, "_stringField2": true, "_stringField3": true, "_stringField4": true, "_stringField5": true,
}

var thingNumberFields = map[string]bool{
	"_numberField1": true, "_numberField2": true, "_numberField3": true, "_numberField4": true, "_numberField5": true,
}

const vendorThingIDChars = idChars + "."

// ParseThingRegistration validates a registration body. Predefined fields
// must have their documented types; other fields starting with "_" are
// ignored; custom fields are kept as they are.
func ParseThingRegistration(body map[string]any) (ThingRegistration, error) {
	var r ThingRegistration
	invalid := map[string]string{}
	vid, _ := body["_vendorThingID"].(string)
	if !validChars(vid, 1, 200, vendorThingIDChars) {
		invalid["_vendorThingID"] = "must be 1 to 200 characters of [a-zA-Z0-9-_.]"
	}
	pw, _ := body["_password"].(string)
	if !printable(pw, 1, 200) {
		invalid["_password"] = "must be 1 to 200 printable ASCII characters"
	}
	r.VendorThingID, r.Password = vid, pw
	r.Fields = parseThingFields(body, invalid)
	if len(invalid) > 0 {
		return r, InvalidInput(invalid)
	}
	return r, nil
}

// ParseThingFields validates the fields of a thing update: predefined
// fields must have their documented types; other "_" fields (the vendor
// thing ID and password included) are ignored; custom fields are kept.
func ParseThingFields(body map[string]any) (map[string]any, error) {
	invalid := map[string]string{}
	fields := parseThingFields(body, invalid)
	if len(invalid) > 0 {
		return nil, InvalidInput(invalid)
	}
	return fields, nil
}

func parseThingFields(body map[string]any, invalid map[string]string) map[string]any {
	fields := make(map[string]any, len(body))
	for k, v := range body {
		switch {
		case thingStringFields[k]:
			s, ok := v.(string)
			if !ok || utf8.RuneCountInString(s) > 100 {
				invalid[k] = "must be a string of at most 100 characters"
				continue
			}
			fields[k] = s
		case thingNumberFields[k]:
			n, ok := v.(json.Number)
			if !ok {
				invalid[k] = "must be a number"
				continue
			}
			fields[k] = n
		case k == "_layoutPosition":
			s, _ := v.(string)
			switch s {
			case "STANDALONE", "GATEWAY", "END_NODE":
				fields[k] = s
			default:
				invalid[k] = "must be STANDALONE, GATEWAY or END_NODE"
			}
		case strings.HasPrefix(k, "_"):
			// read-only or unknown reserved field: ignored, as Kii does
		default:
			fields[k] = v
		}
	}
	return fields
}

// InvalidInput returns INVALID_INPUT_DATA with Kii's invalidFields map.
func InvalidInput(fields map[string]string) *Error {
	return Errorf(ErrInvalidInputData, "There are validation errors").With("invalidFields", fields)
}

func printable(s string, min, max int) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// PresenceService records whether things are connected to the MQTT
// broker: Kii's _online and _onlineStatusModifiedAt.
type PresenceService interface {
	// SetThingOnline records that a thing's MQTT connection opened
	// (online) or closed, now. THING_NOT_FOUND when it is gone.
	SetThingOnline(ctx context.Context, appID, thingID string, online bool) error
}
