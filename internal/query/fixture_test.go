package query_test

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/medallionlake/lake/internal/bronze/bronzetest"
	"github.com/medallionlake/lake/internal/catalog"
	"github.com/medallionlake/lake/internal/catalog/localcatalog"
	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/icecatalog"
	"github.com/medallionlake/lake/internal/icecatalog/lakepointer"
	"github.com/medallionlake/lake/internal/icetable"
	"github.com/medallionlake/lake/internal/layout"
	"github.com/medallionlake/lake/internal/query"
	"github.com/medallionlake/lake/internal/query/format"
	"github.com/medallionlake/lake/internal/store"
	"github.com/medallionlake/lake/internal/store/filestore"
	"github.com/medallionlake/lake/internal/store/s3store"
	"github.com/medallionlake/lake/internal/testenv"
)

var ctx = context.Background()

// ordersFields are the orders table's columns as ingest writes them;
// withNote adds a nullable column the source gained later; discardedFields
// are rejected rows with the data-quality columns.
var (
	ordersFields    = bronzetest.OrdersSchema.Fields()
	withNote        = append(slices.Clone(ordersFields), arrow.Field{Name: "note", Type: arrow.BinaryTypes.String, Nullable: true})
	discardedFields = append(slices.Clone(ordersFields), icetable.DQColumns...)
)

// order is one orders row as JSON (extra: more fields, such as `"note":
// "gift"`).
func order(id int, status, amount, created, updated string, extra ...string) string {
	return `{"order_id": ` + strconv.Itoa(id) + `, "customer_id": 7, "status": "` + status + `", "amount": "` + amount +
		`", "currency": "EUR", "created_at": "` + created + `", "updated_at": "` + updated + `"` +
		strings.Join(append([]string{""}, extra...), ", ") + `}`
}

// lake is a lake with the orders contract's Iceberg tables, written and
// committed with icetable as the route and commit steps do, and a local
// catalog of meta tables.
type lake struct {
	st   store.Store
	ice  *icetable.Lake
	meta catalog.Catalog
	t    *contract.Table
}

// newLake opens an empty lake in a temporary folder.
func newLake(t testing.TB) *lake {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "lake")
	st, err := filestore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return openLake(t, st, "file://"+dir)
}

// newS3Lake opens an empty lake in a fresh bucket of the S3-compatible
// test server (versitygw).
func newS3Lake(t testing.TB) *lake {
	t.Helper()
	cfg := testenv.S3(t)
	st, err := s3store.New(t.Context(), cfg.Options("lake"))
	if err != nil {
		t.Fatal(err)
	}
	return openLake(t, st, "s3://"+cfg.Bucket+"/lake")
}

