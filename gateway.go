package kumo

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// EndNode is an end node of a gateway, as GET …/things/{gw}/end-nodes
// lists it.
type EndNode struct {
	ThingID       string
	VendorThingID string
}

// GatewayService manages the end nodes of gateways (push-mqtt §7.1,
// "Gateways"). An end node belongs to at most one gateway. Gateways and
// end nodes are named by thing selectors (a thing ID or
// "VENDOR_THING_ID:{id}"); THING_NOT_FOUND for either missing. The
// gateway itself, its owners and the admin may call every method
// (UNAUTHORIZED otherwise).
type GatewayService interface {
	// EndNodes returns a page of a gateway's end nodes, by thing ID, at
	// most limit of them, after the page that paginationKey ends, with
	// the next page's key ("" on the last page).
	EndNodes(ctx context.Context, c Caller, gateway string, limit int, paginationKey string) ([]EndNode, string, error)
	// AddEndNode makes a thing an end node of a gateway. Beside the
	// admin, a caller may add only a thing that has no owner yet, shares
	// an owner with the gateway, or is his (UNAUTHORIZED otherwise): the
	// gateway may then mint its tokens. Adding it again to the same
	// gateway changes nothing;
	// THING_END_NODE_ALREADY_BELONGS_TO_GATEWAY when it is another
	// gateway's, INVALID_INPUT_DATA when it is the gateway itself.
	AddEndNode(ctx context.Context, c Caller, gateway, endNode string) error
	// RemoveEndNode ends the link; THING_END_NODE_DOES_NOT_BELONG_TO_GATEWAY
	// when the thing is not the gateway's end node. Both things stay.
	RemoveEndNode(ctx context.Context, c Caller, gateway, endNode string) error
	// SetEndNodeOnline records the connection status of an end node, as
	// its gateway reports it: the end node's _online and
	// _onlineStatusModifiedAt, as the broker sets them for a thing that
	// connects itself. THING_END_NODE_DOES_NOT_BELONG_TO_GATEWAY when it
	// is not the gateway's end node.
	SetEndNodeOnline(ctx context.Context, c Caller, gateway, endNode string, online bool) error
	// EndNodeToken issues a token of an end node to its gateway: a thing
	// token of the end node, valid for expiresIn seconds (0: the app's
	// default lifetime), with a refresh token when the app has them on.
	// THING_END_NODE_DOES_NOT_BELONG_TO_GATEWAY when it is not the
	// gateway's end node; THING_DISABLED when the end node is disabled.
	EndNodeToken(ctx context.Context, c Caller, gateway, endNode string, expiresIn int64) (Token, error)
}

// ParseEndNodeConnection validates the body of PUT
// …/things/{gw}/end-nodes/{en}/connection: {"online": true|false}.
func ParseEndNodeConnection(body map[string]any) (bool, error) {
	online, ok := body["online"].(bool)
	if !ok {
		return false, InvalidInput(map[string]string{"online": "must be true or false"})
	}
	return online, nil
}

// ParseEndNodeTokenRequest validates the body of POST
// …/things/{gw}/end-nodes/{en}/token: an optional "expires_in", in
// seconds, a positive integer or a string of one (kii_go sends a
// string). 0 when absent.
func ParseEndNodeTokenRequest(body map[string]any) (int64, error) {
	var text string
	switch v := body["expires_in"].(type) {
	case nil:
		return 0, nil
	case json.Number:
		text = v.String()
	case string:
		if v == "" {
			return 0, nil
		}
		text = v
	default:
		text = "-"
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil || n <= 0 {
		return 0, InvalidInput(map[string]string{"expires_in": "must be a positive number of seconds"})
	}
	return min(n, NeverExpires), nil
}

// ParseEndNodeListLimit reads the bestEffortLimit of an end-node list (a
// query parameter): 1 or more, capped at MaxQueryLimit, which is also the
// default ("").
func ParseEndNodeListLimit(s string) (int, error) {
	if s == "" {
		return MaxQueryLimit, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, InvalidInput(map[string]string{"bestEffortLimit": "must be a positive integer"})
	}
	return min(n, MaxQueryLimit), nil
}

// The thing info fields of Thing-IF: a thing's firmware version and thing
// type, each written with PUT …/things/{thingID}/firmware-version or
// …/thing-type and read with GET (push-mqtt §7.1).
const (
	ThingFirmwareVersionField = "_firmwareVersion"
	ThingTypeField            = "_thingType"
)

// ParseThingInfo validates the body of a thing info PUT: {key: value}
// with value a string of 1 to 100 characters (key "firmwareVersion" or
// "thingType").
func ParseThingInfo(body map[string]any, key string) (string, error) {
	s, ok := body[key].(string)
	if !ok || s == "" || utf8.RuneCountInString(s) > 100 {
		return "", InvalidInput(map[string]string{key: "must be a string of 1 to 100 characters"})
	}
	return s, nil
}

// DataGroupingIntervalField is the thing field that keeps the
// dataGroupingInterval given at onboarding: how the state history of a
// thing that does not use traits is grouped.
const DataGroupingIntervalField = "_dataGroupingInterval"

// ParseDataGroupingInterval reads an onboarding's dataGroupingInterval:
// one of DataGroupingIntervals (statequery.go), in any case; it returns
// the value as listed there.
func ParseDataGroupingInterval(v any) (string, bool) {
	s, _ := v.(string)
	for iv := range DataGroupingIntervals {
		if strings.EqualFold(s, iv) {
			return iv, true
		}
	}
	return "", false
}
