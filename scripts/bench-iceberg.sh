#!/usr/bin/env bash
# Benchmarks of the Iceberg tables (internal/icetable), in one run on a
# local folder lake:
#  - merge cost: 5,000 changed rows merged into a ROWS-row
#    silver.orders_current (write + merge commit with position deletes)
#    against the same 5,000 rows written alone (write + append commit),
#    for keys spread over the whole table and for the newest 1% of keys;
#    medians of 5 rounds and their ratio (target: at most 3), with the key
#    indexes that maintenance writes beside _current's sorted files and,
#    in rounds alternating with those, without them (the merge reads the
#    key column, as it did before them);
#  - concurrency: 16 objects with overlapping keys merged at once into that
#    table: all must commit, and the retries they took are printed.
#   ROWS=10000000 THREADS=2 scripts/bench-iceberg.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export LAKE_BENCH_ICEBERG=1 LAKE_BENCH_ROWS="${ROWS:-10000000}"
if [ -n "${THREADS:-}" ]; then export GOMAXPROCS="$THREADS"; fi
go test -count=1 -timeout 60m -run '^TestBenchIceberg$' -v ./internal/icetable | grep -E 'BENCH|FAIL|^ok|PASS|---|want'
