package kumo

import "testing"

// TestCronStepOverflow: a step near MaxInt64 overflows the loop
// variable of parseCronField; 1<<negative panics (a 500, or a crashed
// REST-over-MQTT goroutine) instead of an error.
func TestCronStepOverflow(t *testing.T) {
	for _, s := range []string{"1/9223372036854775807 * * * *", "0 0 1/9223372036854775800 * *"} {
		func() {
			defer func() {
				if v := recover(); v != nil {
					t.Errorf("ParseCron(%q) panics: %v", s, v)
				}
			}()
			ParseCron(s)
		}()
	}
}
