package crawl_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/medallionlake/lake/internal/catalog"
	"github.com/medallionlake/lake/internal/catalog/localcatalog"
	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/crawl"
	"github.com/medallionlake/lake/internal/lakeparquet"
	"github.com/medallionlake/lake/internal/layout"
	"github.com/medallionlake/lake/internal/route"
	"github.com/medallionlake/lake/internal/store"
	"github.com/medallionlake/lake/internal/store/filestore"
	"github.com/medallionlake/lake/internal/testenv"
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
	{Name: "DataQualityFailedValues", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
}

const ordersColumns = "order_id bigint, customer_id bigint, status string, amount decimal(12,2), currency string, created_at timestamp, updated_at timestamp"

const bronzeKey = "bronze/landing/orders/x/all/part-00000.parquet"

// lake is a lake in a temp folder with its local catalog and a crawler
// over the orders contract. The crawler's store refuses every read but
// that of the table's schema.json: crawl is given everything else.
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
	ts, err := contract.LoadDir(testenv.RepoRoot() + "/schemas")
	if err != nil {
		t.Fatal(err)
	}
	cat := localcatalog.New(s)
	return &lake{s: s, cat: cat, crawler: &crawl.Crawler{Store: noReads{s}, Catalog: cat, Contracts: ts}}
}

// noReads fails Get and GetRange of anything but a table's schema.json.
type noReads struct{ store.Store }

func (n noReads) Get(ctx context.Context, key string) (io.ReadCloser, store.ObjectInfo, error) {
	if !strings.HasSuffix(key, "/schema.json") {
		return nil, store.ObjectInfo{}, fmt.Errorf("crawl read %q, which it was given", key)
	}
	return n.Store.Get(ctx, key)
}

func (n noReads) GetRange(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	return nil, fmt.Errorf("crawl read %q, which it was given", key)
}

// record is the route record of the bronze object, with silver objects
// in the given partitions.
func record(t *testing.T, silver []arrow.Field, partitions ...string) *route.Record {
	t.Helper()
	cols, err := catalog.Columns(arrow.NewSchema(silver, nil))
	if err != nil {
		t.Fatal(err)
	}
	disc, err := catalog.Columns(arrow.NewSchema(slices.Concat(silver, dqFields), nil))
	if err != nil {
		t.Fatal(err)
	}
	k := layout.KeysFor("orders", bronzeKey, "e1")
	rec := &route.Record{
		Output:        route.Output{Key: bronzeKey, ETag: "e1", Table: "orders", Stem: k.Stem, RecordKey: k.RouteRecord()},
		PartitionName: "dt", SilverColumns: cols, DiscardedColumns: disc,
		Discarded: []lakeparquet.Object{{Key: k.DiscardedRows(0), Rows: 1}},
	}
	for _, p := range partitions {
		rec.Silver = append(rec.Silver, lakeparquet.PartitionObject{Partition: p, Object: lakeparquet.Object{Key: k.Silver(p, 0), Rows: 1}})
	}
	return rec
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

func TestCrawl(t *testing.T) {
	l := newLake(t)
	if _, err := l.s.Put(ctx, bronzeKey, strings.NewReader("bronze"), nil); err != nil {
		t.Fatal(err)
	}
	// the route wrote the bronze object's version e1; the store's ETag is
	// the content's MD5, so make the record name it
	info, err := l.s.Stat(ctx, bronzeKey)
	if err != nil {
		t.Fatal(err)
	}
	rec := record(t, ordersFields, "dt=2024-01-01", "dt=2024-01-02", "dt=2024-01-01")
	rec.ETag = info.ETag

	out, err := l.crawler.Crawl(ctx, rec)
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
	if got, want := strings.Join(names, " "), "silver.orders discarded.orders meta.watermarks meta.dq_results meta.executions"; got != want {
		t.Errorf("tables crawled = %q, want %q", got, want)
	}
	if !out.BronzeDeleted {
		t.Error("BronzeDeleted = false")
	}
	if _, err := l.s.Stat(ctx, bronzeKey); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("bronze object after the crawl: %v, want it deleted", err)
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
			", dataqualityevaluationresult string, dataqualityfailedvalues array<string>"},
		{"watermarks columns", columnList(l.table(t, "meta", "watermarks").Columns),
			"table string, cursor string, watermark struct<us:string,utc:string>, previous struct<us:string,utc:string>, advanced_at struct<us:string,utc:string>, objects bigint, rows bigint, bytes bigint"},
		{"executions columns", columnList(l.table(t, "meta", "executions").Columns),
			"executionarn string, statemachinearn string, name string, status string, startdate string, stopdate string, input string, output string, error string, cause string, redrivecount bigint, redrivedate string"},
		{"executions files", l.table(t, "meta", "executions").Files, "execution.json"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.description, tc.got, tc.want)
		}
	}
	if got := columnList(l.table(t, "meta", "dq_results").Columns); !strings.Contains(got, "result struct<score:double,aggregatedmetrics:struct<") {
		t.Errorf("dq_results columns %s, want the Glue-shaped result as a struct", got)
	}

	// The same record again (a retried crawl) changes nothing.
	again, err := l.crawler.Crawl(ctx, rec)
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

