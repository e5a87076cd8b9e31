#!/usr/bin/env bash
# Benchmark 2: the validate and route steps on a generated 1,000,000-row
# orders Parquet object (3.5% defective rows over 300 days) into a local
# lake, against DuckDB writing the valid rows (partitioned by day) and the
# invalid rows (with their failed rules) to Parquet with COPY ... TO, with
# the same number of threads (GOMAXPROCS / SET threads; default: all
# cores). Each side runs in its own process; prints the best of 3 wall
# times, the ratio, both peak RSS and whether the row counts agree.
# MAX_OPEN sets route's MaxOpenPartitions (default 64: 5 passes for 300
# partitions).
#   ROWS=1000000 THREADS=2 MAX_OPEN=64 scripts/bench-route.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export LAKE_BENCH_ROUTE=1 LAKE_BENCH_ROWS="${ROWS:-1000000}"
if [ -n "${MAX_OPEN:-}" ]; then export LAKE_BENCH_MAX_OPEN="$MAX_OPEN"; fi
if [ -n "${THREADS:-}" ]; then export GOMAXPROCS="$THREADS"; fi
go test -count=1 -timeout 30m -run '^TestBenchRouteVsDuckDB$' -v ./internal/route | grep -E 'run [0-9]|BENCH2|FAIL|^ok|PASS|---'
