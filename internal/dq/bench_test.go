package dq_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/medallionlake/lake/internal/dq"
	"github.com/medallionlake/lake/internal/dqdl"
	"github.com/medallionlake/lake/internal/testenv"
)

// ordersRuleSQL is, for each rule of schemas/orders.dqdl, the SQL
// predicate that is TRUE on the rows the rule fails (NULL-safe), as
// DuckDB computes it. The benchmark asserts the two agree row count for
// row count.
var ordersRuleSQL = []struct{ rule, failSQL string }{
	{`RowCount > 0`, ``},
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
	{`ColumnValues "updated_at" = NULL where "updated_at < created_at" labels=["check":"updated_at >= created_at"]`, `coalesce(updated_at < created_at, false)`},
}

// TestBenchValidateVsDuckDB is benchmark 1: `lake validate` on a generated
// 1,000,000-row orders file against DuckDB computing the same per-rule
// failed-row counts with SQL, with the same number of threads. It runs
// only when LAKE_BENCH_VALIDATE=1 (scripts/bench-validate.sh sets it, and
// LAKE_BIN to the lake binary). LAKE_BENCH_ROWS overrides the row count.
func TestBenchValidateVsDuckDB(t *testing.T) {
	if os.Getenv("LAKE_BENCH_VALIDATE") != "1" {
		t.Skip("set LAKE_BENCH_VALIDATE=1 (scripts/bench-validate.sh) to run benchmark 1")
	}
	rows := int64(1_000_000)
	if s := os.Getenv("LAKE_BENCH_ROWS"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("LAKE_BENCH_ROWS: %v", err)
		}
		rows = n
	}
	lakeBin := os.Getenv("LAKE_BIN")
	if lakeBin == "" {
		t.Fatal("LAKE_BIN must name the lake binary")
	}
	threads := runtime.GOMAXPROCS(0)
	dir := t.TempDir()
	path := filepath.Join(dir, "orders.parquet")
	genOrdersFile(t, path, rows, benchDefects)
	rules := filepath.Join(testenv.RepoRoot(), "schemas", "orders.dqdl")

	var cols, anyFail []string
	for _, r := range ordersRuleSQL {
		if r.failSQL == "" {
			cols = append(cols, "0")
			continue
		}
		cols = append(cols, fmt.Sprintf("count(*) FILTER (WHERE %s)", r.failSQL))
		anyFail = append(anyFail, r.failSQL)
	}
	q := fmt.Sprintf(`WITH t AS (SELECT * FROM read_parquet('%s')),
d AS (SELECT order_id FROM t WHERE order_id IS NOT NULL GROUP BY order_id HAVING count(*) > 1),
x AS (SELECT t.*, d.order_id IS NOT NULL AS dup FROM t LEFT JOIN d USING (order_id))
SELECT count(*), count(*) FILTER (WHERE %s), %s FROM x`, path, strings.Join(anyFail, " OR "), strings.Join(cols, ", "))
	got := make([]int64, len(ordersRuleSQL)+2)

	// lake validate and DuckDB alternate, best of 5 each, so that the
	// load of a shared machine falls on both alike
	var res dq.Result
	var maxRSS int64
	lakeRun := func() {
		cmd := exec.Command(lakeBin, "validate", "--rules", rules, "--format", "json", path)
		cmd.Env = append(os.Environ(), fmt.Sprintf("GOMAXPROCS=%d", threads))
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("lake validate: %v\n%s", err, errb.String())
		}
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			maxRSS = max(maxRSS, ru.Maxrss)
		}
		res = dq.Result{}
		if err := json.Unmarshal(out.Bytes(), &res); err != nil {
			t.Fatalf("lake validate output: %v", err)
		}
	}
	// DuckDB runs in a process of its own too (this test binary, which
	// links it), so that both sides pay for starting a process and reading
	// the file cold into a new address space.
	duckRun := func() {
		cmd := exec.Command(os.Args[0], "-test.run=^TestBenchDuckDBChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "LAKE_BENCH_DUCKDB_SQL="+q, fmt.Sprintf("LAKE_BENCH_THREADS=%d", threads))
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("duckdb child: %v\n%s%s", err, out.String(), errb.String())
		}
		line := out.String()
		i := strings.Index(line, "COUNTS ")
		if i < 0 {
			t.Fatalf("duckdb child printed no counts:\n%s", line)
		}
		fields := strings.Fields(strings.SplitN(line[i+len("COUNTS "):], "\n", 2)[0])
		if len(fields) != len(got) {
			t.Fatalf("duckdb child printed %d counts, want %d", len(fields), len(got))
		}
		for i, f := range fields {
			n, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				t.Fatalf("duckdb child count %q: %v", f, err)
			}
			got[i] = n
		}
	}
	lakeTime, duckTime := time.Duration(1<<63-1), time.Duration(1<<63-1)
	for i := 0; i < 5; i++ {
		lakeTime = min(lakeTime, timed(lakeRun))
		duckTime = min(duckTime, timed(duckRun))
		time.Sleep(500 * time.Millisecond) // let DuckDB's workers go idle
	}

	if len(res.RuleResults) != len(ordersRuleSQL) {
		t.Fatalf("lake validate returned %d rule results, the benchmark knows %d rules", len(res.RuleResults), len(ordersRuleSQL))
	}
	agree := true
	for i, r := range ordersRuleSQL {
		lr := res.RuleResults[i]
		if lr.Rule != r.rule {
			t.Fatalf("rule %d is %q, the benchmark expects %q", i, lr.Rule, r.rule)
		}
		ok := lr.RowsFailed == got[i+2]
		agree = agree && ok
		t.Logf("%-5v lake=%7d duckdb=%7d  %s", ok, lr.RowsFailed, got[i+2], r.rule)
	}
	am := res.AggregatedMetrics
	t.Logf("rows: lake=%d duckdb=%d; TotalRowsFailed: lake=%d duckdb=%d", am.TotalRowsProcessed, got[0], am.TotalRowsFailed, got[1])
	if am.TotalRowsProcessed != got[0] || am.TotalRowsFailed != got[1] {
		agree = false
	}
	ratio := lakeTime.Seconds() / duckTime.Seconds()
	t.Logf("BENCH1 rows=%d threads=%d lake_validate=%v duckdb=%v ratio=%.2f agreement=%v lake_peak_rss=%dMiB", rows, threads, lakeTime.Round(time.Millisecond), duckTime.Round(time.Millisecond), ratio, agree, maxRSS/1024)
	if !agree {
		t.Error("per-rule failed-row counts differ between lake validate and DuckDB")
	}
	if ratio > 2.0 {
		t.Errorf("lake validate took %.2fx DuckDB's time, target at most 2.0x", ratio)
	}
}

