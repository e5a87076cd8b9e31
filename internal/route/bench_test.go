package route_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	vt "github.com/medallionlake/lake/internal/bronze/bronzetest"
	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/route"
	"github.com/medallionlake/lake/internal/store/filestore"
	"github.com/medallionlake/lake/internal/testenv"
	"github.com/medallionlake/lake/internal/validate"
)

// benchDefects are benchmark 2's defect rates: 3.5% of rows fail.
var benchDefects = vt.Defects{BadStatus: 0.01, DupID: 0.005, NullCustomer: 0.01, NegAmount: 0.005, BadCurrency: 0.005}

// ordersFailSQL is, for each row-level rule of schemas/orders.dqdl, the
// SQL that is TRUE on the rows it fails (NULL-safe); dup marks rows whose
// order_id occurs more than once.
var ordersFailSQL = []struct{ rule, sql string }{
	{`IsComplete "order_id"`, `order_id IS NULL`},
	{`IsUnique "order_id"`, `dup`},
	{`IsComplete "customer_id"`, `customer_id IS NULL`},
	{`ColumnValues "customer_id" > 0`, `NOT coalesce(customer_id > 0, false)`},
	{`ColumnValues "status" in $valid_statuses`, `NOT coalesce(status IN ('PENDING','PAID','SHIPPED','DELIVERED','CANCELLED','RETURNED'), false)`},
	{`IsComplete "amount"`, `amount IS NULL`},
	{`ColumnValues "amount" between 0 and 1000000`, `NOT coalesce(amount BETWEEN 0 AND 1000000, false)`},
	{`ColumnValues "currency" matches "[A-Z]{3}"`, `NOT coalesce(regexp_full_match(currency, '[A-Z]{3}'), false)`},
	{`ColumnValues "created_at" between "2000-01-01" and (now() + 1 hours)`, `NOT coalesce(created_at BETWEEN TIMESTAMPTZ '2000-01-01 00:00:00+00' AND now() + INTERVAL 1 HOUR, false)`},
	{`ColumnValues "updated_at" <= (now() + 1 hours)`, `NOT coalesce(updated_at <= now() + INTERVAL 1 HOUR, false)`},
	{`ColumnValues "updated_at" = NULL where "updated_at < created_at"`, `coalesce(updated_at < created_at, false)`},
}

// benchRun is one child process's report.
type benchRun struct {
	Seconds   float64 `json:"seconds"`
	Silver    int64   `json:"silver"`
	Discarded int64   `json:"discarded"`
	RSSKiB    int64   `json:"rss_kib"`
	// Read is the bytes of the bronze object read from the store (lake);
	// Size is its size.
	Read int64 `json:"read"`
	Size int64 `json:"size"`
}

