// Package schedule parses EventBridge schedule expressions, rate(...) and
// cron(...), and computes when they fire next, so that `lake serve` starts
// the pipeline on the same schedule that template.yaml gives EventBridge
// Scheduler. Times are UTC, as EventBridge's default.
package schedule

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Schedule says when a schedule fires next.
type Schedule interface {
	// Next returns the first firing time strictly after t.
	Next(t time.Time) time.Time
}

// Parse parses "rate(N unit)" or "cron(min hour dom month dow year)".
func Parse(expr string) (Schedule, error) {
	e := strings.TrimSpace(expr)
	switch {
	case strings.HasPrefix(e, "rate(") && strings.HasSuffix(e, ")"):
		return parseRate(expr, e[len("rate("):len(e)-1])
	case strings.HasPrefix(e, "cron(") && strings.HasSuffix(e, ")"):
		return parseCron(expr, e[len("cron("):len(e)-1])
	}
	return nil, fmt.Errorf("schedule %q: want rate(N minutes|hours|days) or cron(minutes hours day-of-month month day-of-week year)", expr)
}

// rate fires every d, aligned on the Unix epoch.
type rate struct{ d time.Duration }

func (r rate) Next(t time.Time) time.Time {
	return t.Truncate(r.d).Add(r.d).UTC()
}

func parseRate(expr, body string) (Schedule, error) {
	f := strings.Fields(body)
	if len(f) != 2 {
		return nil, fmt.Errorf("schedule %q: want rate(value unit)", expr)
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n <= 0 {
		return nil, fmt.Errorf("schedule %q: value %q is not a positive whole number", expr, f[0])
	}
	units := map[string]time.Duration{"minute": time.Minute, "hour": time.Hour, "day": 24 * time.Hour}
	unit := f[1]
	if n == 1 && strings.HasSuffix(unit, "s") {
		return nil, fmt.Errorf("schedule %q: a value of 1 takes the singular unit (%s)", expr, strings.TrimSuffix(unit, "s"))
	}
	if n > 1 && !strings.HasSuffix(unit, "s") {
		return nil, fmt.Errorf("schedule %q: a value above 1 takes the plural unit (%ss)", expr, unit)
	}
	d, ok := units[strings.TrimSuffix(unit, "s")]
	if !ok {
		return nil, fmt.Errorf("schedule %q: unit %q is not minute(s), hour(s) or day(s)", expr, unit)
	}
	return rate{time.Duration(n) * d}, nil
}

// cron is an EventBridge cron expression: each field is the set of values
// it allows; a "?" day field leaves the choice to the other day field.
type cron struct {
	minutes, hours, dom, months, dow, years set
	domAny, dowAny                          bool
}

type set map[int]bool

var (
	monthNames = map[string]int{"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6, "JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12}
	dayNames   = map[string]int{"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
)

func parseCron(expr, body string) (Schedule, error) {
	f := strings.Fields(body)
	if len(f) != 6 {
		return nil, fmt.Errorf("schedule %q: cron takes 6 fields (minutes hours day-of-month month day-of-week year), got %d", expr, len(f))
	}
	var c cron
	specs := []struct {
		name     string
		lo, hi   int
		names    map[string]int
		dst      *set
		anyOK    bool
		wildcard *bool
	}{
		{"minutes", 0, 59, nil, &c.minutes, false, nil},
		{"hours", 0, 23, nil, &c.hours, false, nil},
		{"day-of-month", 1, 31, nil, &c.dom, true, &c.domAny},
		{"month", 1, 12, monthNames, &c.months, false, nil},
		{"day-of-week", 1, 7, dayNames, &c.dow, true, &c.dowAny},
		{"year", 1970, 2199, nil, &c.years, false, nil},
	}
	for i, s := range specs {
		if f[i] == "?" {
			if !s.anyOK {
				return nil, fmt.Errorf("schedule %q: %s cannot be ?", expr, s.name)
			}
			*s.wildcard = true
			continue
		}
		vals, err := parseField(f[i], s.lo, s.hi, s.names)
		if err != nil {
			return nil, fmt.Errorf("schedule %q: %s: %v", expr, s.name, err)
		}
		*s.dst = vals
	}
	if c.domAny == c.dowAny {
		return nil, fmt.Errorf("schedule %q: exactly one of day-of-month and day-of-week must be ?", expr)
	}
	return c, nil
}

// parseField parses one cron field: *, a value, a range a-b, a list of
// those, each optionally with a /step. L, W and # are refused.
func parseField(field string, lo, hi int, names map[string]int) (set, error) {
	out := set{}
	for _, part := range strings.Split(field, ",") {
		step := 1
		if base, s, ok := strings.Cut(part, "/"); ok {
			n, err := strconv.Atoi(s)
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("step %q is not a positive whole number", s)
			}
			part, step = base, n
		}
		from, to := lo, hi
		switch {
		case part == "*":
		case strings.ContainsAny(part, "LW#"):
			return nil, fmt.Errorf("%q: L, W and # are not supported by lake serve", part)
		default:
			a, b, isRange := strings.Cut(part, "-")
			var err error
			if from, err = value(a, lo, hi, names); err != nil {
				return nil, err
			}
			to = from
			if isRange {
				if to, err = value(b, lo, hi, names); err != nil {
					return nil, err
				}
			} else if step > 1 {
				to = hi // "5/15" means from 5 every 15
			}
			if to < from {
				return nil, fmt.Errorf("range %q runs backwards", part)
			}
		}
		for v := from; v <= to; v += step {
			out[v] = true
		}
	}
	return out, nil
}

func value(s string, lo, hi int, names map[string]int) (int, error) {
	if v, ok := names[strings.ToUpper(s)]; ok {
		return v, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	if v < lo || v > hi {
		return 0, fmt.Errorf("%d is outside %d-%d", v, lo, hi)
	}
	return v, nil
}

// Next searches forward minute by minute, skipping whole days and hours
// that cannot match; it gives up (returning the zero time) past 2199.
func (c cron) Next(t time.Time) time.Time {
	t = t.UTC().Truncate(time.Minute).Add(time.Minute)
	for t.Year() <= 2199 {
		if !c.years[t.Year()] || !c.months[int(t.Month())] || !c.day(t) {
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, time.UTC)
			continue
		}
		if !c.hours[t.Hour()] {
			t = t.Truncate(time.Hour).Add(time.Hour)
			continue
		}
		if !c.minutes[t.Minute()] {
			t = t.Add(time.Minute)
			continue
		}
		return t
	}
	return time.Time{}
}

func (c cron) day(t time.Time) bool {
	if c.domAny {
		return c.dow[int(t.Weekday())+1]
	}
	return c.dom[t.Day()]
}
