package kumo

import "testing"

func TestLoginRequestGrant(t *testing.T) {
	tests := []struct {
		name string
		r    LoginRequest
		want string
	}{
		{"explicit password", LoginRequest{GrantType: GrantPassword, ClientID: "c", ClientSecret: "s"}, GrantPassword},
		{"explicit client credentials", LoginRequest{GrantType: GrantClientCredentials, Username: "u", Password: "p"}, GrantClientCredentials},
		{"explicit unknown grant", LoginRequest{GrantType: "magic"}, "magic"},
		{"username and password", LoginRequest{Username: "alice", Password: "pw"}, GrantPassword},
		{"client ID and secret", LoginRequest{ClientID: "c", ClientSecret: "s"}, GrantClientCredentials},
		{"client ID only", LoginRequest{ClientID: "c"}, GrantClientCredentials},
		{"client secret only", LoginRequest{ClientSecret: "s"}, GrantClientCredentials},
		{"refresh token", LoginRequest{RefreshToken: "r"}, GrantRefreshToken},
		{"refresh token before client credentials", LoginRequest{RefreshToken: "r", ClientID: "c", ClientSecret: "s"}, GrantRefreshToken},
		{"client credentials before password", LoginRequest{Username: "u", Password: "p", ClientID: "c"}, GrantClientCredentials},
		{"nothing", LoginRequest{}, GrantPassword},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.r.Grant(); got != tt.want {
				t.Errorf("%+v.Grant() = %q, want %q", tt.r, got, tt.want)
			}
		})
	}
}

func TestLoginRequestIsThingLogin(t *testing.T) {
	tests := []struct {
		username string
		want     bool
	}{
		{"VENDOR_THING_ID:vt-1", true},
		{"th.dfa848a00022-faea-4e11-dacb-0614e078", true},
		{"alice", false},
		{"thing", false},
		{"EMAIL:th.x@example.com", false},
		{"vendor_thing_id:vt-1", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.username, func(t *testing.T) {
			if got := (LoginRequest{Username: tt.username}).IsThingLogin(); got != tt.want {
				t.Errorf("IsThingLogin(%q) = %v, want %v", tt.username, got, tt.want)
			}
		})
	}
}
