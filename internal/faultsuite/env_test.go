package faultsuite

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/medallionlake/lake/internal/asl"
	"github.com/medallionlake/lake/internal/catalog/localcatalog"
	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/ingest"
	"github.com/medallionlake/lake/internal/localrun"
	"github.com/medallionlake/lake/internal/pipeline"
	"github.com/medallionlake/lake/internal/seed"
	"github.com/medallionlake/lake/internal/store"
	"github.com/medallionlake/lake/internal/store/faultstore"
	"github.com/medallionlake/lake/internal/store/filestore"
	"github.com/medallionlake/lake/internal/store/s3store"
	"github.com/medallionlake/lake/internal/testenv"
	"github.com/medallionlake/lake/internal/testenv/faultproxy"
)

// envLakeRun makes the test binary a `lake run` process (lakeRun), for
// the cases that kill one.
const envLakeRun = "FAULTSUITE_LAKE_RUN"

func TestMain(m *testing.M) {
	if os.Getenv(envLakeRun) == "1" {
		os.Exit(lakeRun())
	}
	testenv.Main(m)
}

// lakeRun is `lake run` over LAKE_URL, LAKE_SOURCE_URL and LAKE_SCHEMAS:
// the configuration and the run of cmd/lake (localrun.Configure,
// Runner.RunAll), logging to stderr. It exits 1 if an execution failed.
func lakeRun() int {
	ctx := context.Background()
	cfg, err := localrun.Configure(ctx, localrun.Settings{Lake: os.Getenv("LAKE_URL"), Schemas: os.Getenv("LAKE_SCHEMAS"), Source: os.Getenv("LAKE_SOURCE_URL")})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	r, err := localrun.New(pipeline.New(cfg), cfg.Lake, localrun.Options{Bucket: cfg.Bucket, Prefix: cfg.Prefix, Log: os.Stderr, Finder: "lake run"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	started, err := r.RunAll(ctx, &pipeline.StartInput{Source: "manual"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if len(failures(started)) > 0 {
		return 1
	}
	return 0
}

// failures are the errors of the executions that did not succeed.
func failures(started []localrun.Started) []string {
	var out []string
	for _, s := range started {
		if x := s.Execution; x.Status != asl.StatusSucceeded {
			out = append(out, x.Error)
		}
	}
	return out
}

const (
	// smallRows is the seed of every case but the defect-1 reproduction.
	smallRows = 2000
	// defects is the share of seeded rows the ruleset rejects.
	defects = 0.1
	// seedValue makes every case's rows the same.
	seedValue = 7
	// updated is the share of rows that get a second version between the
	// two ingests of a case.
	updated = 0.2
)

// version is one source row version: order_id and updated_at (µs since
// the epoch).
type version struct{ id, us int64 }

// env is one case's world: a seeded source database and an empty lake,
// reached directly (the checks and the clean rerun) and through the
// case's fault (a proxy in front of an S3 lake, a full-disk wrapper
// around a folder lake).
type env struct {
	source   string // PostgreSQL URL of the seeded database
	db       *pgx.Conn
	seeded   seed.Summary
	versions map[version]bool // every version an ingest of the case saw

	url     string      // the lake's URL
	procEnv []string    // what a lake process needs besides to reach it
	direct  store.Store // the lake without faults
	faulty  store.Store // the lake as the faulty run reaches it
	proxy   *faultproxy.Proxy
	disk    *faultstore.Store
	tables  []*contract.Table
	schemas string

	logMu sync.Mutex
	log   bytes.Buffer // what the runs logged
}

func (e *env) Write(p []byte) (int, error) {
	e.logMu.Lock()
	defer e.logMu.Unlock()
	return e.log.Write(p)
}

// newEnv seeds rows orders and opens an empty lake on backend ("file" or
// "s3"). Unless single, it ingests them into bronze (fault-free) and then
// gives a share of them a second version, so that the faulty run has two
// bronze objects to route, the second one's ingest included, and
// `_current` has versions to choose from.
func newEnv(t *testing.T, backend string, rows int64, single bool) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{source: testenv.Postgres(t), schemas: filepath.Join(testenv.RepoRoot(), "schemas"), versions: map[version]bool{}}
	var err error
	if e.db, err = pgx.Connect(ctx, e.source); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.db.Close(context.Background()) })
	if e.seeded, err = seed.Run(ctx, e.db, seed.Options{Rows: rows, Defects: defects, Seed: seedValue}); err != nil {
		t.Fatal(err)
	}
	if e.tables, err = contract.LoadDir(e.schemas); err != nil {
		t.Fatal(err)
	}
	switch backend {
	case "file":
		dir := filepath.Join(t.TempDir(), "lake")
		fs, err := filestore.New(dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { fs.Close() })
		e.url, e.direct = "file://"+dir, fs
		e.disk = faultstore.New(fs)
		e.faulty = e.disk
	case "s3":
		cfg := testenv.S3(t)
		e.url, e.procEnv = "s3://"+cfg.Bucket+"/lake", cfg.Env()
		if e.direct, err = s3store.New(ctx, cfg.Options("lake")); err != nil {
			t.Fatal(err)
		}
		var through testenv.S3Config
		through, e.proxy = cfg.ThroughProxy(t)
		if e.faulty, err = s3store.New(ctx, through.Options("lake")); err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("unknown backend %q", backend)
	}
	e.snapshot(t)
	if !single {
		if x, err := e.runner(t, e.direct).Start(ctx, pipeline.StartInput{Source: "manual"}); err != nil || x.Status != asl.StatusSucceeded {
			t.Fatalf("first ingest: %v %+v", err, x)
		}
		if _, err := seed.Update(ctx, e.db, updated, seedValue); err != nil {
			t.Fatal(err)
		}
		e.snapshot(t)
	}
	time.Sleep(50 * time.Millisecond) // past the ingest's margin (runner)
	return e
}

// snapshot adds the source's row versions to e.versions.
func (e *env) snapshot(t *testing.T) {
	t.Helper()
	rows, err := e.db.Query(context.Background(), "SELECT order_id, (extract(epoch FROM updated_at) * 1000000)::bigint FROM orders")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var v version
		if err := rows.Scan(&v.id, &v.us); err != nil {
			t.Fatal(err)
		}
		e.versions[v] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

// config is the pipeline's configuration over st, the lake as a run
// reaches it: localrun.Configure's, but with st instead of the store the
// URL opens, and an ingest margin short enough for a test.
func (e *env) config(t *testing.T, st store.Store) pipeline.Config {
	t.Helper()
	bucket, prefix, err := pipeline.S3Location(e.url)
	if err != nil {
		t.Fatal(err)
	}
	iceberg, err := pipeline.OpenIceberg(st, e.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return pipeline.Config{
		Lake: st, Tables: e.tables, Source: e.source, Catalog: localcatalog.New(st), Iceberg: iceberg,
		Bucket: bucket, Prefix: prefix, Ingest: ingest.Options{Margin: 10 * time.Millisecond},
	}
}

// runner is the local runner over st. Its clock is fake, so that the
// state machine's retries do not wait (the S3 client's own retries do).
func (e *env) runner(t *testing.T, st store.Store) *localrun.Runner {
	t.Helper()
	cfg := e.config(t, st)
	r, err := localrun.New(pipeline.New(cfg), st, localrun.Options{
		Bucket: cfg.Bucket, Prefix: cfg.Prefix, Log: e, Finder: "lake run", Clock: asl.NewFakeClock(time.Now()),
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// run is one `lake run` in process over st; it returns the errors of the
// executions that failed ("run" for an error that kept executions from
// starting).
func (e *env) run(t *testing.T, st store.Store) []string {
	t.Helper()
	started, err := e.runner(t, st).RunAll(context.Background(), &pipeline.StartInput{Source: "manual"})
	if err != nil {
		fmt.Fprintf(e, "faultsuite: run: %v\n", err)
		return []string{"run"}
	}
	return failures(started)
}