func openLake(t testing.TB, st store.Store, lakeURL string) *lake {
	t.Helper()
	cat, err := lakepointer.Open(st, lakeURL, icecatalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ct, err := contract.LoadFile(filepath.Join("..", "..", "schemas", "orders.table.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	l := &lake{st: st, ice: icetable.New(cat, icetable.Options{}), meta: localcatalog.New(st), t: ct}
	l.registerMeta(t)
	return l
}

// registerMeta catalogues the meta table watermarks, as the commit step
// does.
func (l *lake) registerMeta(t testing.TB) {
	t.Helper()
	if err := l.meta.EnsureDatabase(ctx, layout.DatabaseMeta); err != nil {
		t.Fatal(err)
	}
	if err := l.meta.PutTable(ctx, &catalog.Table{
		Database: layout.DatabaseMeta, Name: "watermarks", Location: layout.WatermarkHistoryPrefix, Format: catalog.FormatJSON,
		Columns: []catalog.Column{{Name: "table", Type: "string"}, {Name: "watermark", Type: "struct<us:string,utc:string>"}, {Name: "rows", Type: "bigint"}},
	}); err != nil {
		t.Fatal(err)
	}
}

// write writes rows (JSON, with the columns fields) as the bronze object
// key into the kind of table, without committing.
func (l *lake) write(t testing.TB, kind icetable.Kind, key string, fields []arrow.Field, rows ...string) icetable.Files {
	t.Helper()
	rec := fromJSON(t, key, fields, rows...)
	defer rec.Release()
	return l.writeRecord(t, kind, key, rec)
}

// writeRecord writes rec as the bronze object key into the kind of table,
// in batches of at most 64Ki rows, without committing.
func (l *lake) writeRecord(t testing.TB, kind icetable.Kind, key string, rec arrow.RecordBatch) icetable.Files {
	t.Helper()
	w, err := l.ice.NewWriter(ctx, kind, l.t, icetable.Object{Key: "bronze/landing/orders/" + key + ".parquet", ETag: "etag-" + key}, rec.Schema())
	if err != nil {
		t.Fatal(err)
	}
	for i := int64(0); i < rec.NumRows(); i += 64 << 10 {
		part := rec.NewSlice(i, min(i+64<<10, rec.NumRows()))
		err := w.Write(part)
		part.Release()
		if err != nil {
			t.Fatal(err)
		}
	}
	files, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// fromJSON is a record batch of rows (JSON) with the columns fields.
func fromJSON(t testing.TB, key string, fields []arrow.Field, rows ...string) arrow.RecordBatch {
	t.Helper()
	rec, _, err := array.RecordFromJSON(memory.DefaultAllocator, arrow.NewSchema(fields, nil), strings.NewReader("["+strings.Join(rows, ",")+"]"))
	if err != nil {
		t.Fatalf("rows of %s: %v", key, err)
	}
	return rec
}

// valid routes rows as the valid rows of the object key: appended to
// silver.orders and merged into silver.orders_current. It returns a time
// after the commits landed.
func (l *lake) valid(t testing.TB, key string, fields []arrow.Field, rows ...string) time.Time {
	t.Helper()
	rec := fromJSON(t, key, fields, rows...)
	defer rec.Release()
	return l.validRecord(t, key, rec)
}

// validRecord is valid with the rows of rec.
func (l *lake) validRecord(t testing.TB, key string, rec arrow.RecordBatch) time.Time {
	t.Helper()
	for _, kind := range []icetable.Kind{icetable.Silver, icetable.Current} {
		if _, err := l.ice.Commit(ctx, l.t, l.writeRecord(t, kind, key, rec)); err != nil {
			t.Fatalf("commit %s to %s: %v", key, kind, err)
		}
	}
	return l.tick()
}

// discard routes rows as the rejected rows of the object key into
// discarded.orders.
func (l *lake) discard(t testing.TB, key string, rows ...string) time.Time {
	t.Helper()
	if _, err := l.ice.Commit(ctx, l.t, l.write(t, icetable.Discarded, key, discardedFields, rows...)); err != nil {
		t.Fatalf("commit %s to discarded: %v", key, err)
	}
	return l.tick()
}

// tick returns a time after every commit so far and before any later
// one (snapshot times are in milliseconds).
func (l *lake) tick() time.Time {
	time.Sleep(3 * time.Millisecond)
	at := time.Now()
	time.Sleep(3 * time.Millisecond)
	return at
}

// history is when the fixture's commits landed: just after each.
type history struct{ o1, o2, d2, o3, o4 time.Time }

// fill writes a history of the orders table: several versions of orders 1
// and 3 across objects and two month partitions, a column added by a
// later object (older files read it as NULL), an object arriving late
// with an older version of order 3 (in silver, not in _current), rejected
// rows, and a watermark record.
func (l *lake) fill(t testing.TB) history {
	t.Helper()
	var h history
	h.o1 = l.valid(t, "o1", ordersFields,
		order(1, "PENDING", "10.00", "2024-01-01T10:00:00Z", "2024-01-01T10:00:00Z"),
		order(3, "PENDING", "30.50", "2024-01-01T12:00:00Z", "2024-01-01T12:00:00Z"))
	h.o2 = l.valid(t, "o2", ordersFields,
		order(1, "PAID", "10.00", "2024-01-01T10:00:00Z", "2024-01-02T09:00:00Z"),
		order(3, "CANCELLED", "30.50", "2024-01-01T12:00:00Z", "2024-01-03T00:00:00Z"),
		order(2, "PENDING", "0.05", "2024-02-02T08:00:00Z", "2024-02-02T08:00:00Z"))
	h.d2 = l.discard(t, "o2",
		`{"order_id": 4, "status": "LOST", "amount": "-1.00", "created_at": "2024-01-02T00:00:00Z", "updated_at": "2024-01-02T00:00:00Z",
		  "DataQualityRulesPass": [], "DataQualityRulesFail": ["ColumnValues \"status\" in [\"PAID\"]", "ColumnValues \"amount\" >= 0"],
		  "DataQualityRulesSkip": [], "DataQualityEvaluationResult": "Failed", "DataQualityFailedValues": ["LOST", "-1.00"]}`)
	h.o3 = l.valid(t, "o3", withNote,
		order(1, "SHIPPED", "10.00", "2024-01-01T10:00:00Z", "2024-01-04T09:30:00.25Z", `"note": "gift"`),
		order(3, "RETURNED", "30.50", "2024-01-01T12:00:00Z", "2024-01-05T00:00:00Z", `"note": null`))
	h.o4 = l.valid(t, "o4", withNote,
		order(3, "PAID", "30.50", "2024-01-01T12:00:00Z", "2024-01-02T00:00:00Z", `"note": "late"`))
	if _, err := l.st.Put(ctx, layout.WatermarkHistoryPrefix+"orders/1.json", strings.NewReader(
		`{"table":"orders","cursor":"updated_at","watermark":{"us":"1704326400000000","utc":"2024-01-04T00:00:00.000000Z"},"advanced_at":{"us":"1704326405000000","utc":"2024-01-04T00:00:05.000000Z"},"objects":1,"rows":2,"bytes":100}`), nil); err != nil {
		t.Fatal(err)
	}
	return h
}

// folder is the lake key of the folder of the kind of table.
func (l *lake) folder(t testing.TB, kind icetable.Kind) string {
	t.Helper()
	id, err := icetable.Ident(kind, l.t.Name)
	if err != nil {
		t.Fatal(err)
	}
	loc, err := l.ice.Catalog().Resolve(id)
	if err != nil {
		t.Fatal(err)
	}
	key, err := l.ice.Catalog().FS().Key(loc.Location)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// open opens the query engine over l.
func (l *lake) open(t testing.TB, opts query.Options) *query.Engine {
	t.Helper()
	e, err := l.openErr(opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func (l *lake) openErr(opts query.Options) (*query.Engine, error) {
	opts.Tables = []string{l.t.Name}
	return query.Open(ctx, l.ice, l.meta, opts)
}

// run runs sql and returns its output in the format kind.
func run(t testing.TB, e *query.Engine, kind, sql string) string {
	t.Helper()
	out, err := runErr(e, kind, sql)
	if err != nil {
		t.Fatalf("Query(%s): %v", sql, err)
	}
	return out
}

func runErr(e *query.Engine, kind, sql string) (string, error) {
	var out bytes.Buffer
	w, err := format.New(&out, kind)
	if err != nil {
		return "", err
	}
	err = e.Query(ctx, sql, w)
	return out.String(), err
}
