package crawl_test

import (
	"context"
	"errors"
	"fmt"
	"io"
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
	"github.com/medallionlake/lake/internal/crawl"
	"github.com/medallionlake/lake/internal/icetable"
	"github.com/medallionlake/lake/internal/layout"
	"github.com/medallionlake/lake/internal/pipeline"
	"github.com/medallionlake/lake/internal/route"
	"github.com/medallionlake/lake/internal/store"
	"github.com/medallionlake/lake/internal/store/filestore"
	"github.com/medallionlake/lake/internal/testenv"
)

var ctx = context.Background()

const bronzeKey = "bronze/landing/orders/x/all/part-00000.parquet"

// lake is a lake in a temp folder with its local catalog, its Iceberg
// tables and a crawler over the orders contract. The crawler's store
// refuses to read bronze and the archive: the commit reads no object of
// the source.
type lake struct {
	s       *filestore.Store
	cat     *localcatalog.Catalog
	iceberg *icetable.Lake
	orders  *contract.Table
	crawler *crawl.Crawler
}

func newLake(t *testing.T) *lake {
	t.Helper()
	s, err := filestore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	tables, err := contract.LoadDir(testenv.RepoRoot() + "/schemas")
	if err != nil {
		t.Fatal(err)
	}
	ice, err := pipeline.OpenIceberg(s, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	cat := localcatalog.New(s)
	orders, _ := contract.Find(tables, "orders")
	return &lake{s: s, cat: cat, iceberg: ice, orders: orders,
		crawler: &crawl.Crawler{Store: noSourceReads{s}, Iceberg: ice, Catalog: cat, Contracts: tables}}
}

// noSourceReads fails reads of bronze and the archive.
type noSourceReads struct{ store.Store }

func (n noSourceReads) Get(ctx context.Context, key string) (io.ReadCloser, store.ObjectInfo, error) {
	if err := n.check(key); err != nil {
		return nil, store.ObjectInfo{}, err
	}
	return n.Store.Get(ctx, key)
}

func (n noSourceReads) GetRange(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	if err := n.check(key); err != nil {
		return nil, err
	}
	return n.Store.GetRange(ctx, key, off, length)
}

func (n noSourceReads) check(key string) error {
	if strings.HasPrefix(key, layout.LandingPrefix) || strings.HasPrefix(key, layout.ArchivePrefix) {
		return fmt.Errorf("the commit read %q, an object of the source", key)
	}
	return nil
}

// routed writes the files a route of bronzeKey at etag would write: the
// orders good as valid rows (silver and its current table), bad as
// rejected ones, and returns the route record.
func (l *lake) routed(t *testing.T, etag string, good, bad []bronzetest.Order) *route.Record {
	t.Helper()
	obj := icetable.Object{Key: bronzeKey, ETag: etag}
	k := layout.KeysFor("orders", bronzeKey, etag)
	rec := &route.Record{Output: route.Output{Key: bronzeKey, ETag: etag, Table: "orders", Stem: k.Stem, RecordKey: k.RouteRecord()}}
	write := func(kind icetable.Kind, sc *arrow.Schema, rows []bronzetest.Order) icetable.Files {
		w, err := l.iceberg.NewWriter(ctx, kind, l.orders, obj, sc)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) > 0 {
			b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
			for _, o := range rows {
				bronzetest.AppendOrder(b, o)
				for i := len(bronzetest.OrdersSchema.Fields()); i < sc.NumFields(); i++ {
					b.Field(i).AppendNull()
				}
			}
			rec := b.NewRecordBatch()
			if err := w.Write(rec); err != nil {
				t.Fatal(err)
			}
			rec.Release()
			b.Release()
		}
		f, err := w.Close()
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	disc := arrow.NewSchema(append(bronzetest.OrdersSchema.Fields(), icetable.DQColumns...), nil)
	rec.Silver = write(icetable.Silver, bronzetest.OrdersSchema, good)
	rec.Current = write(icetable.Current, bronzetest.OrdersSchema, good)
	rec.Discarded = write(icetable.Discarded, disc, bad)
	if _, err := store.PutJSON(ctx, l.s, rec.RecordKey, rec, nil); err != nil {
		t.Fatal(err)
	}
	return rec
}

func (l *lake) rows(t *testing.T) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, kind := range icetable.Kinds {
		s, err := l.iceberg.Stats(ctx, kind, l.orders)
		if err != nil {
			t.Fatal(err)
		}
		out[s.Table] = s.Rows
	}
	return out
}

var day = time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)

