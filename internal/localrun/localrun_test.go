package localrun_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/iceberg-go/table"
	"github.com/jackc/pgx/v5"

	"github.com/medallionlake/lake/internal/asl"
	"github.com/medallionlake/lake/internal/catalog"
	"github.com/medallionlake/lake/internal/catalog/localcatalog"
	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/execstore"
	"github.com/medallionlake/lake/internal/icebergio"
	"github.com/medallionlake/lake/internal/icecatalog"
	"github.com/medallionlake/lake/internal/icecatalog/lakepointer"
	"github.com/medallionlake/lake/internal/icetable"
	"github.com/medallionlake/lake/internal/ingest"
	"github.com/medallionlake/lake/internal/layout"
	"github.com/medallionlake/lake/internal/lease"
	"github.com/medallionlake/lake/internal/localrun"
	"github.com/medallionlake/lake/internal/pipeline"
	"github.com/medallionlake/lake/internal/seed"
	"github.com/medallionlake/lake/internal/store"
	"github.com/medallionlake/lake/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// env is a seeded source database and an empty local lake with the
// pipeline's runner over them.
type env struct {
	db      *pgx.Conn
	lake    store.Store
	iceberg *icetable.Lake
	tables  []*contract.Table
	runner  *localrun.Runner
	seeded  seed.Summary
}

// lakes are the backends the pipeline runs over: a local folder, and an
// S3-compatible server (versitygw) under a key prefix.
var lakes = testenv.Lakes

func newEnv(t *testing.T, rows int64) *env {
	return newEnvOn(t, lakes[0].Open(t), rows)
}

