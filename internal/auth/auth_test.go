package auth

import "testing"

func TestHasher(t *testing.T) {
	h := Hasher{Iterations: 1000}
	hash, err := h.HashPassword("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	if !h.CheckPassword(hash, "s3cret") {
		t.Fatal("the right password was refused")
	}
	for _, bad := range []string{"s3creT", "", "s3cret "} {
		if h.CheckPassword(hash, bad) {
			t.Errorf("CheckPassword(%q) = true, want false", bad)
		}
	}
	hash2, _ := h.HashPassword("s3cret")
	if hash == hash2 {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	for _, bad := range []string{"", "x$1$a$b", "pbkdf2-sha256$0$a$b", "pbkdf2-sha256$1$!!$b"} {
		if h.CheckPassword(bad, "s3cret") {
			t.Errorf("CheckPassword accepted malformed hash %q", bad)
		}
	}
}

func TestMQTTPasswords(t *testing.T) {
	m := MQTTPasswords{Secret: []byte("secret-a")}
	p := m.Password("app-user1")
	if len(p) != 64 {
		t.Fatalf("len(password) = %d, want 64", len(p))
	}
	for _, c := range p {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			t.Fatalf("password %q has a non-letter %q", p, c)
		}
	}
	if p != m.Password("app-user1") {
		t.Error("password is not stable")
	}
	if p == m.Password("app-user2") {
		t.Error("two usernames share a password")
	}
	if (MQTTPasswords{Secret: []byte("secret-b")}).Password("app-user1") == p {
		t.Error("the secret does not change the password")
	}
	if !m.Check("app-user1", p) || m.Check("app-user1", p[:63]+"x") || m.Check("app-user2", p) {
		t.Error("Check gives a wrong answer")
	}
}

func TestParseAuthorization(t *testing.T) {
	tests := []struct {
		name, in string
		want     Credentials
	}{
		{"bearer", "Bearer abc", Credentials{Bearer: "abc"}},
		{"lower-case scheme", "bearer abc", Credentials{Bearer: "abc"}},
		{"upper-case scheme", "BEARER abc", Credentials{Bearer: "abc"}},
		{"extra spaces", "  Bearer   abc  ", Credentials{Bearer: "abc"}},
		{"basic", "Basic YXBwMTpkdW1teQ==", Credentials{BasicAppID: "app1"}},
		{"basic bad base64", "Basic !!", Credentials{}},
		{"no scheme", "abc", Credentials{}},
		{"unknown scheme", "Digest abc", Credentials{}},
		{"empty", "", Credentials{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseAuthorization(tt.in); got != tt.want {
				t.Errorf("ParseAuthorization(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}
