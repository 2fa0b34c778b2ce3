package servercode

import (
	"net/netip"
	"testing"
)

// TestPublicAddr lists addresses $.ajax must never reach (loopback,
// private, link-local, and the special ranges that map onto them or are
// not the public Internet), beside public ones it may.
func TestPublicAddr(t *testing.T) {
	for _, c := range []struct {
		addr   string
		public bool
	}{
		{"8.8.8.8", true}, {"2606:4700::1111", true},
		{"127.0.0.1", false}, {"::1", false}, {"::ffff:127.0.0.1", false}, {"10.1.2.3", false},
		{"172.16.0.1", false}, {"192.168.1.1", false}, {"169.254.169.254", false}, {"fe80::1", false},
		{"fc00::1", false}, {"0.0.0.0", false}, {"::", false}, {"0.1.2.3", false}, {"100.64.0.1", false},
		{"198.18.0.1", false}, {"240.0.0.1", false}, {"255.255.255.255", false}, {"224.0.0.1", false},
		{"64:ff9b::7f00:1", false}, {"64:ff9b:1::a00:1", false}, {"fec0::1", false}, {"2002:7f00:1::", false},
		{"2001:db8::1", false}, {"192.0.0.8", false},
	} {
		if got := publicAddr(netip.MustParseAddr(c.addr)); got != c.public {
			t.Errorf("publicAddr(%s) = %v, want %v", c.addr, got, c.public)
		}
	}
}

// TestAllowedHost checks the operator's list of $.ajax hosts: none
// allowed by default, exact names (any case, a trailing dot), "*.domain"
// for its subdomains only, "*" for any.
func TestAllowedHost(t *testing.T) {
	for _, c := range []struct {
		allow []string
		host  string
		ok    bool
	}{
		{nil, "example.com", false},
		{[]string{"example.com"}, "example.com", true},
		{[]string{"Example.COM"}, "example.com.", true},
		{[]string{"example.com"}, "api.example.com", false},
		{[]string{"example.com"}, "example.com.evil.net", false},
		{[]string{"*.example.com"}, "api.example.com", true},
		{[]string{"*.example.com"}, "example.com", false},
		{[]string{"*.example.com"}, "evilexample.com", false},
		{[]string{"other.net", " *.example.com "}, "a.b.example.com", true},
		{[]string{"*"}, "anything.org", true},
	} {
		err := allowedHost(c.allow, c.host)
		if (err == nil) != c.ok {
			t.Errorf("allowedHost(%q, %q) = %v, want allowed %v", c.allow, c.host, err, c.ok)
		}
	}
}