func timed(f func()) time.Duration {
	start := time.Now()
	f()
	return time.Since(start)
}

// BenchmarkValidate measures Validate in-process on generated orders
// (LAKE_BENCH_ROWS rows, default 200,000) with schemas/orders.dqdl.
func BenchmarkValidate(b *testing.B) {
	rows := int64(200_000)
	if s := os.Getenv("LAKE_BENCH_ROWS"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			b.Fatal(err)
		}
		rows = n
	}
	path := filepath.Join(b.TempDir(), "orders.parquet")
	genOrdersFile(b, path, rows, benchDefects)
	rs, err := dqdl.ParseFile(filepath.Join(testenv.RepoRoot(), "schemas", "orders.dqdl"))
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := dq.Validate(context.Background(), f, rs, dq.Options{}); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	b.ReportMetric(float64(rows*int64(b.N))/b.Elapsed().Seconds(), "rows/s")
}

// TestBenchDuckDBChild is the DuckDB side of TestBenchValidateVsDuckDB, run
// in a process of its own: it runs LAKE_BENCH_DUCKDB_SQL with
// LAKE_BENCH_THREADS threads and prints the one row's counts.
func TestBenchDuckDBChild(t *testing.T) {
	q := os.Getenv("LAKE_BENCH_DUCKDB_SQL")
	if q == "" {
		t.Skip("run by TestBenchValidateVsDuckDB")
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, "SET threads="+os.Getenv("LAKE_BENCH_THREADS")); err != nil {
		t.Fatal(err)
	}
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil || !rows.Next() {
		t.Fatalf("duckdb: no row (%v, %v)", err, rows.Err())
	}
	got := make([]int64, len(cols))
	dst := make([]any, len(cols))
	for i := range got {
		dst[i] = &got[i]
	}
	if err := rows.Scan(dst...); err != nil {
		t.Fatal(err)
	}
	fmt.Print("COUNTS")
	for _, n := range got {
		fmt.Printf(" %d", n)
	}
	fmt.Println()
}
