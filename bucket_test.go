package kumo

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseBucketName(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // "" when invalid
	}{
		{"plain", "myBucket", "myBucket"},
		{"every allowed class", "a-B_9", "a-B_9"},
		{"two characters", "ab", "ab"},
		{"64 characters", strings.Repeat("b", 64), strings.Repeat("b", 64)},
		{"underscore inside", "a_", "a_"},
		{"CRYPTO:", "CRYPTO:secrets", "CRYPTO:secrets"},
		{"crypto: in lower case", "crypto:secrets", "CRYPTO:secrets"},
		{"crypto: in mixed case", "CrYpTo:secrets", "CRYPTO:secrets"},
		{"CRYPTO: and 64 characters", "CRYPTO:" + strings.Repeat("b", 64), "CRYPTO:" + strings.Repeat("b", 64)},
		{"not a reserved name", "usersx", "usersx"},
		{"rw: names the plain bucket", "rw:name", "name"},
		{"default: names the plain bucket", "default:name", "name"},
		{"RW: in upper case", "RW:name", "name"},
		{"Default: in mixed case", "Default:name", "name"},

		{"empty", "", ""},
		{"one character", "a", ""},
		{"65 characters", strings.Repeat("b", 65), ""},
		{"leading underscore", "_private", ""},
		{"dot", "my.bucket", ""},
		{"space", "my bucket", ""},
		{"slash", "a/b", ""},
		{"non-ASCII", "bücket", ""},
		{"other prefix", "sync:name", ""},
		{"an unknown prefix", "ro:name", ""},
		{"rw: alone", "rw:", ""},
		{"rw: and one character", "rw:a", ""},
		{"rw: and CRYPTO:", "rw:CRYPTO:ab", ""},
		{"CRYPTO: and rw:", "CRYPTO:rw:ab", ""},
		{"default: and a reserved name", "default:things", ""},
		{"rw: twice", "rw:rw:ab", ""},
		{"CRYPTO: alone", "CRYPTO:", ""},
		{"CRYPTO: and one character", "CRYPTO:a", ""},
		{"CRYPTO: and a leading underscore", "CRYPTO:_x", ""},
		{"CRYPTO: twice", "CRYPTO:CRYPTO:ab", ""},
		{"CRYPTO: and 65 characters", "CRYPTO:" + strings.Repeat("b", 65), ""},
		{"reserved users", "users", ""},
		{"reserved devices", "devices", ""},
		{"reserved installations", "installations", ""},
		{"reserved internal", "internal", ""},
		{"reserved things", "things", ""},
		{"reserved with CRYPTO:", "CRYPTO:things", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseBucketName(tt.in)
			if tt.want == "" {
				e, ok := err.(*Error)
				if !ok || e.Code != ErrInvalidBucket {
					t.Fatalf("ParseBucketName(%q) = %q, %v; want %s", tt.in, got, err, ErrInvalidBucket)
				}
				if e.Fields["bucketID"] != tt.in {
					t.Errorf("bucketID = %#v, want %q", e.Fields["bucketID"], tt.in)
				}
				if got != "" {
					t.Errorf("a refused name came back as %q", got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ParseBucketName(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestBucketRefType(t *testing.T) {
	for name, want := range map[string]string{"b": "rw", "CRYPTO:b": "crypto", "crypto:b": "rw", "xCRYPTO:b": "rw"} {
		if got := (BucketRef{Name: name}).Type(); got != want {
			t.Errorf("BucketRef{Name: %q}.Type() = %q, want %q", name, got, want)
		}
	}
}

func TestScope(t *testing.T) {
	tests := []struct {
		s           Scope
		key, path   string
		objectScope map[string]any
	}{
		{AppScope, "", "", map[string]any{"appID": "app1", "type": "APP"}},
		{Scope{ScopeUser, "u1"}, "user:u1", "/users/u1", map[string]any{"appID": "app1", "type": "APP_AND_USER", "userID": "u1"}},
		{Scope{ScopeGroup, "g1"}, "group:g1", "/groups/g1", map[string]any{"appID": "app1", "type": "APP_AND_GROUP", "groupID": "g1"}},
		{Scope{ScopeThing, "th.1"}, "thing:th.1", "/things/th.1", map[string]any{"appID": "app1", "type": "APP_AND_THING", "thingID": "th.1"}},
	}
	for _, tt := range tests {
		t.Run(string(tt.s.Kind), func(t *testing.T) {
			if got := tt.s.Key(); got != tt.key {
				t.Errorf("Key() = %q, want %q", got, tt.key)
			}
			if got := tt.s.Path(); got != tt.path {
				t.Errorf("Path() = %q, want %q", got, tt.path)
			}
			if got := tt.s.ObjectScope("app1"); !reflect.DeepEqual(got, tt.objectScope) {
				t.Errorf("ObjectScope() = %v, want %v", got, tt.objectScope)
			}
		})
	}
}
