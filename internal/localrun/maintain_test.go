package localrun_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medallionlake/lake/internal/asl"
	"github.com/medallionlake/lake/internal/catalog/localcatalog"
	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/icetable"
	"github.com/medallionlake/lake/internal/icetable/icetabletest"
	"github.com/medallionlake/lake/internal/lease"
	"github.com/medallionlake/lake/internal/localrun"
	"github.com/medallionlake/lake/internal/maintain"
	"github.com/medallionlake/lake/internal/pipeline"
	"github.com/medallionlake/lake/internal/store"
	"github.com/medallionlake/lake/internal/testenv"
)

// icebergEnv is a lake whose Iceberg tables the runner's pipeline
// maintains.
type icebergEnv struct {
	lake    store.Store
	iceberg *icetable.Lake
	orders  *contract.Table
	runner  *localrun.Runner
	log     *syncBuffer
}

func newIcebergEnv(t *testing.T, open func(*testing.T) testenv.Lake) *icebergEnv {
	t.Helper()
	l := open(t)
	tables, err := contract.LoadDir(testenv.RepoRoot() + "/schemas")
	if err != nil {
		t.Fatal(err)
	}
	ice, err := pipeline.OpenIceberg(l.Store, l.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := pipeline.New(pipeline.Config{Lake: l.Store, Tables: tables, Catalog: localcatalog.New(l.Store), Iceberg: ice})
	log := &syncBuffer{}
	r, err := localrun.New(p, l.Store, localrun.Options{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	return &icebergEnv{lake: l.Store, iceberg: ice, orders: tables[0], runner: r, log: log}
}

// report is the output of a maintenance execution.
func report(t *testing.T, exec *asl.Execution) maintain.Report {
	t.Helper()
	var r maintain.Report
	if err := json.Unmarshal(exec.Output, &r); err != nil {
		t.Fatalf("execution output %s: %v", exec.Output, err)
	}
	return r
}

// TestMaintainExecution runs the maintain state machine locally: it
// compacts every table of the orders contract, keeping every row; when
// one table cannot be maintained (its metadata file is corrupt), the
// others still are, and the execution fails naming it.
func TestMaintainExecution(t *testing.T) {
	for _, b := range testenv.LakeURLs {
		t.Run(b.Name, func(t *testing.T) {
			e := newIcebergEnv(t, b.Open)
			ctx := t.Context()
			want := icetabletest.Fill(t, e.iceberg, e.orders, "obj", 6, 50, nil)
			exec, err := e.runner.Maintain(ctx, maintain.Start{Source: "manual"})
			succeeded(t, "maintenance", exec, err)
			r := report(t, exec)
			if r.Maintained != 3 || r.Failed != 0 {
				t.Fatalf("report %s, want the 3 tables maintained", exec.Output)
			}
			for _, res := range r.Tables {
				if m := res.Maintenance; m.RewrittenDataFiles == 0 || m.DataFiles != m.Partitions || m.DeleteFiles != 0 {
					t.Errorf("%s: %+v, want compacted to a file per partition", m.Table, m)
				}
			}
			icetabletest.Check(t, e.iceberg, e.orders, want)
			if !entered(t, e.runner, exec.Name, "Report") {
				t.Error("the execution did not report")
			}

			// discarded.orders' metadata file is corrupt: the others are
			// maintained, the execution fails naming it
			want = icetabletest.Fill(t, e.iceberg, e.orders, "more", 3, 50, want)
			tbl, err := e.iceberg.Catalog().LoadTable(ctx, []string{"discarded", "orders"})
			if err != nil {
				t.Fatal(err)
			}
			_, key, _ := strings.Cut(tbl.MetadataLocation(), "/discarded/")
			if _, err := e.lake.Put(ctx, "discarded/"+key, strings.NewReader("{not metadata"), nil); err != nil {
				t.Fatal(err)
			}
			exec, err = e.runner.Maintain(ctx, maintain.Start{})
			if err != nil {
				t.Fatal(err)
			}
			if exec.Status != asl.StatusFailed || exec.Error != "FailedError" || !strings.Contains(exec.Cause, "discarded.orders") || !strings.Contains(exec.Cause, "corrupt") || !strings.Contains(exec.Cause, "1 of 3") {
				t.Fatalf("maintenance with a corrupt table: %s %s: %s; want FAILED with a FailedError naming discarded.orders", exec.Status, exec.Error, exec.Cause)
			}
			for _, k := range []icetable.Kind{icetable.Silver, icetable.Current} {
				got := icetabletest.Read(t, e.iceberg, e.orders, k)
				if d := icetabletest.Diff(got, want[k]); d != "" {
					t.Errorf("%s after the failed execution: %s", k, d)
				}
			}
			ident, _ := icetable.Ident(icetable.Current, e.orders.Name)
			p, err := e.iceberg.Plan(ctx, ident, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Files) != 1 {
				t.Errorf("_current has %d data files after the second maintenance, want it compacted to 1", len(p.Files))
			}
		})
	}
}

// everyInterval fires every d.
type everyInterval time.Duration

func (d everyInterval) Next(t time.Time) time.Time { return t.Add(time.Duration(d)) }

// TestServeMaintains runs serve with a maintenance schedule that fires
// faster than a maintenance runs, while objects keep being committed to
// the tables (as the commit step does): maintenances run one at a time
// (the ones that would overlap are skipped), every row committed is in
// its table once, and a maintenance is skipped while another process
// (lake maintain) holds the maintenance lease.
func TestServeMaintains(t *testing.T) {
	for _, b := range testenv.LakeURLs {
		t.Run(b.Name, func(t *testing.T) {
			e := newIcebergEnv(t, b.Open)
			want := icetabletest.Fill(t, e.iceberg, e.orders, "base", 4, 40, nil)
			serve := func() (stop func()) {
				sctx, cancel := context.WithCancel(t.Context())
				errc := make(chan error, 1)
				go func() {
					errc <- e.runner.Serve(sctx, localrun.ServeOptions{
						Poll: 50 * time.Millisecond, MaintainSchedule: everyInterval(20 * time.Millisecond), Lease: lease.Options{TTL: time.Second},
					})
				}()
				return func() {
					cancel()
					if err := <-errc; err != nil {
						t.Fatal(err)
					}
				}
			}
			stop := serve()
			// commits while serve maintains
			want = icetabletest.Fill(t, e.iceberg, e.orders, "during", 6, 40, want)
			committed := time.Now()
			maintenances := func() []asl.Execution {
				xs, err := e.runner.Executions().List(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				return slices.DeleteFunc(xs, func(x asl.Execution) bool {
					return !strings.HasSuffix(x.StateMachineARN, ":"+localrun.MaintainName) || x.Status == asl.StatusRunning
				})
			}
			// two more maintenances after the last commit
			after := len(maintenances())
			waitUntil(t, "two maintenances after the commits", func() bool { return len(maintenances()) >= after+2 })

			stop()
			if strings.Contains(e.log.String(), "skipping this maintenance") {
				t.Fatalf("serve skipped a maintenance for the lease with no other process holding it:\n%s", e.log.String())
			}

			// lake maintain holds the lease: serve skips its maintenances
			_, release, err := maintain.Lock(t.Context(), e.lake, lease.Options{TTL: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			before := len(maintenances())
			stop = serve()
			waitUntil(t, "a maintenance skipped for the lease", func() bool {
				return strings.Contains(e.log.String(), "skipping this maintenance: maintain: another maintenance is running")
			})
			stop()
			release()
			if n := len(maintenances()); n != before {
				t.Errorf("%d maintenances while another process held the lease, want none", n-before)
			}

			xs := maintenances()
			slices.SortFunc(xs, func(a, b asl.Execution) int { return a.StartDate.Compare(b.StartDate) })
			for i, x := range xs {
				if x.Status != asl.StatusSucceeded && x.Status != asl.StatusAborted {
					t.Errorf("maintenance %s: %s %s: %s", x.Name, x.Status, x.Error, x.Cause)
				}
				if i > 0 && x.StartDate.Before(*xs[i-1].StopDate) {
					t.Errorf("maintenance %s started at %s, before %s stopped at %s", x.Name, x.StartDate, xs[i-1].Name, xs[i-1].StopDate)
				}
			}
			if !strings.Contains(e.log.String(), "the previous maintenance is still running; skipping this one") {
				t.Errorf("no maintenance was skipped for one in flight, with a schedule faster than a maintenance:\n%s", e.log.String())
			}
			t.Logf("%d maintenance executions", len(xs))
			if len(xs) == 0 || !xs[0].StartDate.Before(committed) {
				t.Errorf("no maintenance started while objects were being committed (they ended at %s)", committed)
			}
			icetabletest.Check(t, e.iceberg, e.orders, want)
		})
	}
}

// waitUntil waits up to a minute for done.
func waitUntil(t *testing.T, what string, done func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !done(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s in a minute", what)
		}
	}
}
