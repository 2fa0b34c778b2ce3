package kumo

import (
	"context"
	"regexp"
)

// Errors of the Thing-IF configuration (thing types, firmware versions,
// traits and aliases).
const (
	ErrThingTypeNotFound       Code = "THING_TYPE_NOT_FOUND"
	ErrFirmwareVersionNotFound Code = "FIRMWARE_VERSION_NOT_FOUND"
	ErrTraitNotFound           Code = "TRAIT_NOT_FOUND"
	ErrTraitVersionNotFound    Code = "TRAIT_VERSION_NOT_FOUND"
	ErrTraitVersionFinalized   Code = "TRAIT_VERSION_FINALIZED"     // a finalized version cannot change (409)
	ErrTraitVersionOpen        Code = "TRAIT_VERSION_NOT_FINALIZED" // a new version needs the latest finalized (409)
	ErrTraitAliasNotFound      Code = "TRAIT_ALIAS_NOT_FOUND"       // also: a state or command names an unknown alias
	ErrTraitAliasExists        Code = "TRAIT_ALIAS_ALREADY_EXISTS"
)

func init() {
	Codes = append(Codes, ErrThingTypeNotFound, ErrFirmwareVersionNotFound, ErrTraitNotFound,
		ErrTraitVersionNotFound, ErrTraitVersionFinalized, ErrTraitVersionOpen,
		ErrTraitAliasNotFound, ErrTraitAliasExists)
}

// configName is a thing type, firmware version, trait or alias name:
// letters, digits, "-", "_" and "." (push-mqtt §8: at most 100).
var configName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,100}$`)

// CheckConfigName validates a configuration name; what names the kind
// of name for the message. INVALID_INPUT_DATA otherwise.
func CheckConfigName(what, name string) error {
	if !configName.MatchString(name) {
		return Errorf(ErrInvalidInputData, "A %s is 1 to 100 letters, digits, '-', '_' or '.'; got %q", what, name)
	}
	return nil
}

// ThingType is a thing type and its configuration (the document of
// ThingTypeConfigurationRequest: verification code flow settings).
type ThingType struct {
	Name    string
	Config  map[string]any
	Created int64
}

// TraitAlias maps an alias of a thing type's firmware version to a
// version of a trait.
type TraitAlias struct {
	ThingType       string `json:"-"`
	FirmwareVersion string `json:"-"`
	Alias           string `json:"alias"`
	Trait           string `json:"trait"`
	TraitVersion    int    `json:"traitVersion"`
}

// ParseTraitAlias validates a TraitAliasCreationRequest body: trait and
// traitVersion (a number or a numeric string).
func ParseTraitAlias(body map[string]any) (TraitAlias, error) {
	var a TraitAlias
	a.Trait, _ = body["trait"].(string)
	if err := CheckConfigName("trait", a.Trait); err != nil {
		return a, err
	}
	v, err := parseTraitVersionNumber(body["traitVersion"])
	if err != nil {
		return a, err
	}
	a.TraitVersion = v
	return a, nil
}

// ThingTypeService keeps the thing types, their firmware versions and
// the aliases of each firmware version. Writes are the admin's; reads
// are open to any caller with a token.
type ThingTypeService interface {
	// PutThingType creates or replaces a thing type's configuration;
	// created reports a new one.
	PutThingType(ctx context.Context, c Caller, t ThingType) (created bool, err error)
	ThingTypes(ctx context.Context, c Caller) ([]ThingType, error)
	ThingType(ctx context.Context, c Caller, name string) (ThingType, error)
	// DeleteThingType deletes the thing type with its firmware versions
	// and their aliases.
	DeleteThingType(ctx context.Context, c Caller, name string) error

	PutFirmwareVersion(ctx context.Context, c Caller, thingType, name string) (created bool, err error)
	FirmwareVersions(ctx context.Context, c Caller, thingType string) ([]string, error)
	DeleteFirmwareVersion(ctx context.Context, c Caller, thingType, name string) error

	// PutTraitAlias creates an alias (TRAIT_ALIAS_ALREADY_EXISTS when
	// it exists); the firmware version and the trait version must exist.
	PutTraitAlias(ctx context.Context, c Caller, a TraitAlias) error
	TraitAliases(ctx context.Context, c Caller, thingType, firmwareVersion string) ([]TraitAlias, error)
	TraitAlias(ctx context.Context, c Caller, thingType, firmwareVersion, alias string) (TraitAlias, error)
	DeleteTraitAlias(ctx context.Context, c Caller, thingType, firmwareVersion, alias string) error
}
