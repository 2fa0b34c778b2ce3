package kumo

import (
	"testing"
)

func TestCaller(t *testing.T) {
	tests := []struct {
		name          string
		c             Caller
		kind          string
		admin, authed bool
	}{
		{"anonymous", Caller{AppID: "a"}, "anonymous", false, false},
		{"admin", Caller{AppID: "a", Kind: Admin, ID: "cid"}, "admin", true, false},
		{"user", Caller{AppID: "a", Kind: UserCaller, ID: "u1"}, "user", false, true},
		{"thing", Caller{AppID: "a", Kind: ThingCaller, ID: "th.1"}, "thing", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.Kind.String(); got != tt.kind {
				t.Errorf("Kind.String() = %q, want %q", got, tt.kind)
			}
			if got := tt.c.IsAdmin(); got != tt.admin {
				t.Errorf("IsAdmin() = %v, want %v", got, tt.admin)
			}
			if got := tt.c.Authenticated(); got != tt.authed {
				t.Errorf("Authenticated() = %v, want %v", got, tt.authed)
			}
			if got, want := tt.c.Principal(), (Principal{Kind: tt.c.Kind, ID: tt.c.ID}); got != want {
				t.Errorf("Principal() = %+v, want %+v", got, want)
			}
		})
	}
}

func TestCallerIs(t *testing.T) {
	user := Caller{AppID: "a", Kind: UserCaller, ID: "x"}
	thing := Caller{AppID: "a", Kind: ThingCaller, ID: "x"}
	admin := Caller{AppID: "a", Kind: Admin, ID: "x"}
	tests := []struct {
		name string
		c    Caller
		p    Principal
		want bool
	}{
		{"user itself", user, Principal{Kind: UserCaller, ID: "x"}, true},
		{"another user", user, Principal{Kind: UserCaller, ID: "y"}, false},
		{"thing with a user's ID", thing, Principal{Kind: UserCaller, ID: "x"}, false},
		{"thing itself", thing, Principal{Kind: ThingCaller, ID: "x"}, true},
		{"admin principal", admin, Principal{Kind: Admin, ID: "x"}, false},
		{"anonymous principal", Caller{}, Principal{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.Is(tt.p); got != tt.want {
				t.Errorf("%+v.Is(%+v) = %v, want %v", tt.c, tt.p, got, tt.want)
			}
		})
	}
}
