package dq_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/parquet"

	vt "github.com/medallionlake/lake/internal/bronze/bronzetest"
)

// defects are the generator's defect rates (fractions of rows).
type defects struct {
	badStatus, dupID, nullCustomer, negAmount, nullAmount, badCurrency, updatedBeforeCreated, future float64
}

var benchDefects = defects{
	badStatus: 0.01, dupID: 0.005, nullCustomer: 0.01, negAmount: 0.005, nullAmount: 0.002,
	badCurrency: 0.01, updatedBeforeCreated: 0.003, future: 0.001,
}

var statuses = []string{"PENDING", "PAID", "SHIPPED", "DELIVERED", "CANCELLED", "RETURNED"}

// genOrder makes row i with the given defect rates, deterministically.
func genOrder(rng *rand.Rand, i int64, d defects, base time.Time) vt.Order {
	o := vt.Order{
		ID:          vt.P(i + 1),
		Customer:    vt.P(1 + rng.Int64N(100000)),
		Status:      vt.P(statuses[rng.IntN(len(statuses))]),
		AmountCents: vt.P(rng.Int64N(5_000_00)),
		Currency:    vt.P([]string{"EUR", "USD", "GBP"}[rng.IntN(3)]),
	}
	c := base.Add(time.Duration(rng.Int64N(int64(300 * 24 * time.Hour))))
	u := c.Add(time.Duration(rng.Int64N(int64(48 * time.Hour))))
	o.CreatedAt, o.UpdatedAt = &c, &u
	if rng.Float64() < d.badStatus {
		o.Status = vt.P([]string{"paid", "UNKNOWN", ""}[rng.IntN(3)])
	}
	if i > 0 && rng.Float64() < d.dupID {
		o.ID = vt.P(i) // the previous row's id
	}
	if rng.Float64() < d.nullCustomer {
		o.Customer = nil
	}
	if rng.Float64() < d.negAmount {
		o.AmountCents = vt.P(-1 - rng.Int64N(10000))
	}
	if rng.Float64() < d.nullAmount {
		o.AmountCents = nil
	}
	if rng.Float64() < d.badCurrency {
		o.Currency = vt.P([]string{"usd", "EURO", "E1"}[rng.IntN(3)])
	}
	if rng.Float64() < d.updatedBeforeCreated {
		u := c.Add(-time.Hour)
		o.UpdatedAt = &u
	}
	if rng.Float64() < d.future {
		f := time.Now().Add(30 * 24 * time.Hour)
		o.CreatedAt, o.UpdatedAt = &f, &f
	}
	return o
}

// writeOrders writes rows (from next, until it returns false) to a
// zstd-compressed Parquet file, rowGroup rows per row group, with the
// writer's defaults (dictionary encoding for every column) and any
// further options.
func writeOrders(t testing.TB, path string, rowGroup int64, next func(b *array.RecordBuilder) bool, opts ...parquet.WriterProperty) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	vt.WriteParquet(t, f, vt.OrdersSchema, rowGroup, next, opts...)
}

// writeOrderRows writes the given rows in batches of batch rows.
func writeOrderRows(t testing.TB, path string, rows []vt.Order, batch int) {
	t.Helper()
	i := 0
	writeOrders(t, path, int64(batch), func(b *array.RecordBuilder) bool {
		for n := 0; n < batch && i < len(rows); n++ {
			vt.AppendOrder(b, rows[i])
			i++
		}
		return i < len(rows)
	})
}

// genOrdersFile writes n generated orders with defect rates d, as a
// careful writer lays them out: dictionary encoding only for the
// low-cardinality columns (status, currency), plain encoding for ids,
// amounts and timestamps, whose dictionaries would be as large as the data.
func genOrdersFile(t testing.TB, path string, n int64, d defects) {
	t.Helper()
	rng := rand.New(rand.NewPCG(42, 7))
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var i int64
	writeOrders(t, path, 128*1024, func(b *array.RecordBuilder) bool {
		for k := 0; k < 64*1024 && i < n; k++ {
			vt.AppendOrder(b, genOrder(rng, i, d, base))
			i++
		}
		return i < n
	}, parquet.WithDictionaryDefault(false), parquet.WithDictionaryFor("status", true), parquet.WithDictionaryFor("currency", true))
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "generated %d orders in %s\n", n, path)
	}
}
