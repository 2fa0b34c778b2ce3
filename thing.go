package kumo

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"time"
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
	// unless the caller is the admin, the thing itself or an owner of it.
	FindThing(ctx context.Context, c Caller, selector string) (Thing, error)
	// UpdateThing merges fields (see ParseThingFields) into a thing's.
	// The admin, the thing itself and its owners may.
	UpdateThing(ctx context.Context, c Caller, selector string, fields map[string]any) error
	// DeleteThing deletes a thing with its tokens, installations, push
	// subscriptions, ownerships and thing-scope buckets. The admin, the
	// thing itself and its owners may (Thing-IF owners delete their things).
	DeleteThing(ctx context.Context, c Caller, selector string) error
	// SetThingDisabled disables or enables a thing. Disabling revokes its
	// tokens and refuses its logins. The admin and the thing's owners may.
	SetThingDisabled(ctx context.Context, c Caller, selector string, disabled bool) error
	// ChangeVendorThingID gives a thing a new vendor thing ID and a new
	// password. THING_ALREADY_EXISTS when the vendor thing ID is taken.
	// The admin, the thing itself and its owners may; the thing's tokens
	// stay valid.
	ChangeVendorThingID(ctx context.Context, c Caller, selector, vendorThingID, password string) error
	// ChangeThingPassword sets a thing's password. The admin, the thing
	// itself and its owners may; the thing's tokens stay valid.
	ChangeThingPassword(ctx context.Context, c Caller, selector, password string) error

	// AddThingOwner makes a user or a group an owner of a thing (the
	// members of an owner group are owners). USER_NOT_FOUND or
	// GROUP_NOT_FOUND when the owner does not exist;
	// THING_OWNERSHIP_ALREADY_EXISTS when it owns the thing already.
	//
	// The admin and the thing itself may add any owner. A user may add
	// himself, or a group he is a member of, and must give the thing's
	// password (WRONG_PASSWORD otherwise; a legacy request, which has no
	// password, is UNAUTHORIZED).
	AddThingOwner(ctx context.Context, c Caller, selector string, r OwnershipRequest) error
	// HasThingOwner returns nil when o owns the thing, else
	// THING_OWNERSHIP_NOT_FOUND. The admin, the thing, its owners and o
	// itself (a user, or a member of the group) may ask.
	HasThingOwner(ctx context.Context, c Caller, selector string, o ThingOwner) error
	// RemoveThingOwner removes an owner of a thing.
	// THING_OWNERSHIP_NOT_FOUND when o does not own it. The admin, the
	// thing and o itself (a user, or a member of the group) may.
	RemoveThingOwner(ctx context.Context, c Caller, selector string, o ThingOwner) error
	// RequestThingOwnership starts the PIN code flow that makes o an
	// owner of a thing, and returns the code (rest-core §4.3). The thing
	// itself may start it for any user or group, the user o himself or a
	// member of the group o for o, the admin for anyone. The code is valid
	// for OwnershipCodeTTL. THING_OWNERSHIP_ALREADY_EXISTS when o owns the
	// thing; USER_NOT_FOUND, GROUP_NOT_FOUND.
	RequestThingOwnership(ctx context.Context, c Caller, selector string, o ThingOwner) (string, error)
	// ConfirmThingOwnership completes a flow with its code: its owner
	// becomes an owner of the thing. The other party confirms: the user
	// (or a member of the group) when the thing started it, the thing
	// when they did; the admin always. INVALID_THING_OWNERSHIP_CODE for a
	// code the thing has no flow of (after MaxOwnershipCodeFailures of
	// them, the thing's pending flows end), PIN_CODE_EXPIRED.
	ConfirmThingOwnership(ctx context.Context, c Caller, selector, code string) error
	// ThingOwners returns a thing's owners. The admin, the thing and its
	// owners may read them.
	ThingOwners(ctx context.Context, c Caller, selector string) (ThingOwners, error)
}

// The PIN code flow of thing ownership: how long a code is valid, and how
// many wrong codes end a thing's pending flows.
const (
	OwnershipCodeTTL         = 10 * time.Minute
	MaxOwnershipCodeFailures = 5
)

// NewOwnershipCode returns a PIN code of the ownership flow: 8 random
// digits, to be shown on a thing's display or typed in an app.
func NewOwnershipCode() string {
	n, _ := rand.Int(rand.Reader, big.NewInt(100_000_000))
	return fmt.Sprintf("%08d", n)
}

// OwnerKind says whether a thing owner is a user or a group.
type OwnerKind string

// Owner kinds, as they are written in ownership paths ("user:{id}").
const (
	OwnerUser  OwnerKind = "user"
	OwnerGroup OwnerKind = "group"
)

// ThingOwner is a user or a group that owns a thing.
type ThingOwner struct {
	Kind OwnerKind
	ID   string
}

// String returns o as written in paths: "user:{id}" or "group:{id}".
func (o ThingOwner) String() string { return string(o.Kind) + ":" + o.ID }

// IDField returns the JSON field that names o: "userID" or "groupID".
func (o ThingOwner) IDField() string {
	if o.Kind == OwnerGroup {
		return "groupID"
	}
	return "userID"
}

