package query_test

import (
	"database/sql"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/medallionlake/lake/internal/icetable"
	"github.com/medallionlake/lake/internal/query"
	"github.com/medallionlake/lake/internal/query/format"
)

// Shape of the benchmark's tables: benchOrders orders created over a
// year, loaded in benchLoadObjects objects, then benchRounds rounds each
// updating 0.5% of the orders at random (one object per round), every
// object appended to silver.orders and merged into silver.orders_current,
// as the pipeline commits them.
const (
	benchLoadObjects = 10
	benchDays        = 365
)

var benchStatuses = []string{"PENDING", "PAID", "SHIPPED", "DELIVERED", "CANCELLED", "RETURNED"}

// benchEnv is the integer in the environment variable name, or def.
func benchEnv(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		b.Fatalf("%s=%q: %v", name, v, err)
	}
	return n
}

// BenchmarkCurrentGroupBy compares a group-by over silver.orders_current
// through the query layer (what `lake query` runs: open DuckDB, read the
// tables' metadata, plan _current, create its view, run, print) with the
// same question asked of DuckDB directly over the same data and delete
// files, listed beforehand, with the deletes applied by a hand-written
// anti-join: after the rounds (many small files and position deletes),
// and again after maintenance (compacted, deletes folded in). Every
// statement of the comparison plans the table anew (no plan cache: the
// first statement after a commit). It also times planning alone
// (query.Open and the view of _current) after the first load, after the
// rounds (planned anew, and from the plan cache), and after maintenance,
// to show how planning grows with the table's history.
// scripts/bench-query.sh runs it and prints the ratios.
func BenchmarkCurrentGroupBy(b *testing.B) {
	n := benchEnv(b, "LAKE_BENCH_ORDERS", 1_000_000)
	rounds := benchEnv(b, "LAKE_BENCH_ROUNDS", 20)
	if n < benchLoadObjects || rounds < 1 {
		b.Fatalf("LAKE_BENCH_ORDERS=%d, LAKE_BENCH_ROUNDS=%d: want at least %d orders and a round", n, rounds, benchLoadObjects)
	}
	l := newLake(b)
	dir := l.st.(interface{ Dir() string }).Dir()
	rng := rand.New(rand.NewPCG(1, 2))

	start := time.Now()
	for i := range benchLoadObjects {
		lo, hi := i*n/benchLoadObjects, (i+1)*n/benchLoadObjects
		ids := make([]int, 0, hi-lo)
		for id := lo; id < hi; id++ {
			ids = append(ids, id)
		}
		rec := benchBatch(rng, ids, 0)
		l.validRecord(b, fmt.Sprintf("load-%d", i), rec)
		rec.Release()
	}
	b.Logf("load: %d orders in %d objects, written and committed in %s", n, benchLoadObjects, time.Since(start).Round(time.Millisecond))
	planLoad := benchPlan(b, l, "")

	start = time.Now()
	for r := 1; r <= rounds; r++ {
		seen := map[int]bool{}
		for len(seen) < max(1, n/200) {
			seen[rng.IntN(n)] = true
		}
		rec := benchBatch(rng, slices.Sorted(maps.Keys(seen)), r)
		l.validRecord(b, fmt.Sprintf("round-%d", r), rec)
		rec.Release()
	}
	b.Logf("rounds: %d of %d updated orders, committed in %s", rounds, max(1, n/200), time.Since(start).Round(time.Millisecond))
	planRounds := benchPlan(b, l, "")
	cache := b.TempDir()
	benchPlan(b, l, cache) // fills the cache
	planCached := benchPlan(b, l, cache)

	b.ResetTimer()
	var before, after timing
	for i := 0; b.Loop(); i++ {
		before.measure(b, l, dir, i)
	}
	b.StopTimer()
	for _, kind := range []icetable.Kind{icetable.Silver, icetable.Current} {
		if _, err := l.ice.Maintain(ctx, kind, l.t, icetable.MaintainOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	planMaintained := benchPlan(b, l, "")
	for i := range b.N {
		after.measure(b, l, dir, i)
	}

	before.report(b, "")
	after.report(b, "-maintained")
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(planLoad), "plan-load-ms")
	b.ReportMetric(ms(planRounds), "plan-rounds-ms")
	b.ReportMetric(ms(planCached), "plan-rounds-cached-ms")
	b.ReportMetric(ms(planMaintained), "plan-maintained-ms")
}

// timing sums the times of the group-by over silver.orders_current through
// the query layer and asked of DuckDB directly.
type timing struct {
	n                                        int
	lakeWall, directWall, lakeCPU, directCPU time.Duration
	// planned: the query layer's own SQL, planned beforehand
	plannedWall, plannedCPU time.Duration
}

// measure runs the group-by three ways, alternately (so that a busy
// machine slows all alike; round i decides the order), and checks that
// all give the same answer: through the query layer; directly, over the
// data and delete files of _current's current snapshot, listed before it
// is timed, with a hand-written anti-join; and as the query layer's own
// SQL planned beforehand (what the layer adds: metadata, planning,
// views). Wall time is
// what a user waits; CPU time (of this process, DuckDB's threads
// included) is what the work costs, and is what stays comparable on a
// machine shared with other work.
func (tm *timing) measure(b *testing.B, l *lake, dir string, i int) {
	const layered = `SELECT status, count(*) AS orders, sum(amount) AS amount FROM silver.orders_current GROUP BY status ORDER BY status`
	id, _ := icetable.Ident(icetable.Current, l.t.Name)
	p, err := l.ice.Plan(ctx, id, time.Time{})
	if err != nil {
		b.Fatal(err)
	}
	var data, deletes []string
	for _, f := range p.Files {
		data = append(data, filepath.Join(dir, f.Key))
		for _, d := range f.Deletes {
			deletes = append(deletes, filepath.Join(dir, d))
		}
	}
	slices.Sort(deletes)
	deletes = slices.Compact(deletes)
	direct := fmt.Sprintf(`SELECT status, count(*) AS orders, sum(amount) AS amount FROM read_parquet(%s) GROUP BY status ORDER BY status`, sqlList(data))
	if len(deletes) > 0 {
		direct = fmt.Sprintf(`SELECT status, count(*) AS orders, sum(amount) AS amount FROM (
			SELECT status, amount FROM read_parquet(%s, filename = true) AS d
			ANTI JOIN (SELECT substr(file_path, %d) AS filename, pos AS file_row_number FROM read_parquet(%s)) AS x
			USING (filename, file_row_number)
		) GROUP BY status ORDER BY status`, sqlList(data), len("file://")+1, sqlList(deletes))
	}
	planSQL, err := p.DuckDB(func(key string) string { return filepath.Join(dir, key) })
	if err != nil {
		b.Fatal(err)
	}
	planned := `SELECT status, count(*) AS orders, sum(amount) AS amount FROM (` + planSQL + `) GROUP BY status ORDER BY status`
	if tm.n == 0 {
		b.Logf("silver.orders_current: %d data files, %d delete files", len(data), len(deletes))
	}
	var lakeOut, directOut, plannedOut string
	runLake := func() {
		e, err := l.openErr(query.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer e.Close()
		lakeOut = run(b, e, format.CSV, layered)
	}
	duck := func(q string, out *string) func() {
		return func() {
			db, err := sql.Open("duckdb", "")
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			*out = benchRows(b, db, q)
		}
	}
	runDirect, runPlanned := duck(direct, &directOut), duck(planned, &plannedOut)
	timed := func(f func(), wall, cpu *time.Duration) {
		c0, t0 := cpuTime(), time.Now()
		f()
		*wall += time.Since(t0)
		*cpu += cpuTime() - c0
	}
	if i%2 == 0 {
		timed(runLake, &tm.lakeWall, &tm.lakeCPU)
		timed(runDirect, &tm.directWall, &tm.directCPU)
		timed(runPlanned, &tm.plannedWall, &tm.plannedCPU)
	} else {
		timed(runPlanned, &tm.plannedWall, &tm.plannedCPU)
		timed(runDirect, &tm.directWall, &tm.directCPU)
		timed(runLake, &tm.lakeWall, &tm.lakeCPU)
	}
	if lakeOut != directOut || plannedOut != directOut {
		b.Fatalf("the query layer answers\n%s\nDuckDB directly\n%s\nits SQL planned beforehand\n%s", lakeOut, directOut, plannedOut)
	}
	tm.n++
}

// report reports the mean times and their ratios, the metric names
// ending in suffix.
func (tm *timing) report(b *testing.B, suffix string) {
	n := float64(tm.n)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / n }
	b.ReportMetric(ms(tm.lakeWall), "lake-ms"+suffix)
	b.ReportMetric(ms(tm.directWall), "direct-ms"+suffix)
	b.ReportMetric(float64(tm.lakeWall)/float64(tm.directWall), "ratio"+suffix)
	b.ReportMetric(ms(tm.lakeCPU), "lake-cpu-ms"+suffix)
	b.ReportMetric(ms(tm.directCPU), "direct-cpu-ms"+suffix)
	b.ReportMetric(float64(tm.lakeCPU)/float64(tm.directCPU), "cpu-ratio"+suffix)
	b.ReportMetric(ms(tm.plannedWall), "planned-ms"+suffix)
	b.ReportMetric(ms(tm.plannedCPU), "planned-cpu-ms"+suffix)
	b.ReportMetric(float64(tm.lakeWall)/float64(tm.plannedWall), "layer-ratio"+suffix)
	b.ReportMetric(float64(tm.lakeCPU)/float64(tm.plannedCPU), "layer-cpu-ratio"+suffix)
}

// benchBatch is version v of the orders ids: order id is created on day
// id mod benchDays of 2024, version v is updated v hours after that.
func benchBatch(rng *rand.Rand, ids []int, v int) arrow.RecordBatch {
	bld := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema(ordersFields, nil))
	defer bld.Release()
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, id := range ids {
		created := base.Add(time.Duration(id%benchDays)*24*time.Hour + time.Duration(id%86400)*time.Second)
		bld.Field(0).(*array.Int64Builder).Append(int64(id))
		bld.Field(1).(*array.Int64Builder).Append(int64(rng.IntN(50_000)))
		bld.Field(2).(*array.StringBuilder).Append(benchStatuses[rng.IntN(len(benchStatuses))])
		bld.Field(3).(*array.Decimal128Builder).Append(decimal128.FromI64(int64(rng.IntN(100_000))))
		bld.Field(4).(*array.StringBuilder).Append("EUR")
		bld.Field(5).(*array.TimestampBuilder).Append(arrow.Timestamp(created.UnixMicro()))
		bld.Field(6).(*array.TimestampBuilder).Append(arrow.Timestamp(created.Add(time.Duration(v) * time.Hour).UnixMicro()))
	}
	return bld.NewRecordBatch()
}

