package kumo

import (
	"crypto/rand"
	"encoding/hex"
	"time"
)

const (
	lowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	alnum      = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	letters    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

// RandomString returns n characters drawn uniformly from alphabet using
// crypto/rand. The alphabet has 1 to 256 characters.
func RandomString(n int, alphabet string) string {
	out := make([]byte, n)
	buf := make([]byte, n+n/2+8)
	limit := 256 - 256%len(alphabet) // rejection sampling: no modulo bias
	for i := 0; i < n; {
		rand.Read(buf)
		for _, b := range buf {
			if int(b) >= limit {
				continue
			}
			out[i] = alphabet[int(b)%len(alphabet)]
			i++
			if i == n {
				break
			}
		}
	}
	return string(out)
}

// RandomHex returns 2n hexadecimal characters from n random bytes.
func RandomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// kiiID returns an identifier in Kii's 12-4-4-4-8 lower-case form, which
// the k4j client relies on to tell a user ID from a login name.
func kiiID() string {
	s := RandomString(32, lowerAlnum)
	return s[0:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:24] + "-" + s[24:32]
}

// NewUserID returns a new user ID (12-4-4-4-8).
func NewUserID() string { return kiiID() }

// NewThingID returns a new thing ID ("th." + 12-4-4-4-8).
func NewThingID() string { return "th." + kiiID() }

// NewGroupID returns a new group ID: 25 lower-case alphanumerics, the
// shape of the group IDs Kii issues (and a valid client-chosen ID too).
func NewGroupID() string { return RandomString(25, lowerAlnum) }

// NewInstallationID returns a new installation ID: 25 lower-case
// alphanumerics, as Kii issues them.
func NewInstallationID() string { return RandomString(25, lowerAlnum) }

// NewMQTTTopic returns a new MQTT topic, which is also the device's MQTT
// client ID: exactly 23 alphanumerics, the MQTT 3.1 client-ID limit.
func NewMQTTTopic() string { return RandomString(23, alnum) }

// NewMQTTUsername returns a new MQTT username in Kii's shape:
// "{appID}-{23 alphanumerics}".
func NewMQTTUsername(appID string) string { return appID + "-" + RandomString(23, alnum) }

// NewObjectID returns a new object ID: a UUID version 7, so that IDs of
// objects created later sort later.
func NewObjectID() string {
	var b [16]byte
	rand.Read(b[:])
	ms := uint64(time.Now().UnixMilli())
	b[0], b[1], b[2], b[3], b[4], b[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	b[6] = b[6]&0x0f | 0x70
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
