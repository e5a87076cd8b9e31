//go:build duckbench

package route_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/medallionlake/lake/internal/testenv"
)

func init() { benchDuckDB = duckDBSplit }

// duckDBSplit is the DuckDB side of benchmark 2: the same rule outcomes
// materialized, the valid rows written partitioned by month (as the
// contract partitions silver) and the invalid ones with their failed
// rules, with COPY ... TO.
func duckDBSplit(t *testing.T, file, dir string) benchRun {
	ctx := context.Background()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		testenv.Unavailable(t, "duckdb", err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	var fails, names []string
	for _, r := range ordersFailSQL {
		fails = append(fails, r.sql)
		names = append(names, fmt.Sprintf("CASE WHEN %s THEN '%s' END", r.sql, strings.ReplaceAll(r.rule, "'", "''")))
	}
	stmts := []string{
		"SET threads=" + os.Getenv("LAKE_BENCH_THREADS"),
		fmt.Sprintf(`CREATE TEMP TABLE x AS
WITH t AS (SELECT * FROM read_parquet('%s')),
d AS (SELECT order_id FROM t WHERE order_id IS NOT NULL GROUP BY order_id HAVING count(*) > 1)
SELECT t.*, d.order_id IS NOT NULL AS dup FROM t LEFT JOIN d USING (order_id)`, file),
		fmt.Sprintf(`COPY (SELECT * EXCLUDE (dup), strftime(created_at AT TIME ZONE 'UTC', '%%Y-%%m') AS created_at_month FROM x WHERE NOT (%s))
TO '%s/silver' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (created_at_month))`, strings.Join(fails, " OR "), dir),
		fmt.Sprintf(`COPY (SELECT * EXCLUDE (dup), list_filter([%s], r -> r IS NOT NULL) AS DataQualityRulesFail FROM x WHERE %s)
TO '%s/discarded.parquet' (FORMAT parquet, COMPRESSION zstd)`, strings.Join(names, ", "), strings.Join(fails, " OR "), dir),
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			t.Fatalf("duckdb: %v\n%s", err, s)
		}
	}
	secs := time.Since(start).Seconds()
	var r benchRun
	r.Seconds = secs
	q := fmt.Sprintf(`SELECT (SELECT count(*) FROM read_parquet('%s/silver/*/*.parquet')), (SELECT count(*) FROM read_parquet('%s/discarded.parquet'))`, dir, dir)
	if err := db.QueryRowContext(ctx, q).Scan(&r.Silver, &r.Discarded); err != nil {
		t.Fatal(err)
	}
	return r
}
