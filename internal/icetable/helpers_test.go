package icetable_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go/table"

	"github.com/medallionlake/lake/internal/bronze/bronzetest"
	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/icebergio"
	"github.com/medallionlake/lake/internal/icecatalog"
	"github.com/medallionlake/lake/internal/icecatalog/lakepointer"
	"github.com/medallionlake/lake/internal/icetable"
	"github.com/medallionlake/lake/internal/store"
	"github.com/medallionlake/lake/internal/store/filestore"
	"github.com/medallionlake/lake/internal/store/s3store"
	"github.com/medallionlake/lake/internal/testenv"
)

func TestMain(m *testing.M) {
	if os.Getenv(envKillLake) != "" { // the child of TestMaintainKilled
		os.Exit(killedMaintainer())
	}
	testenv.Main(m)
}

// fixture is a lake in a temporary folder (or a versitygw bucket) with the
// orders contract.
type fixture struct {
	lake    *icetable.Lake
	cat     *icecatalog.Catalog
	backend icecatalog.Backend
	fs      *icebergio.FS
	st      store.Store
	dir     string // the folder lake's directory ("" on S3)
	t       *contract.Table
}

func orders() *contract.Table {
	return &contract.Table{
		Name: "orders", PrimaryKey: []string{"order_id"}, Cursor: "updated_at",
		Partition:         contract.Partition{Column: "created_at", Transform: contract.TransformMonth},
		SnapshotRetention: contract.DefaultSnapshotRetention,
	}
}

// newFixture opens a folder lake.
func newFixture(t testing.TB, opts icetable.Options) *fixture {
	t.Helper()
	return newFolderFixture(t, opts, nil)
}

// newFolderFixture opens a folder lake through the store that wrap (when
// not nil) makes of the folder's.
func newFolderFixture(t testing.TB, opts icetable.Options, wrap func(store.Store) store.Store) *fixture {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "lake")
	fst, err := filestore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fst.Close() })
	var st store.Store = fst
	if wrap != nil {
		st = wrap(st)
	}
	f := open(t, st, "file://"+dir, opts)
	f.dir = dir
	return f
}

// newS3Fixture opens a lake in a fresh versitygw bucket.
func newS3Fixture(t testing.TB, opts icetable.Options) *fixture {
	t.Helper()
	cfg := testenv.S3(t)
	st, err := s3store.New(t.Context(), cfg.Options("lake"))
	if err != nil {
		t.Fatal(err)
	}
	return open(t, st, "s3://"+cfg.Bucket+"/lake", opts)
}

func open(t testing.TB, st store.Store, lakeURL string, opts icetable.Options) *fixture {
	t.Helper()
	root, err := icebergio.RootURI(lakeURL)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := icebergio.New(st, root)
	if err != nil {
		t.Fatal(err)
	}
	backend := lakepointer.New(fs)
	cat := icecatalog.New(backend, fs, icecatalog.Options{RollForwardAfter: 500 * time.Millisecond})
	return &fixture{lake: icetable.New(cat, opts), cat: cat, backend: backend, fs: fs, st: st, t: orders()}
}

// ordersSchema is the demo orders table as pgarrow reads it.
var ordersSchema = bronzetest.OrdersSchema

// order is one row of the orders table.
type order struct {
	ID      int64
	Status  string
	Created time.Time
	Updated time.Time
}

// day0 is the start of the test data's year.
var day0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// version returns order id as of update u (a later u: a later updated_at).
func version(id int64, u int) order {
	created := day0.Add(time.Duration(id%365) * 24 * time.Hour)
	return order{ID: id, Status: fmt.Sprintf("S%d", u), Created: created, Updated: created.Add(time.Duration(u) * time.Hour)}
}

// batch builds a record batch of rows.
func batch(rows []order) arrow.RecordBatch {
	b := array.NewRecordBuilder(memory.DefaultAllocator, ordersSchema)
	defer b.Release()
	for _, r := range rows {
		b.Field(0).(*array.Int64Builder).Append(r.ID)
		b.Field(1).(*array.Int64Builder).Append(r.ID % 97)
		b.Field(2).(*array.StringBuilder).Append(r.Status)
		b.Field(3).(*array.Decimal128Builder).Append(decimal128.FromI64(r.ID*100 + 99))
		b.Field(4).(*array.StringBuilder).Append("EUR")
		b.Field(5).(*array.TimestampBuilder).Append(arrow.Timestamp(r.Created.UnixMicro()))
		b.Field(6).(*array.TimestampBuilder).Append(arrow.Timestamp(r.Updated.UnixMicro()))
	}
	return b.NewRecordBatch()
}

