package seed_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/medallionlake/lake/internal/seed"
	"github.com/medallionlake/lake/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func connect(t *testing.T) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), testenv.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// defectCounts counts each defect kind with SQL, independently of the
// seeder's own bookkeeping.
const defectCounts = `SELECT
  count(*) FILTER (WHERE status IS NULL OR status NOT IN ('PENDING','PAID','SHIPPED','DELIVERED','CANCELLED','RETURNED')),
  count(*) FILTER (WHERE customer_id IS NULL),
  count(*) FILTER (WHERE amount < 0),
  count(*) FILTER (WHERE currency !~ '^[A-Z]{3}$'),
  count(*)
FROM orders`

// fingerprint digests every column but updated_at, in order_id order.
const fingerprint = `SELECT md5(string_agg(concat_ws('|', order_id, customer_id, status, amount, currency, created_at), ',' ORDER BY order_id)) FROM orders`

func TestRun(t *testing.T) {
	ctx := context.Background()
	conn := connect(t)
	sum, err := seed.Run(ctx, conn, seed.Options{Rows: 20_000, Defects: 0.2, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := sum.Rows, int64(20_000); got != want {
		t.Errorf("rows = %d, want %d", got, want)
	}
	if sum.FirstOrderID != 1 || sum.LastOrderID != 20_000 {
		t.Errorf("order ids %d..%d, want 1..20000", sum.FirstOrderID, sum.LastOrderID)
	}
	var status, customer, amount, currency, total int64
	if err := conn.QueryRow(ctx, defectCounts).Scan(&status, &customer, &amount, &currency, &total); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		kind      string
		got, want int64
	}{
		{seed.InvalidStatus, status, sum.Defects[seed.InvalidStatus]},
		{seed.MissingCustomer, customer, sum.Defects[seed.MissingCustomer]},
		{seed.NegativeAmount, amount, sum.Defects[seed.NegativeAmount]},
		{seed.MalformedCurrency, currency, sum.Defects[seed.MalformedCurrency]},
	} {
		if c.got != c.want {
			t.Errorf("%s: %d rows in the table, summary says %d", c.kind, c.got, c.want)
		}
		// 20% defects over four kinds: about 1000 each.
		if c.got < 800 || c.got > 1200 {
			t.Errorf("%s: %d rows, want about 1000", c.kind, c.got)
		}
	}
	if got, want := sum.Valid, total-status-customer-amount-currency; got != want {
		t.Errorf("valid rows = %d, want %d", got, want)
	}

	// A second run appends after the highest order_id.
	sum2, err := seed.Run(ctx, conn, seed.Options{Rows: 10, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if sum2.FirstOrderID != 20_001 || sum2.LastOrderID != 20_010 || sum2.Valid != 10 {
		t.Errorf("second run = %+v, want ids 20001..20010, all valid", sum2)
	}
}

func TestDeterministic(t *testing.T) {
	ctx := context.Background()
	var prints []string
	for range 2 {
		conn := connect(t)
		if _, err := seed.Run(ctx, conn, seed.Options{Rows: 5_000, Defects: 0.1, Seed: 42}); err != nil {
			t.Fatal(err)
		}
		var p string
		if err := conn.QueryRow(ctx, fingerprint).Scan(&p); err != nil {
			t.Fatal(err)
		}
		prints = append(prints, p)
	}
	if prints[0] != prints[1] {
		t.Errorf("same seed, different rows: %s vs %s", prints[0], prints[1])
	}
	conn := connect(t)
	if _, err := seed.Run(ctx, conn, seed.Options{Rows: 5_000, Defects: 0.1, Seed: 43}); err != nil {
		t.Fatal(err)
	}
	var other string
	if err := conn.QueryRow(ctx, fingerprint).Scan(&other); err != nil {
		t.Fatal(err)
	}
	if other == prints[0] {
		t.Error("different seeds gave the same rows")
	}
}

func TestUpdate(t *testing.T) {
	ctx := context.Background()
	conn := connect(t)
	if _, err := seed.Run(ctx, conn, seed.Options{Rows: 10_000, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	var before time.Time
	if err := conn.QueryRow(ctx, "SELECT max(updated_at) FROM orders").Scan(&before); err != nil {
		t.Fatal(err)
	}
	u, err := seed.Update(ctx, conn, 0.1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if u.Updated < 800 || u.Updated > 1200 {
		t.Errorf("updated %d rows, want about 1000", u.Updated)
	}
	var newer int64
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM orders WHERE updated_at > $1", before).Scan(&newer); err != nil {
		t.Fatal(err)
	}
	if newer != u.Updated {
		t.Errorf("%d rows have a newer updated_at, want %d", newer, u.Updated)
	}
}

func TestRejectsBadOptions(t *testing.T) {
	conn := connect(t)
	for _, o := range []seed.Options{{Rows: -1}, {Rows: 1, Defects: 1.5}, {Rows: 1, Defects: -0.1}, {Rows: 1, Span: -time.Hour}, {Rows: 1, Span: time.Millisecond}} {
		if _, err := seed.Run(context.Background(), conn, o); err == nil {
			t.Errorf("Run(%+v) succeeded, want an error", o)
		}
	}
}

func TestSpan(t *testing.T) {
	end := time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name   string
		span   time.Duration
		months int64
	}{
		{"default, 30 days", 0, 1},
		{"a year: the last day of October 2025 and twelve months", 365 * 24 * time.Hour, 13},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			conn := connect(t)
			if _, err := seed.Run(ctx, conn, seed.Options{Rows: 20_000, Seed: 5, Span: c.span}); err != nil {
				t.Fatal(err)
			}
			span := c.span
			if span == 0 {
				span = seed.DefaultSpan
			}
			var first, last time.Time
			var months int64
			if err := conn.QueryRow(ctx, "SELECT min(created_at), max(created_at), count(DISTINCT date_trunc('month', created_at AT TIME ZONE 'UTC')) FROM orders").Scan(&first, &last, &months); err != nil {
				t.Fatal(err)
			}
			if first.Before(end.Add(-span)) || !last.Before(end) {
				t.Errorf("created_at from %s to %s, want within [%s, %s)", first, last, end.Add(-span), end)
			}
			if first.After(end.Add(-span+span/100)) || last.Before(end.Add(-span/100)) {
				t.Errorf("created_at from %s to %s, want it to fill [%s, %s)", first, last, end.Add(-span), end)
			}
			if months != c.months {
				t.Errorf("orders in %d months, want %d", months, c.months)
			}
		})
	}
}
