// Package bronzetest builds what the validate, route and dq tests need: a
// lake in a temporary folder with the repository's table contracts and
// the orders table's schema.json as ingest writes it, and bronze Parquet
// objects of orders-shaped rows with chosen defects. Imported only by
// tests and benchmarks.
package bronzetest

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/layout"
	"github.com/medallionlake/lake/internal/store"
	"github.com/medallionlake/lake/internal/store/filestore"
	"github.com/medallionlake/lake/internal/testenv"
)

// OrdersSchema is the demo orders table as the ingest step writes it.
var OrdersSchema = arrow.NewSchema([]arrow.Field{
	{Name: "order_id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "customer_id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "status", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "amount", Type: &arrow.Decimal128Type{Precision: 12, Scale: 2}, Nullable: true},
	{Name: "currency", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "created_at", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
	{Name: "updated_at", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
}, nil)

// pgTypes are the PostgreSQL types of OrdersSchema's columns.
var pgTypes = []string{"bigint", "bigint", "text", "numeric(12,2)", "text", "timestamp with time zone", "timestamp with time zone"}

// Order is one row; nil pointers are NULL.
type Order struct {
	ID, Customer         *int64
	Status               *string
	AmountCents          *int64
	Currency             *string
	CreatedAt, UpdatedAt *time.Time
}

// P returns a pointer to v.
func P[T any](v T) *T { return &v }

// Good returns a valid order with id created at created.
func Good(id int64, created time.Time) Order {
	u := created.Add(time.Minute)
	return Order{ID: P(id), Customer: P(100 + id), Status: P("PAID"), AmountCents: P(1999 + id), Currency: P("EUR"), CreatedAt: &created, UpdatedAt: &u}
}

// Lake is a lake in a temporary folder with the repository's contracts
// and the orders table's schema.json.
type Lake struct {
	Dir    string
	Store  *filestore.Store
	Tables []*contract.Table
}

// NewLake makes a Lake for t.
func NewLake(t testing.TB) *Lake {
	t.Helper()
	dir := t.TempDir()
	st, err := filestore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := contract.LoadDir(filepath.Join(testenv.RepoRoot(), "schemas"))
	if err != nil {
		t.Fatal(err)
	}
	WriteOrdersSchema(t, st)
	return &Lake{Dir: dir, Store: st, Tables: tables}
}

// WriteOrdersSchema writes _meta/tables/orders/schema.json as ingest does.
func WriteOrdersSchema(t testing.TB, st store.Store) {
	t.Helper()
	ts := layout.TableSchema{Table: "orders", Source: "public.orders", PrimaryKey: []string{"order_id"}, Cursor: "updated_at"}
	for i, f := range OrdersSchema.Fields() {
		ts.Columns = append(ts.Columns, layout.ColumnSchema{Name: f.Name, Type: pgTypes[i], Arrow: f.Type.String(), Nullable: f.Name != "created_at" && f.Name != "updated_at"})
	}
	if _, err := store.PutJSON(context.Background(), st, layout.SchemaKey("orders"), ts, nil); err != nil {
		t.Fatal(err)
	}
}

// Put stores data at key and returns its info.
func Put(t testing.TB, st store.Store, key string, data []byte) store.ObjectInfo {
	t.Helper()
	info, err := st.Put(context.Background(), key, bytes.NewReader(data), nil)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// Get returns the object at key.
func Get(t testing.TB, st store.Store, key string) []byte {
	t.Helper()
	rc, _, err := st.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// OrdersParquet encodes rows as a zstd Parquet file of OrdersSchema.
func OrdersParquet(t testing.TB, rows []Order) []byte {
	t.Helper()
	var buf bytes.Buffer
	WriteParquet(t, &buf, OrdersSchema, 0, func(b *array.RecordBuilder) bool {
		for _, o := range rows {
			AppendOrder(b, o)
		}
		return false
	})
	return buf.Bytes()
}

// WriteParquet writes to w the batches that next builds (one per call,
// until it returns false) as zstd Parquet with rowGroup rows per row group
// (0: one row group per batch) and any further writer properties.
func WriteParquet(t testing.TB, w io.Writer, sc *arrow.Schema, rowGroup int64, next func(b *array.RecordBuilder) bool, more ...parquet.WriterProperty) {
	t.Helper()
	opts := []parquet.WriterProperty{parquet.WithCompression(compress.Codecs.Zstd)}
	if rowGroup > 0 {
		opts = append(opts, parquet.WithMaxRowGroupLength(rowGroup))
	}
	fw, err := pqarrow.NewFileWriter(sc, w, parquet.NewWriterProperties(append(opts, more...)...), pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	for more := true; more; {
		more = next(b)
		rec := b.NewRecordBatch()
		if rec.NumRows() > 0 {
			if err := fw.Write(rec); err != nil {
				t.Fatal(err)
			}
		}
		rec.Release()
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
}

// AppendOrder appends o to a builder of OrdersSchema.
func AppendOrder(b *array.RecordBuilder, o Order) {
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
	i64(b.Field(0), o.ID)
	i64(b.Field(1), o.Customer)
	str(b.Field(2), o.Status)
	if o.AmountCents == nil {
		b.Field(3).AppendNull()
	} else {
		b.Field(3).(*array.Decimal128Builder).Append(decimal128.FromI64(*o.AmountCents))
	}
	str(b.Field(4), o.Currency)
	ts(b.Field(5), o.CreatedAt)
	ts(b.Field(6), o.UpdatedAt)
}

// Defects are the shares of generated rows with each defect.
type Defects struct {
	BadStatus, DupID, NullCustomer, NegAmount, BadCurrency float64
}

// Generate writes n orders to w, created over days days from 2026-01-01,
// with defect rates d, deterministically (seeded).
func Generate(t testing.TB, w io.Writer, n int64, days int, d Defects) {
	t.Helper()
	rng := rand.New(rand.NewPCG(42, 7))
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var i int64
	WriteParquet(t, w, OrdersSchema, 128*1024, func(b *array.RecordBuilder) bool {
		for k := 0; k < 64*1024 && i < n; k++ {
			o := Good(i+1, base.Add(time.Duration(rng.Int64N(int64(days)*int64(24*time.Hour)))))
			switch f := rng.Float64(); {
			case f < d.BadStatus:
				o.Status = P("paid")
			case f < d.BadStatus+d.DupID && i > 0:
				o.ID = P(i)
			case f < d.BadStatus+d.DupID+d.NullCustomer:
				o.Customer = nil
			case f < d.BadStatus+d.DupID+d.NullCustomer+d.NegAmount:
				o.AmountCents = P(-100 - i%1000)
			case f < d.BadStatus+d.DupID+d.NullCustomer+d.NegAmount+d.BadCurrency:
				o.Currency = P("usd")
			}
			AppendOrder(b, o)
			i++
		}
		return i < n
	})
}
