package query

import (
	"fmt"
	"time"
)

// ParseAsOf reads the time of a time-travel query (`lake query --as-of`):
// RFC 3339 (2025-01-31T10:00:00Z, 2025-01-31T11:00:00.5+01:00) or a plain
// date (2025-01-31), which means the start of that day in UTC.
func ParseAsOf(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("query: as-of time %q: want RFC 3339 (2025-01-31T10:00:00Z, or with an offset such as +01:00) or a date (2025-01-31, from 00:00 UTC)", s)
}
