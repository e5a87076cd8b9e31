#!/usr/bin/env bash
# Benchmark 1: `lake validate` against DuckDB computing the same per-rule
# failed-row counts over a generated 1,000,000-row orders Parquet file,
# with the same number of threads (GOMAXPROCS / SET threads, default: all
# cores). Prints the ratio and the per-rule agreement; fails if the counts
# differ or lake takes more than 2.0x DuckDB's wall time.
#   ROWS=1000000 THREADS=2 scripts/bench-validate.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(mktemp -d)/lake"
trap 'rm -rf "$(dirname "$bin")"' EXIT
go build -o "$bin" ./cmd/lake
export LAKE_BENCH_VALIDATE=1 LAKE_BIN="$bin" LAKE_BENCH_ROWS="${ROWS:-1000000}"
if [ -n "${THREADS:-}" ]; then export GOMAXPROCS="$THREADS"; fi
go test -count=1 -timeout 20m -run '^TestBenchValidateVsDuckDB$' -v ./internal/dq | grep -E 'lake=|BENCH1|FAIL|ok|PASS|---'
