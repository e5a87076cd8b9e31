package query_test

import (
	"strings"
	"testing"
	"time"

	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/icetable"
	"github.com/medallionlake/lake/internal/query"
	"github.com/medallionlake/lake/internal/query/format"
)

func TestParseAsOf(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"2025-01-31T10:00:00Z", time.Date(2025, 1, 31, 10, 0, 0, 0, time.UTC)},
		{"2025-01-31T11:00:00.25+01:00", time.Date(2025, 1, 31, 10, 0, 0, 250_000_000, time.UTC)},
		{"2025-01-31", time.Date(2025, 1, 31, 0, 0, 0, 0, time.UTC)},
	} {
		got, err := query.ParseAsOf(tc.in)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("ParseAsOf(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "yesterday", "2025-01-31 10:00:00", "2025-13-01", "1738317600"} {
		if _, err := query.ParseAsOf(bad); err == nil || !strings.Contains(err.Error(), "want RFC 3339") {
			t.Errorf("ParseAsOf(%q) = %v, want an error saying what is accepted", bad, err)
		}
	}
}

// TestAsOf reads the tables as they were after each commit of the
// fixture: before a commit and after it.
func TestAsOf(t *testing.T) {
	l := newLake(t)
	before := time.Now().Add(-time.Hour)
	h := l.fill(t)
	const q = `SELECT (SELECT string_agg(order_id || ':' || status, ' ' ORDER BY order_id) FROM silver.orders_current) AS current,
		(SELECT count(*) FROM silver.orders) AS silver, (SELECT count(*) FROM discarded.orders) AS discarded`
	for _, tc := range []struct {
		description string
		asOf        time.Time
		want        string
	}{
		{"before the first commit: every table was empty", before, "current,silver,discarded\n,0,0\n"},
		{"after the first object", h.o1, "current,silver,discarded\n1:PENDING 3:PENDING,2,0\n"},
		{"after the second, before its rejected rows (discarded's first commit)", h.o2, "current,silver,discarded\n1:PAID 2:PENDING 3:CANCELLED,5,0\n"},
		{"after the rejected rows", h.d2, "current,silver,discarded\n1:PAID 2:PENDING 3:CANCELLED,5,1\n"},
		{"after the late object", h.o4, "current,silver,discarded\n1:SHIPPED 2:PENDING 3:RETURNED,8,1\n"},
		{"now", time.Time{}, "current,silver,discarded\n1:SHIPPED 2:PENDING 3:RETURNED,8,1\n"},
	} {
		t.Run(tc.description, func(t *testing.T) {
			e := l.open(t, query.Options{AsOf: tc.asOf})
			if got := run(t, e, format.CSV, q); got != tc.want {
				t.Errorf("as of %s:\n got %q\nwant %q", tc.asOf, got, tc.want)
			}
			for _, s := range e.Snapshots() {
				if !tc.asOf.IsZero() && s.SnapshotID != 0 && s.Timestamp.After(tc.asOf) {
					t.Errorf("%s read at snapshot %d of %s, after %s", s.Table, s.SnapshotID, s.Timestamp, tc.asOf)
				}
			}
		})
	}
	// A column added later: as of before it, the table's schema then has
	// no such column.
	e := l.open(t, query.Options{AsOf: h.o2})
	if _, err := runErr(e, format.CSV, "SELECT note FROM silver.orders"); err == nil || !strings.Contains(err.Error(), "Binder Error") {
		t.Errorf("note as of before it was added: %v, want a Binder Error", err)
	}
}

// TestAsOfBeforeRetention expires the snapshots of silver and _current
// older than a short retention: a time before the oldest snapshot kept is
// an error naming that snapshot, raised only by a statement that reads
// such a table.
func TestAsOfBeforeRetention(t *testing.T) {
	l := newLake(t)
	h := l.fill(t)
	// Shorter than any contract may say; long enough that the snapshots
	// maintenance commits are inside it on a busy machine.
	l.t.SnapshotRetention = contract.Duration(time.Second)
	time.Sleep(1500 * time.Millisecond)
	for _, kind := range []icetable.Kind{icetable.Silver, icetable.Current} {
		m, err := l.ice.Maintain(ctx, kind, l.t, icetable.MaintainOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if m.ExpiredSnapshots == 0 {
			t.Fatalf("maintenance of %s expired no snapshot: %+v", kind, m)
		}
	}
	e := l.open(t, query.Options{AsOf: h.o1})
	for _, table := range []string{"silver.orders", "silver.orders_current"} {
		_, err := runErr(e, format.CSV, "SELECT count(*) FROM "+table)
		if err == nil || !strings.Contains(err.Error(), table+" has no snapshot at or before "+h.o1.UTC().Format(time.RFC3339Nano)) ||
			!strings.Contains(err.Error(), "its oldest kept snapshot is of") {
			t.Errorf("%s as of before the retention: %v, want an error naming the oldest kept snapshot", table, err)
		}
	}
	// discarded.orders kept its whole history (one snapshot, no parent):
	// it was empty then. meta is read as it is.
	if got, want := run(t, e, format.CSV, "SELECT (SELECT count(*) FROM discarded.orders) AS d, (SELECT count(*) FROM meta.watermarks) AS m"), "d,m\n0,1\n"; got != want {
		t.Errorf("the other tables: %q, want %q", got, want)
	}
	// The last snapshot before the retention's start is kept: the state
	// after the late object reads whole.
	if got, want := run(t, l.open(t, query.Options{AsOf: h.o4}), format.CSV, "SELECT count(*) AS n FROM silver.orders_current"), "n\n3\n"; got != want {
		t.Errorf("as of the kept snapshot: %q, want %q", got, want)
	}
}
