package crawl_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/medallionlake/lake/internal/catalog"
	"github.com/medallionlake/lake/internal/catalog/localcatalog"
	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/crawl"
	"github.com/medallionlake/lake/internal/store/filestore"
)

var ctx = context.Background()

// ordersFields are the orders table's columns as ingest types them.
var ordersFields = []arrow.Field{
	{Name: "order_id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "customer_id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "status", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "amount", Type: &arrow.Decimal128Type{Precision: 12, Scale: 2}, Nullable: true},
	{Name: "currency", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "created_at", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
	{Name: "updated_at", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
}

var dqFields = []arrow.Field{
	{Name: "DataQualityRulesPass", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
	{Name: "DataQualityRulesFail", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
	{Name: "DataQualityRulesSkip", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
	{Name: "DataQualityEvaluationResult", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "DataQualityFailedValues", Type: arrow.MapOf(arrow.BinaryTypes.String, arrow.BinaryTypes.String), Nullable: true},
}

const orderRow = `{"order_id": 1, "customer_id": 7, "status": "PAID", "amount": "12.50", "currency": "EUR", "created_at": "2024-01-01T10:00:00Z", "updated_at": "2024-01-01T10:00:00Z"}`

// lake is a lake in a temp folder with its local catalog and a crawler
// over the orders contract.
type lake struct {
	s       *filestore.Store
	cat     *localcatalog.Catalog
	crawler *crawl.Crawler
}

func newLake(t *testing.T) *lake {
	t.Helper()
	s, err := filestore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ct, err := contract.LoadFile(filepath.Join("..", "..", "schemas", "orders.table.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cat := localcatalog.New(s)
	return &lake{s: s, cat: cat, crawler: &crawl.Crawler{Store: s, Catalog: cat, Contracts: []*contract.Table{ct}}}
}

// putParquet writes rows (a JSON array or objects, one per line) with the
// given fields as a Parquet object at key. Each call sleeps a little so
// that objects' modification times follow the order they are written in.
func (l *lake) putParquet(t *testing.T, key string, fields []arrow.Field, rows ...string) {
	t.Helper()
	sch := arrow.NewSchema(fields, nil)
	rec, _, err := array.RecordFromJSON(memory.DefaultAllocator, sch, strings.NewReader("["+strings.Join(rows, ",")+"]"))
	if err != nil {
		t.Fatalf("fixture %s: %v", key, err)
	}
	defer rec.Release()
	var buf bytes.Buffer
	w, err := pqarrow.NewFileWriter(sch, &buf, nil, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	l.put(t, key, buf.Bytes())
}

func (l *lake) put(t *testing.T, key string, b []byte) {
	t.Helper()
	time.Sleep(5 * time.Millisecond)
	if _, err := l.s.Put(ctx, key, bytes.NewReader(b), nil); err != nil {
		t.Fatal(err)
	}
}

func (l *lake) table(t *testing.T, db, name string) *catalog.Table {
	t.Helper()
	tab, err := l.cat.GetTable(ctx, db, name)
	if err != nil {
		t.Fatalf("GetTable(%s.%s): %v", db, name, err)
	}
	return tab
}

func columnList(cols []catalog.Column) string {
	var s []string
	for _, c := range cols {
		s = append(s, c.Name+" "+c.Type)
	}
	return strings.Join(s, ", ")
}

func partitionList(t *testing.T, l *lake, db, name string) []string {
	t.Helper()
	parts, err := l.cat.ListPartitions(ctx, db, name)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range parts {
		out = append(out, strings.Join(p.Values, ",")+" "+p.Location)
	}
	return out
}

const ordersColumns = "order_id bigint, customer_id bigint, status string, amount decimal(12,2), currency string, created_at timestamp, updated_at timestamp"

func TestFullCrawl(t *testing.T) {
	l := newLake(t)
	l.putParquet(t, "silver/staging/orders/dt=2024-01-01/a.parquet", ordersFields, orderRow)
	l.putParquet(t, "silver/staging/orders/dt=2024-01-02/b.parquet", ordersFields, orderRow)
	l.putParquet(t, "discarded/orders/rows/c.parquet", slices.Concat(ordersFields, dqFields),
		`{"order_id": 2, "status": "LOST", "created_at": "2024-01-01T10:00:00Z", "updated_at": "2024-01-01T10:00:00Z",
		  "DataQualityRulesFail": ["ColumnValues \"status\" in [\"PAID\"]"], "DataQualityEvaluationResult": "Failed",
		  "DataQualityFailedValues": [{"key": "status", "value": "LOST"}]}`)
	wm, err := os.ReadFile("testdata/watermark.json")
	if err != nil {
		t.Fatal(err)
	}
	l.put(t, "_meta/watermarks/history/orders/20240101T000000.000000Z.json", wm)
	dq, err := os.ReadFile("testdata/dq_result.json")
	if err != nil {
		t.Fatal(err)
	}
	l.put(t, "_meta/dq/orders/x.json", dq)

	out, err := l.crawler.Crawl(ctx, crawl.Input{})
	if err != nil {
		t.Fatalf("Crawl: %v", err)
	}
	var names []string
	for _, r := range out.Tables {
		names = append(names, r.Table)
		if !r.Created {
			t.Errorf("%s: Created = false on the first crawl", r.Table)
		}
	}
	if got, want := strings.Join(names, " "), "silver.orders discarded.orders meta.watermarks meta.dq_results"; got != want {
		t.Errorf("tables crawled = %q, want %q", got, want)
	}

	silver := l.table(t, "silver", "orders")
	for _, tc := range []struct{ description, got, want string }{
		{"silver columns", columnList(silver.Columns), ordersColumns},
		{"silver partition keys", columnList(silver.PartitionKeys), "dt date"},
		{"silver location", silver.Location, "silver/staging/orders/"},
		{"silver key", fmt.Sprintf("%v %s", silver.PrimaryKey, silver.Cursor), "[order_id] updated_at"},
		{"silver partitions", strings.Join(partitionList(t, l, "silver", "orders"), "; "),
			"2024-01-01 silver/staging/orders/dt=2024-01-01/; 2024-01-02 silver/staging/orders/dt=2024-01-02/"},
		{"discarded columns", columnList(l.table(t, "discarded", "orders").Columns), ordersColumns +
			", dataqualityrulespass array<string>, dataqualityrulesfail array<string>, dataqualityrulesskip array<string>" +
			", dataqualityevaluationresult string, dataqualityfailedvalues map<string,string>"},
		{"watermarks columns", columnList(l.table(t, "meta", "watermarks").Columns),
			"table string, cursor string, watermark struct<us:string,utc:string>, previous struct<us:string,utc:string>, advanced_at struct<us:string,utc:string>, objects bigint, rows bigint, bytes bigint"},
		{"dq_results columns", columnList(l.table(t, "meta", "dq_results").Columns),
			"table string, object string, score double, ruleresults array<struct<name:string,outcome:string,failurereason:string,evaluatedmetrics:map<string,double>>>, aggregatedmetrics struct<rowcount:bigint,passedrowcount:bigint,failedrowcount:bigint>"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.description, tc.got, tc.want)
		}
	}

	// A second crawl of the same lake changes nothing.
	again, err := l.crawler.Crawl(ctx, crawl.Input{Table: "orders"})
	if err != nil {
		t.Fatalf("Crawl again: %v", err)
	}
	for _, r := range again.Tables {
		if r.Created || len(r.AddedColumns) > 0 {
			t.Errorf("second crawl of %s: created=%v added=%v, want no change", r.Table, r.Created, r.AddedColumns)
		}
	}
	if v := l.table(t, "silver", "orders").Version; v != silver.Version {
		t.Errorf("second crawl rewrote silver.orders: version %s -> %s", silver.Version, v)
	}
}

func TestIncrementalCrawl(t *testing.T) {
	l := newLake(t)
	l.putParquet(t, "silver/staging/orders/dt=2024-01-01/a.parquet", ordersFields, orderRow)
	l.putParquet(t, "silver/staging/orders/dt=2024-01-02/b.parquet", ordersFields, orderRow)
	out, err := l.crawler.Crawl(ctx, crawl.Input{Table: "orders", Objects: []string{"silver/staging/orders/dt=2024-01-02/b.parquet", "archive/orders/ignored.parquet"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(out.Tables[0].Partitions), "[dt=2024-01-02]"; got != want {
		t.Errorf("partitions of the crawl = %s, want %s", got, want)
	}
	if got, want := strings.Join(partitionList(t, l, "silver", "orders"), "; "), "2024-01-02 silver/staging/orders/dt=2024-01-02/"; got != want {
		t.Errorf("catalogued partitions = %s, want %s", got, want)
	}
}

func TestSchemaDrift(t *testing.T) {
	withNote := slices.Concat(ordersFields, []arrow.Field{{Name: "note", Type: arrow.BinaryTypes.String, Nullable: true}})
	amountAsDouble := slices.Clone(ordersFields)
	amountAsDouble[3] = arrow.Field{Name: "amount", Type: arrow.PrimitiveTypes.Float64, Nullable: true}
	withoutCurrency := slices.Delete(slices.Clone(ordersFields), 4, 5)
	rowWithNote := strings.TrimSuffix(orderRow, "}") + `, "note": "gift"}`
	rowAmountDouble := strings.Replace(orderRow, `"12.50"`, `12.5`, 1)
	rowWithoutCurrency := strings.Replace(orderRow, `"currency": "EUR", `, ``, 1)

	for _, tc := range []struct {
		description string
		fields      []arrow.Field
		row         string
		wantColumns string
		wantAdded   []string
		wantDrift   []crawl.DriftChange
	}{
		{
			description: "new nullable column evolves the table",
			fields:      withNote, row: rowWithNote,
			wantColumns: ordersColumns + ", note string",
			wantAdded:   []string{"note"},
		},
		{
			description: "type change is drift",
			fields:      amountAsDouble, row: rowAmountDouble,
			wantColumns: ordersColumns,
			wantDrift: []crawl.DriftChange{{Table: "silver.orders", Object: "silver/staging/orders/dt=2024-01-03/new.parquet",
				Column: "amount", Kind: crawl.DriftTypeChanged, Was: "decimal(12,2)", Now: "double"}},
		},
		{
			description: "dropped column is drift",
			fields:      withoutCurrency, row: rowWithoutCurrency,
			wantColumns: ordersColumns,
			wantDrift: []crawl.DriftChange{{Table: "silver.orders", Object: "silver/staging/orders/dt=2024-01-03/new.parquet",
				Column: "currency", Kind: crawl.DriftDropped, Was: "string"}},
		},
	} {
		t.Run(tc.description, func(t *testing.T) {
			l := newLake(t)
			l.putParquet(t, "silver/staging/orders/dt=2024-01-01/old.parquet", ordersFields, orderRow)
			if _, err := l.crawler.Crawl(ctx, crawl.Input{}); err != nil {
				t.Fatal(err)
			}
			const key = "silver/staging/orders/dt=2024-01-03/new.parquet"
			l.putParquet(t, key, tc.fields, tc.row)
			out, err := l.crawler.Crawl(ctx, crawl.Input{Objects: []string{key}})
			var drift *crawl.SchemaDriftError
			switch {
			case tc.wantDrift == nil && err != nil:
				t.Fatalf("Crawl: %v", err)
			case tc.wantDrift == nil:
				if got := out.Tables[0].AddedColumns; !slices.Equal(got, tc.wantAdded) {
					t.Errorf("AddedColumns = %v, want %v", got, tc.wantAdded)
				}
			case !errors.As(err, &drift):
				t.Fatalf("Crawl = %v, want a *SchemaDriftError", err)
			default:
				if fmt.Sprint(drift.Changes) != fmt.Sprint(tc.wantDrift) {
					t.Errorf("drift = %+v, want %+v", drift.Changes, tc.wantDrift)
				}
				if !strings.Contains(err.Error(), tc.wantDrift[0].Column) || !strings.Contains(err.Error(), key) {
					t.Errorf("error %q does not name the column and the object", err)
				}
			}
			if got := columnList(l.table(t, "silver", "orders").Columns); got != tc.wantColumns {
				t.Errorf("columns after the crawl:\n got %s\nwant %s", got, tc.wantColumns)
			}
			parts := partitionList(t, l, "silver", "orders")
			if registered := len(parts) == 2; registered != (tc.wantDrift == nil) {
				t.Errorf("partitions after the crawl = %v; the new one should be registered only without drift", parts)
			}
		})
	}
}

func TestBadObjects(t *testing.T) {
	for _, tc := range []struct {
		description, key string
		body             []byte
	}{
		{"not Parquet", "silver/staging/orders/dt=2024-01-01/x.parquet", []byte("not parquet at all")},
		{"outside a partition folder", "silver/staging/orders/x.parquet", nil},
		{"partition value not a date", "silver/staging/orders/dt=yesterday/x.parquet", nil},
		{"meta record not an object", "_meta/dq/orders/x.json", []byte(`[1,2]`)},
	} {
		t.Run(tc.description, func(t *testing.T) {
			l := newLake(t)
			if tc.body == nil {
				l.putParquet(t, tc.key, ordersFields, orderRow)
			} else {
				l.put(t, tc.key, tc.body)
			}
			_, err := l.crawler.Crawl(ctx, crawl.Input{})
			var bad *crawl.BadObjectError
			if !errors.As(err, &bad) || bad.Key != tc.key {
				t.Fatalf("Crawl = %v, want a *BadObjectError for %s", err, tc.key)
			}
		})
	}
}

func TestUnknownTable(t *testing.T) {
	l := newLake(t)
	if _, err := l.crawler.Crawl(ctx, crawl.Input{Table: "nope"}); !errors.Is(err, contract.ErrUnknownTable) {
		t.Fatalf("Crawl(unknown table) = %v, want ErrUnknownTable", err)
	}
}

// TestJSONRoundTrip checks the state's input and output fixtures decode
// into the types and encode back unchanged.
func TestJSONRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		file string
		v    any
	}{
		{"testdata/input.json", &crawl.Input{}},
		{"testdata/output.json", &crawl.Output{}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			b, err := os.ReadFile(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields()
			if err := dec.Decode(tc.v); err != nil {
				t.Fatal(err)
			}
			got, err := json.MarshalIndent(tc.v, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != strings.TrimSpace(string(b)) {
				t.Errorf("round trip:\n got %s\nwant %s", got, b)
			}
		})
	}
}

// TestExecutionsTable checks that meta.executions is built from the
// execution.json records only, not the history.json beside them.
func TestExecutionsTable(t *testing.T) {
	l := newLake(t)
	l.put(t, "_meta/executions/run-1/history.json", []byte(`{"events": [{"id": 1, "type": "ExecutionStarted"}]}`))
	l.put(t, "_meta/executions/run-1/execution.json", []byte(`{"name": "run-1", "status": "SUCCEEDED", "startDate": "2024-01-01T00:00:00Z"}`))
	if _, err := l.crawler.Crawl(ctx, crawl.Input{}); err != nil {
		t.Fatal(err)
	}
	tab := l.table(t, "meta", "executions")
	if got, want := columnList(tab.Columns), "name string, status string, startdate string"; got != want {
		t.Errorf("columns = %s, want %s", got, want)
	}
	if got, want := tab.Files, "execution.json"; got != want {
		t.Errorf("Files = %q, want %q", got, want)
	}
}

// TestLateCrawlOfOlderObject: an object written before a column was added
// but crawled after it (a retried crawl) is not a dropped column while the
// source's schema.json still lists the column; once the source has really
// dropped a column, an object without it is drift.
func TestLateCrawlOfOlderObject(t *testing.T) {
	withNote := slices.Concat(ordersFields, []arrow.Field{{Name: "note", Type: arrow.BinaryTypes.String, Nullable: true}})
	schemaJSON := func(cols ...string) []byte {
		var b strings.Builder
		b.WriteString(`{"table": "orders", "columns": [`)
		for i, c := range cols {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, `{"name": %q, "type": "text"}`, c)
		}
		b.WriteString("]}")
		return []byte(b.String())
	}
	ordersCols := []string{"order_id", "customer_id", "status", "amount", "currency", "created_at", "updated_at"}

	l := newLake(t)
	const old = "silver/staging/orders/dt=2024-01-01/old.parquet"
	l.putParquet(t, old, ordersFields, orderRow)
	l.putParquet(t, "silver/staging/orders/dt=2024-01-02/new.parquet", withNote, strings.TrimSuffix(orderRow, "}")+`, "note": "x"}`)
	l.put(t, crawl.SchemaKey("orders"), schemaJSON(append(ordersCols, "note")...))
	if _, err := l.crawler.Crawl(ctx, crawl.Input{Objects: []string{"silver/staging/orders/dt=2024-01-02/new.parquet"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.crawler.Crawl(ctx, crawl.Input{Objects: []string{old}}); err != nil {
		t.Errorf("late crawl of an older object: %v, want no drift", err)
	}

	// The source drops currency: an object without it is drift.
	withoutCurrency := slices.Delete(slices.Clone(withNote), 4, 5)
	const dropped = "silver/staging/orders/dt=2024-01-03/dropped.parquet"
	l.putParquet(t, dropped, withoutCurrency, strings.Replace(strings.TrimSuffix(orderRow, "}")+`, "note": "x"}`, `"currency": "EUR", `, ``, 1))
	l.put(t, crawl.SchemaKey("orders"), schemaJSON("order_id", "customer_id", "status", "amount", "created_at", "updated_at", "note"))
	_, err := l.crawler.Crawl(ctx, crawl.Input{Objects: []string{dropped}})
	var drift *crawl.SchemaDriftError
	if !errors.As(err, &drift) || len(drift.Changes) != 1 || drift.Changes[0].Column != "currency" || drift.Changes[0].Kind != crawl.DriftDropped {
		t.Errorf("crawl after the source dropped currency = %v, want drift on currency", err)
	}
}

// TestDefaultPartition: rows whose partition column is NULL sit in Hive's
// default partition, which is registered like any other.
func TestDefaultPartition(t *testing.T) {
	l := newLake(t)
	l.putParquet(t, "silver/staging/orders/dt=__HIVE_DEFAULT_PARTITION__/a.parquet", ordersFields, orderRow)
	if _, err := l.crawler.Crawl(ctx, crawl.Input{}); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(partitionList(t, l, "silver", "orders"), "; "), "__HIVE_DEFAULT_PARTITION__ silver/staging/orders/dt=__HIVE_DEFAULT_PARTITION__/"; got != want {
		t.Errorf("partitions = %s, want %s", got, want)
	}
}
