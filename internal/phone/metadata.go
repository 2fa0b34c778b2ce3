package phone

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// shortKeys maps Kii's long metadata keys (spec push-mqtt §5.2), which
// MQTT and FCM carry, to the short keys of APNs payloads.
var shortKeys = map[string]string{
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

// ShortKey returns the APNs key of a long metadata key, and whether it
// has one (sourceURI and senderURI have none and keep their names).
func ShortKey(long string) (string, bool) {
	s, ok := shortKeys[long]
	return s, ok
}

// ShortKeys returns a copy of m, a Kii payload with long metadata keys,
// whose metadata keys are APNs's short ones; other keys are kept.
func ShortKeys(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if s, ok := shortKeys[k]; ok {
			k = s
		}
		out[k] = v
	}
	return out
}

// FCMData returns m, a one-level Kii payload (long metadata keys), as FCM
// data: every value a string (numbers as written, booleans "true" or
// "false"). A nested value is ErrInvalidMessage.
func FCMData(m map[string]any) (map[string]string, error) {
	out := make(map[string]string, len(m))
	for k, v := range m {
		switch v := v.(type) {
		case string:
			out[k] = v
		case bool:
			out[k] = strconv.FormatBool(v)
		case json.Number:
			out[k] = v.String()
		case float64:
			out[k] = strconv.FormatFloat(v, 'f', -1, 64)
		case int:
			out[k] = strconv.Itoa(v)
		case int64:
			out[k] = strconv.FormatInt(v, 10)
		case nil:
			out[k] = "null"
		default:
			return nil, fmt.Errorf("%w: FCM data %q is not a string, number or boolean", ErrInvalidMessage, k)
		}
	}
	return out, nil
}
