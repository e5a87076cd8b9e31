package maintain_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/icetable"
	"github.com/medallionlake/lake/internal/icetable/icetabletest"
	"github.com/medallionlake/lake/internal/lease"
	"github.com/medallionlake/lake/internal/maintain"
	"github.com/medallionlake/lake/internal/pipeline"
	"github.com/medallionlake/lake/internal/testenv"
	"github.com/medallionlake/lake/schemas"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// contracts are the repository's table contracts.
func contracts(t testing.TB) []*contract.Table {
	t.Helper()
	tables, err := contract.LoadFS(schemas.FS)
	if err != nil {
		t.Fatal(err)
	}
	return tables
}

// twoTables are the orders contract and a copy named returns.
func twoTables(t testing.TB) []*contract.Table {
	orders := contracts(t)[0]
	returns := *orders
	returns.Name = "returns"
	return []*contract.Table{orders, &returns}
}

func TestPlan(t *testing.T) {
	tables := twoTables(t)
	item := func(table string, kind icetable.Kind) string { return table + "/" + string(kind) }
	for _, tc := range []struct {
		description string
		start       maintain.Start
		want        []string
		err         string
	}{
		{"everything", maintain.Start{}, []string{
			item("orders", icetable.Silver), item("orders", icetable.Current), item("orders", icetable.Discarded),
			item("returns", icetable.Silver), item("returns", icetable.Current), item("returns", icetable.Discarded)}, ""},
		{"one table", maintain.Start{Tables: []string{"returns"}}, []string{
			item("returns", icetable.Silver), item("returns", icetable.Current), item("returns", icetable.Discarded)}, ""},
		{"kinds, in the order they run", maintain.Start{Kinds: []icetable.Kind{icetable.Discarded, icetable.Current}}, []string{
			item("orders", icetable.Current), item("orders", icetable.Discarded),
			item("returns", icetable.Current), item("returns", icetable.Discarded)}, ""},
		{"a table twice", maintain.Start{Tables: []string{"orders", "orders"}, Kinds: []icetable.Kind{icetable.Silver}}, []string{item("orders", icetable.Silver)}, ""},
		{"a table without a contract", maintain.Start{Tables: []string{"ordres"}}, nil, `table "ordres" (known: orders, returns)`},
		{"an unknown kind", maintain.Start{Kinds: []icetable.Kind{"gold"}}, nil, `kind of table "gold": want one of silver, current, discarded`},
		{"a negative orphan age", maintain.Start{OrphanAge: -1}, nil, "must not be negative"},
	} {
		t.Run(tc.description, func(t *testing.T) {
			items, err := maintain.Plan(tables, tc.start)
			if tc.err != "" {
				var bad *maintain.BadStartError
				if !errors.As(err, &bad) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Plan: %v, want a *BadStartError saying %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, it := range items {
				got = append(got, item(it.Table, it.Kind))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("items %q, want %q", got, tc.want)
			}
		})
	}
}

// lakeOn opens the Iceberg tables of a fresh lake of the backend.
func lakeOn(t *testing.T, open func(*testing.T) testenv.Lake) *icetable.Lake {
	t.Helper()
	l := open(t)
	lake, err := pipeline.OpenIceberg(l.Store, l.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	return lake
}

// TestRun fills a lake's tables with many small objects and maintains
// them: each table ends with one data file per partition and no delete
// files, holding every row it held; a table never committed to is
// absent; a second maintenance finds nothing to compact.
func TestRun(t *testing.T) {
	for _, b := range testenv.LakeURLs {
		t.Run(b.Name, func(t *testing.T) {
			lake := lakeOn(t, b.Open)
			tables := twoTables(t)
			want := icetabletest.Fill(t, lake, tables[0], "obj", 8, 60, nil)
			var progress strings.Builder
			r, err := maintain.Run(t.Context(), lake, tables, maintain.Start{}, &progress, nil)
			if err != nil {
				t.Fatalf("%v\n%s", err, progress.String())
			}
			t.Logf("progress:\n%s", progress.String())
			if r.Maintained != 3 || r.Absent != 3 || r.Failed != 0 || len(r.Tables) != 6 {
				t.Errorf("report: %d maintained, %d absent, %d failed of %d; want 3, 3, 0 of 6", r.Maintained, r.Absent, r.Failed, len(r.Tables))
			}
			for _, res := range r.Tables {
				if res.Table == "returns" {
					if !res.Absent {
						t.Errorf("%s of returns, never committed to: %+v, want absent", res.Kind, res)
					}
					continue
				}
				m := res.Maintenance
				if m == nil || m.RewrittenDataFiles == 0 || m.DataFiles != m.Partitions || m.DeleteFiles != 0 {
					t.Errorf("%s: %+v, want files rewritten into one per partition, no delete files", res.Kind, m)
				}
				if res.Kind == icetable.Current && m.RemovedDeleteFiles == 0 {
					t.Errorf("_current: %+v, want its delete files folded", m)
				}
			}
			icetabletest.Check(t, lake, tables[0], want)
			if n := strings.Count(progress.String(), "\n"); n != 12 {
				t.Errorf("%d progress lines, want a start and an end per table (12)", n)
			}

			again, err := maintain.Run(t.Context(), lake, tables, maintain.Start{Tables: []string{"orders"}}, &progress, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, res := range again.Tables {
				if res.Maintenance.RewrittenDataFiles != 0 {
					t.Errorf("second maintenance of %s rewrote %d files, want none", res.Kind, res.Maintenance.RewrittenDataFiles)
				}
			}
			icetabletest.Check(t, lake, tables[0], want)
		})
	}
}

// TestRunConcurrentWithCommits maintains the tables again and again while
// objects keep being committed to them (appends, and merges into
// _current with overlapping keys): every commit and every maintenance
// succeeds (conflicts are planned again), and in the end every table
// holds exactly what was committed.
func TestRunConcurrentWithCommits(t *testing.T) {
	for _, b := range testenv.LakeURLs {
		t.Run(b.Name, func(t *testing.T) {
			lake := lakeOn(t, b.Open)
			tc := contracts(t)[0]
			want := icetabletest.Fill(t, lake, tc, "base", 4, 40, nil)
			ctx, stop := context.WithCancel(t.Context())
			var wg sync.WaitGroup
			var mu sync.Mutex
			runs, compacted, during := 0, 0, 0
			committing := true
			wg.Go(func() {
				for ctx.Err() == nil {
					mu.Lock()
					started := committing
					mu.Unlock()
					r, err := maintain.Run(ctx, lake, []*contract.Table{tc}, maintain.Start{}, &strings.Builder{}, nil)
					if ctx.Err() != nil {
						return
					}
					if err != nil {
						t.Errorf("maintenance %d: %v", runs+1, err)
						return
					}
					mu.Lock()
					runs++
					if started {
						during++
					}
					for _, res := range r.Tables {
						compacted += res.Maintenance.RewrittenDataFiles
					}
					mu.Unlock()
				}
			})
			// writers commit their objects while maintenance runs
			const writers, objects = 3, 4
			wants := make([]icetabletest.Want, writers)
			var cw sync.WaitGroup
			for w := range writers {
				cw.Go(func() {
					wants[w] = icetabletest.Fill(t, lake, tc, fmt.Sprintf("w%d", w), objects, 40, nil)
				})
			}
			cw.Wait()
			mu.Lock()
			committing = false
			mu.Unlock()
			// let maintenance catch up with the last commits
			deadline := time.Now().Add(2 * time.Minute)
			for {
				mu.Lock()
				n := runs
				mu.Unlock()
				if n >= 2 || time.Now().After(deadline) {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			stop()
			wg.Wait()
			t.Logf("%d maintenance runs (%d of them started while %d objects were being committed) rewrote %d data files", runs, during, writers*objects, compacted)
			if during == 0 || compacted == 0 {
				t.Errorf("%d maintenance runs during the commits rewrote %d files: the test did not overlap them", during, compacted)
			}
			for _, w := range wants {
				for k, rows := range w {
					if k == icetable.Current {
						continue
					}
					for r, n := range rows {
						want[k][r] += n
					}
				}
			}
			// every writer wrote versions 1..objects of overlapping keys;
			// _current holds the greatest of all of them
			want[icetable.Current] = latestOf(append(wants, want))
			icetabletest.Check(t, lake, tc, want)
		})
	}
}

// latestOf is the latest version of each key over the _current tables of
// wants.
func latestOf(wants []icetabletest.Want) icetabletest.Rows {
	latest := map[string]string{}
	for _, w := range wants {
		for k := range w[icetable.Current] {
			id, up, _ := strings.Cut(k, "@")
			if up > latest[id] {
				latest[id] = up
			}
		}
	}
	out := icetabletest.Rows{}
	for id, up := range latest {
		out[id+"@"+up] = 1
	}
	return out
}

// TestReportFails: a report with failed items fails with a
// *FailedError naming each failed table and why, and counts the others.
func TestReportFails(t *testing.T) {
	r := maintain.NewReport([]maintain.Result{
		{Table: "orders", Kind: icetable.Silver, Maintenance: &icetable.Maintenance{Table: "silver.orders"}},
		{Table: "orders", Kind: icetable.Current, Error: &maintain.Failure{Error: "StoreUnavailableError", Cause: "connection reset"}},
		{Table: "orders", Kind: icetable.Discarded, Absent: true},
	})
	if r.Maintained != 1 || r.Failed != 1 || r.Absent != 1 {
		t.Errorf("counts %+v, want one of each", r)
	}
	err := r.Err()
	var failed *maintain.FailedError
	if !errors.As(err, &failed) || !strings.Contains(err.Error(), "silver.orders_current: StoreUnavailableError: connection reset") || !strings.Contains(err.Error(), "1 of 3") {
		t.Errorf("Err() = %v, want a *FailedError naming silver.orders_current and its error", err)
	}
	if err := maintain.NewReport(nil).Err(); err != nil {
		t.Errorf("an empty report fails: %v", err)
	}
}

// TestLock: of two maintenance runs over one lake, the second is refused
// naming the first until the first releases the lease.
func TestLock(t *testing.T) {
	for _, b := range testenv.LakeURLs {
		t.Run(b.Name, func(t *testing.T) {
			st := b.Open(t).Store
			ctx, release, err := maintain.Lock(t.Context(), st, lease.Options{TTL: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = maintain.Lock(t.Context(), st, lease.Options{TTL: time.Second})
			var held *lease.HeldError
			if !errors.As(err, &held) || !strings.Contains(err.Error(), "another maintenance is running") {
				t.Fatalf("a second lock: %v, want a *lease.HeldError saying another maintenance is running", err)
			}
			time.Sleep(1500 * time.Millisecond) // renewed meanwhile: still held
			if _, _, err := maintain.Lock(t.Context(), st, lease.Options{TTL: time.Second}); !errors.As(err, &held) {
				t.Fatalf("a lock after one TTL: %v, want the lease still held (renewed)", err)
			}
			release()
			if ctx.Err() == nil {
				t.Errorf("the held context is not done after release")
			}
			_, release2, err := maintain.Lock(t.Context(), st, lease.Options{TTL: time.Second})
			if err != nil {
				t.Fatalf("a lock after release: %v", err)
			}
			release2()
		})
	}
}