// ParseThingOwner parses the owner segment of an ownership path:
// "user:{userID}" or "group:{groupID}", the prefix in any case.
func ParseThingOwner(s string) (ThingOwner, error) {
	kind, id, ok := strings.Cut(s, ":")
	if ok && id != "" {
		switch strings.ToLower(kind) {
		case "user":
			return ThingOwner{Kind: OwnerUser, ID: id}, nil
		case "group":
			return ThingOwner{Kind: OwnerGroup, ID: id}, nil
		}
	}
	return ThingOwner{}, InvalidInput(map[string]string{"owner": "must be user:{userID} or group:{groupID}"})
}

// OwnershipRequest asks for a new thing owner.
type OwnershipRequest struct {
	Owner    ThingOwner
	Password string // the thing's password
	// Legacy marks PUT …/ownership/{owner}, which sends no password.
	Legacy bool
}

// ParseOwnershipRequest validates the body of POST …/ownership:
// {"thingPassword", "userID"} or {"thingPassword", "groupID"}.
func ParseOwnershipRequest(body map[string]any) (OwnershipRequest, error) {
	var r OwnershipRequest
	user, _ := body["userID"].(string)
	group, _ := body["groupID"].(string)
	r.Password, _ = body["thingPassword"].(string)
	switch {
	case user != "" && group != "":
		return r, InvalidInput(map[string]string{"userID": "give userID or groupID, not both"})
	case user != "":
		r.Owner = ThingOwner{Kind: OwnerUser, ID: user}
	case group != "":
		r.Owner = ThingOwner{Kind: OwnerGroup, ID: group}
	default:
		return r, InvalidInput(map[string]string{"userID": "userID or groupID is required"})
	}
	return r, nil
}

// ThingOwners are the owners of a thing, each list in the order the
// ownerships were made (by ID within a millisecond).
type ThingOwners struct {
	Users  []string
	Groups []string
}

// ValidThingPassword reports whether pw may be a thing's password: 1 to
// 200 printable ASCII characters.
func ValidThingPassword(pw string) bool { return printable(pw, 1, 200) }

// ParseVendorThingIDChange validates the body of PUT
// …/things/{thing}/vendor-thing-id: {"_vendorThingID", "_password"}.
func ParseVendorThingIDChange(body map[string]any) (vendorThingID, password string, err error) {
	invalid := map[string]string{}
	vendorThingID, _ = body["_vendorThingID"].(string)
	if !validChars(vendorThingID, 1, 200, vendorThingIDChars) {
		invalid["_vendorThingID"] = "must be 1 to 200 characters of [a-zA-Z0-9-_.]"
	}
	password, _ = body["_password"].(string)
	if !ValidThingPassword(password) {
		invalid["_password"] = "must be 1 to 200 printable ASCII characters"
	}
	if len(invalid) > 0 {
		return "", "", InvalidInput(invalid)
	}
	return vendorThingID, password, nil
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

// ThingQueryFields are the predefined thing fields a thing query may name
// (rest-core §4.2); custom fields are not queryable. Beside them a query
// sees the system fields _created, _online and _onlineStatusModifiedAt.
var ThingQueryFields = []string{"_thingID", "_vendorThingID", "_thingType", "_vendor", "_firmwareVersion",
	"_productName", "_lot", "_disabled", "_layoutPosition",
	"_stringField1", "_stringField2", "_stringField3", "_stringField4", "_stringField5",
	"_numberField1", "_numberField2", "_numberField3", "_numberField4", "_numberField5"}

// ThingQueryObject is what a thing query's clauses see of thing t: its
// queryable fields (_layoutPosition is STANDALONE when it was not given,
// as GET renders it), _created, _online, _onlineStatusModifiedAt (once
// the thing connected), and the lists userOwners and groupOwners that
// contains clauses test.
func ThingQueryObject(t Thing, userOwners, groupOwners []string) Object {
	data := map[string]any{"_thingID": t.ID, "_vendorThingID": t.VendorThingID, "_disabled": t.Disabled,
		"_online": t.Online, "userOwners": userOwners, "groupOwners": groupOwners}
	if t.OnlineModified > 0 {
		data["_onlineStatusModifiedAt"] = t.OnlineModified
	}
	if _, ok := t.Fields["_layoutPosition"]; !ok {
		data["_layoutPosition"] = "STANDALONE"
	}
	for _, k := range ThingQueryFields {
		if v, ok := t.Fields[k]; ok {
			if _, set := data[k]; !set {
				data[k] = v
			}
		}
	}
	return Object{ID: t.ID, Data: data, Created: t.Created, Modified: t.Created}
}

// ThingQueryService queries things.
type ThingQueryService interface {
	// QueryThings returns a page of the things q selects (ParseThingQuery),
	// in q's order, with the next page's key ("" on the last page). The
	// admin queries every thing; a user the things he owns, himself or
	// through a group (a query without a contains clause naming him or
	// his group is limited to them all the same). Things and anonymous
	// callers may not query (UNAUTHORIZED). A count is not supported.
	QueryThings(ctx context.Context, c Caller, q Query) ([]Thing, string, error)
}