// TestBenchRouteVsDuckDB is benchmark 2: validate + route of a generated
// 1,000,000-row orders object (3.5% defective rows, created over 300
// days: 10 partitions of month(created_at)) into a local lake (the data
// files of the Iceberg tables, uncommitted), against DuckDB reading the
// same file and writing the valid rows (partitioned by month) and the
// invalid ones (with the list of failed rules) to Parquet with COPY ... TO,
// with the same number of threads. Each side runs in its own process (this
// test binary, re-executed) so that its peak RSS is its own. It runs only
// when LAKE_BENCH_ROUTE=1 (scripts/bench-route.sh); LAKE_BENCH_ROWS
// overrides the row count, LAKE_BENCH_DEFECTS the share of defective rows
// (the same mix, scaled), LAKE_BENCH_CPUPROFILE a file for the lake side's CPU profile,
// LAKE_BENCH_MEMLIMIT the lake side's GOMEMLIMIT (the tasks set it from
// the Lambda function's memory size: pipeline.FromEnv) and, as FromEnv
// does, its DQ memory budget (a quarter of the function's memory),
// LAKE_BENCH_RUNS the number of runs of each side (3).
// The lake side also reports the bytes it read from the store per object.
func TestBenchRouteVsDuckDB(t *testing.T) {
	if os.Getenv("LAKE_BENCH_ROUTE") != "1" {
		t.Skip("set LAKE_BENCH_ROUTE=1 (scripts/bench-route.sh) to run benchmark 2")
	}
	rows := int64(1_000_000)
	if s := os.Getenv("LAKE_BENCH_ROWS"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("LAKE_BENCH_ROWS: %v", err)
		}
		rows = n
	}
	defects := benchDefects
	if s := os.Getenv("LAKE_BENCH_DEFECTS"); s != "" {
		share, err := strconv.ParseFloat(s, 64)
		if err != nil || share <= 0 || share >= 1 {
			t.Fatalf("LAKE_BENCH_DEFECTS=%q: want a share between 0 and 1", s)
		}
		k := share / (defects.BadStatus + defects.DupID + defects.NullCustomer + defects.NegAmount + defects.BadCurrency)
		defects = vt.Defects{BadStatus: defects.BadStatus * k, DupID: defects.DupID * k, NullCustomer: defects.NullCustomer * k, NegAmount: defects.NegAmount * k, BadCurrency: defects.BadCurrency * k}
	}
	threads := runtime.GOMAXPROCS(0)
	dir := t.TempDir()
	file := filepath.Join(dir, "orders.parquet")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20) // not an io.Closer: pqarrow leaves it open
	vt.Generate(t, w, rows, 300, defects)
	if err := errors.Join(w.Flush(), f.Close()); err != nil {
		t.Fatal(err)
	}
	child := func(mode string, i int) benchRun {
		out := filepath.Join(dir, fmt.Sprintf("%s-%d", mode, i))
		bin := os.Args[0]
		if b := os.Getenv("LAKE_BENCH_" + strings.ToUpper(mode) + "_BIN"); b != "" {
			bin = b
		}
		cmd := exec.Command(bin, "-test.run=^TestBenchRouteChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "LAKE_BENCH_ROUTE_CHILD="+mode, "LAKE_BENCH_FILE="+file, "LAKE_BENCH_OUT="+out,
			fmt.Sprintf("GOMAXPROCS=%d", threads), fmt.Sprintf("LAKE_BENCH_THREADS=%d", threads))
		if limit := os.Getenv("LAKE_BENCH_MEMLIMIT"); limit != "" && mode == "lake" {
			cmd.Env = append(cmd.Env, "GOMEMLIMIT="+limit) // as the task sets it in a Lambda of that size
		}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s child: %v\n%s\n%s", mode, err, stdout.String(), stderr.String())
		}
		var r benchRun
		for _, line := range strings.Split(stdout.String(), "\n") {
			if s, ok := strings.CutPrefix(line, "BENCHRUN "); ok {
				if err := json.Unmarshal([]byte(s), &r); err != nil {
					t.Fatal(err)
				}
			}
		}
		r.RSSKiB = cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss
		os.RemoveAll(out)
		return r
	}
	runs := 3
	if s := os.Getenv("LAKE_BENCH_RUNS"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			runs = n
		}
	}
	var lake, duck benchRun
	for i := range runs {
		l, d := child("lake", i), child("duckdb", i)
		t.Logf("run %d: lake %.2fs (%d MiB), duckdb %.2fs (%d MiB)", i, l.Seconds, l.RSSKiB>>10, d.Seconds, d.RSSKiB>>10)
		if i == 0 || l.Seconds < lake.Seconds {
			lake.Seconds = l.Seconds
		}
		if i == 0 || d.Seconds < duck.Seconds {
			duck.Seconds = d.Seconds
		}
		lake.Silver, lake.Discarded, lake.RSSKiB = l.Silver, l.Discarded, max(lake.RSSKiB, l.RSSKiB)
		lake.Read, lake.Size = l.Read, l.Size
		duck.Silver, duck.Discarded, duck.RSSKiB = d.Silver, d.Discarded, max(duck.RSSKiB, d.RSSKiB)
	}
	agree := lake.Silver == duck.Silver && lake.Discarded == duck.Discarded && lake.Silver+lake.Discarded == rows
	t.Logf("BENCH2 rows=%d threads=%d lake_validate_route=%.2fs duckdb_copy=%.2fs ratio=%.2f lake_peak_rss=%dMiB duckdb_peak_rss=%dMiB silver=%d/%d discarded=%d/%d agreement=%v bronze_bytes_read=%d object_bytes=%d body_reads=%.2f",
		rows, threads, lake.Seconds, duck.Seconds, lake.Seconds/duck.Seconds, lake.RSSKiB>>10, duck.RSSKiB>>10,
		lake.Silver, duck.Silver, lake.Discarded, duck.Discarded, agree, lake.Read, lake.Size, float64(lake.Read)/float64(lake.Size))
	if !agree {
		t.Error("silver and discarded row counts differ between the lake and DuckDB")
	}
}

