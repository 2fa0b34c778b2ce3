package kumo

import (
	"testing"
	"time"
)

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

// TestCronStepOne: "a/1" is every value from a (beehive schedules a job
// with "0/1 * * * *", every minute; server-code.md §4.5); it was read as
// "a" alone.
func TestCronStepOne(t *testing.T) {
	c, err := ParseCron("0/1 * * * *")
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 1, 1, 10, 5, 0, 0, time.UTC)
	if got := c.Next(from); !got.Equal(from.Add(time.Minute)) {
		t.Errorf("0/1: next after 10:05 is %v, want 10:06", got)
	}
	c, _ = ParseCron("30/1 * * * *")
	if got := c.Next(from); !got.Equal(from.Add(25 * time.Minute)) {
		t.Errorf("30/1: next after 10:05 is %v, want 10:30", got)
	}
}
