package bronzetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/medallionlake/lake/internal/bronze"
)

// BadInput is an unusable object and the problem kind it must be
// reported with.
type BadInput struct {
	Name, Kind string
	Data       []byte
}

// BadInputs are the unusable objects of the issue, with the problem kind
// each must be reported with.
func BadInputs(t testing.TB) []BadInput {
	good := OrdersParquet(t, GoodRows(50))
	mk := func(fields []arrow.Field, fill func(b *array.RecordBuilder)) []byte {
		var buf bytes.Buffer
		WriteParquet(t, &buf, arrow.NewSchema(fields, nil), 0, func(b *array.RecordBuilder) bool { fill(b); return false })
		return buf.Bytes()
	}
	f := OrdersSchema.Fields()
	ord := func(b *array.RecordBuilder) { // one row, a value of each field's type
		for _, fb := range b.Fields() {
			switch bb := fb.(type) {
			case *array.Int64Builder:
				bb.Append(7)
			case *array.StringBuilder:
				bb.Append("PAID")
			case *array.TimestampBuilder:
				bb.Append(arrow.Timestamp(time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC).UnixMicro()))
			case *array.Decimal128Builder:
				bb.AppendNull()
			case *array.Float64Builder:
				bb.Append(1.5)
			}
		}
	}
	without := func(i int) []arrow.Field { return append(append([]arrow.Field{}, f[:i]...), f[i+1:]...) }
	return []BadInput{
		{"zero bytes", bronze.ProblemEmpty, nil},
		{"not parquet", bronze.ProblemNotParquet, []byte("hello, this is not a Parquet file at all\n")},
		{"csv", bronze.ProblemNotParquet, []byte("order_id,customer_id,status,amount,currency,created_at,updated_at\n1,2,PAID,9.99,EUR,2026-01-01,2026-01-01\n")},
		{"truncated", bronze.ProblemTruncated, good[:len(good)/2]},
		{"missing column", bronze.ProblemMissingColumn, mk(without(4), ord)},
		{"wrong type", bronze.ProblemWrongType, mk(append(without(3)[:3], append([]arrow.Field{{Name: "amount", Type: arrow.PrimitiveTypes.Float64, Nullable: true}}, without(3)[3:]...)...), ord)},
		{"extra column", bronze.ProblemExtraColumn, mk(append(append([]arrow.Field{}, f...), arrow.Field{Name: "note", Type: arrow.BinaryTypes.String, Nullable: true}), ord)},
	}
}

// GoodRows are n valid orders created an hour apart from 2026-01-01 10:00 UTC.
func GoodRows(n int) []Order {
	day := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	rows := make([]Order, n)
	for i := range rows {
		rows[i] = Good(int64(i+1), day.Add(time.Duration(i)*time.Hour))
	}
	return rows
}