func TestCrawl(t *testing.T) {
	l := newLake(t)
	info := bronzetest.Put(t, l.s, bronzeKey, []byte("bronze"))
	good := []bronzetest.Order{bronzetest.Good(1, day), bronzetest.Good(2, day)}
	bad := []bronzetest.Order{bronzetest.Good(3, day)}
	rec := l.routed(t, info.ETag, good, bad)

	out, err := l.crawler.Crawl(ctx, rec)
	if err != nil {
		t.Fatalf("Crawl: %v", err)
	}
	if len(out.Commits) != 3 {
		t.Fatalf("commits %+v, want one per table", out.Commits)
	}
	for _, c := range out.Commits {
		if c.Already || c.SnapshotID == 0 || c.Object.Key != bronzeKey {
			t.Errorf("commit %+v, want a new snapshot of the object", c)
		}
	}
	want := map[string]int64{"silver.orders": 2, "silver.orders_current": 2, "discarded.orders": 1}
	if got := l.rows(t); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("rows %v, want %v", got, want)
	}
	if !out.BronzeDeleted {
		t.Error("BronzeDeleted = false")
	}
	if _, err := l.s.Stat(ctx, bronzeKey); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("bronze object after the crawl: %v, want it deleted", err)
	}
	var names []string
	for _, r := range out.Tables {
		names = append(names, r.Table)
	}
	if got, want := strings.Join(names, " "), "meta.watermarks meta.dq_results meta.executions"; got != want {
		t.Errorf("meta tables created %q, want %q", got, want)
	}
	columns := func(db, name string) string {
		tab, err := l.cat.GetTable(ctx, db, name)
		if err != nil {
			t.Fatalf("GetTable(%s.%s): %v", db, name, err)
		}
		var s []string
		for _, c := range tab.Columns {
			s = append(s, c.Name+" "+c.Type)
		}
		return strings.Join(s, ", ")
	}
	if got, want := columns("meta", "watermarks"), "table string, cursor string, watermark struct<us:string,utc:string>, previous struct<us:string,utc:string>, advanced_at struct<us:string,utc:string>, objects bigint, rows bigint, bytes bigint"; got != want {
		t.Errorf("meta.watermarks columns\n got %s\nwant %s", got, want)
	}
	if got := columns("meta", "dq_results"); !strings.Contains(got, "result struct<score:double,aggregatedmetrics:struct<") {
		t.Errorf("meta.dq_results columns %s, want the Glue-shaped result as a struct", got)
	}

	// The same record again (a retried crawl) commits nothing new.
	again, err := l.crawler.Crawl(ctx, rec)
	if err != nil {
		t.Fatalf("Crawl again: %v", err)
	}
	for _, c := range again.Commits {
		if !c.Already {
			t.Errorf("second commit %+v, want Already", c)
		}
	}
	if len(again.Tables) != 0 {
		t.Errorf("second crawl changed meta tables %+v", again.Tables)
	}
	if got := l.rows(t); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("rows after a retried crawl %v, want %v", got, want)
	}
}

// TestCrawlQuarantined: a quarantined object wrote no data files; its
// commit deletes it from bronze and commits nothing.
func TestCrawlQuarantined(t *testing.T) {
	l := newLake(t)
	info := bronzetest.Put(t, l.s, bronzeKey, []byte("not parquet"))
	k := layout.KeysFor("orders", bronzeKey, info.ETag)
	rec := &route.Record{Output: route.Output{Key: bronzeKey, ETag: info.ETag, Table: "orders", RecordKey: k.RouteRecord(), QuarantineKey: k.Quarantine()}}
	out, err := l.crawler.Crawl(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Commits) != 0 || !out.BronzeDeleted {
		t.Errorf("crawl %+v, want no commit and the object deleted", out)
	}
}

// TestCrawlKeepsOtherVersion: a bronze object replaced since it was
// routed is left for its own event.
func TestCrawlKeepsOtherVersion(t *testing.T) {
	l := newLake(t)
	rec := l.routed(t, "an-older-version", []bronzetest.Order{bronzetest.Good(1, day)}, nil)
	bronzetest.Put(t, l.s, bronzeKey, []byte("a newer version"))
	out, err := l.crawler.Crawl(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.s.Stat(ctx, bronzeKey); err != nil || out.BronzeDeleted {
		t.Errorf("newer bronze version after the crawl: %v (deleted=%v), want it kept", err, out.BronzeDeleted)
	}
}

// TestCrawlMissingDataFile: a record whose data files are gone (removed as
// orphans before its commit) is a named error; the record is deleted so
// that the object, still in bronze, is routed again.
func TestCrawlMissingDataFile(t *testing.T) {
	l := newLake(t)
	info := bronzetest.Put(t, l.s, bronzeKey, []byte("bronze"))
	rec := l.routed(t, info.ETag, []bronzetest.Order{bronzetest.Good(1, day)}, nil)
	key, err := l.iceberg.Catalog().FS().Key(rec.Silver.Files[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.s.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	_, err = l.crawler.Crawl(ctx, rec)
	var missing *icetable.MissingDataFileError
	if !errors.As(err, &missing) {
		t.Fatalf("Crawl: %v (%T), want a *icetable.MissingDataFileError", err, err)
	}
	if _, err := l.s.Stat(ctx, rec.RecordKey); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("route record after a missing data file: %v, want it deleted", err)
	}
	if _, err := l.s.Stat(ctx, bronzeKey); err != nil {
		t.Errorf("bronze object after a failed commit: %v, want it kept", err)
	}
}

func TestUnknownTable(t *testing.T) {
	l := newLake(t)
	rec := &route.Record{Output: route.Output{Key: bronzeKey, ETag: "e", Table: "nope"}}
	if _, err := l.crawler.Crawl(ctx, rec); !errors.Is(err, contract.ErrUnknownTable) {
		t.Fatalf("Crawl(unknown table) = %v, want ErrUnknownTable", err)
	}
}

var _ catalog.Catalog = (*localcatalog.Catalog)(nil)
