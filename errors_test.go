package kumo

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestErrorCode(t *testing.T) {
	base := Errorf(ErrThingNotFound, "Thing %s was not found", "th.x")
	tests := []struct {
		name string
		err  error
		want Code
	}{
		{"nil", nil, ""},
		{"kumo error", base, ErrThingNotFound},
		{"wrapped", fmt.Errorf("find: %w", base), ErrThingNotFound},
		{"wrapped twice", fmt.Errorf("a: %w", fmt.Errorf("b: %w", base)), ErrThingNotFound},
		{"joined after a plain error", errors.Join(errors.New("x"), base), ErrThingNotFound},
		{"plain error", errors.New("disk I/O error at /var/lib/kumo/kumo.db"), ErrInternal},
		{"context canceled", context.Canceled, ErrInternal},
		{"wrapped plain error", fmt.Errorf("commit: %w", errors.New("locked")), ErrInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ErrorCode(tt.err); got != tt.want {
				t.Errorf("ErrorCode(%v) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	const generic = "An internal error occurred"
	secret := errors.New("open /var/lib/kumo/kumo.db: permission denied")
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"kumo error", Errorf(ErrInvalidBucket, "Bucket name %q is reserved", "users"), `Bucket name "users" is reserved`},
		{"wrapped kumo error", fmt.Errorf("x: %w", Errorf(ErrWrongToken, "bad token")), "bad token"},
		{"internal error", secret, generic},
		{"wrapped internal error", fmt.Errorf("commit: %w", secret), generic},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ErrorMessage(tt.err)
			if got != tt.want {
				t.Errorf("ErrorMessage(%v) = %q, want %q", tt.err, got, tt.want)
			}
			if strings.Contains(got, "/var/lib") {
				t.Errorf("ErrorMessage leaks the internal error: %q", got)
			}
		})
	}
}

func TestErrorText(t *testing.T) {
	e := Errorf(ErrObjectNotFound, "object %s", "o1")
	if got, want := e.Error(), "OBJECT_NOT_FOUND: object o1"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if e.Fields != nil {
		t.Errorf("Errorf set fields %v, want none", e.Fields)
	}
	if got := e.With("objectID", "o1").With("bucketID", "b"); got != e {
		t.Error("With returned another error; want the same one, for chaining")
	}
	if want := map[string]any{"objectID": "o1", "bucketID": "b"}; !reflect.DeepEqual(e.Fields, want) {
		t.Errorf("Fields = %v, want %v", e.Fields, want)
	}
	// A message with a verb in its argument is not formatted twice.
	if got := Errorf(ErrInvalidInputData, "%s", "100%d").Message; got != "100%d" {
		t.Errorf("Message = %q, want %q", got, "100%d")
	}
}

func TestCodes(t *testing.T) {
	seen := map[Code]bool{}
	for _, c := range Codes {
		if c == "" {
			t.Error("Codes holds an empty code")
		}
		if seen[c] {
			t.Errorf("Codes lists %s twice", c)
		}
		seen[c] = true
	}
	// Codes the services return must be listed (the API's table is checked
	// against Codes).
	for _, c := range []Code{ErrUnauthorized, ErrWrongToken, ErrInvalidGrant, ErrAppNotFound, ErrInvalidInputData,
		ErrInvalidJSON, ErrInvalidBucket, ErrPasswordTooShort, ErrUserNotFound, ErrUserAlreadyExists,
		ErrThingNotFound, ErrThingAlreadyExists, ErrObjectNotFound, ErrInstallationNotFound,
		ErrPushSubscriptionExists, ErrPushSubscriptionMissing, ErrAccountTypeUnknown, ErrNotImplemented,
		ErrInternal, ErrUnavailable} {
		if !seen[c] {
			t.Errorf("Codes misses %s", c)
		}
	}
}

func TestErrorConstructors(t *testing.T) {
	b := BucketRef{AppID: "app1", Scope: Scope{Kind: ScopeThing, ID: "th.x"}, Name: "state"}
	c := Caller{AppID: "app1", Kind: ThingCaller, ID: "th.y"}
	tests := []struct {
		name   string
		err    *Error
		code   Code
		fields map[string]any
	}{
		{"InvalidInput", InvalidInput(map[string]string{"a": "bad"}), ErrInvalidInputData,
			map[string]any{"invalidFields": map[string]string{"a": "bad"}}},
		{"ErrLoginFailed", ErrLoginFailed(), ErrInvalidGrant,
			map[string]any{"error": "invalid_grant", "error_description": "The user was not found or a wrong password was provided"}},
		{"Unauthorized", Unauthorized(c, "no %s", "way"), ErrUnauthorized,
			map[string]any{"authenticatedAppID": "app1", "authenticatedPrincipalID": "th.y"}},
		{"ObjectNotFound", ObjectNotFound(b, "o1"), ErrObjectNotFound,
			map[string]any{"objectScope": map[string]any{"appID": "app1", "type": "APP_AND_THING", "thingID": "th.x"},
				"bucketID": "state", "objectID": "o1"}},
		{"InstallationNotFound by ID", InstallationNotFound("app1", "abc"), ErrInstallationNotFound,
			map[string]any{"appID": "app1", "installationID": "abc"}},
		{"InstallationNotFound by registration ID", InstallationNotFound("app1", "IOS:tok"), ErrInstallationNotFound,
			map[string]any{"appID": "app1", "deviceType": "IOS", "installationRegistrationID": "tok"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err.Code != tt.code {
				t.Errorf("Code = %s, want %s", tt.err.Code, tt.code)
			}
			if tt.err.Message == "" {
				t.Error("Message is empty")
			}
			if !reflect.DeepEqual(tt.err.Fields, tt.fields) {
				t.Errorf("Fields = %#v\nwant %#v", tt.err.Fields, tt.fields)
			}
		})
	}
	if msg := Unauthorized(c, "no %s", "way").Message; msg != "no way" {
		t.Errorf("Unauthorized message = %q, want %q", msg, "no way")
	}
}
