package query_test

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"slices"
	"strconv"
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
	"github.com/medallionlake/lake/internal/lakeparquet"
	"github.com/medallionlake/lake/internal/layout"
	"github.com/medallionlake/lake/internal/query"
	"github.com/medallionlake/lake/internal/query/format"
	"github.com/medallionlake/lake/internal/route"
	"github.com/medallionlake/lake/internal/store"
	"github.com/medallionlake/lake/internal/store/filestore"
	"github.com/medallionlake/lake/queries"
)

var ctx = context.Background()

var ordersFields = []arrow.Field{
	{Name: "order_id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "customer_id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "status", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "amount", Type: &arrow.Decimal128Type{Precision: 12, Scale: 2}, Nullable: true},
	{Name: "currency", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "created_at", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
	{Name: "updated_at", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
}

var withNote = append(append([]arrow.Field{}, ordersFields...), arrow.Field{Name: "note", Type: arrow.BinaryTypes.String, Nullable: true})

var discardedFields = append(append([]arrow.Field{}, ordersFields...),
	arrow.Field{Name: "DataQualityRulesPass", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
	arrow.Field{Name: "DataQualityRulesFail", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
	arrow.Field{Name: "DataQualityRulesSkip", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
	arrow.Field{Name: "DataQualityEvaluationResult", Type: arrow.BinaryTypes.String, Nullable: true},
)

func order(id int, status, amount, created, updated string) string {
	return `{"order_id": ` + strconv.Itoa(id) + `, "customer_id": 7, "status": "` + status + `", "amount": "` + amount +
		`", "currency": "EUR", "created_at": "` + created + `", "updated_at": "` + updated + `"}`
}

// newLake writes a silver history with several versions of some orders
// across objects and partitions (the last object with a new column), a
// discarded object and a watermark record, then crawls it.
func newLake(t *testing.T) *filestore.Store {
	t.Helper()
	s, err := filestore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	put := func(key string, fields []arrow.Field, rows ...string) {
		t.Helper()
		putParquet(t, s, key, fields, rows...)
	}
	// Run 1.
	put("silver/staging/orders/dt=2024-01-01/run1.parquet", ordersFields,
		order(1, "PENDING", "10.00", "2024-01-01T10:00:00Z", "2024-01-01T10:00:00Z"),
		order(3, "PENDING", "30.50", "2024-01-01T12:00:00Z", "2024-01-01T12:00:00Z"))
	// Run 2: order 1 paid; order 2 new on another day; order 3 twice with
	// the same cursor (a tie, broken by the greater object key).
	put("silver/staging/orders/dt=2024-01-01/run2.parquet", ordersFields,
		order(1, "PAID", "10.00", "2024-01-01T10:00:00Z", "2024-01-02T09:00:00Z"),
		order(3, "CANCELLED", "30.50", "2024-01-01T12:00:00Z", "2024-01-03T00:00:00Z"))
	put("silver/staging/orders/dt=2024-01-02/run2.parquet", ordersFields,
		order(2, "PENDING", "0.05", "2024-01-02T08:00:00Z", "2024-01-02T08:00:00Z"))
	// Run 3, after the source gained a nullable column.
	put("silver/staging/orders/dt=2024-01-01/run3.parquet", withNote,
		strings.TrimSuffix(order(1, "SHIPPED", "10.00", "2024-01-01T10:00:00Z", "2024-01-04T09:30:00.25Z"), "}")+`, "note": "gift"}`,
		strings.TrimSuffix(order(3, "RETURNED", "30.50", "2024-01-01T12:00:00Z", "2024-01-03T00:00:00Z"), "}")+`, "note": null}`)
	put("discarded/orders/rows/run2.parquet", discardedFields,
		`{"order_id": 4, "status": "LOST", "amount": "-1.00", "created_at": "2024-01-02T00:00:00Z", "updated_at": "2024-01-02T00:00:00Z",
		  "DataQualityRulesPass": [], "DataQualityRulesFail": ["ColumnValues \"status\" in [\"PAID\"]", "ColumnValues \"amount\" >= 0"],
		  "DataQualityRulesSkip": [], "DataQualityEvaluationResult": "Failed"}`)
	// The source's columns, as ingest records them.
	if _, err := s.Put(ctx, "_meta/tables/orders/schema.json", strings.NewReader(
		`{"table":"orders","columns":[{"name":"order_id"},{"name":"customer_id"},{"name":"status"},{"name":"amount"},{"name":"currency"},{"name":"created_at"},{"name":"updated_at"},{"name":"note"}]}`), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "_meta/watermarks/history/orders/1.json", strings.NewReader(
		`{"table":"orders","cursor":"updated_at","watermark":{"us":"1704326400000000","utc":"2024-01-04T00:00:00.000000Z"},"advanced_at":{"us":"1704326405000000","utc":"2024-01-04T00:00:05.000000Z"},"objects":1,"rows":2,"bytes":100}`), nil); err != nil {
		t.Fatal(err)
	}
	crawlLake(t, s)
	return s
}

// crawlLake commits every silver and discarded object of the lake to its
// local catalog, oldest first, as the route records of the objects would
// list them (their columns read from their footers).
func crawlLake(t testing.TB, s store.Store) {
	t.Helper()
	ct, err := contract.LoadFile(filepath.Join("..", "..", "schemas", "orders.table.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var objs []store.ObjectInfo
	for _, prefix := range []string{layout.SilverLocation("orders"), layout.DiscardedLocation("orders")} {
		for info, err := range s.List(ctx, prefix) {
			if err != nil {
				t.Fatal(err)
			}
			objs = append(objs, info)
		}
	}
	slices.SortStableFunc(objs, func(a, b store.ObjectInfo) int { return a.ModTime.Compare(b.ModTime) })
	c := &crawl.Crawler{Store: s, Catalog: localcatalog.New(s), Contracts: []*contract.Table{ct}}
	for _, o := range objs {
		r, err := lakeparquet.Open(io.NewSectionReader(store.NewReaderAt(ctx, s, o.Key, o.Size), 0, o.Size), lakeparquet.ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cols, err := catalog.Columns(r.Schema())
		if err != nil {
			t.Fatal(err)
		}
		rec := &route.Record{Output: route.Output{Key: "bronze/landing/orders/" + o.Key, ETag: "e", Table: "orders"}, PartitionName: "dt"}
		obj := lakeparquet.Object{Key: o.Key, Rows: r.NumRows(), Bytes: o.Size}
		if rest, ok := strings.CutPrefix(o.Key, layout.SilverLocation("orders")); ok {
			part, _, _ := strings.Cut(rest, "/")
			rec.Silver, rec.SilverColumns = []lakeparquet.PartitionObject{{Object: obj, Partition: part}}, cols
		} else {
			rec.Discarded, rec.DiscardedColumns = []lakeparquet.Object{obj}, cols
		}
		if _, err := c.Crawl(ctx, rec); err != nil {
			t.Fatalf("Crawl %s: %v", o.Key, err)
		}
	}
}

func putParquet(t testing.TB, s store.Store, key string, fields []arrow.Field, rows ...string) {
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
	time.Sleep(5 * time.Millisecond) // modification times follow the writes
	if _, err := s.Put(ctx, key, &buf, nil); err != nil {
		t.Fatal(err)
	}
}

func open(t *testing.T, s store.Store, opts query.Options) *query.Engine {
	t.Helper()
	e, err := query.Open(ctx, s, localcatalog.New(s), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func run(t *testing.T, e *query.Engine, kind, sql string) string {
	t.Helper()
	var out bytes.Buffer
	w, err := format.New(&out, kind)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Query(ctx, sql, w); err != nil {
		t.Fatalf("Query(%s): %v", sql, err)
	}
	return out.String()
}

func TestViews(t *testing.T) {
	e := open(t, newLake(t), query.Options{})
	for _, tc := range []struct{ description, sql, want string }{
		{
			"current holds the latest version per key, ties broken by the greater object key",
			`SELECT order_id, status, note, dt FROM silver.orders_current ORDER BY order_id`,
			"order_id,status,note,dt\n1,SHIPPED,gift,2024-01-01\n2,PENDING,,2024-01-02\n3,RETURNED,,2024-01-01\n",
		},
		{
			"silver keeps every version; older objects read the new column as NULL",
			`SELECT order_id, count(*) AS versions, count(note) AS notes FROM silver.orders GROUP BY ALL ORDER BY order_id`,
			"order_id,versions,notes\n1,3,1\n2,1,0\n3,3,0\n",
		},
		{
			"discarded rows with the rules they failed",
			`SELECT order_id, DataQualityEvaluationResult, len(dataqualityrulesfail) AS fails FROM discarded.orders`,
			"order_id,DataQualityEvaluationResult,fails\n4,Failed,2\n",
		},
		{
			"meta watermarks (DuckDB reads the RFC 3339 text as a timestamp)",
			`SELECT "table", watermark.us, watermark.utc FROM meta.watermarks`,
			"table,us,utc\norders,1704326400000000,2024-01-04 00:00:00\n",
		},
		{
			"partition column is a date",
			`SELECT typeof(dt) AS t FROM silver.orders LIMIT 1`,
			"t\nDATE\n",
		},
	} {
		t.Run(tc.description, func(t *testing.T) {
			if got := run(t, e, format.CSV, tc.sql); got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

// TestCurrentAcrossCrawls adds a version of a key in a later run and
// crawl, and checks _current follows it.
func TestCurrentAcrossCrawls(t *testing.T) {
	s := newLake(t)
	const q = `SELECT status FROM silver.orders_current WHERE order_id = 2`
	if got, want := run(t, open(t, s, query.Options{}), format.CSV, q), "status\nPENDING\n"; got != want {
		t.Fatalf("before: %q, want %q", got, want)
	}
	putParquet(t, s, "silver/staging/orders/dt=2024-01-02/run4.parquet", withNote,
		strings.TrimSuffix(order(2, "DELIVERED", "0.05", "2024-01-02T08:00:00Z", "2024-01-05T00:00:00Z"), "}")+`, "note": null}`)
	crawlLake(t, s)
	if got, want := run(t, open(t, s, query.Options{}), format.CSV, q), "status\nDELIVERED\n"; got != want {
		t.Fatalf("after: %q, want %q", got, want)
	}
}

func TestFormats(t *testing.T) {
	e := open(t, newLake(t), query.Options{})
	const q = `SELECT order_id, amount, updated_at, dt, note, order_id / 4 AS scaled, [status, currency] AS tags
		FROM silver.orders_current WHERE order_id IN (1, 2) ORDER BY order_id`
	for _, tc := range []struct{ kind, want string }{
		{format.Table, `order_id | amount | updated_at              | dt         | note | scaled | tags
---------+--------+-------------------------+------------+------+--------+------------------
       1 |  10.00 | 2024-01-04 09:30:00.25Z | 2024-01-01 | gift |   0.25 | ["SHIPPED","EUR"]
       2 |   0.05 | 2024-01-02 08:00:00Z    | 2024-01-02 | NULL |    0.5 | ["PENDING","EUR"]
(2 rows)
`},
		{format.CSV, `order_id,amount,updated_at,dt,note,scaled,tags
1,10.00,2024-01-04 09:30:00.25Z,2024-01-01,gift,0.25,"[""SHIPPED"",""EUR""]"
2,0.05,2024-01-02 08:00:00Z,2024-01-02,,0.5,"[""PENDING"",""EUR""]"
`},
		{format.JSON, `[
  {"order_id": 1, "amount": 10.00, "updated_at": "2024-01-04T09:30:00.25Z", "dt": "2024-01-01", "note": "gift", "scaled": 0.25, "tags": ["SHIPPED","EUR"]},
  {"order_id": 2, "amount": 0.05, "updated_at": "2024-01-02T08:00:00Z", "dt": "2024-01-02", "note": null, "scaled": 0.5, "tags": ["PENDING","EUR"]}
]
`},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			if got := run(t, e, tc.kind, q); got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestBadQuery(t *testing.T) {
	e := open(t, newLake(t), query.Options{})
	for _, tc := range []struct{ description, sql, want string }{
		{"syntax", "SELEC 1", "Parser Error"},
		{"unknown table", "SELECT * FROM silver.nope", "Catalog Error"},
		{"unknown column", "SELECT nope FROM silver.orders", "Binder Error"},
	} {
		t.Run(tc.description, func(t *testing.T) {
			w, _ := format.New(new(bytes.Buffer), format.Table)
			err := e.Query(ctx, tc.sql, w)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Query(%q) = %v, want DuckDB's %s", tc.sql, err, tc.want)
			}
		})
	}
}

// notAFolder hides filestore's Dir, so the engine treats the lake as a
// remote store and mirrors it.
type notAFolder struct{ store.Store }

func TestMirror(t *testing.T) {
	s := newLake(t)
	cache := t.TempDir()
	const q = `SELECT count(*) AS n FROM silver.orders`
	if got, want := run(t, open(t, notAFolder{s}, query.Options{CacheDir: cache}), format.CSV, q), "n\n7\n"; got != want {
		t.Fatalf("mirrored: %q, want %q", got, want)
	}
	if err := s.Delete(ctx, "silver/staging/orders/dt=2024-01-01/run1.parquet"); err != nil {
		t.Fatal(err)
	}
	if got, want := run(t, open(t, notAFolder{s}, query.Options{CacheDir: cache}), format.CSV, q), "n\n5\n"; got != want {
		t.Fatalf("after a delete: %q, want %q (the stale copy should be pruned)", got, want)
	}
	if _, err := query.Open(ctx, notAFolder{s}, localcatalog.New(s), query.Options{}); err == nil {
		t.Errorf("Open without a cache folder for a remote lake: no error")
	}
}

// TestNamedQueries runs every named example query on DuckDB over the
// fixture lake.
func TestNamedQueries(t *testing.T) {
	e := open(t, newLake(t), query.Options{})
	want := map[string]string{
		"orders_per_status_per_day": "day,status,orders,amount\n2024-01-01,CANCELLED,1,30.50\n2024-01-01,SHIPPED,1,10.00\n2024-01-02,PENDING,1,0.05\n",
		"discard_rate_per_rule": "rule,failed_rows,evaluated_rows,discard_pct\n" +
			"\"ColumnValues \"\"amount\"\" >= 0\",1,8,12.5\n\"ColumnValues \"\"status\"\" in [\"\"PAID\"\"]\",1,8,12.5\n",
		"latest_watermark_per_table": "table,watermark,advanced_at,advances,rows_extracted\norders,2024-01-04 00:00:00,2024-01-04 00:00:05,1,2\n",
	}
	for _, name := range queries.Names() {
		t.Run(name, func(t *testing.T) {
			sql, err := queries.Get(name)
			if err != nil {
				t.Fatal(err)
			}
			if got := run(t, e, format.CSV, sql); got != want[name] {
				t.Errorf("got:\n%s\nwant:\n%s", got, want[name])
			}
		})
	}
}

// TestDefaultPartition: Hive's default partition reads as a NULL dt.
func TestDefaultPartition(t *testing.T) {
	s := newLake(t)
	putParquet(t, s, "silver/staging/orders/dt=__HIVE_DEFAULT_PARTITION__/run4.parquet", withNote,
		strings.TrimSuffix(order(9, "PENDING", "1.00", "2024-01-01T00:00:00Z", "2024-01-05T00:00:00Z"), "}")+`, "note": null}`)
	crawlLake(t, s)
	if got, want := run(t, open(t, s, query.Options{}), format.CSV, `SELECT order_id, dt FROM silver.orders_current WHERE order_id = 9`), "order_id,dt\n9,\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestTableWithoutObjects: a catalogued table whose objects are all gone
// (discarded rows expire) reads as empty, with its columns, and the other
// tables still work.
func TestTableWithoutObjects(t *testing.T) {
	s := newLake(t)
	if err := s.Delete(ctx, "discarded/orders/rows/run2.parquet"); err != nil {
		t.Fatal(err)
	}
	e := open(t, s, query.Options{})
	for _, tc := range []struct{ sql, want string }{
		{`SELECT count(*) AS n, count(dataqualityrulesfail) AS f FROM discarded.orders`, "n,f\n0,0\n"},
		{`SELECT count(*) AS n FROM silver.orders_current`, "n\n3\n"},
	} {
		if got := run(t, e, format.CSV, tc.sql); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.sql, got, tc.want)
		}
	}
	var typ string
	if err := e.DB().QueryRow(`SELECT data_type FROM information_schema.columns WHERE table_schema = 'discarded' AND table_name = 'orders' AND column_name = 'dataqualityrulesfail'`).Scan(&typ); err != nil {
		t.Fatal(err)
	}
	if typ != "VARCHAR[]" {
		t.Errorf("type of dataqualityrulesfail in the empty view = %s, want VARCHAR[]", typ)
	}
}

// TestNestedValues: maps keep their key order, nested decimals print as
// at the top level; a nested date or time carries no column type, so it
// prints as a timestamp.
func TestNestedValues(t *testing.T) {
	e := open(t, newLake(t), query.Options{})
	got := run(t, e, format.JSON, `SELECT MAP {'b': 2, 'a': NULL} AS m, {'x': 12.50::DECIMAL(4,2), 't': DATE '2024-01-31'} AS s, [MAP {'k': [1, 2]}] AS l`)
	want := "[\n  {\"m\": {\"b\":2,\"a\":null}, \"s\": {\"t\":\"2024-01-31T00:00:00\",\"x\":12.50}, \"l\": [{\"k\":[1,2]}]}\n]\n"
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}
