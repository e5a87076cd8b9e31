package ingest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/jackc/pgx/v5"

	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/layout"
	"github.com/medallionlake/lake/internal/store"
	"github.com/medallionlake/lake/internal/store/filestore"
	"github.com/medallionlake/lake/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// env is a fresh source database with an items table, an empty lake and an
// Ingester over them.
type env struct {
	t   *testing.T
	url string
	st  store.Store
	tbl *contract.Table
	in  *Ingester
}

// itemsDDL is the test table: v is the row's version, bumped by every
// update, so that bronze can be checked version by version.
const itemsDDL = `CREATE TABLE items (
	id         bigint PRIMARY KEY,
	v          bigint NOT NULL DEFAULT 1,
	note       text,
	updated_at %s DEFAULT now()
)`

func newEnv(t *testing.T, cursorDecl string, null contract.NullCursor) *env {
	t.Helper()
	u := testenv.Postgres(t)
	e := &env{t: t, url: u}
	e.exec(fmt.Sprintf(itemsDDL, cursorDecl))
	st, err := filestore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e.st = st
	e.tbl = itemsContract(null)
	e.in = New(st, u, []*contract.Table{e.tbl}, Options{Margin: time.Microsecond})
	return e
}

func itemsContract(null contract.NullCursor) *contract.Table {
	return &contract.Table{
		Name: "items", Source: contract.Source{Schema: "public", Table: "items"},
		PrimaryKey: []string{"id"}, Cursor: "updated_at", NullCursor: null,
		Partition: contract.Partition{Column: "updated_at"}, Rules: "items.dqdl", File: "items.table.yaml",
	}
}

// withParams returns the source URL with extra query parameters (pgx sends
// unknown ones as run-time parameters, e.g. timezone).
func withParams(t *testing.T, raw string, kv ...string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	for i := 0; i < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func (e *env) connect() *pgx.Conn {
	e.t.Helper()
	conn, err := pgx.Connect(context.Background(), e.url)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func (e *env) exec(sql string, args ...any) {
	e.t.Helper()
	conn, err := pgx.Connect(context.Background(), e.url)
	if err != nil {
		e.t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), sql, args...); err != nil {
		e.t.Fatalf("%s: %v", sql, err)
	}
}

// source returns id -> v of every row in the source table.
func (e *env) source() map[int64]int64 {
	e.t.Helper()
	conn := e.connect()
	rows, err := conn.Query(context.Background(), "SELECT id, v FROM items")
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[int64]int64{}
	var id, v int64
	_, err = pgx.ForEachRow(rows, []any{&id, &v}, func() error { out[id] = v; return nil })
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

type version struct{ id, v int64 }

// bronze reads back every bronze object of the table and counts each
// (id, v) row version it holds.
func (e *env) bronze() map[version]int {
	e.t.Helper()
	ctx := context.Background()
	out := map[version]int{}
	for info, err := range e.st.List(ctx, layout.Landing("items")) {
		if err != nil {
			e.t.Fatal(err)
		}
		rc, _, err := e.st.Get(ctx, info.Key)
		if err != nil {
			e.t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			e.t.Fatal(err)
		}
		pf, err := file.NewParquetReader(bytes.NewReader(b))
		if err != nil {
			e.t.Fatalf("%s: %v", info.Key, err)
		}
		fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
		if err != nil {
			e.t.Fatalf("%s: %v", info.Key, err)
		}
		tbl, err := fr.ReadTable(ctx)
		if err != nil {
			e.t.Fatalf("%s: %v", info.Key, err)
		}
		tr := array.NewTableReader(tbl, 0)
		for tr.Next() {
			rec := tr.RecordBatch()
			ids := rec.Column(0).(*array.Int64)
			vs := rec.Column(1).(*array.Int64)
			for i := 0; i < ids.Len(); i++ {
				out[version{ids.Value(i), vs.Value(i)}]++
			}
		}
		tr.Release()
		tbl.Release()
	}
	return out
}

// checkNoLoss fails unless the current version of every source row is in
// bronze (at least once).
func (e *env) checkNoLoss() {
	e.t.Helper()
	got := e.bronze()
	var missing []string
	for id, v := range e.source() {
		if got[version{id, v}] == 0 {
			missing = append(missing, fmt.Sprintf("id=%d v=%d", id, v))
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		e.t.Fatalf("%d row versions missing from bronze: %s", len(missing), strings.Join(missing, ", "))
	}
}

// checkExactlyOnce fails unless bronze holds exactly the source's current
// versions, each once.
func (e *env) checkExactlyOnce() {
	e.t.Helper()
	got := e.bronze()
	src := e.source()
	for id, v := range src {
		if n := got[version{id, v}]; n != 1 {
			e.t.Errorf("id=%d v=%d is %d times in bronze, want 1", id, v, n)
		}
	}
	for ver, n := range got {
		if src[ver.id] != ver.v {
			e.t.Errorf("bronze holds id=%d v=%d (%d times), not in the source", ver.id, ver.v, n)
		}
	}
}

// watermark returns the table's current watermark, or nil.
func (e *env) watermark() *Instant {
	e.t.Helper()
	rec, _, err := ReadWatermark(context.Background(), e.st, "items")
	if err != nil {
		e.t.Fatal(err)
	}
	if rec == nil {
		return nil
	}
	return &rec.Watermark
}

func (e *env) run() *Result {
	e.t.Helper()
	res, err := e.in.Run(context.Background(), Request{Table: "items"})
	if err != nil {
		e.t.Fatalf("Run: %v", err)
	}
	return res
}

// beginAt opens a transaction on a new connection and returns it with its
// start time (now()).
func (e *env) beginAt() (pgx.Tx, Instant) {
	e.t.Helper()
	ctx := context.Background()
	tx, err := e.connect().Begin(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { tx.Rollback(context.Background()) })
	var us int64
	if err := tx.QueryRow(ctx, "SELECT floor(extract(epoch FROM now()) * 1000000)::bigint").Scan(&us); err != nil {
		e.t.Fatal(err)
	}
	return tx, Instant(us)
}

// failingStore fails every Put whose key has the prefix fail.
type failingStore struct {
	store.Store
	fail string
}

func (s failingStore) Put(ctx context.Context, key string, r io.Reader, opts *store.PutOptions) (store.ObjectInfo, error) {
	if strings.HasPrefix(key, s.fail) {
		return store.ObjectInfo{}, fmt.Errorf("injected failure writing %s", key)
	}
	return s.Store.Put(ctx, key, r, opts)
}

// answerLostStore applies every Put of key, then answers as a retry of it
// would: the condition failed.
type answerLostStore struct {
	store.Store
	key string
}

func (s answerLostStore) Put(ctx context.Context, key string, r io.Reader, opts *store.PutOptions) (store.ObjectInfo, error) {
	info, err := s.Store.Put(ctx, key, r, opts)
	if err != nil || key != s.key {
		return info, err
	}
	return store.ObjectInfo{}, fmt.Errorf("put %s (sent again): %w", key, store.ErrPreconditionFailed)
}
