package reconcile_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/medallionlake/lake/internal/bronze/bronzetest"
	"github.com/medallionlake/lake/internal/catalog/localcatalog"
	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/icetable"
	"github.com/medallionlake/lake/internal/layout"
	"github.com/medallionlake/lake/internal/pipeline"
	"github.com/medallionlake/lake/internal/pipeline/pipelinetest"
	"github.com/medallionlake/lake/internal/reconcile"
	"github.com/medallionlake/lake/internal/route"
)

var ctx = context.Background()

// lake is a local lake with the pipeline over it.
type lake struct {
	*bronzetest.Lake
	p      *pipeline.Pipeline
	orders *contract.Table
	n      int // objects put
}

func newLake(t *testing.T) *lake {
	t.Helper()
	l := bronzetest.NewLake(t)
	p := pipeline.New(pipeline.Config{Lake: l.Store, Tables: l.Tables, Catalog: localcatalog.New(l.Store)})
	orders, err := contract.Find(l.Tables, "orders")
	if err != nil {
		t.Fatal(err)
	}
	return &lake{Lake: l, p: p, orders: orders}
}

// routed puts an object of 10 orders (2 of them rejected) in landing and
// validates and routes it, without committing: its route record.
func (l *lake) routed(t *testing.T) *route.Record {
	t.Helper()
	l.n++
	base := int64(l.n * 100)
	var rows []bronzetest.Order
	for i := range int64(10) {
		o := bronzetest.Good(base+i, time.Date(2026, 1, 1+int(i%3), 0, 0, 0, 0, time.UTC))
		if i < 2 {
			o.Status = bronzetest.P("NOPE")
		}
		rows = append(rows, o)
	}
	info := bronzetest.Put(t, l.Store, fmt.Sprintf("bronze/landing/orders/run%d/part-00000.parquet", l.n), bronzetest.OrdersParquet(t, rows))
	out := pipelinetest.Route(t, l.p, info)
	rec, err := route.ReadRecord(ctx, l.Store, out.RecordKey)
	if err != nil || rec == nil {
		t.Fatalf("route record %s: %v", out.RecordKey, err)
	}
	return rec
}

// committed routes and commits an object.
func (l *lake) committed(t *testing.T) *route.Record {
	t.Helper()
	rec := l.routed(t)
	if _, err := l.p.Crawl(ctx, pipeline.CrawlInput{Table: rec.Table, RecordKey: rec.RecordKey}); err != nil {
		t.Fatal(err)
	}
	return rec
}

// rows are the live rows of silver.orders, its current table and
// discarded.orders.
func (l *lake) rows(t *testing.T) [3]int64 {
	t.Helper()
	var out [3]int64
	for i, kind := range icetable.Kinds {
		s, err := l.p.Iceberg().Stats(ctx, kind, l.orders)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = s.Rows
	}
	return out
}

func (l *lake) delete(t *testing.T, key string) {
	t.Helper()
	if err := l.Store.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
}

