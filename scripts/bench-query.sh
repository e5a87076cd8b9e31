#!/usr/bin/env bash
# bench-query.sh [ORDERS] [ROUNDS] [RUNS]: the query benchmark, on a local
# folder lake. Writes ORDERS orders (default 1000000, created over a year)
# into the Iceberg tables silver.orders and silver.orders_current in 10
# objects, then ROUNDS rounds (default 20) each updating 0.5% of the
# orders at random in one object, every object appended to silver and
# merged into _current (position deletes) as the pipeline commits them.
# Then it times a group-by over silver.orders_current through the query
# layer (what `lake query` runs: DuckDB opened, the tables' metadata read,
# _current planned with iceberg-go, its view created, the query run and
# printed; no plan cache, as for the first statement after a commit)
# against the same question asked of DuckDB directly over the same data
# and delete files (listed beforehand, deletes applied by a hand-written
# anti-join) and against the query layer's own SQL planned beforehand
# (what the layer adds: metadata, planning, views), RUNS times each
# (default 5), alternating, and checks that all answer the same: once
# after the rounds, once after maintenance (compaction folds the deletes
# in). Prints the times and their ratios
# (target: at most 1.1), and the time of planning alone after the first
# load, after the rounds (planned anew, and from the plan cache) and after
# maintenance.
set -euo pipefail
cd "$(dirname "$0")/.."

orders=${1:-1000000}
rounds=${2:-20}
runs=${3:-5}
out=$(LAKE_BENCH_ORDERS=$orders LAKE_BENCH_ROUNDS=$rounds go test -run '^$' -bench '^BenchmarkCurrentGroupBy$' -benchtime "${runs}x" -timeout 60m ./internal/query)
echo "$out" >&2
line=$(grep -E '^BenchmarkCurrentGroupBy' <<<"$out")
metric() { awk -v m="$1" '{for (i=1;i<NF;i++) if ($(i+1)==m) print $i}' <<<"$line"; }
echo "orders: $orders, rounds: $rounds, runs: $runs, load average: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
files=$(grep -E 'silver.orders_current: ' <<<"$out" | sed 's/^ *bench_test.go:[0-9]*: silver.orders_current: //')
for phase in "" -maintained; do
	if [ -z "$phase" ]; then
		echo "after the rounds ($(sed -n 1p <<<"$files")):"
	else
		echo "after maintenance ($(sed -n 2p <<<"$files")):"
	fi
	echo "  lake query (plan + view):         wall $(metric lake-ms$phase) ms/query, CPU $(metric lake-cpu-ms$phase) ms/query"
	echo "  DuckDB directly over the files:   wall $(metric direct-ms$phase) ms/query, CPU $(metric direct-cpu-ms$phase) ms/query"
	echo "  its own SQL, planned beforehand:  wall $(metric planned-ms$phase) ms/query, CPU $(metric planned-cpu-ms$phase) ms/query"
	echo "  ratio to DuckDB directly: wall $(metric ratio$phase), CPU $(metric cpu-ratio$phase) (target <= 1.1)"
	echo "  ratio to its own SQL planned beforehand (the layer's cost): wall $(metric layer-ratio$phase), CPU $(metric layer-cpu-ratio$phase)"
done
echo "planning alone (open + _current's view): after the load $(metric plan-load-ms) ms, after the rounds $(metric plan-rounds-ms) ms (from the plan cache $(metric plan-rounds-cached-ms) ms), after maintenance $(metric plan-maintained-ms) ms"
echo "(on a busy machine wall times swing by tens of percent: compare the CPU ratios)"