// TestCrawlKeepsOtherVersion: a bronze object replaced since it was
// routed is left for its own event.
func TestCrawlKeepsOtherVersion(t *testing.T) {
	l := newLake(t)
	if _, err := l.s.Put(ctx, bronzeKey, strings.NewReader("a newer version"), nil); err != nil {
		t.Fatal(err)
	}
	out, err := l.crawler.Crawl(ctx, record(t, ordersFields, "dt=2024-01-01"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.s.Stat(ctx, bronzeKey); err != nil || out.BronzeDeleted {
		t.Errorf("newer bronze version after the crawl: %v (deleted=%v), want it kept", err, out.BronzeDeleted)
	}
}

func TestSchemaDrift(t *testing.T) {
	withNote := slices.Concat(ordersFields, []arrow.Field{{Name: "note", Type: arrow.BinaryTypes.String, Nullable: true}})
	amountAsDouble := slices.Clone(ordersFields)
	amountAsDouble[3] = arrow.Field{Name: "amount", Type: arrow.PrimitiveTypes.Float64, Nullable: true}
	withoutCurrency := slices.Delete(slices.Clone(ordersFields), 4, 5)

	for _, tc := range []struct {
		description string
		fields      []arrow.Field
		wantColumns string
		wantAdded   []string
		wantDrift   []crawl.DriftChange
	}{
		{
			description: "new nullable column evolves the table",
			fields:      withNote,
			wantColumns: ordersColumns + ", note string",
			wantAdded:   []string{"note"},
		},
		{
			description: "type change is drift",
			fields:      amountAsDouble,
			wantColumns: ordersColumns,
			wantDrift: []crawl.DriftChange{{Table: "silver.orders", Object: bronzeKey,
				Column: "amount", Kind: crawl.DriftTypeChanged, Was: "decimal(12,2)", Now: "double"}},
		},
		{
			description: "dropped column is drift",
			fields:      withoutCurrency,
			wantColumns: ordersColumns,
			wantDrift: []crawl.DriftChange{{Table: "silver.orders", Object: bronzeKey,
				Column: "currency", Kind: crawl.DriftDropped, Was: "string"}},
		},
	} {
		t.Run(tc.description, func(t *testing.T) {
			l := newLake(t)
			first := record(t, ordersFields, "dt=2024-01-01")
			first.Discarded = nil
			if _, err := l.crawler.Crawl(ctx, first); err != nil {
				t.Fatal(err)
			}
			rec := record(t, tc.fields, "dt=2024-01-03")
			rec.Discarded = nil
			out, err := l.crawler.Crawl(ctx, rec)
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
				if !strings.Contains(err.Error(), tc.wantDrift[0].Column) || !strings.Contains(err.Error(), bronzeKey) {
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

func TestUnknownTable(t *testing.T) {
	l := newLake(t)
	rec := record(t, ordersFields, "dt=2024-01-01")
	rec.Table = "nope"
	if _, err := l.crawler.Crawl(ctx, rec); !errors.Is(err, contract.ErrUnknownTable) {
		t.Fatalf("Crawl(unknown table) = %v, want ErrUnknownTable", err)
	}
}

// TestLateCrawlOfOlderObject: an object routed before a column was added
// but committed after it (a retry) is not a dropped column while the
// source's schema.json still lists the column; once the source has really
// dropped a column, an object without it is drift.
func TestLateCrawlOfOlderObject(t *testing.T) {
	withNote := slices.Concat(ordersFields, []arrow.Field{{Name: "note", Type: arrow.BinaryTypes.String, Nullable: true}})
	schema := func(fields []arrow.Field) *layout.TableSchema {
		ts := &layout.TableSchema{Table: "orders"}
		for _, f := range fields {
			ts.Columns = append(ts.Columns, layout.ColumnSchema{Name: f.Name, Type: "text", Arrow: f.Type.String()})
		}
		return ts
	}
	l := newLake(t)
	if _, err := store.PutJSON(ctx, l.s, layout.SchemaKey("orders"), schema(withNote), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := l.crawler.Crawl(ctx, record(t, withNote, "dt=2024-01-02")); err != nil {
		t.Fatal(err)
	}
	if _, err := l.crawler.Crawl(ctx, record(t, ordersFields, "dt=2024-01-01")); err != nil {
		t.Errorf("late crawl of an older object: %v, want no drift", err)
	}

	// The source drops currency: an object without it is drift.
	withoutCurrency := slices.Delete(slices.Clone(withNote), 4, 5)
	if _, err := store.PutJSON(ctx, l.s, layout.SchemaKey("orders"), schema(withoutCurrency), nil); err != nil {
		t.Fatal(err)
	}
	_, err := l.crawler.Crawl(ctx, record(t, withoutCurrency, "dt=2024-01-03"))
	var drift *crawl.SchemaDriftError
	if !errors.As(err, &drift) {
		t.Fatalf("crawl after the source dropped currency = %v, want drift on currency", err)
	}
	for _, c := range drift.Changes {
		if c.Column != "currency" || c.Kind != crawl.DriftDropped {
			t.Errorf("drift %+v, want currency dropped (in silver and discarded)", c)
		}
	}
}

// TestDefaultPartition: rows whose partition column is NULL sit in Hive's
// default partition, which is registered like any other.
func TestDefaultPartition(t *testing.T) {
	l := newLake(t)
	if _, err := l.crawler.Crawl(ctx, record(t, ordersFields, "dt=__HIVE_DEFAULT_PARTITION__")); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(partitionList(t, l, "silver", "orders"), "; "), "__HIVE_DEFAULT_PARTITION__ silver/staging/orders/dt=__HIVE_DEFAULT_PARTITION__/"; got != want {
		t.Errorf("partitions = %s, want %s", got, want)
	}
}

// TestBadPartition: a record whose object names another partition column
// is refused, naming it.
func TestBadPartition(t *testing.T) {
	l := newLake(t)
	_, err := l.crawler.Crawl(ctx, record(t, ordersFields, "day=2024-01-01"))
	if err == nil || !strings.Contains(err.Error(), "day=2024-01-01") {
		t.Fatalf("Crawl = %v, want an error naming the partition", err)
	}
}
