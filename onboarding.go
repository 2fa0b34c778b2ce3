package kumo

import (
	"context"
	"strings"
)

// OnboardingKind is one of the six forms of Thing-IF onboarding, told
// apart by the request's media type (push-mqtt §7.1).
type OnboardingKind int

// The forms of onboarding.
const (
	OnboardVendorThingIDByThing OnboardingKind = iota + 1
	OnboardThingIDByThing
	OnboardVendorThingIDByOwner
	OnboardThingIDByOwner
	OnboardEndNodeGatewayThingID
	OnboardEndNodeGatewayVendorThingID
)

// onboardingMediaTypes maps the lower-cased media types to their forms.
var onboardingMediaTypes = map[string]OnboardingKind{
	"application/vnd.kii.onboardingwithvendorthingidbything+json":        OnboardVendorThingIDByThing,
	"application/vnd.kii.onboardingwiththingidbything+json":              OnboardThingIDByThing,
	"application/vnd.kii.onboardingwithvendorthingidbyowner+json":        OnboardVendorThingIDByOwner,
	"application/vnd.kii.onboardingwiththingidbyowner+json":              OnboardThingIDByOwner,
	"application/vnd.kii.onboardingendnodewithgatewaythingid+json":       OnboardEndNodeGatewayThingID,
	"application/vnd.kii.onboardingendnodewithgatewayvendorthingid+json": OnboardEndNodeGatewayVendorThingID,
}

// ParseOnboardingKind returns the form of onboarding a media type names,
// matched without regard to case (parameters already removed).
// UNSUPPORTED_MEDIA_TYPE for any other type.
func ParseOnboardingKind(mediaType string) (OnboardingKind, error) {
	if k, ok := onboardingMediaTypes[strings.ToLower(strings.TrimSpace(mediaType))]; ok {
		return k, nil
	}
	return 0, Errorf(ErrUnsupportedMediaType, "Onboarding needs the Content-Type of one of its forms, such as "+
		"application/vnd.kii.OnboardingWithVendorThingIDByThing+json; got %q", mediaType)
}

// ByOwner reports whether k is onboarding by an owner (end nodes included).
func (k OnboardingKind) ByOwner() bool { return k >= OnboardVendorThingIDByOwner }

// EndNode reports whether k onboards an end node through its gateway.
func (k OnboardingKind) EndNode() bool { return k >= OnboardEndNodeGatewayThingID }

// Onboarding is a Thing-IF onboarding request: the thing (or end node)
// to register or to log in, and for the owner forms its new owner.
type Onboarding struct {
	Kind OnboardingKind
	// The thing: by vendor thing ID (registered when it does not exist
	// yet) or by thing ID (which must exist), and its password.
	VendorThingID string
	ThingID       string
	Password      string
	// Fields are the thing fields a registration stores (_thingType,
	// _firmwareVersion, _layoutPosition, _dataGroupingInterval and the
	// thingProperties).
	Fields map[string]any
	// Updates are the fields of Fields that an existing thing takes when
	// it onboards again: _firmwareVersion, _layoutPosition and
	// _dataGroupingInterval, when given. Its thing type and properties
	// stay (Kii's SDKs: "if the thing is already registered, this value
	// would be ignored").
	Updates map[string]any
	// Owner is the new owner (owner and end-node forms).
	Owner *ThingOwner
	// Gateway names an end node's gateway: a thing ID or
	// "VENDOR_THING_ID:{id}" (end-node forms).
	Gateway string
}

