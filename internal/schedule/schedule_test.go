package schedule

import (
	"strings"
	"testing"
	"time"
)

func TestNext(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		expr, from, want string
	}{
		{"rate(1 minute)", "2026-11-26T12:00:30Z", "2026-11-26T12:01:00Z"},
		{"rate(5 minutes)", "2026-11-26T12:03:00Z", "2026-11-26T12:05:00Z"},
		{"rate(5 minutes)", "2026-11-26T12:05:00Z", "2026-11-26T12:10:00Z"},
		{"rate(2 hours)", "2026-11-26T13:00:00Z", "2026-11-26T14:00:00Z"},
		{"rate(1 day)", "2026-11-26T13:00:00Z", "2026-11-27T00:00:00Z"},
		// The AWS documentation's examples.
		{"cron(0 10 * * ? *)", "2026-11-26T12:00:00Z", "2026-11-27T10:00:00Z"},
		{"cron(15 12 * * ? *)", "2026-11-26T12:00:00Z", "2026-11-26T12:15:00Z"},
		{"cron(0 18 ? * MON-FRI *)", "2026-11-27T18:00:00Z", "2026-11-30T18:00:00Z"}, // Friday 18:00 -> Monday
		{"cron(0 8 1 * ? *)", "2026-11-26T12:00:00Z", "2026-12-01T08:00:00Z"},
		{"cron(0/15 * * * ? *)", "2026-11-26T12:01:00Z", "2026-11-26T12:15:00Z"},
		{"cron(0/10 * ? * MON-FRI *)", "2026-11-28T12:00:00Z", "2026-11-30T00:00:00Z"}, // Saturday -> Monday
		{"cron(0/5 8-17 ? * MON-FRI *)", "2026-11-26T17:56:00Z", "2026-11-27T08:00:00Z"},
		{"cron(30 2 29 FEB ? *)", "2026-11-26T00:00:00Z", "2028-02-29T02:30:00Z"},
		{"cron(0 0 1 1 ? 2027)", "2027-06-01T00:00:00Z", "0001-01-01T00:00:00Z"}, // never again
	}
	for _, tt := range tests {
		t.Run(tt.expr+"@"+tt.from, func(t *testing.T) {
			s, err := Parse(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := s.Next(at(tt.from)), at(tt.want); !got.Equal(want) {
				t.Errorf("Next(%s) = %s, want %s", tt.from, got.Format(time.RFC3339), want.Format(time.RFC3339))
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ expr, want string }{
		{"every 5 minutes", "want rate("},
		{"rate(0 minutes)", "not a positive whole number"},
		{"rate(1 minutes)", "singular unit"},
		{"rate(5 minute)", "plural unit"},
		{"rate(5 weeks)", "not minute(s), hour(s) or day(s)"},
		{"cron(0 10 * * *)", "6 fields"},
		{"cron(0 10 * * * *)", "exactly one of day-of-month and day-of-week"},
		{"cron(0 10 ? * ? *)", "exactly one of day-of-month and day-of-week"},
		{"cron(61 10 * * ? *)", "minutes: 61 is outside 0-59"},
		{"cron(0 9 ? * 2#1 *)", "not supported"},
		{"cron(0 9 L * ? *)", "not supported"},
		{"cron(0 5-2 * * ? *)", "runs backwards"},
		{"cron(? 9 * * ? *)", "minutes cannot be ?"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			_, err := Parse(tt.expr)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse(%q) error = %v, want it to contain %q", tt.expr, err, tt.want)
			}
		})
	}
}
