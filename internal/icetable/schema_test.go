package icetable_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/medallionlake/lake/internal/icecatalog"
	"github.com/medallionlake/lake/internal/icetable"
	"github.com/medallionlake/lake/internal/icetable/icetabletest"
	"github.com/medallionlake/lake/internal/pgarrow"
)

// writeSchema writes one row of zeros and nulls with schema sc as object
// key into silver.
func (f *fixture) writeSchema(t *testing.T, key string, sc *arrow.Schema) (icetable.Files, error) {
	t.Helper()
	w, err := f.lake.NewWriter(t.Context(), icetable.Silver, f.t, icetable.Object{Key: key, ETag: "e"}, sc)
	if err != nil {
		return icetable.Files{}, err
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	for i, fl := range sc.Fields() {
		if fl.Nullable && fl.Name != "created_at" {
			b.Field(i).AppendNull()
		} else {
			b.Field(i).AppendEmptyValue()
		}
	}
	return writeBuilt(w, b)
}

// writeBuilt writes the rows built in b with w and closes w.
func writeBuilt(w *icetable.Writer, b *array.RecordBuilder) (icetable.Files, error) {
	rec := b.NewRecordBatch()
	defer rec.Release()
	if err := w.Write(rec); err != nil {
		w.Abort()
		return icetable.Files{}, err
	}
	return w.Close()
}

// withField returns ordersSchema with the column name replaced by field
// (or removed when field is nil), or field appended when name is "".
func withField(name string, field *arrow.Field) *arrow.Schema {
	fields := slices.Clone(ordersSchema.Fields())
	if name == "" {
		return arrow.NewSchema(append(fields, *field), nil)
	}
	i := ordersSchema.FieldIndices(name)[0]
	if field == nil {
		return arrow.NewSchema(slices.Delete(fields, i, i+1), nil)
	}
	fields[i] = *field
	return arrow.NewSchema(fields, nil)
}

func TestSchemaEvolution(t *testing.T) {
	f := newFixture(t, icetable.Options{})
	f.commit(t, f.write(t, icetable.Silver, "v1", versions(1, 1, 2)))

	// a new nullable column adds a column
	note := arrow.Field{Name: "note", Type: arrow.BinaryTypes.String, Nullable: true}
	files, err := f.writeSchema(t, "v2", withField("", &note))
	if err != nil {
		t.Fatalf("write with a new column: %v", err)
	}
	f.commit(t, files)
	tbl := f.load(t, icetable.Silver)
	if _, ok := tbl.Schema().FindFieldByName("note"); !ok {
		t.Fatalf("schema %s lacks the new column", tbl.Schema())
	}
	if got := len(tbl.Schemas()); got != 2 {
		t.Errorf("%d schemas, want 2 (the first and the evolved one)", got)
	}
	at, err := tbl.Scan().ToArrowTable(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := at.NumRows(); got != 3 {
		t.Errorf("rows after evolution: %d, want 3", got)
	}
	at.Release()

	// the older schema (without note) is now a dropped column
	_, err = f.writeSchema(t, "v3", ordersSchema)
	var drift *icetable.SchemaDriftError
	if !errors.As(err, &drift) || drift.Column != "note" || drift.ObjectType != "" {
		t.Errorf("write without a column of the table: %v, want *SchemaDriftError for note", err)
	}

	// smallint -> integer is the same Iceberg type (int): not drift
	tests := []struct {
		name    string
		sc      *arrow.Schema
		drift   string // the column, "" for no drift
		objType string
	}{
		{"type change", withField("amount", &arrow.Field{Name: "amount", Type: arrow.PrimitiveTypes.Float64, Nullable: true}), "amount", "double"},
		{"precision change", withField("amount", &arrow.Field{Name: "amount", Type: &arrow.Decimal128Type{Precision: 14, Scale: 2}, Nullable: true}), "amount", "decimal(14, 2)"},
		{"dropped column", withField("currency", nil), "currency", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := arrow.NewSchema(append(tt.sc.Fields(), note), nil)
			_, err := f.writeSchema(t, "x", sc)
			var drift *icetable.SchemaDriftError
			if !errors.As(err, &drift) {
				t.Fatalf("write: %v, want *SchemaDriftError", err)
			}
			if drift.Column != tt.drift || drift.ObjectType != tt.objType || drift.Table != "silver.orders" {
				t.Errorf("drift %+v, want column %s, object type %q", drift, tt.drift, tt.objType)
			}
			if !strings.Contains(err.Error(), tt.drift) {
				t.Errorf("error %q does not name the column", err)
			}
		})
	}
}

func TestSchemaEvolutionConcurrent(t *testing.T) {
	f := newFixture(t, icetable.Options{})
	f.commit(t, f.write(t, icetable.Silver, "v1", versions(1, 1)))
	sc := withField("", &arrow.Field{Name: "note", Type: arrow.BinaryTypes.String, Nullable: true})
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			files, err := f.writeSchema(t, "n"+string(rune('a'+i)), sc)
			if err == nil {
				_, err = f.lake.Commit(t.Context(), f.t, files)
			}
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := len(f.load(t, icetable.Silver).Schemas()); got != 2 {
		t.Errorf("%d schemas after 6 concurrent writers added the same column, want 2", got)
	}
}

func TestDiscarded(t *testing.T) {
	f := newFixture(t, icetable.Options{})
	if _, err := f.lake.NewWriter(t.Context(), icetable.Discarded, f.t, icetable.Object{Key: "k", ETag: "e"}, ordersSchema); err == nil || !strings.Contains(err.Error(), icetable.ColRulesPass) {
		t.Errorf("discarded rows without the DQ columns: %v, want an error naming %s", err, icetable.ColRulesPass)
	}
	sc := arrow.NewSchema(append(slices.Clone(ordersSchema.Fields()), icetable.DQColumns...), nil)
	w, err := f.lake.NewWriter(t.Context(), icetable.Discarded, f.t, icetable.Object{Key: "k", ETag: "e"}, sc)
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	base := batch(versions(1, 1, 400))
	defer base.Release()
	for i := range ordersSchema.NumFields() {
		for r := range 2 {
			appendValue(b.Field(i), base.Column(i), r)
		}
	}
	lists := map[string][]string{icetable.ColRulesPass: {`IsComplete "order_id"`}, icetable.ColRulesFail: {`ColumnValues "status" in [...]`}, icetable.ColRulesSkip: {}, icetable.ColFailedValues: {`"LOST"`}}
	for range 2 {
		icetabletest.AppendDQ(b, ordersSchema.NumFields(), lists)
	}
	files, err := writeBuilt(w, b)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := files.Table, "discarded.orders"; got != want {
		t.Errorf("table %q, want %q", got, want)
	}
	if got := len(files.Files); got != 2 {
		t.Errorf("%d files, want 2 (rows of two months)", got)
	}
	f.commit(t, files)
	tbl := f.load(t, icetable.Discarded)
	fl, ok := tbl.Schema().FindFieldByName(icetable.ColRulesFail)
	if !ok || fl.Type.String() != (&iceberg.ListType{Element: iceberg.PrimitiveTypes.String}).String() {
		t.Errorf("discarded schema %s, want %s list<string>", tbl.Schema(), icetable.ColRulesFail)
	}
}

// appendValue appends row i of a to b (the types the orders schema uses).
func appendValue(b array.Builder, a arrow.Array, i int) {
	switch a := a.(type) {
	case *array.Int64:
		b.(*array.Int64Builder).Append(a.Value(i))
	case *array.String:
		b.(*array.StringBuilder).Append(a.Value(i))
	case *array.Decimal128:
		b.(*array.Decimal128Builder).Append(a.Value(i))
	case *array.Timestamp:
		b.(*array.TimestampBuilder).Append(a.Value(i))
	}
}

// allTypes is every Arrow type pgarrow produces.
var allTypes = arrow.NewSchema([]arrow.Field{
	{Name: "order_id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "updated_at", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
	{Name: "created_at", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
	{Name: "c_smallint", Type: arrow.PrimitiveTypes.Int16, Nullable: true},
	{Name: "c_integer", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	{Name: "c_real", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
	{Name: "c_double", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "c_boolean", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "c_text", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "c_bytea", Type: arrow.BinaryTypes.Binary, Nullable: true},
	{Name: "c_date", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
	{Name: "c_time", Type: arrow.FixedWidthTypes.Time64us, Nullable: true},
	{Name: "c_timestamp", Type: &arrow.TimestampType{Unit: arrow.Microsecond}, Nullable: true},
	{Name: "c_numeric", Type: &arrow.Decimal128Type{Precision: 38, Scale: 10}, Nullable: true},
	{Name: "c_int_array", Type: arrow.ListOf(arrow.PrimitiveTypes.Int32), Nullable: true},
	{Name: "c_text_array", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
	{Name: "c_interval", Type: pgarrow.IntervalType, Nullable: true},
}, nil)

// allTypesRow is one row of allTypes: value row of every column.
func allTypesRow(b *array.RecordBuilder, id int64) {
	ts := arrow.Timestamp(time.Date(2025, 3, 4, 5, 6, 7, 890123000, time.UTC).UnixMicro() + id)
	b.Field(0).(*array.Int64Builder).Append(id)
	b.Field(1).(*array.TimestampBuilder).Append(ts)
	b.Field(2).(*array.TimestampBuilder).Append(ts)
	b.Field(3).(*array.Int16Builder).Append(-32768)
	b.Field(4).(*array.Int32Builder).Append(2147483647)
	b.Field(5).(*array.Float32Builder).Append(1.5)
	b.Field(6).(*array.Float64Builder).Append(-2.25)
	b.Field(7).(*array.BooleanBuilder).Append(true)
	b.Field(8).(*array.StringBuilder).Append("naïve 🦆")
	b.Field(9).(*array.BinaryBuilder).Append([]byte{0, 1, 0xff})
	b.Field(10).(*array.Date32Builder).Append(arrow.Date32(20000))
	b.Field(11).(*array.Time64Builder).Append(arrow.Time64(86399999999))
	b.Field(12).(*array.TimestampBuilder).Append(ts)
	b.Field(13).(*array.Decimal128Builder).Append(decimal128.FromI64(-123456789012345678))
	il := b.Field(14).(*array.ListBuilder)
	il.Append(true)
	il.ValueBuilder().(*array.Int32Builder).AppendValues([]int32{1, 2}, []bool{true, false})
	sl := b.Field(15).(*array.ListBuilder)
	sl.Append(true)
	sl.ValueBuilder().(*array.StringBuilder).Append("a")
	iv := b.Field(16).(*array.StructBuilder)
	iv.Append(true)
	iv.FieldBuilder(0).(*array.Int32Builder).Append(14)
	iv.FieldBuilder(1).(*array.Int32Builder).Append(-3)
	iv.FieldBuilder(2).(*array.Int64Builder).Append(4000000)
}

// allTypesNullRow is a row of allTypes with NULL in every column but the
// key and the timestamps.
func allTypesNullRow(b *array.RecordBuilder, id int64) {
	b.Field(0).(*array.Int64Builder).Append(id)
	b.Field(1).(*array.TimestampBuilder).Append(1)
	b.Field(2).(*array.TimestampBuilder).Append(1)
	for i := 3; i < allTypes.NumFields(); i++ {
		b.Field(i).AppendNull()
	}
}

// commitAllTypes commits to silver a row of allTypes (order 1) and a row
// of NULLs but for the key and timestamps (order 2).
func (f *fixture) commitAllTypes(t *testing.T) {
	t.Helper()
	w, err := f.lake.NewWriter(t.Context(), icetable.Silver, f.t, icetable.Object{Key: "k", ETag: "e"}, allTypes)
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, allTypes)
	defer b.Release()
	allTypesRow(b, 1)
	allTypesNullRow(b, 2)
	files, err := writeBuilt(w, b)
	if err != nil {
		t.Fatal(err)
	}
	f.commit(t, files)
}

func TestEveryPostgresType(t *testing.T) {
	f := newFixture(t, icetable.Options{})
	f.commitAllTypes(t)
	tbl := f.load(t, icetable.Silver)
	want := map[string]string{
		"c_smallint": "int", "c_integer": "int", "c_real": "float", "c_double": "double", "c_boolean": "boolean",
		"c_text": "string", "c_bytea": "binary", "c_date": "date", "c_time": "time", "c_timestamp": "timestamp",
		"created_at": "timestamptz", "c_numeric": "decimal(38, 10)",
	}
	for name, typ := range want {
		fl, ok := tbl.Schema().FindFieldByName(name)
		if !ok || fl.Type.String() != typ {
			t.Errorf("column %s: %v, want %s", name, fl.Type, typ)
		}
	}
	at, err := tbl.Scan(table.WithSelectedFields("c_smallint", "c_text", "c_numeric", "c_interval", "c_int_array")).ToArrowTable(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer at.Release()
	if got := at.NumRows(); got != 2 {
		t.Fatalf("%d rows, want 2", got)
	}
	for _, name := range []string{"c_smallint", "c_text", "c_numeric", "c_interval", "c_int_array"} {
		if got := at.Column(at.Schema().FieldIndices(name)[0]).NullN(); got != 1 {
			t.Errorf("column %s: %d nulls, want 1 (the NULL row)", name, got)
		}
	}
	var nums []decimal128.Num
	for _, c := range at.Column(at.Schema().FieldIndices("c_numeric")[0]).Data().Chunks() {
		d := c.(*array.Decimal128)
		for i := range d.Len() {
			if d.IsValid(i) {
				nums = append(nums, d.Value(i))
			}
		}
	}
	if want := []decimal128.Num{decimal128.FromI64(-123456789012345678)}; !slices.Equal(nums, want) {
		t.Errorf("numeric values %v, want %v", nums, want)
	}
}

// interfering is a backend whose every read is overtaken: another commit
// lands just after it.
type interfering struct {
	icecatalog.Backend
	other func(ctx context.Context)
}

func (b interfering) Get(ctx context.Context, t icecatalog.Table) (icecatalog.Pointer, error) {
	p, err := b.Backend.Get(ctx, t)
	if err == nil {
		b.other(ctx)
	}
	return p, err
}

func TestCommitConflictExhausted(t *testing.T) {
	f := newFixture(t, icetable.Options{})
	f.commit(t, f.write(t, icetable.Silver, "base", versions(1, 1)))
	n := 0
	other := func(ctx context.Context) {
		n++
		tbl := f.load(t, icetable.Silver)
		txn := tbl.NewTransaction()
		if err := txn.SetProperties(iceberg.Properties{"bump": string(rune('a' + n))}); err != nil {
			t.Error(err)
		}
		if _, err := txn.Commit(ctx); err != nil {
			t.Error(err)
		}
	}
	cat := icecatalog.New(interfering{f.backend, other}, f.fs, icecatalog.Options{})
	lake := icetable.New(cat, icetable.Options{MaxAttempts: 3, MinRetryWait: time.Millisecond, MaxRetryWait: time.Millisecond})
	files := f.write(t, icetable.Silver, "loser", versions(2, 5))
	_, err := lake.Commit(t.Context(), f.t, files)
	var conflict *icetable.CommitConflictError
	if !errors.As(err, &conflict) {
		t.Fatalf("commit that always loses: %v, want *CommitConflictError", err)
	}
	if conflict.Attempts != 3 || conflict.Object.Key != "loser" || conflict.Table != "silver.orders" {
		t.Errorf("conflict %+v", conflict)
	}
	if !errors.Is(err, table.ErrCommitFailed) {
		t.Errorf("conflict %v does not wrap table.ErrCommitFailed", err)
	}
	if _, ok := f.scan(t, icetable.Silver)[5]; ok {
		t.Errorf("the conflicting object's row is in silver")
	}
	// with the interference gone it commits
	if c := f.commit(t, files); c.Already || c.SnapshotID == 0 {
		t.Errorf("commit after the conflicts = %+v", c)
	}
}
