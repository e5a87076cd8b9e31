package dq_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/parquet"

	"github.com/medallionlake/lake/internal/validate/validatetest"
)

// ordersSchema is the demo orders table as the ingest step writes it.
var ordersSchema = arrow.NewSchema([]arrow.Field{
	{Name: "order_id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "customer_id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "status", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "amount", Type: &arrow.Decimal128Type{Precision: 12, Scale: 2}, Nullable: true},
	{Name: "currency", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "created_at", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
	{Name: "updated_at", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
}, nil)

// order is one row; nil pointers are NULL.
type order struct {
	id, customer         *int64
	status               *string
	amountCents          *int64
	currency             *string
	createdAt, updatedAt *time.Time
}

func p[T any](v T) *T { return &v }

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
func genOrder(rng *rand.Rand, i int64, d defects, base time.Time) order {
	o := order{
		id:          p(i + 1),
		customer:    p(1 + rng.Int64N(100000)),
		status:      p(statuses[rng.IntN(len(statuses))]),
		amountCents: p(rng.Int64N(5_000_00)),
		currency:    p([]string{"EUR", "USD", "GBP"}[rng.IntN(3)]),
	}
	c := base.Add(time.Duration(rng.Int64N(int64(300 * 24 * time.Hour))))
	u := c.Add(time.Duration(rng.Int64N(int64(48 * time.Hour))))
	o.createdAt, o.updatedAt = &c, &u
	if rng.Float64() < d.badStatus {
		o.status = p([]string{"paid", "UNKNOWN", ""}[rng.IntN(3)])
	}
	if i > 0 && rng.Float64() < d.dupID {
		o.id = p(i) // the previous row's id
	}
	if rng.Float64() < d.nullCustomer {
		o.customer = nil
	}
	if rng.Float64() < d.negAmount {
		o.amountCents = p(-1 - rng.Int64N(10000))
	}
	if rng.Float64() < d.nullAmount {
		o.amountCents = nil
	}
	if rng.Float64() < d.badCurrency {
		o.currency = p([]string{"usd", "EURO", "E1"}[rng.IntN(3)])
	}
	if rng.Float64() < d.updatedBeforeCreated {
		u := c.Add(-time.Hour)
		o.updatedAt = &u
	}
	if rng.Float64() < d.future {
		f := time.Now().Add(30 * 24 * time.Hour)
		o.createdAt, o.updatedAt = &f, &f
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
	validatetest.WriteParquet(t, f, ordersSchema, rowGroup, next, opts...)
}

func appendOrder(b *array.RecordBuilder, o order) {
	i64 := func(fb array.Builder, v *int64) {
		if v == nil {
			fb.AppendNull()
		} else {
			fb.(*array.Int64Builder).Append(*v)
		}
	}
	str := func(fb array.Builder, v *string) {
		if v == nil {
			fb.AppendNull()
		} else {
			fb.(*array.StringBuilder).Append(*v)
		}
	}
	ts := func(fb array.Builder, v *time.Time) {
		if v == nil {
			fb.AppendNull()
		} else {
			fb.(*array.TimestampBuilder).Append(arrow.Timestamp(v.UnixMicro()))
		}
	}
	i64(b.Field(0), o.id)
	i64(b.Field(1), o.customer)
	str(b.Field(2), o.status)
	if o.amountCents == nil {
		b.Field(3).AppendNull()
	} else {
		b.Field(3).(*array.Decimal128Builder).Append(decimal128.FromI64(*o.amountCents))
	}
	str(b.Field(4), o.currency)
	ts(b.Field(5), o.createdAt)
	ts(b.Field(6), o.updatedAt)
}

// writeOrderRows writes the given rows in batches of batch rows.
func writeOrderRows(t testing.TB, path string, rows []order, batch int) {
	t.Helper()
	i := 0
	writeOrders(t, path, int64(batch), func(b *array.RecordBuilder) bool {
		for n := 0; n < batch && i < len(rows); n++ {
			appendOrder(b, rows[i])
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
			appendOrder(b, genOrder(rng, i, d, base))
			i++
		}
		return i < n
	}, parquet.WithDictionaryDefault(false), parquet.WithDictionaryFor("status", true), parquet.WithDictionaryFor("currency", true))
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "generated %d orders in %s\n", n, path)
	}
}
