// Package seed fills the demo orders table (DESIGN.md) with realistic
// orders, a controlled share of them defective, so that the data-quality
// step has something to reject. It streams rows to PostgreSQL with COPY.
//
// The `lake seed` command and the benchmarks import it.
package seed

import (
	"context"
	"fmt"
	"math/big"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// OrdersDDL creates the demo source table, exactly as DESIGN.md gives it.
const OrdersDDL = `CREATE TABLE IF NOT EXISTS orders (
  order_id    bigint PRIMARY KEY,
  customer_id bigint,
  status      text,
  amount      numeric(12,2),
  currency    text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
)`

// ValidStatuses are the statuses the orders ruleset accepts.
var ValidStatuses = []string{"PENDING", "PAID", "SHIPPED", "DELIVERED", "CANCELLED", "RETURNED"}

// Defect kinds, as reported in Summary.Defects.
const (
	InvalidStatus     = "invalid_status"     // status outside ValidStatuses
	MissingCustomer   = "missing_customer"   // customer_id NULL
	NegativeAmount    = "negative_amount"    // amount < 0
	MalformedCurrency = "malformed_currency" // not a three-letter upper-case ISO code
)

var defectKinds = []string{InvalidStatus, MissingCustomer, NegativeAmount, MalformedCurrency}

var (
	invalidStatuses    = []string{"paid", "UNKNOWN", "SHIPPD", "REFUNDED", ""}
	validCurrencies    = []string{"USD", "USD", "USD", "EUR", "EUR", "GBP", "JPY", "CAD", "CHF", "AUD"}
	malformedCurrences = []string{"US", "usd", "EURO", "€", "12X", " GBP"}
	// statusWeights skews the valid statuses towards the common ones.
	statusWeights = []int{15, 25, 20, 30, 6, 4}
)

// Options say what to seed.
type Options struct {
	Rows int64
	// Defects is the share of rows, in [0, 1], with exactly one defect
	// each, of a kind chosen uniformly.
	Defects float64
	// Seed makes the rows reproducible: the same seed over the same table
	// state gives the same rows (updated_at aside, which is the time of
	// the seeding transaction, as the table's default gives it).
	Seed uint64
	// Span is the time over which the orders' created_at is spread, ending
	// where the default 30 days end (2026-10-31 UTC); 0 is DefaultSpan.
	// A year (365 days) fills twelve monthly partitions.
	Span time.Duration
}

// DefaultSpan is the time over which orders are created unless
// Options.Span says otherwise.
const DefaultSpan = 30 * 24 * time.Hour

// Summary is what Run did.
type Summary struct {
	Table        string           `json:"table"`
	Rows         int64            `json:"rows"`
	FirstOrderID int64            `json:"first_order_id,omitempty"`
	LastOrderID  int64            `json:"last_order_id,omitempty"`
	Valid        int64            `json:"valid_rows"`
	Defects      map[string]int64 `json:"defects"`
	Seconds      float64          `json:"seconds"`
}

// createdEnd is the end of the span over which orders are created:
// fixed, so that a seed gives the same rows whenever it runs.
var createdEnd = time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC)

// Run creates the orders table if it is missing and appends opts.Rows
// orders after the highest existing order_id, in one transaction.
func Run(ctx context.Context, conn *pgx.Conn, opts Options) (Summary, error) {
	if opts.Rows < 0 || opts.Defects < 0 || opts.Defects > 1 {
		return Summary{}, fmt.Errorf("seed: rows must be >= 0 and defects in [0, 1], got %d and %g", opts.Rows, opts.Defects)
	}
	switch {
	case opts.Span == 0:
		opts.Span = DefaultSpan
	case opts.Span < time.Second:
		return Summary{}, fmt.Errorf("seed: span must be at least a second, got %s", opts.Span)
	}
	start := time.Now()
	sum := Summary{Table: "orders", Defects: map[string]int64{}}
	for _, k := range defectKinds {
		sum.Defects[k] = 0
	}
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, OrdersDDL); err != nil {
			return fmt.Errorf("seed: create orders: %w", err)
		}
		var maxID int64
		if err := tx.QueryRow(ctx, "SELECT coalesce(max(order_id), 0) FROM orders").Scan(&maxID); err != nil {
			return fmt.Errorf("seed: read max order_id: %w", err)
		}
		g := newGenerator(opts, maxID+1, sum.Defects)
		n, err := tx.CopyFrom(ctx, pgx.Identifier{"orders"},
			[]string{"order_id", "customer_id", "status", "amount", "currency", "created_at"}, g)
		if err != nil {
			return fmt.Errorf("seed: copy into orders: %w", err)
		}
		sum.Rows = n
		if n > 0 {
			sum.FirstOrderID, sum.LastOrderID = maxID+1, maxID+n
		}
		return nil
	})
	if err != nil {
		return Summary{}, err
	}
	sum.Valid = sum.Rows
	for _, n := range sum.Defects {
		sum.Valid -= n
	}
	sum.Seconds = time.Since(start).Seconds()
	return sum, nil
}

