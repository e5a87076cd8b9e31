#!/usr/bin/env bash
# Benchmark 2: the validate and route steps on a generated 1,000,000-row
# orders Parquet object (3.5% defective rows over 300 days) into a local
# lake (the data files of silver, _current and discarded, uncommitted),
# against DuckDB writing the valid rows (partitioned by month) and the
# invalid rows (with their failed rules) to Parquet with COPY ... TO, with
# the same number of threads (GOMAXPROCS / SET threads; default: all
# cores). Each side runs in its own process; prints the best of 3 wall
# times, the ratio, both peak RSS and whether the row counts agree.
# DEFECTS sets the share of defective rows (default 0.035, the same mix
# scaled). The lake side
# also reports the bytes of the bronze object it read from the store
# (validate and route together; body_reads is that over the object's size).
# MEMLIMIT sets the lake side's GOMEMLIMIT, as the tasks set it from a
# Lambda's memory size (85%: MEMLIMIT=218MiB is a 256 MB function), and
# its DQ memory budget as the tasks do (a quarter of the function's).
# RUNS sets the runs of each side (default 3; the best is reported).
#   ROWS=1000000 THREADS=2 scripts/bench-route.sh
#   ROWS=1000000 THREADS=2 DEFECTS=0.9 scripts/bench-route.sh
#   ROWS=10000000 THREADS=2 scripts/bench-route.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export LAKE_BENCH_ROUTE=1 LAKE_BENCH_ROWS="${ROWS:-1000000}"
if [ -n "${DEFECTS:-}" ]; then export LAKE_BENCH_DEFECTS="$DEFECTS"; fi
if [ -n "${MEMLIMIT:-}" ]; then export LAKE_BENCH_MEMLIMIT="$MEMLIMIT"; fi
if [ -n "${THREADS:-}" ]; then export GOMAXPROCS="$THREADS"; fi
if [ -n "${RUNS:-}" ]; then export LAKE_BENCH_RUNS="$RUNS"; fi
# The lake side runs in a test binary without DuckDB (as the Lambdas are
# built), the DuckDB side in one built with the duckbench tag.
bins=$(mktemp -d)
trap 'rm -rf "$bins"' EXIT
go test -c -o "$bins/lake.test" ./internal/route
go test -c -tags duckbench -o "$bins/duckdb.test" ./internal/route
export LAKE_BENCH_LAKE_BIN="$bins/lake.test" LAKE_BENCH_DUCKDB_BIN="$bins/duckdb.test"
(cd internal/route && "$bins/lake.test" -test.count=1 -test.timeout 30m -test.run '^TestBenchRouteVsDuckDB$' -test.v) | grep -E 'run [0-9]|BENCH2|FAIL|^ok|PASS|---'
