#!/usr/bin/env bash
# bench-growth.sh: issue 10's growth benchmark, on a disposable PostgreSQL
# (scripts/pg.sh) and a local folder lake, in one run:
#
#   1. seeds ORDERS orders created over a year (`lake seed --span 365d`,
#      5% defective), runs `lake run`, and times the _current query
#        SELECT count(*), sum(amount) FROM silver.orders_current
#      through `lake query` (the whole command, median of 5): the anchor;
#   2. runs ROUNDS incremental rounds, each updating UPDATE_PCT% of the
#      orders at random (`lake seed --rows 0 --update`, a new seed each
#      round, stamping updated_at) followed by `lake run`, timed;
#   3. runs `lake maintain`, then times the same query again, and then
#      alternating with the same query `--as-of` the first load;
#   4. checks silver.orders_current exactly against PostgreSQL: the set of
#      (order_id, updated_at) of the orders whose row passes the demo
#      contract's DQ rules (schemas/orders.dqdl, written out in SQL below)
#      must equal the lake's, compared sorted with comm. The seed's update
#      never makes a row valid or invalid, so a key's latest valid version
#      is its row in PostgreSQL when that row is valid, and it has none
#      otherwise;
#   5. prints the files, their mean size and the data files of the fullest
#      partition of each table's current snapshot after the load, after
#      the rounds and after maintenance (from `lake maintain --dry-run`,
#      which reads the current snapshot's plan and changes nothing), the
#      query times and their ratio (target: at most 1.3), the data files
#      per partition after maintenance (target: at most 2), the pipeline
#      time of the last round over the first (target: at most 1.5; also
#      the median of the last 3 over the first 3), and whether _current is
#      exact.
#
#   ORDERS=1000000 ROUNDS=50 UPDATE_PCT=0.5 scripts/bench-growth.sh
#
# Every time is taken twice: wall and CPU (user + system of the lake
# process, /usr/bin/time); on a shared machine the CPU ratios are the
# steadier ones. KEEP=1 keeps the work folder (lake, logs, per-round
# `lake run` JSON); LAKE=path/to/lake uses that binary instead of
# building one.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/bench.sh
[ -x /usr/bin/time ] || { echo "bench-growth.sh: needs /usr/bin/time (scripts/install-deps.sh installs it)" >&2; exit 1; }

orders=${ORDERS:-1000000}
rounds=${ROUNDS:-50}
update_pct=${UPDATE_PCT:-0.5}
runs=5
query='SELECT count(*), sum(amount) FROM silver.orders_current'

work=$(mktemp -d "${TMPDIR:-/tmp}/lake-growth.XXXXXX")
chmod 755 "$work" # the disposable cluster runs as postgres
cleanup() {
	scripts/pg.sh stop "$work/pg" >/dev/null 2>&1 || true
	if [ "${KEEP:-0}" = 1 ]; then
		echo "bench-growth: kept $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
lake=${LAKE:-$work/lake-bin}
[ -n "${LAKE:-}" ] || go build -o "$lake" ./cmd/lake
mkdir -p "$work/logs"

step "starting a disposable PostgreSQL"
eval "$(scripts/pg.sh start "$work/pg")"
export LAKE_SOURCE_URL=$LAKE_TEST_PG_URL LAKE_SCHEMAS=$PWD/schemas LAKE_URL=file://$work/lake LAKE_QUERY_CACHE=$work/query-cache

# timed NAME CMD... runs the lake command CMD with stdout to NAME.out and
# stderr to NAME.err, and prints its wall and CPU seconds.
timed() {
	local name=$1
	shift
	/usr/bin/time -f '%e %U %S' -o "$work/logs/$name.time" "$lake" "$@" >"$work/logs/$name.out" 2>"$work/logs/$name.err" || {
		tail -n 20 "$work/logs/$name.err" >&2
		return 1
	}
	awk '{printf "%.3f %.3f\n", $1, $2 + $3}' "$work/logs/$name.time"
}

# pipeline NAME runs `lake run` and prints its wall and CPU seconds.
pipeline() { timed "$1" run --format json; }

# query_once NAME I [FLAG...] runs the query (a whole `lake query`
# command: DuckDB opened, the table planned or its plan found in the
# cache, the query run) with FLAGs and appends its wall and CPU seconds
# to NAME.txt.
query_once() {
	local name=$1 i=$2
	shift 2
	timed "$name-$i" query --format csv "$@" "$query" >>"$work/logs/$name.txt"
}

# medians NAME prints the medians of the wall and CPU seconds in NAME.txt.
medians() { echo "$(cut -d' ' -f1 "$work/logs/$1.txt" | median) $(cut -d' ' -f2 "$work/logs/$1.txt" | median)"; }

# time_query NAME times the query $runs times and prints the medians.
time_query() {
	local i
	: >"$work/logs/$1.txt"
	for i in $(seq 1 "$runs"); do
		query_once "$1" "$i"
	done
	medians "$1"
}

# files NAME writes, from a maintenance report on stdin, one line per
# table into NAME.files: table, data files, mean data file size in KiB,
# delete files, partitions, data files of the fullest partition.
files() {
	jq -r '.tables[] | select(.maintenance) | .maintenance
		| [.table, .data_files, (if .data_files > 0 then .data_bytes / .data_files / 1024 else 0 end),
		   .delete_files, .partitions, .max_partition_data_files] | @tsv' >"$work/logs/$1.files"
}

# current_files NAME records the files of the tables' current snapshots.
current_files() {
	"$lake" maintain --dry-run 2>"$work/logs/$1-dry-run.err" | files "$1"
}

step "seeding $orders orders created over a year (5% defective)"
"$lake" seed --rows "$orders" --span 365d --defects 0.05 >"$work/logs/seed.json"
settle_ingest

step "first load: lake run"
load_s=$(pipeline load)
loaded_at=$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)
echo "load: wall, CPU: $load_s s" >&2
current_files load
q_load=$(time_query query-load)
echo "query after the load: wall, CPU: $q_load s (medians of $runs)" >&2

