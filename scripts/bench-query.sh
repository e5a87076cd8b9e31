#!/usr/bin/env bash
# bench-query.sh [ORDERS] [RUNS]: the query benchmark. Writes a silver
# layout of ORDERS orders (default 1000000; 30 daily partitions, two objects
# each, a second version of every fifth order), crawls it into the local
# catalog, then times a group-by over silver.orders_current through the
# query layer (what `lake query` runs: DuckDB opened, catalog read, views
# created, query run and printed) against the same question asked of DuckDB
# directly over the same files without the catalog, RUNS times each
# (default 5), alternating. Prints both times and their ratio; the target
# is a ratio of at most 1.1.
set -euo pipefail
cd "$(dirname "$0")/.."

orders=${1:-1000000}
runs=${2:-5}
out=$(LAKE_BENCH_ORDERS=$orders go test -run '^$' -bench '^BenchmarkCurrentGroupBy$' -benchtime "${runs}x" -timeout 60m ./internal/query)
echo "$out" >&2
line=$(grep -E '^BenchmarkCurrentGroupBy' <<<"$out")
lake=$(awk '{for (i=1;i<NF;i++) if ($(i+1)=="lake-ms/op") print $i}' <<<"$line")
direct=$(awk '{for (i=1;i<NF;i++) if ($(i+1)=="direct-ms/op") print $i}' <<<"$line")
ratio=$(awk '{for (i=1;i<NF;i++) if ($(i+1)=="ratio") print $i}' <<<"$line")
lake_cpu=$(awk '{for (i=1;i<NF;i++) if ($(i+1)=="lake-cpu-ms/op") print $i}' <<<"$line")
direct_cpu=$(awk '{for (i=1;i<NF;i++) if ($(i+1)=="direct-cpu-ms/op") print $i}' <<<"$line")
cpu_ratio=$(awk '{for (i=1;i<NF;i++) if ($(i+1)=="cpu-ratio") print $i}' <<<"$line")
echo "orders: $orders, runs: $runs, load average: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
echo "lake query (catalog + views):   wall ${lake} ms/query, CPU ${lake_cpu} ms/query"
echo "DuckDB directly over the files: wall ${direct} ms/query, CPU ${direct_cpu} ms/query"
echo "ratio: wall ${ratio}, CPU ${cpu_ratio} (target <= 1.1)"
if awk -v r="$ratio" 'BEGIN { exit !(r <= 1.1) }'; then
	echo "target met (wall)"
else
	echo "target missed (wall); on a busy machine the CPU ratio is the steadier measure"
fi
