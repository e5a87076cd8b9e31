package pgarrow_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/jackc/pgx/v5"

	"github.com/medallionlake/lake/internal/lakeparquet"
	"github.com/medallionlake/lake/internal/pgarrow"
	"github.com/medallionlake/lake/internal/seed"
	"github.com/medallionlake/lake/internal/store/filestore"
	"github.com/medallionlake/lake/internal/testenv"
)

// benchRows is the size of the benchmark's orders table: 1,000,000, or
// LAKE_BENCH_ROWS.
var benchRows = func() int64 {
	if n, err := strconv.ParseInt(os.Getenv("LAKE_BENCH_ROWS"), 10, 64); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}()

var (
	benchOnce sync.Once
	benchURL  string
	benchErr  error
)

// benchDatabase returns the URL of database bench_orders_<benchRows> on
// the test cluster, holding an orders table of benchRows rows; it is
// created and seeded once and kept, so that later runs against the same
// cluster (LAKE_TEST_PG_URL) skip seeding.
func benchDatabase(b *testing.B) string {
	benchOnce.Do(func() {
		admin, err := testenv.PostgresURL()
		if err != nil {
			benchErr = err
			return
		}
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			benchErr = err
			return
		}
		defer conn.Close(ctx)
		name := fmt.Sprintf("bench_orders_%d", benchRows)
		var exists bool
		if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
			benchErr = err
			return
		}
		if !exists {
			if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
				benchErr = err
				return
			}
		}
		u, _ := url.Parse(admin)
		u.Path = "/" + name
		benchURL = u.String()
		db, err := pgx.Connect(ctx, benchURL)
		if err != nil {
			benchErr = err
			return
		}
		defer db.Close(ctx)
		var n int64
		if err := db.QueryRow(ctx, "SELECT count(*) FROM orders").Scan(&n); err != nil || n != benchRows {
			if _, err := db.Exec(ctx, "DROP TABLE IF EXISTS orders"); err != nil {
				benchErr = err
				return
			}
			if _, benchErr = seed.Run(ctx, db, seed.Options{Rows: benchRows, Defects: 0.05, Seed: 1}); benchErr != nil {
				return
			}
			_, benchErr = db.Exec(ctx, "VACUUM ANALYZE orders")
		}
	})
	if benchErr != nil {
		testenv.Unavailable(b, "PostgreSQL", benchErr)
	}
	return benchURL
}

// BenchmarkStreamToParquet extracts the orders table (1M rows by default)
// to Parquet objects in a local lake (Describe, Stream, lakeparquet) and,
// in the same iteration, runs COPY (SELECT * FROM orders) TO STDOUT
// (FORMAT binary) into io.Discard. It reports the ratio of the medians of
// the two wall times (the target is at most 2.0), rows/s and
// Parquet bytes per row, and, since wall times depend on what else the
// machine runs, the CPU seconds per iteration of this process and of the
// PostgreSQL backend, for the extraction and for COPY.
func BenchmarkStreamToParquet(b *testing.B) {
	dbURL := benchDatabase(b)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	backend := conn.PgConn().PID()
	var copyTimes, ingestTimes []time.Duration
	var copyCPU, ingestCPU, copyServer, ingestServer time.Duration
	var bytes int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c0, s0, t0 := processCPU(b), backendCPU(backend), time.Now()
		if _, err := conn.PgConn().CopyTo(ctx, io.Discard, "COPY (SELECT * FROM orders) TO STDOUT (FORMAT binary)"); err != nil {
			b.Fatal(err)
		}
		c1, s1, t1 := processCPU(b), backendCPU(backend), time.Now()
		objs := ingestOnce(b, ctx, conn)
		c2, s2, t2 := processCPU(b), backendCPU(backend), time.Now()
		copyTimes, ingestTimes = append(copyTimes, t1.Sub(t0)), append(ingestTimes, t2.Sub(t1))
		copyCPU, ingestCPU = copyCPU+c1-c0, ingestCPU+c2-c1
		copyServer, ingestServer = copyServer+s1-s0, ingestServer+s2-s1
		var rows int64
		for _, o := range objs {
			rows += o.Rows
			bytes += o.Bytes
		}
		if rows != benchRows {
			b.Fatalf("rows = %d, want %d", rows, benchRows)
		}
	}
	n := float64(b.N)
	ingest := median(ingestTimes)
	b.ReportMetric(float64(ingest)/float64(median(copyTimes)), "ratio")
	b.ReportMetric(float64(benchRows)/ingest.Seconds(), "rows/s")
	b.ReportMetric(float64(bytes)/float64(benchRows)/n, "B/row")
	b.ReportMetric(median(copyTimes).Seconds(), "copy-s")
	b.ReportMetric(ingestCPU.Seconds()/n, "ingest-cpu-s")
	b.ReportMetric(ingestServer.Seconds()/n, "ingest-pg-cpu-s")
	b.ReportMetric(copyCPU.Seconds()/n, "copy-cpu-s")
	b.ReportMetric(copyServer.Seconds()/n, "copy-pg-cpu-s")
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// processCPU is this process's user+system CPU time so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// backendCPU is the user+system CPU time of a PostgreSQL backend on this
// machine, from /proc (0 when it cannot be read).
func backendCPU(pid uint32) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which ends with ')': utime and
	// stime are the 12th and 13th, in clock ticks (100 per second).
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// ingestOnce extracts orders into a fresh local lake and returns its objects.
func ingestOnce(b *testing.B, ctx context.Context, conn *pgx.Conn) []lakeparquet.Object {
	st, err := filestore.New(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback(ctx)
	tbl, err := pgarrow.Describe(ctx, tx, "public", "orders")
	if err != nil {
		b.Fatal(err)
	}
	w := lakeparquet.NewWriter(ctx, st, tbl.Arrow, func(n int) string { return fmt.Sprintf("bronze/landing/orders/part-%05d.parquet", n) }, lakeparquet.Options{})
	err = pgarrow.Stream(ctx, tx, tbl, "SELECT "+tbl.ColumnList()+" FROM "+tbl.Ident(), nil, 0, func(rec arrow.RecordBatch) error {
		defer rec.Release()
		return w.Write(rec)
	})
	if err != nil {
		w.Abort(err)
		b.Fatal(err)
	}
	objs, err := w.Close()
	if err != nil {
		b.Fatal(err)
	}
	return objs
}
