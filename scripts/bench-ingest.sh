#!/usr/bin/env bash
# bench-ingest.sh [ROWS...]: the extraction engine's benchmark
# (BenchmarkStreamToParquet in internal/pgarrow) on orders tables of each
# size (default: 1000000 5000000), with peak RSS from /usr/bin/time -v.
#
# Each size reports: the ratio of the engine's wall time (PostgreSQL ->
# Arrow -> Parquet objects in a local lake) to COPY (SELECT * FROM orders)
# TO STDOUT (FORMAT binary) into io.Discard, both in the same run; rows/s;
# Parquet bytes per row; and the process's peak RSS. Uses LAKE_TEST_PG_URL,
# or starts a disposable cluster with scripts/pg.sh. Tables are seeded once
# per cluster (database bench_orders_<ROWS>). BENCH_COUNT (default 3) sets
# the iterations per size.
set -euo pipefail
cd "$(dirname "$0")/.."

started=
if [ -z "${LAKE_TEST_PG_URL:-}" ]; then
	eval "$(scripts/pg.sh start)"
	started=$LAKE_TEST_PG_DIR
	trap 'scripts/pg.sh stop "$started"' EXIT
fi
export LAKE_TEST_PG_URL

bin=$(mktemp -d)/pgarrow.test
go test -c -o "$bin" ./internal/pgarrow

sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000000 5000000)
for rows in "${sizes[@]}"; do
	# Seed outside the measured process, so its RSS is the engine's alone.
	LAKE_BENCH_ROWS=$rows "$bin" -test.run '^$' -test.bench 'StreamToParquet' -test.benchtime 1x >/dev/null
	log=$(mktemp)
	LAKE_BENCH_ROWS=$rows /usr/bin/time -v "$bin" -test.run '^$' -test.bench 'StreamToParquet' \
		-test.benchtime "${BENCH_COUNT:-3}x" 2>"$log" | grep '^Benchmark' | sed "s/^/rows=$rows /"
	echo "rows=$rows peak RSS: $(awk -F': ' '/Maximum resident set size/ {printf "%.0f MiB", $2/1024}' "$log")"
	rm -f "$log"
done
