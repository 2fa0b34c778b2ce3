package kumo

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestParseUserRegistration(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		invalid []string // sorted keys of invalidFields; nil when valid
		want    UserRegistration
		skip    string // a known bug
	}{
		{name: "login name", body: `{"loginName":"alice","password":"pw12"}`,
			want: UserRegistration{LoginName: "alice", Password: "pw12", Custom: map[string]any{}}},
		{name: "email only", body: `{"emailAddress":"alice@example.com","password":"pw12"}`,
			want: UserRegistration{Email: "alice@example.com", Password: "pw12", Custom: map[string]any{}}},
		{name: "international phone only", body: `{"phoneNumber":"+819012345678","password":"pw12"}`,
			want: UserRegistration{Phone: "+819012345678", Password: "pw12", Custom: map[string]any{}}},
		{name: "local phone", body: `{"phoneNumber":"090-1234-5678","country":"JP","password":"pw12"}`,
			want: UserRegistration{Phone: "090-1234-5678", Country: "JP", Password: "pw12", Custom: map[string]any{}}},
		{name: "everything", body: `{"loginName":"a.b-c_d","emailAddress":"a@b.c","phoneNumber":"+1.555.0100","password":"p w~!",
			"displayName":"Alice A.","country":"US","locale":"en-US","phoneNumberVerified":true,
			"age":30,"tags":["x"],"_disabled":true,"_hasPassword":false}`,
			want: UserRegistration{LoginName: "a.b-c_d", Email: "a@b.c", Phone: "+1.555.0100", Password: "p w~!",
				DisplayName: "Alice A.", Country: "US", Locale: "en-US",
				Custom: map[string]any{"age": json.Number("30"), "tags": []any{"x"}}}},
		{name: "shortest and longest login names", body: `{"loginName":"abc","password":"` + strings.Repeat("p", 50) + `"}`,
			want: UserRegistration{LoginName: "abc", Password: strings.Repeat("p", 50), Custom: map[string]any{}}},
		{name: "longest login name", body: `{"loginName":"` + strings.Repeat("a", 64) + `","password":"pw12"}`,
			want: UserRegistration{LoginName: strings.Repeat("a", 64), Password: "pw12", Custom: map[string]any{}}},
		{name: "display name of 50 characters", body: `{"loginName":"alice","password":"pw12","displayName":"` + strings.Repeat("d", 50) + `"}`,
			want: UserRegistration{LoginName: "alice", Password: "pw12", DisplayName: strings.Repeat("d", 50), Custom: map[string]any{}}},
		{name: "display name of 50 non-ASCII characters", body: `{"loginName":"alice","password":"pw12","displayName":"` + strings.Repeat("山", 50) + `"}`,
			want: UserRegistration{LoginName: "alice", Password: "pw12", DisplayName: strings.Repeat("山", 50), Custom: map[string]any{}}},

		{name: "no identifier", body: `{"password":"pw12"}`, invalid: []string{"loginName"}},
		{name: "login name too short", body: `{"loginName":"ab","password":"pw12"}`, invalid: []string{"loginName"}},
		{name: "login name too long", body: `{"loginName":"` + strings.Repeat("a", 65) + `","password":"pw12"}`, invalid: []string{"loginName"}},
		{name: "login name with @", body: `{"loginName":"alice@x","password":"pw12"}`, invalid: []string{"loginName"}},
		{name: "login name with a space", body: `{"loginName":"al ice","password":"pw12"}`, invalid: []string{"loginName"}},
		{name: "email without @", body: `{"emailAddress":"alice.example.com","password":"pw12"}`, invalid: []string{"emailAddress"}},
		{name: "email too long", body: `{"emailAddress":"a@` + strings.Repeat("b", 253) + `","password":"pw12"}`, invalid: []string{"emailAddress"}},
		{name: "phone with letters", body: `{"phoneNumber":"+81abc","password":"pw12"}`, invalid: []string{"phoneNumber"}},
		{name: "phone too short", body: `{"phoneNumber":"+1","password":"pw12"}`, invalid: []string{"phoneNumber"}},
		{name: "phone too long", body: `{"phoneNumber":"+1234567890123456","password":"pw12"}`, invalid: []string{"phoneNumber"}},
		{name: "password too long", body: `{"loginName":"alice","password":"` + strings.Repeat("p", 51) + `"}`, invalid: []string{"password"}},
		{name: "password not printable", body: `{"loginName":"alice","password":"pw\t12"}`, invalid: []string{"password"}},
		{name: "password not ASCII", body: `{"loginName":"alice","password":"pässwörd"}`, invalid: []string{"password"}},
		{name: "display name too long", body: `{"loginName":"alice","password":"pw12","displayName":"` + strings.Repeat("d", 51) + `"}`, invalid: []string{"displayName"}},
		{name: "several at once", body: `{"loginName":"a","emailAddress":"x","phoneNumber":"y","password":"pw12"}`,
			invalid: []string{"emailAddress", "loginName", "phoneNumber"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.skip != "" {
				t.Skip(tt.skip)
			}
			got, err := ParseUserRegistration(mustBody(t, tt.body), false)
			if tt.invalid != nil {
				if keys := invalidFields(t, err); !slices.Equal(keys, tt.invalid) {
					t.Errorf("invalidFields = %v, want %v", keys, tt.invalid)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseUserRegistration: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseUserRegistration =\n%#v\nwant\n%#v", got, tt.want)
			}
		})
	}
}

func TestParseUserRegistrationPasswordTooShort(t *testing.T) {
	for _, body := range []string{
		`{"loginName":"alice"}`,
		`{"loginName":"alice","password":""}`,
		`{"loginName":"alice","password":"abc"}`,
		`{"loginName":"alice","password":1234}`,
	} {
		t.Run(body, func(t *testing.T) {
			_, err := ParseUserRegistration(mustBody(t, body), false)
			e, ok := err.(*Error)
			if !ok || e.Code != ErrPasswordTooShort {
				t.Fatalf("error = %v, want %s", err, ErrPasswordTooShort)
			}
			if got := e.Fields["minimumLength"]; got != 4 {
				t.Errorf("minimumLength = %#v, want 4", got)
			}
		})
	}
}