func newEnvOn(t *testing.T, lake store.Store, rows int64) *env {
	t.Helper()
	ctx := context.Background()
	url := testenv.Postgres(t)
	db, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close(context.Background()) })
	sum, err := seed.Run(ctx, db, seed.Options{Rows: rows, Defects: 0.1, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	tables, err := contract.LoadDir(testenv.RepoRoot() + "/schemas")
	if err != nil {
		t.Fatal(err)
	}
	// Ingest holds its upper bound Margin below the present; keep it short
	// and wait it out so that the seeded rows are due.
	opts := ingest.Options{Margin: 10 * time.Millisecond}
	time.Sleep(50 * time.Millisecond)
	p := pipeline.New(pipeline.Config{Lake: lake, Tables: tables, Source: url, Catalog: localcatalog.New(lake), Ingest: opts})
	r, err := localrun.New(p, lake, localrun.Options{})
	if err != nil {
		t.Fatal(err)
	}
	iceberg, err := pipeline.OpenIceberg(lake, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	return &env{db: db, lake: lake, iceberg: iceberg, tables: tables, runner: r, seeded: sum}
}

func (e *env) layers(t *testing.T) map[string]localrun.Layer {
	t.Helper()
	ls, err := localrun.Counts(context.Background(), e.lake, e.iceberg, e.tables)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]localrun.Layer{}
	for _, l := range ls {
		out[l.Name] = l
	}
	return out
}

func succeeded(t *testing.T, what string, exec *asl.Execution, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if exec.Status != asl.StatusSucceeded {
		t.Fatalf("%s: execution %s %s: %s: %s", what, exec.Name, exec.Status, exec.Error, exec.Cause)
	}
}

// TestRunConservesRows runs the pipeline as `lake run` does, with the
// ingest split into key ranges, and checks that every seeded row reaches
// silver or discarded, that the discarded ones are exactly the seeded
// defects, that archive holds every bronze row and that bronze is empty.
func TestRunConservesRows(t *testing.T) {
	for _, l := range lakes {
		t.Run(l.Name, func(t *testing.T) { testRunConservesRows(t, newEnvOn(t, l.Open(t), 3000)) })
	}
}

func testRunConservesRows(t *testing.T, e *env) {
	ctx := context.Background()
	exec, err := e.runner.Start(ctx, pipeline.StartInput{Source: "manual", Parts: 3})
	succeeded(t, "ingest", exec, err)

	if !entered(t, e.runner, exec.Name, "ExtractRanges") {
		t.Error("a table planned as 3 ranges was not extracted by the Map over ranges")
	}
	objs, err := e.runner.Pending(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) < 2 {
		t.Fatalf("%d bronze objects after a 3-part ingest, want several", len(objs))
	}
	execs, err := e.runner.Objects(ctx, objs)
	if err != nil {
		t.Fatal(err)
	}
	for i, x := range execs {
		succeeded(t, objs[i].Key, x, nil)
	}
	l := e.layers(t)
	var defects int64
	for _, n := range e.seeded.Defects {
		defects += n
	}
	for _, c := range []struct {
		name      string
		got, want int64
	}{
		{"bronze objects left", l["bronze"].Objects, 0},
		{"silver+discarded rows", l["silver.orders"].Rows + l["discarded.orders"].Rows, e.seeded.Rows},
		{"discarded rows", l["discarded.orders"].Rows, defects},
		{"current rows (one per valid order)", l["silver.orders_current"].Rows, e.seeded.Rows - defects},
		{"archive rows", l["archive"].Rows, e.seeded.Rows},
		{"archive objects", l["archive"].Objects, int64(len(objs))},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}

	// A duplicate event for a routed object ends early and changes nothing.
	exec, err = e.runner.Object(ctx, objs[0])
	succeeded(t, "duplicate event", exec, err)
	var out struct {
		Verdict string `json:"verdict"`
	}
	if err := json.Unmarshal(exec.Output, &out); err != nil || out.Verdict != "DONE" {
		t.Errorf("duplicate event output = %s, want verdict DONE", exec.Output)
	}
	if got := e.layers(t); got["silver.orders"].Rows != l["silver.orders"].Rows || got["discarded.orders"].Rows != l["discarded.orders"].Rows {
		t.Errorf("after a duplicate event: silver %d discarded %d rows, want %d and %d", got["silver.orders"].Rows, got["discarded.orders"].Rows, l["silver.orders"].Rows, l["discarded.orders"].Rows)
	}
}

// TestFailedExecutionKeepsObject drops an object for a table with no
// contract: the execution fails naming the error, a failure record is
// written and the object stays in bronze.
func TestFailedExecutionKeepsObject(t *testing.T) {
	e := newEnv(t, 10)
	ctx := context.Background()
	key := "bronze/landing/nosuch/part-00000.parquet"
	info, err := e.lake.Put(ctx, key, strings.NewReader("PAR1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	exec, err := e.runner.Object(ctx, info)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := exec.Status, asl.StatusFailed; got != want {
		t.Fatalf("status = %s, want %s", got, want)
	}
	if got, want := exec.Error, "UnknownTableError"; got != want {
		t.Errorf("Error = %q, want %q (cause %s)", got, want, exec.Cause)
	}
	if !strings.Contains(exec.Cause, "nosuch") {
		t.Errorf("Cause = %q, want it to name the table", exec.Cause)
	}
	rc, _, err := e.lake.Get(ctx, layout.Failure(exec.Name))
	if err != nil {
		t.Fatalf("failure record: %v", err)
	}
	var rec pipeline.FailureInput
	if err := json.NewDecoder(rc).Decode(&rec); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if rec.Error.Error != "UnknownTableError" || !bytes.Contains(rec.Input, []byte(key)) {
		t.Errorf("failure record = %+v, want the error and the object's event", rec)
	}
	if _, err := e.lake.Stat(ctx, key); err != nil {
		t.Errorf("object after a failed execution: %v, want it kept in bronze", err)
	}
	_, events, err := e.runner.Executions().Load(ctx, exec.Name)
	if err != nil {
		t.Fatal(err)
	}
	if last := events[len(events)-1]; last.Type != "ExecutionFailed" {
		t.Errorf("last history event = %s, want ExecutionFailed", last.Type)
	}
}

// TestServeProcessesEachObjectOnce runs serve over landing, stops it, and
// starts it again: routed objects are not run again, and a failed object
// is not retried on every poll or restart.
func TestServeProcessesEachObjectOnce(t *testing.T) {
	e := newEnv(t, 500)
	ctx := context.Background()
	exec, err := e.runner.Start(ctx, pipeline.StartInput{Source: "manual"})
	succeeded(t, "ingest", exec, err)
	if !entered(t, e.runner, exec.Name, "IngestWhole") || entered(t, e.runner, exec.Name, "ExtractRanges") {
		t.Error("a table planned as one range was not ingested whole, in one invocation")
	}
	bad, err := e.lake.Put(ctx, "bronze/landing/nosuch/x.parquet", strings.NewReader("x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	executions := func() int { return len(executionsOf(t, e.runner)) }
	onlyBadLeft := func() bool {
		objs, err := e.runner.Pending(ctx)
		return err == nil && len(objs) == 1 && objs[0].Key == bad.Key && executions() >= 3
	}
	serveUntil(t, e.runner, onlyBadLeft)
	n := executions()
	if n != 3 { // ingest, the bronze object, the bad object once
		t.Errorf("%d executions after serving, want 3", n)
	}
	serveUntil(t, e.runner, func() bool { return true })
	if got := executions(); got != n {
		t.Errorf("%d executions after a restart, want still %d", got, n)
	}
	if _, err := e.lake.Stat(ctx, bad.Key); errors.Is(err, store.ErrNotFound) {
		t.Error("the failed object left bronze")
	}
}

// downCatalog is a catalog that refuses every call, as one that went away.
type downCatalog struct{ catalog.Catalog }

func (downCatalog) EnsureDatabase(context.Context, string) error {
	return errors.New("catalog is down")
}

// noSwap keeps the Iceberg tables' pointers but refuses to move them:
// tables are created, commits fail.
type noSwap struct{ icecatalog.Backend }

func (noSwap) Swap(context.Context, icecatalog.Table, icecatalog.Pointer, string, table.Metadata) error {
	return errors.New("commits are refused")
}

// TestServeFinishesPendingCommits routes an object whose commit then
// fails, so that its execution fails with the object routed and still in
// landing; a serve started afterwards runs it again, once, and commits it,
// with every row once.
func TestServeFinishesPendingCommits(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  func(e *env) pipeline.Config
		// silver is whether the failed crawl committed silver already
		// (it failed after the tables' commits).
		silver bool
	}{
		{"table commit refused", func(e *env) pipeline.Config {
			fs, err := icebergio.New(e.lake, lakeRoot(t, e.lake))
			if err != nil {
				t.Fatal(err)
			}
			ice, err := pipeline.OpenIceberg(e.lake, "", noSwap{lakepointer.New(fs)})
			if err != nil {
				t.Fatal(err)
			}
			return pipeline.Config{Lake: e.lake, Tables: e.tables, Catalog: localcatalog.New(e.lake), Iceberg: ice}
		}, false},
		{"meta catalog down", func(e *env) pipeline.Config {
			return pipeline.Config{Lake: e.lake, Tables: e.tables, Catalog: downCatalog{}}
		}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, 300)
			ctx := context.Background()
			exec, err := e.runner.Start(ctx, pipeline.StartInput{Source: "manual"})
			succeeded(t, "ingest", exec, err)

			broken, err := localrun.New(pipeline.New(c.cfg(e)), e.lake, localrun.Options{})
			if err != nil {
				t.Fatal(err)
			}
			serveUntil(t, broken, func() bool { return len(executionsOf(t, e.runner)) >= 2 && !running(t, e.runner) })
			var statuses []string
			for _, x := range executionsOf(t, e.runner) {
				statuses = append(statuses, x.Status)
			}
			slices.Sort(statuses)
			if want := []string{asl.StatusFailed, asl.StatusSucceeded}; !slices.Equal(statuses, want) {
				t.Fatalf("executions %v, want %v (the ingest, the object's failed commit)", statuses, want)
			}
			if l := e.layers(t); l["bronze"].Objects != 1 || (l["silver.orders"].Rows > 0) != c.silver {
				t.Fatalf("after the failed commit: %d bronze objects, %d silver rows; want 1 object, silver committed %v", l["bronze"].Objects, l["silver.orders"].Rows, c.silver)
			}

			serveUntil(t, e.runner, func() bool {
				objs, err := e.runner.Pending(ctx)
				return err == nil && len(objs) == 0
			})
			l := e.layers(t)
			if got := l["silver.orders"].Rows + l["discarded.orders"].Rows; got != e.seeded.Rows {
				t.Errorf("silver+discarded rows = %d, want %d", got, e.seeded.Rows)
			}
			if got := len(executionsOf(t, e.runner)); got != 3 {
				t.Errorf("%d executions, want 3 (ingest, the failed commit, the rerun)", got)
			}
		})
	}
}

// lakeRoot is the Iceberg root URI of the lake.
func lakeRoot(t *testing.T, lake store.Store) string {
	t.Helper()
	root, err := icebergio.RootURI(lake.(store.Locator).URL())
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// running reports whether any of r's executions is still running.
func running(t *testing.T, r *localrun.Runner) bool {
	t.Helper()
	for _, x := range executionsOf(t, r) {
		if x.Status == asl.StatusRunning {
			return true
		}
	}
	return false
}

// serveUntil serves with r until done, then a few more polls.
func serveUntil(t *testing.T, r *localrun.Runner, done func() bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- r.Serve(ctx, localrun.ServeOptions{Poll: 20 * time.Millisecond}) }()
	deadline := time.Now().Add(60 * time.Second)
	for !done() {
		if time.Now().After(deadline) {
			cancel()
			t.Fatal("serve did not get there in 60s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // a few more polls
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// executionsOf lists r's executions.
func executionsOf(t *testing.T, r *localrun.Runner) []asl.Execution {
	t.Helper()
	xs, err := r.Executions().List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return xs
}

// entered reports whether execution name's history entered state.
func entered(t *testing.T, r *localrun.Runner, name, state string) bool {
	t.Helper()
	_, events, err := r.Executions().Load(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events {
		if strings.HasSuffix(ev.Type, "StateEntered") && ev.Details != nil && ev.Details.Name == state {
			return true
		}
	}
	return false
}

// TestServeOnePerLake runs two serves over one lake, as two processes
// would: the second refuses while the first holds the lake's lease, or
// waits for it and then takes over; every object is run once.
func TestServeOnePerLake(t *testing.T) {
	for _, backend := range lakes {
		t.Run(backend.Name, func(t *testing.T) {
			lake := backend.Open(t)
			ctx := context.Background()
			newRunner := func(log *syncBuffer) *localrun.Runner {
				p := pipeline.New(pipeline.Config{Lake: lake, Catalog: localcatalog.New(lake)})
				r, err := localrun.New(p, lake, localrun.Options{Log: log})
				if err != nil {
					t.Fatal(err)
				}
				return r
			}
			drop := func(names ...string) {
				for _, n := range names {
					if _, err := lake.Put(ctx, "bronze/landing/nosuch/"+n, strings.NewReader(n), nil); err != nil {
						t.Fatal(err)
					}
				}
			}
			executions := func() int {
				xs, err := execstore.New(lake, execstore.Options{}).List(ctx)
				if err != nil {
					t.Fatal(err)
				}
				return len(xs)
			}
			waitFor := func(what string, done func() bool) {
				t.Helper()
				for deadline := time.Now().Add(60 * time.Second); !done(); time.Sleep(20 * time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatalf("no %s in 60s", what)
					}
				}
			}
			serve := func(r *localrun.Runner, lo lease.Options) (context.CancelFunc, chan error) {
				sctx, cancel := context.WithCancel(ctx)
				errc := make(chan error, 1)
				go func() { errc <- r.Serve(sctx, localrun.ServeOptions{Poll: 20 * time.Millisecond, Lease: lo}) }()
				return cancel, errc
			}
			ttl := lease.Options{TTL: time.Second}

			drop("a", "b", "c")
			var logA, logB syncBuffer
			stopA, doneA := serve(newRunner(&logA), ttl)
			waitFor("lease taken by the first serve", func() bool { return strings.Contains(logA.String(), "holding the lake's lease") })

			err := newRunner(&logB).Serve(ctx, localrun.ServeOptions{})
			var held *lease.HeldError
			if !errors.As(err, &held) || held.Holder.PID != os.Getpid() {
				t.Fatalf("a second serve: err=%v, want a *lease.HeldError naming this process", err)
			}

			waiting := lease.Options{TTL: time.Second, Wait: time.Minute}
			stopB, doneB := serve(newRunner(&logB), waiting)
			drop("d", "e")
			waitFor("5 executions by the first serve", func() bool { return executions() == 5 })
			if strings.Contains(logB.String(), "holding the lake's lease") {
				t.Fatal("the second serve took the lease while the first held it")
			}
			stopA()
			if err := <-doneA; err != nil {
				t.Fatalf("first serve: %v", err)
			}
			waitFor("lease taken by the waiting serve", func() bool { return strings.Contains(logB.String(), "holding the lake's lease") })
			drop("f")
			waitFor("6 executions", func() bool { return executions() == 6 })
			time.Sleep(200 * time.Millisecond) // a few more polls
			stopB()
			if err := <-doneB; err != nil {
				t.Fatalf("second serve: %v", err)
			}
			if n := executions(); n != 6 {
				t.Errorf("%d executions for 6 objects, want each run once", n)
			}
			if !strings.Contains(logB.String(), "waiting up to") {
				t.Errorf("the waiting serve did not say it waits:\n%s", logB.String())
			}
		})
	}
}

// syncBuffer is a log that serve's goroutines write while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
