#!/usr/bin/env bash
# bench-ingest.sh [--rows N] [--runs K] [--rss-5m] [--engine]: how a full
# `lake ingest` of the demo orders table compares with PostgreSQL's own
# binary COPY.
#
# Starts a disposable PostgreSQL (scripts/pg.sh), seeds N orders (default
# 1,000,000) with `lake seed`, then, in the same run and alternating, times
# K times each (default 5):
#   - COPY (SELECT * FROM orders) TO STDOUT (FORMAT binary) into /dev/null (psql)
#   - a full `lake ingest` into a fresh temporary lake
# and prints the medians, their ratio (target: at most 2.0), rows per second,
# the ingest's peak RSS (/usr/bin/time -v) and Parquet bytes per row.
# --rss-5m then seeds 5,000,000 orders and measures one more ingest's peak
# RSS (target: at most 200 MiB, flat as the table grows). --engine also
# runs the extraction engine's own benchmark (BenchmarkStreamToParquet in
# internal/pgarrow: PostgreSQL -> Arrow -> Parquet in one process, without
# the lake command around it) at --rows. LAKE_BIN names a lake binary to
# use instead of building one.
set -euo pipefail

rows=1000000
runs=5
rss5m=0
engine=0
while [ $# -gt 0 ]; do
	case "$1" in
	--rows) rows=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	--rss-5m) rss5m=1; shift ;;
	--engine) engine=1; shift ;;
	*) echo "usage: $0 [--rows N] [--runs K] [--rss-5m] [--engine]" >&2; exit 2 ;;
	esac
done

root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/lib/bench.sh"
work=$(mktemp -d -t lake-bench-XXXXXX)

if [ ! -x /usr/bin/time ]; then
	echo "bench-ingest: installing GNU time (for peak RSS)" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >&2
fi

eval "$("$root/scripts/pg.sh" start)"
cleanup() {
	"$root/scripts/pg.sh" stop "$LAKE_TEST_PG_DIR" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

if [ -n "${LAKE_BIN:-}" ]; then
	cp "$LAKE_BIN" "$work/lake"
else
	echo "bench-ingest: building lake" >&2
	(cd "$root" && go build -o "$work/lake" ./cmd/lake)
fi

# dburl NAME prints the URL of database NAME on the cluster.
dburl() { echo "${LAKE_TEST_PG_URL%/*}/$1"; }

# seed NAME N creates database NAME with N seeded orders.
seed() {
	psql -X -q "$LAKE_TEST_PG_URL" -c "CREATE DATABASE $1"
	echo "bench-ingest: seeding $2 orders into $1" >&2
	"$work/lake" seed --source "$(dburl "$1")" --rows "$2" --defects 0.05 >/dev/null
	psql -X -q "$(dburl "$1")" -c "VACUUM ANALYZE orders"
}

# ingest_once URL LAKEDIR: runs lake ingest, prints "seconds rss_kib bytes rows".
ingest_once() {
	local t0 t1
	t0=$(now_ns)
	/usr/bin/time -v -o "$work/time.txt" "$work/lake" ingest --quiet --source "$1" \
		--lake "file://$2" --schemas "$root/schemas" --table orders >"$work/summary.json"
	t1=$(now_ns)
	local rss
	rss=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$work/time.txt")
	python3 - "$work/summary.json" "$t0" "$t1" "$rss" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
r = s["results"][0]
print((int(sys.argv[3]) - int(sys.argv[2])) / 1e9, sys.argv[4], r["bytes"], r["rows"])
EOF
}

seed bench "$rows"
url=$(dburl bench)
: >"$work/copy.txt"
: >"$work/ingest.txt"
for i in $(seq 1 "$runs"); do
	t0=$(now_ns)
	psql -X -q "$url" -c "COPY (SELECT * FROM orders) TO STDOUT (FORMAT binary)" >/dev/null
	t1=$(now_ns)
	echo "$(( t1 - t0 ))" | awk '{print $1/1e9}' >>"$work/copy.txt"
	rm -rf "$work/lakedir"
	ingest_once "$url" "$work/lakedir" >>"$work/ingest.txt"
	echo "bench-ingest: run $i: copy $(tail -1 "$work/copy.txt")s, ingest $(tail -1 "$work/ingest.txt" | cut -d' ' -f1)s" >&2
done

copy_med=$(median <"$work/copy.txt")
ingest_med=$(cut -d' ' -f1 "$work/ingest.txt" | median)
rss_max=$(cut -d' ' -f2 "$work/ingest.txt" | sort -g | tail -1)
read -r _ _ bytes nrows < <(tail -1 "$work/ingest.txt")
awk -v c="$copy_med" -v i="$ingest_med" -v r="$nrows" -v rss="$rss_max" -v b="$bytes" -v k="$runs" 'BEGIN {
	printf "rows:                 %d\n", r
	printf "runs:                 %d of each, alternating\n", k
	printf "COPY binary median:   %.3f s\n", c
	printf "lake ingest median:   %.3f s\n", i
	printf "ratio ingest/COPY:    %.2f (target <= 2.0)\n", i / c
	printf "ingest rows/s:        %.0f\n", r / i
	printf "ingest peak RSS:      %.1f MiB (max over runs)\n", rss / 1024
	printf "Parquet bytes/row:    %.1f (%d bytes)\n", b / r, b
}'

if [ "$rss5m" = 1 ]; then
	seed bench5m 5000000
	rm -rf "$work/lakedir"
	read -r secs rss bytes nrows < <(ingest_once "$(dburl bench5m)" "$work/lakedir")
	awk -v s="$secs" -v rss="$rss" -v r="$nrows" -v b="$bytes" 'BEGIN {
		printf "5M rows: ingest %.3f s, %.0f rows/s, peak RSS %.1f MiB, %.1f Parquet bytes/row\n", s, r / s, rss / 1024, b / r
	}'
fi

if [ "$engine" = 1 ]; then
	(cd "$root" && go test -c -o "$work/pgarrow.test" ./internal/pgarrow)
	export LAKE_TEST_PG_URL
	# Seed outside the measured process, so its RSS is the engine's alone.
	LAKE_BENCH_ROWS=$rows "$work/pgarrow.test" -test.run '^$' -test.bench 'StreamToParquet' -test.benchtime 1x >/dev/null
	LAKE_BENCH_ROWS=$rows /usr/bin/time -v -o "$work/engine-time.txt" "$work/pgarrow.test" -test.run '^$' \
		-test.bench 'StreamToParquet' -test.benchtime "${runs}x" | grep '^Benchmark' | sed "s/^/engine rows=$rows /"
	echo "engine rows=$rows peak RSS: $(awk -F': ' '/Maximum resident set size/ {printf "%.0f MiB", $2/1024}' "$work/engine-time.txt")"
fi