frac=$(awk -v p="$update_pct" 'BEGIN {print p / 100}')
: >"$work/logs/rounds.txt"
for r in $(seq 1 "$rounds"); do
	step "round $r of $rounds: update $update_pct% of the orders, lake run"
	"$lake" seed --rows 0 --update "$frac" --seed $((1000 + r)) >"$work/logs/update-$r.json"
	settle_ingest
	s=$(pipeline "round-$r")
	echo "$s" >>"$work/logs/rounds.txt"
	echo "round $r: $(jq .update.updated_rows "$work/logs/update-$r.json") orders updated, lake run wall, CPU: $s s" >&2
done
current_files rounds
q_rounds=$(time_query query-rounds)
echo "query after the rounds: wall, CPU: $q_rounds s" >&2

step "lake maintain"
maintain_s=$(timed maintain maintain)
files maintained <"$work/logs/maintain.out"
q_maint=$(time_query query-maintained)
echo "query after maintenance: wall, CPU: $q_maint s" >&2
# The same query, alternating, now and --as-of the first load (whose
# snapshot and data file the retention keeps): the same question at the
# same moment, so that a busy machine weighs on both alike.
: >"$work/logs/paired-now.txt"
: >"$work/logs/paired-load.txt"
for i in $(seq 1 "$runs"); do
	query_once paired-now "$i"
	query_once paired-load "$i" --as-of "$loaded_at"
done
p_now=$(medians paired-now)
p_load=$(medians paired-load)
echo "alternating, now and as of the first load: wall, CPU: $p_now s and $p_load s" >&2

step "checking silver.orders_current against PostgreSQL"
# The rules of schemas/orders.dqdl, row by row, in SQL.
valid="order_id IS NOT NULL
	AND customer_id IS NOT NULL AND customer_id > 0
	AND status IN ('PENDING', 'PAID', 'SHIPPED', 'DELIVERED', 'CANCELLED', 'RETURNED')
	AND amount IS NOT NULL AND amount BETWEEN 0 AND 1000000
	AND currency ~ '^[A-Z]{3}\$'
	AND created_at BETWEEN '2000-01-01' AND now() + interval '1 hour'
	AND updated_at <= now() + interval '1 hour'
	AND updated_at >= created_at"
psql -X -q "$LAKE_SOURCE_URL" -c "\\copy (SELECT order_id, (extract(epoch FROM updated_at) * 1000000)::bigint FROM orders WHERE $valid) TO STDOUT WITH (FORMAT csv)" |
	LC_ALL=C sort >"$work/logs/expected.csv"