// UpdateSummary is what Update did.
type UpdateSummary struct {
	Table   string  `json:"table"`
	Updated int64   `json:"updated_rows"`
	Seconds float64 `json:"seconds"`
}

// Update advances the status of about fraction of the orders (a
// deterministic choice for a given seed) and stamps updated_at = now(),
// as an application would: new row versions for an incremental ingest.
func Update(ctx context.Context, conn *pgx.Conn, fraction float64, seed uint64) (UpdateSummary, error) {
	if fraction < 0 || fraction > 1 {
		return UpdateSummary{}, fmt.Errorf("seed: update fraction must be in [0, 1], got %g", fraction)
	}
	start := time.Now()
	tag, err := conn.Exec(ctx, `UPDATE orders SET
  status = CASE status WHEN 'PENDING' THEN 'PAID' WHEN 'PAID' THEN 'SHIPPED'
                       WHEN 'SHIPPED' THEN 'DELIVERED' ELSE status END,
  updated_at = now()
WHERE (hashint8(order_id # $1::bigint)::bigint + 2147483648) % 1000000 < $2::bigint`,
		int64(seed), int64(fraction*1_000_000))
	if err != nil {
		return UpdateSummary{}, fmt.Errorf("seed: update orders: %w", err)
	}
	return UpdateSummary{Table: "orders", Updated: tag.RowsAffected(), Seconds: time.Since(start).Seconds()}, nil
}

// generator is a pgx.CopyFromSource of orders. It reuses its row slice:
// CopyFrom encodes each row before asking for the next.
type generator struct {
	rnd     *rand.Rand
	opts    Options
	next    int64
	left    int64
	defects map[string]int64
	row     []any
	amount  big.Int
}

func newGenerator(opts Options, firstID int64, defects map[string]int64) *generator {
	return &generator{
		rnd:     rand.New(rand.NewPCG(opts.Seed, uint64(firstID))),
		opts:    opts,
		next:    firstID,
		left:    opts.Rows,
		defects: defects,
		row:     make([]any, 6),
	}
}

func (g *generator) Next() bool {
	if g.left == 0 {
		return false
	}
	g.left--
	r := g.rnd
	id := g.next
	g.next++

	customer := any(int64(1 + r.IntN(200_000)))
	status := ValidStatuses[weighted(r, statusWeights)]
	// Amounts between 1.00 and about 5,000.00, most of them small.
	cents := int64(100 + r.ExpFloat64()*8000)
	if cents > 99_999_999 {
		cents = 99_999_999
	}
	currency := validCurrencies[r.IntN(len(validCurrencies))]
	if r.Float64() < g.opts.Defects {
		kind := defectKinds[r.IntN(len(defectKinds))]
		g.defects[kind]++
		switch kind {
		case InvalidStatus:
			status = invalidStatuses[r.IntN(len(invalidStatuses))]
		case MissingCustomer:
			customer = nil
		case NegativeAmount:
			cents = -cents
		case MalformedCurrency:
			currency = malformedCurrences[r.IntN(len(malformedCurrences))]
		}
	}
	created := createdEnd.Add(-g.opts.Span + time.Duration(r.Int64N(int64(g.opts.Span/time.Microsecond)))*time.Microsecond)

	g.amount.SetInt64(cents)
	g.row[0] = id
	g.row[1] = customer
	g.row[2] = status
	g.row[3] = pgtype.Numeric{Int: &g.amount, Exp: -2, Valid: true}
	g.row[4] = currency
	g.row[5] = created
	return true
}

func (g *generator) Values() ([]any, error) { return g.row, nil }

func (g *generator) Err() error { return nil }

// weighted picks an index with probability proportional to its weight.
func weighted(r *rand.Rand, weights []int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	n := r.IntN(total)
	for i, w := range weights {
		if n < w {
			return i
		}
		n -= w
	}
	return len(weights) - 1
}
