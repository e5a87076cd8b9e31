package route_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	vt "github.com/medallionlake/lake/internal/bronze/bronzetest"
	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/icetable"
	"github.com/medallionlake/lake/internal/pipeline"
	"github.com/medallionlake/lake/internal/route"
	"github.com/medallionlake/lake/internal/store"
	"github.com/medallionlake/lake/internal/testenv"
	"github.com/medallionlake/lake/internal/validate"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const key = "bronze/landing/orders/20260101T000000.000000Z_20260103T000000.000000Z/all/part-0.parquet"

// run is the workflow for one object: validate, then route unless DONE.
func run(t *testing.T, d route.Deps, key string) (validate.Output, route.Output) {
	t.Helper()
	ctx := context.Background()
	info, err := d.Lake.Stat(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	v, err := validate.Validate(ctx, d.Deps, validate.Input{Key: key, ETag: info.ETag, Size: info.Size})
	if err != nil {
		t.Fatalf("validate: %v", err)
	}
	r, err := route.Route(ctx, d, v)
	if err != nil {
		t.Fatalf("route: %v", err)
	}
	return v, r
}

// validated is the validate step's output for the object at info.
func validated(t *testing.T, d route.Deps, info store.ObjectInfo) validate.Output {
	t.Helper()
	v, err := validate.Validate(context.Background(), d.Deps, validate.Input{Key: info.Key, ETag: info.ETag, Size: info.Size})
	if err != nil {
		t.Fatalf("validate: %v", err)
	}
	return v
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// countingStore counts the bytes read from one key.
type countingStore struct {
	store.Store
	key  string
	read atomic.Int64
}

func (c *countingStore) Get(ctx context.Context, key string) (io.ReadCloser, store.ObjectInfo, error) {
	rc, info, err := c.Store.Get(ctx, key)
	if err != nil || key != c.key {
		return rc, info, err
	}
	return countingReader{rc, &c.read}, info, nil
}

func (c *countingStore) GetRange(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	rc, err := c.Store.GetRange(ctx, key, off, n)
	if err != nil || key != c.key {
		return rc, err
	}
	return countingReader{rc, &c.read}, nil
}

// CopyObject copies server-side, as the store under it does, without
// counting: the archive copy does not read the body through the step.
func (c *countingStore) CopyObject(ctx context.Context, dstKey string, src store.Store, srcKey, ifMatch string) (store.ObjectInfo, error) {
	cp, ok := c.Store.(store.Copier)
	if !ok {
		return store.ObjectInfo{}, store.ErrNotSupported
	}
	if s, ok := src.(*countingStore); ok {
		src = s.Store
	}
	return cp.CopyObject(ctx, dstKey, src, srcKey, ifMatch)
}

type countingReader struct {
	io.ReadCloser
	n *atomic.Int64
}

func (r countingReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	r.n.Add(int64(n))
	return n, err
}

func lakeDeps(l *vt.Lake) route.Deps {
	return storeDeps(l.Store, l.Tables)
}

// storeDeps are route's deps over st, with the lake's Iceberg tables.
func storeDeps(st store.Store, tables []*contract.Table) route.Deps {
	ice, err := pipeline.OpenIceberg(st, "", nil)
	if err != nil {
		panic(err)
	}
	return route.Deps{Deps: validate.Deps{Lake: st, Tables: tables}, Iceberg: ice}
}

// record reads the route record of r.
func record(t *testing.T, st store.Store, r route.Output) *route.Record {
	t.Helper()
	rec, err := route.ReadRecord(context.Background(), st, r.RecordKey)
	if err != nil || rec == nil {
		t.Fatalf("route record %s: %v, %v", r.RecordKey, rec, err)
	}
	return rec
}

// filesRows reads the rows of the data files f lists (uncommitted: what
// route wrote) as JSON objects, one per row.
func filesRows(t *testing.T, d route.Deps, f icetable.Files) []map[string]any {
	t.Helper()
	var rows []map[string]any
	for _, df := range f.Files {
		key, err := d.Iceberg.Catalog().FS().Key(df.Path)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, rowsOf(t, d.Lake, key)...)
	}
	return rows
}

// customTables is the orders contract with its own ruleset.
func customTables(t *testing.T, rules string) []*contract.Table {
	t.Helper()
	dir := t.TempDir()
	c, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "schemas", "orders.table.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	c = bytes.Replace(c, []byte("rules: orders.dqdl"), []byte("rules: custom.dqdl"), 1)
	if err := os.WriteFile(filepath.Join(dir, "orders.table.yaml"), c, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "custom.dqdl"), []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	tables, err := contract.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return tables
}

// keys lists every key in st under prefix.
func keys(t *testing.T, st store.Store, prefix string) []string {
	t.Helper()
	var out []string
	for info, err := range st.List(context.Background(), prefix) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, info.Key)
	}
	return out
}

// rowsOf reads a Parquet object as JSON objects, one per row.
func rowsOf(t *testing.T, st store.Store, key string) []map[string]any {
	t.Helper()
	data := vt.Get(t, st, key)
	tbl, err := pqarrow.ReadTable(context.Background(), bytes.NewReader(data), nil, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	defer tbl.Release()
	tr := array.NewTableReader(tbl, 1<<20)
	defer tr.Release()
	var buf bytes.Buffer
	for tr.Next() {
		if err := array.RecordToJSON(tr.RecordBatch(), &buf); err != nil {
			t.Fatal(err)
		}
	}
	var rows []map[string]any
	dec := json.NewDecoder(&buf)
	for {
		var m map[string]any
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, m)
	}
	return rows
}

// ids are the order_id values of rows, sorted.
func ids(rows []map[string]any) []int64 {
	var out []int64
	for _, r := range rows {
		if v, ok := r["order_id"].(float64); ok {
			out = append(out, int64(v))
		}
	}
	slices.Sort(out)
	return out
}

// strs turns a JSON list into strings.
func strs(v any) []string {
	var out []string
	for _, s := range v.([]any) {
		out = append(out, fmt.Sprint(s))
	}
	return out
}

// failingStore fails Put for keys with a given prefix, as an unavailable
// store would.
type failingStore struct {
	store.Store
	prefix string
}

func (f failingStore) Put(ctx context.Context, key string, r io.Reader, opts *store.PutOptions) (store.ObjectInfo, error) {
	if strings.HasPrefix(key, f.prefix) {
		return store.ObjectInfo{}, &store.StoreUnavailableError{Op: "put", Key: key, Err: fmt.Errorf("injected failure")}
	}
	return f.Store.Put(ctx, key, r, opts)
}