func (l *lake) reconcile(t *testing.T, dry bool) *reconcile.Report {
	t.Helper()
	rep, err := l.p.Reconcile(ctx, reconcile.Options{DryRun: dry})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestReconcile sets up one route record in each state, checks that a
// dry run finds them and changes nothing, that a run repairs what it can
// and says what to do with the rest, and that a second run finds nothing.
func TestReconcile(t *testing.T) {
	l := newLake(t)
	l.committed(t)

	// Routed, commit never ran: pending.
	pending := l.routed(t)

	// Routed, then bronze deleted without a commit (what route did
	// before commits moved to crawl): missing, repairable.
	lost := l.routed(t)
	l.delete(t, lost.Key)

	// The same, and its data files are gone too: missing, for an
	// operator to requeue.
	gone := l.routed(t)
	l.delete(t, gone.Key)
	fs := l.p.Iceberg().Catalog().FS()
	for _, f := range gone.Silver.Files {
		key, err := fs.Key(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		l.delete(t, key)
	}

	// A record that does not decode.
	bronzetest.Put(t, l.Store, layout.RouteRecords("orders")+"broken.json", []byte("{not json"))

	before := l.rows(t)
	rep := l.reconcile(t, true)
	want := map[reconcile.State]int{reconcile.Committed: 1, reconcile.Pending: 1, reconcile.Missing: 2, reconcile.Unreadable: 1}
	if fmt.Sprint(rep.Records) != fmt.Sprint(want) {
		t.Errorf("dry run: records %v, want %v", rep.Records, want)
	}
	if got := l.rows(t); got != before {
		t.Errorf("a dry run changed the tables: rows %v, want %v", got, before)
	}
	if _, err := l.Store.Stat(ctx, pending.Key); err != nil {
		t.Errorf("a dry run touched the pending object: %v", err)
	}

	rep = l.reconcile(t, false)
	if fmt.Sprint(rep.Records) != fmt.Sprint(want) {
		t.Errorf("records %v, want %v", rep.Records, want)
	}
	byObject := map[string]reconcile.Finding{}
	for _, f := range rep.Findings {
		byObject[f.Object] = f
	}
	for _, c := range []struct {
		name     string
		rec      *route.Record
		repaired bool
		detail   string
	}{
		{"pending", pending, true, "committed"},
		{"missing", lost, true, "committed its files to silver.orders, silver.orders_current, discarded.orders"},
		{"files gone", gone, false, "lake requeue " + gone.ArchiveKey},
	} {
		f, ok := byObject[c.rec.Key]
		switch {
		case !ok:
			t.Errorf("%s: no finding for %s", c.name, c.rec.Key)
		case f.Repaired != c.repaired || !strings.Contains(f.Detail, c.detail):
			t.Errorf("%s: repaired %v, detail %q; want %v and %q", c.name, f.Repaired, f.Detail, c.repaired, c.detail)
		}
	}
	if rep.Unrepaired != 2 { // the files gone, the unreadable record
		t.Errorf("unrepaired = %d, want 2", rep.Unrepaired)
	}
	if _, err := l.Store.Stat(ctx, pending.Key); err == nil {
		t.Error("the pending object is still in bronze after its commit")
	}
	// Two objects more are committed: 8 valid rows, 2 rejected each.
	if got, want := l.rows(t), [3]int64{before[0] + 16, before[1] + 16, before[2] + 4}; got != want {
		t.Errorf("rows (silver, current, discarded) = %v, want %v", got, want)
	}
	if len(rep.Meta) != 0 {
		t.Errorf("meta tables registered again: %+v (the commits registered them)", rep.Meta)
	}

	// Everything repairable is repaired: a second run repairs nothing
	// and commits nothing twice.
	after := l.rows(t)
	rep = l.reconcile(t, false)
	want = map[reconcile.State]int{reconcile.Committed: 3, reconcile.Missing: 1, reconcile.Unreadable: 1}
	if fmt.Sprint(rep.Records) != fmt.Sprint(want) {
		t.Errorf("second run: records %v, want %v", rep.Records, want)
	}
	if got := l.rows(t); got != after {
		t.Errorf("second run: rows %v, want %v", got, after)
	}
}

// TestReconcileMeta checks that a lost meta table is registered again.
func TestReconcileMeta(t *testing.T) {
	l := newLake(t)
	l.committed(t)
	l.delete(t, layout.CatalogPrefix+"tables/"+layout.DatabaseMeta+"/dq_results.json")
	rep := l.reconcile(t, false)
	if len(rep.Meta) != 1 || rep.Meta[0].Table != "meta.dq_results" || !rep.Meta[0].Created {
		t.Errorf("meta = %+v, want meta.dq_results created", rep.Meta)
	}
}

// TestReconcileUnknownTable refuses a table without a contract.
func TestReconcileUnknownTable(t *testing.T) {
	l := newLake(t)
	if _, err := l.p.Reconcile(ctx, reconcile.Options{Table: "nosuch"}); err == nil || !strings.Contains(err.Error(), "nosuch") {
		t.Errorf("err = %v, want one naming the table", err)
	}
}
