package kumo

import (
	"encoding/json"
	"math"
	"testing"
)

func TestParseByteRange(t *testing.T) {
	tests := []struct {
		in   string
		want ByteRange
		ok   bool
	}{
		{"bytes=0-4", ByteRange{First: 0, Last: 4}, true},
		{"bytes=6-", ByteRange{First: 6, Last: -1}, true},
		{"bytes=-5", ByteRange{First: -1, Last: -1, Suffix: 5}, true},
		{" bytes=1-2 ", ByteRange{First: 1, Last: 2}, true},
		{"bytes=0-1,3-4", ByteRange{}, false}, // several ranges: served whole
		{"items=0-4", ByteRange{}, false},
		{"bytes=a-b", ByteRange{}, false},
		{"bytes=5", ByteRange{}, false},
		{"bytes=-", ByteRange{}, false},
		{"bytes=-1-2", ByteRange{}, false},
	}
	for _, tt := range tests {
		got, ok := ParseByteRange(tt.in)
		if ok != tt.ok || ok && got != tt.want {
			t.Errorf("ParseByteRange(%q) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestByteRangeResolve(t *testing.T) {
	tests := []struct {
		r      ByteRange
		size   int64
		off, n int64
		ok     bool
	}{
		{ByteRange{First: 0, Last: 4}, 11, 0, 5, true},
		{ByteRange{First: 6, Last: -1}, 11, 6, 5, true},
		{ByteRange{First: 6, Last: 100}, 11, 6, 5, true},
		{ByteRange{Suffix: 5}, 11, 6, 5, true},
		{ByteRange{Suffix: 50}, 11, 0, 11, true},
		{ByteRange{First: 11, Last: -1}, 11, 0, 0, false},
		{ByteRange{First: 5, Last: 4}, 11, 0, 0, false},
		{ByteRange{First: 0, Last: -1}, 0, 0, 0, false}, // an empty body has no byte 0
		{ByteRange{Suffix: 3}, 0, 0, 0, false},
	}
	for _, tt := range tests {
		off, n, ok := tt.r.Resolve(tt.size)
		if ok != tt.ok || ok && (off != tt.off || n != tt.n) {
			t.Errorf("%+v.Resolve(%d) = %d, %d, %v; want %d, %d, %v", tt.r, tt.size, off, n, ok, tt.off, tt.n, tt.ok)
		}
	}
}

func TestParseContentRange(t *testing.T) {
	tests := []struct {
		in   string
		want ContentRange
		ok   bool
	}{
		{"bytes=0-1048575/1572864", ContentRange{0, 1048575, 1572864}, true}, // Kii's documented form
		{"bytes 1048576-1572863/1572864", ContentRange{1048576, 1572863, 1572864}, true},
		{"bytes=0-0/1", ContentRange{0, 0, 1}, true},
		{"bytes=0-5/5", ContentRange{}, false}, // past the total
		{"bytes=5-4/10", ContentRange{}, false},
		{"bytes=0-4/*", ContentRange{}, false},
		{"0-4/10", ContentRange{}, false},
		{"", ContentRange{}, false},
	}
	for _, tt := range tests {
		got, err := ParseContentRange(tt.in)
		if (err == nil) != tt.ok || err == nil && got != tt.want {
			t.Errorf("ParseContentRange(%q) = %+v, %v; want %+v ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && ErrorCode(err) != ErrInvalidInputData {
			t.Errorf("ParseContentRange(%q) error code %s", tt.in, ErrorCode(err))
		}
	}
}

func TestBodyPublishValidate(t *testing.T) {
	const now = 1_000_000
	tests := []struct {
		p    BodyPublish
		want int64
		ok   bool
	}{
		{BodyPublish{}, 0, true},
		{BodyPublish{ExpiresAt: now + 1}, now + 1, true},
		{BodyPublish{ExpiresIn: 60}, now + 60_000, true},
		{BodyPublish{ExpiresAt: now}, 0, false},
		{BodyPublish{ExpiresIn: -1}, 0, false},
		{BodyPublish{ExpiresAt: now + 10, ExpiresIn: 10}, 0, false},
		// Overflow (D6): refused, never a date in the past.
		{BodyPublish{ExpiresIn: math.MaxInt64}, 0, false},
		{BodyPublish{ExpiresIn: math.MaxInt64 / 1000}, 0, false},
		{BodyPublish{ExpiresAt: math.MaxInt64}, 0, false},
		{BodyPublish{ExpiresAt: MaxEpochMillis}, MaxEpochMillis, true},
		{BodyPublish{ExpiresAt: MaxEpochMillis + 1}, 0, false},
		{BodyPublish{ExpiresIn: (MaxEpochMillis - now) / 1000}, now + (MaxEpochMillis-now)/1000*1000, true},
		{BodyPublish{ExpiresIn: (MaxEpochMillis-now)/1000 + 1}, 0, false},
	}
	for _, tt := range tests {
		got, err := tt.p.Validate(now)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("%+v.Validate = %d, %v; want %d ok=%v", tt.p, got, err, tt.want, tt.ok)
		}
	}
}

// TestMergeAppParamsOverflow: durations that would overflow when added
// to the time are refused (D6).
func TestMergeAppParamsOverflow(t *testing.T) {
	for _, k := range []string{"accessTokenExpirationSeconds", "loginLockPeriodSeconds", "loginAttemptsTimeoutSeconds"} {
		for _, v := range []string{"9223372036854775807", "9223372036854775", "3162240001"} {
			_, err := MergeAppParams(nil, map[string]any{k: json.Number(v)})
			if ErrorCode(err) != ErrInvalidInputData {
				t.Errorf("%s %s: %v, want INVALID_INPUT_DATA", k, v, err)
			}
		}
		if _, err := MergeAppParams(nil, map[string]any{k: json.Number("2147483647")}); err != nil {
			t.Errorf("%s 2147483647 (Kii's never): %v", k, err)
		}
	}
}