// ParseOnboarding validates the body of an onboarding of form k.
func ParseOnboarding(k OnboardingKind, body map[string]any) (Onboarding, error) {
	o := Onboarding{Kind: k}
	invalid := map[string]string{}
	str := func(key string) string { s, _ := body[key].(string); return s }
	prefix := "" // the end-node forms name the thing's fields endNode…
	if k.EndNode() {
		prefix = "endNode"
	}
	field := func(name string) string {
		if prefix == "" {
			return name
		}
		return prefix + strings.ToUpper(name[:1]) + name[1:]
	}
	switch k {
	case OnboardThingIDByThing, OnboardThingIDByOwner:
		o.ThingID = str("thingID")
		if o.ThingID == "" {
			invalid["thingID"] = "is required"
		}
	default:
		o.VendorThingID = str(field("vendorThingID"))
		if !validChars(o.VendorThingID, 1, 200, vendorThingIDChars) {
			invalid[field("vendorThingID")] = "must be 1 to 200 characters of [a-zA-Z0-9-_.]"
		}
	}
	pwKey := "thingPassword"
	if k.EndNode() {
		pwKey = "endNodePassword"
	}
	o.Password = str(pwKey)
	if !ValidThingPassword(o.Password) {
		invalid[pwKey] = "must be 1 to 200 printable ASCII characters"
	}
	switch k {
	case OnboardEndNodeGatewayThingID:
		if o.Gateway = str("gatewayThingID"); o.Gateway == "" {
			invalid["gatewayThingID"] = "is required"
		}
	case OnboardEndNodeGatewayVendorThingID:
		if v := str("gatewayVendorThingID"); v == "" {
			invalid["gatewayVendorThingID"] = "is required"
		} else {
			o.Gateway = "VENDOR_THING_ID:" + v
		}
	}
	if k.ByOwner() {
		owner, err := ParseThingOwner(str("owner"))
		if err != nil {
			invalid["owner"] = "must be user:{userID} or group:{groupID}"
		} else {
			o.Owner = &owner
		}
	}
	// The thing's fields, as a registration stores them.
	thing := map[string]any{}
	if props, ok := body[field("thingProperties")]; ok && props != nil {
		m, isObject := props.(map[string]any)
		if !isObject {
			invalid[field("thingProperties")] = "must be a JSON object"
		}
		for key, v := range m {
			thing[key] = v
		}
	}
	for name, key := range map[string]string{"thingType": "_thingType", "firmwareVersion": "_firmwareVersion"} {
		if v, ok := body[field(name)]; ok && v != nil {
			thing[key] = v
		}
	}
	if v, ok := body["layoutPosition"]; ok && v != nil && !k.EndNode() {
		thing["_layoutPosition"] = v
	}
	if k.EndNode() {
		thing["_layoutPosition"] = "END_NODE"
	}
	fields := parseThingFields(thing, invalid)
	for key, name := range map[string]string{"_thingType": field("thingType"), "_firmwareVersion": field("firmwareVersion"),
		"_layoutPosition": "layoutPosition"} {
		if msg, ok := invalid[key]; ok { // name the field the client sent
			delete(invalid, key)
			if _, sent := body[name]; sent {
				invalid[name] = msg
			} else {
				invalid[field("thingProperties")+"."+key] = msg
			}
		}
	}
	if v, ok := body["dataGroupingInterval"]; ok && v != nil {
		if iv, valid := ParseDataGroupingInterval(v); valid {
			fields[DataGroupingIntervalField] = iv
		} else {
			invalid["dataGroupingInterval"] = "must be one of 1_MINUTE, 15_MINUTES, 30_MINUTES, 1_HOUR, 12_HOURS"
		}
	}
	// What an existing thing takes: the fields given beside (not in) its
	// thingProperties.
	o.Fields, o.Updates = fields, map[string]any{}
	for key, name := range map[string]string{ThingFirmwareVersionField: field("firmwareVersion"),
		"_layoutPosition": "layoutPosition", DataGroupingIntervalField: "dataGroupingInterval"} {
		if _, given := body[name]; given || (key == "_layoutPosition" && k.EndNode()) {
			if v, ok := fields[key]; ok {
				o.Updates[key] = v
			}
		}
	}
	if len(invalid) > 0 {
		return o, InvalidInput(invalid)
	}
	return o, nil
}

// Onboarded is the outcome of an onboarding: the thing, a new token of it
// and (except for end nodes) its MQTT installation.
type Onboarded struct {
	ThingID      string
	AccessToken  string
	Installation *Installation
}

// OnboardingService onboards things.
type OnboardingService interface {
	// Onboard registers the thing when it does not exist yet (vendor
	// thing ID forms; THING_NOT_FOUND for an unknown thing ID), or checks
	// its password (WRONG_PASSWORD) when it does; issues it a token; makes
	// the owner of an owner form an owner of it; and creates (or reuses)
	// its MQTT installation. The forms by thing are open to any caller
	// with the thing's password (the app-level token, the thing itself);
	// the owner forms to the admin, and to a user who is the owner or a
	// member of the owner group. An end node's gateway must exist, and a
	// user must own it.
	Onboard(ctx context.Context, c Caller, o Onboarding) (Onboarded, error)
}