"$lake" query --format csv "SELECT order_id, epoch_us(updated_at) FROM silver.orders_current" |
	tail -n +2 | LC_ALL=C sort >"$work/logs/current.csv"
mismatches=$(LC_ALL=C comm -3 "$work/logs/expected.csv" "$work/logs/current.csv" | wc -l)
expected=$(wc -l <"$work/logs/expected.csv")
got=$(wc -l <"$work/logs/current.csv")
exact=no
[ "$mismatches" = 0 ] && [ "$expected" -gt 0 ] && exact=yes

step "summary"
# ends COLUMN prints round 1, round N, the median of the first 3 and of
# the last 3 of that column of rounds.txt (1: wall, 2: CPU).
ends() {
	local col=$1 f=$work/logs/rounds.txt
	echo "$(head -n 1 "$f" | cut -d' ' -f"$col") $(tail -n 1 "$f" | cut -d' ' -f"$col")" \
		"$(head -n 3 "$f" | cut -d' ' -f"$col" | median) $(tail -n 3 "$f" | cut -d' ' -f"$col" | median)"
}
echo "orders: $orders over a year (5% defective), rounds: $rounds of $update_pct%, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| table | after | data files | mean file size | delete files | partitions | data files in the fullest partition |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for t in silver.orders silver.orders_current discarded.orders; do
	for phase in load rounds maintained; do
		awk -F'\t' -v t="$t" -v p="$phase" '$1 == t {
			size = $3 >= 1024 ? sprintf("%.1f MiB", $3 / 1024) : sprintf("%.1f KiB", $3)
			printf "| %s | %s | %d | %s | %d | %d | %d |\n", t, p, $2, size, $4, $5, $6 }' "$work/logs/$phase.files"
	done
done
echo
most=$(awk -F'\t' '$6 > m {m = $6} END {print m + 0}' "$work/logs/maintained.files")
awk -v load="$load_s" -v maint="$maintain_s" -v ql="$q_load" -v qr="$q_rounds" -v qm="$q_maint" -v pn="$p_now" -v pl="$p_load" \
	-v most="$most" -v n="$rounds" -v wall="$(ends 1)" -v cpu="$(ends 2)" \
	-v exact="$exact" -v mis="$mismatches" -v want="$expected" -v got="$got" 'BEGIN {
	split(load, ld, " "); split(maint, mt, " "); split(ql, l, " "); split(qr, r, " "); split(qm, m, " ")
	split(wall, w, " "); split(cpu, c, " "); split(pn, a, " "); split(pl, b, " ")
	printf "first load (lake run): wall %.1f s, CPU %.1f s; lake maintain: wall %.1f s, CPU %.1f s\n", ld[1], ld[2], mt[1], mt[2]
	printf "query (SELECT count(*), sum(amount) FROM silver.orders_current), medians of 5 lake query commands, wall / CPU:\n"
	printf "  after the load %.3f / %.3f s, after the rounds %.3f / %.3f s, after maintenance %.3f / %.3f s\n", l[1], l[2], r[1], r[2], m[1], m[2]
	printf "  after maintenance over after the load: wall %.2fx, CPU %.2fx (target <= 1.3)\n", m[1] / l[1], m[2] / l[2]
	printf "  alternating after maintenance, now %.3f / %.3f s and --as-of the first load %.3f / %.3f s: wall %.2fx, CPU %.2fx\n", a[1], a[2], b[1], b[2], a[1] / b[1], a[2] / b[2]
	printf "data files in the fullest partition after maintenance: %d (target <= 2)\n", most
	printf "pipeline (lake run) per round, wall / CPU: round 1 %.2f / %.2f s, round %d %.2f / %.2f s; medians of the first 3 %.2f / %.2f s, of the last 3 %.2f / %.2f s\n", w[1], c[1], n, w[2], c[2], w[3], c[3], w[4], c[4]
	printf "  round %d over round 1: wall %.2fx, CPU %.2fx; last 3 over first 3: wall %.2fx, CPU %.2fx (target <= 1.5)\n", n, w[2] / w[1], c[2] / c[1], w[4] / w[3], c[4] / c[3]
	printf "_current exact: %s (%d mismatching (order_id, updated_at); %d expected valid orders, %d in _current)\n", exact, mis, want, got
}'