// benchPlan is the median time of three plannings of the lake's tables
// with the view of _current filled in: query.Open and a statement that
// names _current and reads no row of it. With a cache folder, plans of
// snapshots planned before come from there.
func benchPlan(b *testing.B, l *lake, cache string) time.Duration {
	var times []time.Duration
	for range 3 {
		t0 := time.Now()
		e, err := l.openErr(query.Options{CacheDir: cache})
		if err != nil {
			b.Fatal(err)
		}
		w, _ := format.New(io.Discard, format.CSV)
		if err := e.Query(ctx, "SELECT count(*) FROM silver.orders_current WHERE false", w); err != nil {
			b.Fatal(err)
		}
		times = append(times, time.Since(t0))
		e.Close()
	}
	slices.Sort(times)
	return times[1]
}

// benchRows runs q and returns its rows as CSV lines, as format.CSV
// prints them.
func benchRows(b *testing.B, db *sql.DB, q string) string {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	out := "status,orders,amount\n"
	for rows.Next() {
		var status string
		var count int64
		var amount any
		if err := rows.Scan(&status, &count, &amount); err != nil {
			b.Fatal(err)
		}
		out += fmt.Sprintf("%s,%d,%s\n", status, count, query.Value(amount, "DECIMAL").Text)
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	return out
}

// sqlList is a DuckDB list of string literals.
func sqlList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = "'" + strings.ReplaceAll(s, "'", "''") + "'"
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