// write writes rows as the object key (ETag "e-"+key) into the kind of
// table, in batches of at most 1000 rows, and returns the files after a
// JSON round trip (as a state would pass them on).
func (f *fixture) write(t testing.TB, kind icetable.Kind, key string, rows []order) icetable.Files {
	t.Helper()
	w, err := f.lake.NewWriter(t.Context(), kind, f.t, icetable.Object{Key: key, ETag: "e-" + key}, ordersSchema)
	if err != nil {
		t.Fatal(err)
	}
	for chunk := range slices.Chunk(rows, 1000) {
		rec := batch(chunk)
		err := w.Write(rec)
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
	}
	files, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	return jsonRoundTrip(t, files)
}

// jsonRoundTrip returns v after encoding it as JSON and decoding it
// again, strictly: what a state hands to the next.
func jsonRoundTrip[T any](t testing.TB, v T) T {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var back T
	if err := dec.Decode(&back); err != nil {
		t.Fatal(err)
	}
	return back
}

// backends are the lakes the tests that say so run on.
var backends = []struct {
	name string
	open func(testing.TB, icetable.Options) *fixture
}{{"folder", newFixture}, {"s3", newS3Fixture}}

// onEachBackend runs test on a fresh lake of each backend.
func onEachBackend(t *testing.T, test func(t *testing.T, f *fixture)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { test(t, b.open(t, icetable.Options{})) })
	}
}

// commit commits files or fails the test.
func (f *fixture) commit(t testing.TB, files icetable.Files) icetable.Committed {
	t.Helper()
	c, err := f.lake.Commit(t.Context(), f.t, files)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// commitAll commits files all at once, each from its own goroutine, and
// returns the attempts each took.
func (f *fixture) commitAll(t testing.TB, files []icetable.Files) []int {
	t.Helper()
	var wg sync.WaitGroup
	attempts := make([]int, len(files))
	for i := range files {
		wg.Go(func() {
			c, err := f.lake.Commit(t.Context(), f.t, files[i])
			if err != nil {
				t.Error(err)
			}
			attempts[i] = c.Attempts
		})
	}
	wg.Wait()
	return attempts
}

// load loads the kind of table.
func (f *fixture) load(t testing.TB, kind icetable.Kind) *table.Table {
	t.Helper()
	ident, err := icetable.Ident(kind, f.t.Name)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := f.cat.LoadTable(t.Context(), ident)
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

// scan reads the kind of table (deletes applied, by iceberg-go) as
// id -> the rows with that id, each as "status@updated".
func (f *fixture) scan(t testing.TB, kind icetable.Kind) map[int64][]string {
	t.Helper()
	tbl := f.load(t, kind)
	out := map[int64][]string{}
	if tbl.CurrentSnapshot() == nil {
		return out
	}
	at, err := tbl.Scan(table.WithSelectedFields("order_id", "status", "updated_at")).ToArrowTable(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer at.Release()
	tr := array.NewTableReader(at, 0)
	defer tr.Release()
	for tr.Next() {
		rec := tr.RecordBatch()
		ids := rec.Column(int(rec.Schema().FieldIndices("order_id")[0])).(*array.Int64)
		st := rec.Column(int(rec.Schema().FieldIndices("status")[0])).(*array.String)
		up := rec.Column(int(rec.Schema().FieldIndices("updated_at")[0])).(*array.Timestamp)
		for i := range ids.Len() {
			out[ids.Value(i)] = append(out[ids.Value(i)], st.Value(i)+"@"+up.Value(i).ToTime(arrow.Microsecond).Format(time.RFC3339))
		}
	}
	return out
}

// want is what scan returns for rows, as the latest version by updated_at
// of each id.
func latest(rows ...[]order) map[int64][]string {
	best := map[int64]order{}
	for _, rs := range rows {
		for _, r := range rs {
			if b, ok := best[r.ID]; !ok || r.Updated.After(b.Updated) {
				best[r.ID] = r
			}
		}
	}
	out := map[int64][]string{}
	for id, r := range best {
		out[id] = []string{r.Status + "@" + r.Updated.Format(time.RFC3339)}
	}
	return out
}

// versions returns, for ids, version u of each.
func versions(u int, ids ...int64) []order {
	out := make([]order, len(ids))
	for i, id := range ids {
		out[i] = version(id, u)
	}
	return out
}

// span returns the ids from..to-1.
func span(from, to int64) []int64 {
	var ids []int64
	for id := from; id < to; id++ {
		ids = append(ids, id)
	}
	return ids
}
