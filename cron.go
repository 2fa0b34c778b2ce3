package kumo

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Cron is a parsed five-field cron schedule (minute, hour, day of month,
// month, day of week), read in UTC as Kii's schedules are. Each field is
// "*", a value, a range "a-b", a list "a,b,c" of those, each optionally
// stepped ("*/5", "0/2", "10-30/5"); months and days of the week may be
// named (JAN-DEC, SUN-SAT), and Sunday is 0 or 7. As in Unix cron, when
// both the day of month and the day of week are restricted a day matching
// either one matches.
type Cron struct {
	minute, hour, dom, month, dow uint64 // bit i set: value i matches
	domAny, dowAny                bool   // the field was "*"
}

// cronField is one field's bounds and names.
type cronField struct {
	name     string
	min, max int
	names    []string // names[i] is value min+i
}

var cronFields = [5]cronField{
	{name: "minute", min: 0, max: 59},
	{name: "hour", min: 0, max: 23},
	{name: "day of month", min: 1, max: 31},
	{name: "month", min: 1, max: 12, names: []string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}},
	{name: "day of week", min: 0, max: 7, names: []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}},
}

// ParseCron parses a five-field cron schedule; the error says what is
// wrong in it.
func ParseCron(s string) (Cron, error) {
	fs := strings.Fields(s)
	if len(fs) != 5 {
		return Cron{}, fmt.Errorf("a schedule has 5 fields (minute hour day-of-month month day-of-week), %q has %d", s, len(fs))
	}
	var bits [5]uint64
	for i, f := range fs {
		b, err := parseCronField(f, cronFields[i])
		if err != nil {
			return Cron{}, err
		}
		bits[i] = b
	}
	c := Cron{minute: bits[0], hour: bits[1], dom: bits[2], month: bits[3], dow: bits[4], domAny: fs[2] == "*", dowAny: fs[4] == "*"}
	if c.dow&(1<<7) != 0 { // Sunday written 7
		c.dow |= 1
	}
	return c, nil
}

func parseCronField(s string, f cronField) (uint64, error) {
	var bits uint64
	for _, part := range strings.Split(s, ",") {
		rng, step := part, 1
		r, st, stepped := strings.Cut(part, "/")
		if stepped {
			n, err := strconv.Atoi(st)
			if err != nil || n < 1 || n > f.max {
				return 0, fmt.Errorf("the step of %q in the %s field is not a number from 1 to %d", part, f.name, f.max)
			}
			rng, step = r, n
		}
		lo, hi := f.min, f.max
		switch {
		case rng == "*":
			if f.max == 7 {
				hi = 6 // every day of the week, Sunday once
			}
		default:
			a, b, isRange := strings.Cut(rng, "-")
			var err error
			if lo, err = cronValue(a, f); err != nil {
				return 0, err
			}
			hi = lo
			if isRange {
				if hi, err = cronValue(b, f); err != nil {
					return 0, err
				}
				if hi < lo {
					return 0, fmt.Errorf("the range %q in the %s field goes backwards", rng, f.name)
				}
			} else if stepped {
				hi = f.max // "a/n": from a to the end, every n ("0/1" is every value)
			}
		}
		for v := lo; v <= hi; v += step {
			bits |= 1 << v
		}
	}
	return bits, nil
}

func cronValue(s string, f cronField) (int, error) {
	for i, n := range f.names {
		if strings.EqualFold(s, n) {
			return f.min + i, nil
		}
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < f.min || v > f.max {
		return 0, fmt.Errorf("%q is not a value of the %s field (%d-%d)", s, f.name, f.min, f.max)
	}
	return v, nil
}

// cronHorizon is how far Next looks: a schedule with no time within it
// (February 30th) never fires.
const cronHorizon = 5 * 366 * 24 * time.Hour

// Next returns the first time the schedule matches strictly after t, at
// a whole minute in UTC; the zero time when it matches none within five
// years.
func (c Cron) Next(t time.Time) time.Time {
	t = t.UTC().Truncate(time.Minute).Add(time.Minute)
	end := t.Add(cronHorizon)
	for t.Before(end) {
		switch {
		case c.month&(1<<uint(t.Month())) == 0:
			t = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, time.UTC)
		case !c.dayMatches(t):
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, time.UTC)
		case c.hour&(1<<uint(t.Hour())) == 0:
			t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour()+1, 0, 0, 0, time.UTC)
		case c.minute&(1<<uint(t.Minute())) == 0:
			t = t.Add(time.Minute)
		default:
			return t
		}
	}
	return time.Time{}
}

func (c Cron) dayMatches(t time.Time) bool {
	dom := c.dom&(1<<uint(t.Day())) != 0
	dow := c.dow&(1<<uint(t.Weekday())) != 0
	if c.domAny || c.dowAny {
		return dom && dow
	}
	return dom || dow
}
