package phone

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/kumo-iot/kumo"
)

// ShortKeys returns a bucket event's payload (long metadata keys) as an
// APNs payload carries it: each key under its short name (kumo.APNsKey);
// the keys without one (sourceURI, senderURI) are left out, as they are
// from messages.
func ShortKeys(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if s, ok := kumo.APNsKey(k); ok {
			out[s] = v
		}
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
