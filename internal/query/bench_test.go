package query_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/medallionlake/lake/internal/catalog/localcatalog"
	"github.com/medallionlake/lake/internal/query"
	"github.com/medallionlake/lake/internal/query/format"
	"github.com/medallionlake/lake/internal/store/filestore"
)

// Shape of the benchmark's silver layout: benchOrders orders created over
// benchDays days, each day in two objects (a first run, and a later run
// holding a new version of every fifth order).
const (
	benchDays    = 30
	benchUpdated = 5
)

var benchStatuses = []string{"PENDING", "PAID", "SHIPPED", "DELIVERED", "CANCELLED", "RETURNED"}

// benchOrders is the number of orders; LAKE_BENCH_ORDERS overrides the
// default of one million.
func benchOrders(b *testing.B) int {
	if v := os.Getenv("LAKE_BENCH_ORDERS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatalf("LAKE_BENCH_ORDERS=%q: %v", v, err)
		}
		return n
	}
	return 1_000_000
}

// BenchmarkCurrentGroupBy compares a group-by over silver.orders_current
// through the query layer (what `lake query` runs: open DuckDB, read the
// catalog, create the views, run, print) with the same question asked of
// DuckDB directly over the same files, without the catalog. scripts/
// bench-query.sh runs it and prints the ratio.
func BenchmarkCurrentGroupBy(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	s, err := filestore.New(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	n := benchOrders(b)
	start := time.Now()
	writeBenchLayout(b, dir, n)
	crawlLake(b, s)
	b.Logf("layout: %d orders, %d rows in %d objects, written and crawled in %s", n, n+n/benchUpdated, 2*benchDays, time.Since(start).Round(time.Millisecond))

	const layered = `SELECT status, count(*) AS orders, sum(amount) AS amount FROM silver.orders_current GROUP BY status ORDER BY status`
	direct := fmt.Sprintf(`SELECT status, count(*) AS orders, sum(amount) AS amount FROM (
		SELECT status, amount FROM read_parquet('%s/silver/staging/orders/*/*.parquet', hive_partitioning = true)
		QUALIFY row_number() OVER (PARTITION BY order_id ORDER BY updated_at DESC) = 1
	) GROUP BY status ORDER BY status`, dir)

	runLake := func() {
		e, err := query.Open(ctx, s, localcatalog.New(s), query.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer e.Close()
		w, _ := format.New(io.Discard, format.CSV)
		if err := e.Query(ctx, layered, w); err != nil {
			b.Fatal(err)
		}
	}
	runDirect := func() {
		db, err := sql.Open("duckdb", "")
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		rows, err := db.QueryContext(ctx, direct)
		if err != nil {
			b.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var status string
			var count int64
			var amount any
			if err := rows.Scan(&status, &count, &amount); err != nil {
				b.Fatal(err)
			}
		}
		if err := rows.Err(); err != nil {
			b.Fatal(err)
		}
	}
	// The two run alternately, so that a busy machine slows both alike.
	// Wall time is what a user waits; CPU time (of this process, DuckDB's
	// threads included) is what the work costs, and is what stays
	// comparable on a machine shared with other work.
	var lakeWall, directWall, lakeCPU, directCPU time.Duration
	measure := func(f func(), wall, cpu *time.Duration) {
		c0, t0 := cpuTime(), time.Now()
		f()
		*wall += time.Since(t0)
		*cpu += cpuTime() - c0
	}
	runLake()
	runDirect()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if i%2 == 0 {
			measure(runLake, &lakeWall, &lakeCPU)
			measure(runDirect, &directWall, &directCPU)
		} else {
			measure(runDirect, &directWall, &directCPU)
			measure(runLake, &lakeWall, &lakeCPU)
		}
	}
	iters := float64(b.N)
	b.ReportMetric(float64(lakeWall.Milliseconds())/iters, "lake-ms/op")
	b.ReportMetric(float64(directWall.Milliseconds())/iters, "direct-ms/op")
	b.ReportMetric(float64(lakeWall)/float64(directWall), "ratio")
	b.ReportMetric(float64(lakeCPU.Milliseconds())/iters, "lake-cpu-ms/op")
	b.ReportMetric(float64(directCPU.Milliseconds())/iters, "direct-cpu-ms/op")
	b.ReportMetric(float64(lakeCPU)/float64(directCPU), "cpu-ratio")
}

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// writeBenchLayout writes the silver objects of n orders straight to the
// lake folder dir, one row group per object part, with the writer
// properties the route step uses (zstd).
func writeBenchLayout(b *testing.B, dir string, n int) {
	sch := arrow.NewSchema(ordersFields, nil)
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	perDay := n / benchDays
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd), parquet.WithStats(true), parquet.WithDictionaryDefault(true))
	for day := range benchDays {
		first := day * perDay
		last := first + perDay
		if day == benchDays-1 {
			last = n
		}
		dt := base.AddDate(0, 0, day)
		folder := fmt.Sprintf("%s/silver/staging/orders/dt=%s", dir, dt.Format(time.DateOnly))
		if err := os.MkdirAll(folder, 0o755); err != nil {
			b.Fatal(err)
		}
		for run := range 2 {
			bld := array.NewRecordBuilder(memory.DefaultAllocator, sch)
			for id := first; id < last; id++ {
				if run == 1 && id%benchUpdated != 0 {
					continue
				}
				created := dt.Add(time.Duration(id-first) * time.Second)
				updated := created.Add(time.Duration(run) * 36 * time.Hour)
				bld.Field(0).(*array.Int64Builder).Append(int64(id))
				bld.Field(1).(*array.Int64Builder).Append(int64(rng.IntN(50_000)))
				bld.Field(2).(*array.StringBuilder).Append(benchStatuses[rng.IntN(len(benchStatuses))])
				bld.Field(3).(*array.Decimal128Builder).Append(decimal128.FromI64(int64(rng.IntN(100_000))))
				bld.Field(4).(*array.StringBuilder).Append("EUR")
				bld.Field(5).(*array.TimestampBuilder).Append(arrow.Timestamp(created.UnixMicro()))
				bld.Field(6).(*array.TimestampBuilder).Append(arrow.Timestamp(updated.UnixMicro()))
			}
			rec := bld.NewRecordBatch()
			f, err := os.Create(fmt.Sprintf("%s/run%d.parquet", folder, run+1))
			if err != nil {
				b.Fatal(err)
			}
			w, err := pqarrow.NewFileWriter(sch, f, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
			if err != nil {
				b.Fatal(err)
			}
			if err := w.Write(rec); err != nil {
				b.Fatal(err)
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
			rec.Release()
			bld.Release()
		}
	}
}
