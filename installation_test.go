package kumo

import "testing"

func TestParseDeviceType(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"MQTT", DeviceMQTT, true},
		{"mqtt", DeviceMQTT, true},
		{"IOS", DeviceIOS, true},
		{"ios", DeviceIOS, true},
		{"ANDROID", DeviceAndroid, true},
		{"GCM", DeviceAndroid, true},
		{"fcm", DeviceAndroid, true},
		{"JPUSH", DeviceJPush, true},
		{"", "", false},
		{"FAX", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := ParseDeviceType(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Errorf("ParseDeviceType(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}
