package storetest

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/kumo-iot/kumo"
)

// testObjects checks kumo.ObjectService.
func testObjects(t *testing.T, s suite) {
	f := newFixture(t, s)
	a, aCaller := f.mustThing("vt-a")
	_, bCaller := f.mustThing("vt-b")
	u, uCaller := f.mustUser("alice")
	missing := "th.000000000000-0000-0000-0000-00000000"

	t.Run("Create", func(t *testing.T) {
		tests := []struct {
			name   string
			caller kumo.Caller
			scope  kumo.Scope
			code   kumo.Code
			want   kumo.Scope // the canonical scope of the created object
			owner  string
		}{
			{name: "app scope, thing", caller: aCaller, scope: kumo.AppScope, want: kumo.AppScope, owner: a.ID},
			{name: "app scope, user", caller: uCaller, scope: kumo.AppScope, want: kumo.AppScope, owner: u.ID},
			{name: "app scope, admin", caller: f.admin, scope: kumo.AppScope, want: kumo.AppScope},
			{name: "app scope, anonymous", caller: f.anon, scope: kumo.AppScope, code: kumo.ErrUnauthorized},
			{name: "thing scope, the thing", caller: aCaller, scope: thingScope(a.ID), want: thingScope(a.ID), owner: a.ID},
			{name: "thing scope, the thing by vendor thing ID", caller: aCaller, scope: thingScope("VENDOR_THING_ID:vt-a"), want: thingScope(a.ID), owner: a.ID},
			{name: "thing scope, admin", caller: f.admin, scope: thingScope(a.ID), want: thingScope(a.ID)},
			{name: "thing scope, admin by vendor thing ID", caller: f.admin, scope: thingScope("VENDOR_THING_ID:vt-a"), want: thingScope(a.ID)},
			{name: "thing scope, another thing", caller: bCaller, scope: thingScope(a.ID), code: kumo.ErrUnauthorized},
			{name: "thing scope, another thing by vendor thing ID", caller: bCaller, scope: thingScope("VENDOR_THING_ID:vt-a"), code: kumo.ErrUnauthorized},
			{name: "thing scope, a user", caller: uCaller, scope: thingScope(a.ID), code: kumo.ErrUnauthorized},
			{name: "thing scope, anonymous", caller: f.anon, scope: thingScope(a.ID), code: kumo.ErrUnauthorized},
			{name: "thing scope, admin, unknown thing", caller: f.admin, scope: thingScope(missing), code: kumo.ErrThingNotFound},
			{name: "thing scope, admin, unknown vendor thing ID", caller: f.admin, scope: thingScope("VENDOR_THING_ID:vt-z"), code: kumo.ErrThingNotFound},
			{name: "user scope, the user", caller: uCaller, scope: userScope(u.ID), want: userScope(u.ID), owner: u.ID},
			{name: "user scope, me", caller: uCaller, scope: userScope("me"), want: userScope(u.ID), owner: u.ID},
			{name: "user scope, admin", caller: f.admin, scope: userScope(u.ID), want: userScope(u.ID)},
			{name: "user scope, a thing", caller: aCaller, scope: userScope(u.ID), code: kumo.ErrUnauthorized},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				b := f.bucket(tt.scope, "things-data")
				o, err := f.db.Objects.CreateObject(f.ctx, tt.caller, kumo.ObjectCreate{Bucket: b, Data: map[string]any{"k": "v"}})
				if !wantCode(t, "CreateObject", err, tt.code) || tt.code != "" {
					return
				}
				if o.Bucket.Scope != tt.want || o.Bucket.AppID != f.app.AppID || o.Bucket.Name != "things-data" {
					t.Errorf("CreateObject bucket = %+v, want scope %+v", o.Bucket, tt.want)
				}
				if o.Owner != tt.owner {
					t.Errorf("Owner = %q, want %q", o.Owner, tt.owner)
				}
				// The object is found under its canonical scope.
				if _, err := f.db.Objects.GetObject(f.ctx, f.admin, f.bucket(tt.want, "things-data"), o.ID); err != nil {
					t.Errorf("GetObject under the canonical scope: %v", err)
				}
			})
		}
	})

	t.Run("RoundTrip", func(t *testing.T) {
		f := newFixture(t, s)
		th, thCaller := f.mustThing("vt-r")
		var data map[string]any
		raw := `{"temp":21.5,"big":12345678901234567890,"neg":-0.001,"one":1.0,"s":"héllo","b":true,"n":null,"arr":[1,"x",{"y":2}],"obj":{"z":[]}}`
		d := json.NewDecoder(strings.NewReader(raw))
		d.UseNumber()
		if err := d.Decode(&data); err != nil {
			t.Fatal(err)
		}
		b := f.bucket(thingScope("VENDOR_THING_ID:vt-r"), "sensors")
		o, err := f.db.Objects.CreateObject(f.ctx, thCaller, kumo.ObjectCreate{Bucket: b, Data: data, DataType: "mydata"})
		if err != nil {
			t.Fatalf("CreateObject: %v", err)
		}
		if !isUUIDv7(o.ID) {
			t.Errorf("object ID = %q, want a UUID version 7", o.ID)
		}
		want := kumo.Object{ID: o.ID, Bucket: f.bucket(thingScope(th.ID), "sensors"), Data: data, DataType: "mydata",
			Owner: th.ID, Version: 1, Created: epoch, Modified: epoch}
		if !reflect.DeepEqual(o, want) {
			t.Errorf("CreateObject = %+v\nwant %+v", o, want)
		}
		for _, c := range []kumo.Caller{thCaller, f.admin} {
			got, err := f.db.Objects.GetObject(f.ctx, c, b, o.ID)
			if err != nil {
				t.Fatalf("GetObject as %s: %v", c.Kind, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("GetObject as %s = %+v\nwant %+v", c.Kind, got, want)
			}
		}
	})

	t.Run("Untyped", func(t *testing.T) {
		o := f.mustObject(aCaller, f.bucket(kumo.AppScope, "plain"), map[string]any{})
		got, err := f.db.Objects.GetObject(f.ctx, aCaller, o.Bucket, o.ID)
		if err != nil {
			t.Fatalf("GetObject: %v", err)
		}
		if got.DataType != "" || len(got.Data) != 0 {
			t.Errorf("GetObject = DataType %q, Data %v; want an untyped empty object", got.DataType, got.Data)
		}
	})

	t.Run("IDsDistinct", func(t *testing.T) {
		b := f.bucket(kumo.AppScope, "seq")
		seen := map[string]bool{}
		for i := 0; i < 20; i++ {
			o := f.mustObject(aCaller, b, map[string]any{"i": i})
			if seen[o.ID] {
				t.Fatalf("two objects got ID %s", o.ID)
			}
			seen[o.ID] = true
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		appObj := f.mustObject(aCaller, f.bucket(kumo.AppScope, "nf"), map[string]any{"x": 1})
		thingObj := f.mustObject(aCaller, f.bucket(thingScope(a.ID), "nf"), map[string]any{"x": 1})
		tests := []struct {
			name  string
			b     kumo.BucketRef
			id    string
			scope map[string]any
		}{
			{"unknown ID, app scope", f.bucket(kumo.AppScope, "nf"), "no-such-object",
				map[string]any{"appID": f.app.AppID, "type": "APP"}},
			{"unknown ID, thing scope", f.bucket(thingScope(a.ID), "nf"), "no-such-object",
				map[string]any{"appID": f.app.AppID, "type": "APP_AND_THING", "thingID": a.ID}},
			{"unknown bucket", f.bucket(kumo.AppScope, "nf2"), appObj.ID,
				map[string]any{"appID": f.app.AppID, "type": "APP"}},
			{"thing object looked up in the app scope", f.bucket(kumo.AppScope, "nf"), thingObj.ID,
				map[string]any{"appID": f.app.AppID, "type": "APP"}},
			{"app object looked up in the thing scope", f.bucket(thingScope("VENDOR_THING_ID:vt-a"), "nf"), appObj.ID,
				map[string]any{"appID": f.app.AppID, "type": "APP_AND_THING", "thingID": a.ID}},
			{"user scope", f.bucket(userScope(u.ID), "nf"), appObj.ID,
				map[string]any{"appID": f.app.AppID, "type": "APP_AND_USER", "userID": u.ID}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := f.db.Objects.GetObject(f.ctx, f.admin, tt.b, tt.id)
				wantCode(t, "GetObject", err, kumo.ErrObjectNotFound)
				wantFields(t, "GetObject", err, map[string]any{"objectScope": tt.scope, "bucketID": tt.b.Name, "objectID": tt.id})
			})
		}
		// Another app does not see the object either.
		other := kumo.Caller{AppID: "app2", Kind: kumo.Admin, ID: "x"}
		_, err := f.db.Objects.GetObject(f.ctx, other, kumo.BucketRef{AppID: "app2", Scope: kumo.AppScope, Name: "nf"}, appObj.ID)
		wantCode(t, "GetObject from another app", err, kumo.ErrObjectNotFound)
	})

	t.Run("Read", func(t *testing.T) {
		appObj := f.mustObject(aCaller, f.bucket(kumo.AppScope, "rd"), map[string]any{"x": 1})
		thingObj := f.mustObject(aCaller, f.bucket(thingScope(a.ID), "rd"), map[string]any{"x": 1})
		tests := []struct {
			name   string
			caller kumo.Caller
			o      kumo.Object
			code   kumo.Code
		}{
			{"app scope, anonymous", f.anon, appObj, ""},
			{"app scope, another thing", bCaller, appObj, ""},
			{"app scope, a user", uCaller, appObj, ""},
			{"thing scope, the thing", aCaller, thingObj, ""},
			{"thing scope, admin", f.admin, thingObj, ""},
			{"thing scope, another thing", bCaller, thingObj, kumo.ErrUnauthorized},
			{"thing scope, a user", uCaller, thingObj, kumo.ErrUnauthorized},
			{"thing scope, anonymous", f.anon, thingObj, kumo.ErrUnauthorized},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := f.db.Objects.GetObject(f.ctx, tt.caller, tt.o.Bucket, tt.o.ID)
				if wantCode(t, "GetObject", err, tt.code) && tt.code == "" && got.ID != tt.o.ID {
					t.Errorf("GetObject returned object %q, want %q", got.ID, tt.o.ID)
				}
			})
		}
	})
}

// isUUIDv7 reports whether s is a lower-case UUID of version 7 and the
// RFC 9562 variant.
func isUUIDv7(s string) bool {
	parts := strings.Split(s, "-")
	want := []int{8, 4, 4, 4, 12}
	if len(parts) != len(want) {
		return false
	}
	for i, p := range parts {
		if !hasShape(p, want[i], lowerHex) {
			return false
		}
	}
	return parts[2][0] == '7' && strings.ContainsRune("89ab", rune(parts[3][0]))
}