// benchDuckDB is the DuckDB side of benchmark 2, set in duckbench_test.go
// when the test binary is built with the duckbench tag: the lake side runs
// in a binary without DuckDB, as the route Lambda does, so that its peak
// RSS is its own (LAKE_BENCH_LAKE_BIN, LAKE_BENCH_DUCKDB_BIN).
var benchDuckDB func(t *testing.T, file, dir string) benchRun

// TestBenchRouteChild is one side of benchmark 2, run in a child process
// by TestBenchRouteVsDuckDB.
func TestBenchRouteChild(t *testing.T) {
	mode := os.Getenv("LAKE_BENCH_ROUTE_CHILD")
	if mode == "" {
		t.Skip("run by TestBenchRouteVsDuckDB")
	}
	file, out := os.Getenv("LAKE_BENCH_FILE"), os.Getenv("LAKE_BENCH_OUT")
	var r benchRun
	switch mode {
	case "lake":
		r = benchLake(t, file, out)
	case "duckdb":
		if benchDuckDB == nil {
			t.Fatal("this test binary was built without the duckbench tag: no DuckDB (scripts/bench-route.sh builds one with it)")
		}
		r = benchDuckDB(t, file, out)
	}
	b, _ := json.Marshal(r)
	fmt.Printf("BENCHRUN %s\n", b)
}

func benchLake(t *testing.T, file, dir string) benchRun {
	ctx := context.Background()
	if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(key)), 0o755); err != nil {
		t.Fatal(err)
	}
	// a hard link puts the file in bronze without copying it
	if err := os.Link(file, filepath.Join(dir, key)); err != nil {
		t.Fatal(err)
	}
	st, err := filestore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	vt.WriteOrdersSchema(t, st)
	tables, err := contract.LoadDir(filepath.Join(testenv.RepoRoot(), "schemas"))
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Stat(ctx, key) // hashes the file for its ETag: not timed, S3 has it
	if err != nil {
		t.Fatal(err)
	}
	counting := &countingStore{Store: st, key: key}
	d := storeDeps(st, tables) // the tables' files are not the object's: not counted
	d.Lake, d.Archive = counting, counting
	if os.Getenv("GOMEMLIMIT") != "" {
		// as pipeline.FromEnv sizes it in a Lambda: a quarter of the
		// function's memory, of which GOMEMLIMIT is 85%
		d.DQMemory = debug.SetMemoryLimit(-1) * 100 / 85 / 4
	}
	if p := os.Getenv("LAKE_BENCH_CPUPROFILE"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	v, err := validate.Validate(ctx, d.Deps, validate.Input{Key: key, ETag: info.ETag, Size: info.Size})
	if err != nil {
		t.Fatal(err)
	}
	ro, err := route.Route(ctx, d, v)
	if err != nil {
		t.Fatal(err)
	}
	return benchRun{Seconds: time.Since(start).Seconds(), Silver: ro.SilverRows, Discarded: ro.DiscardedRows, Read: counting.read.Load(), Size: info.Size}
}
