#!/usr/bin/env bash
# demo.sh is `make demo`: it runs the whole pipeline on local defaults.
#
#   1. starts a disposable PostgreSQL (stopped again at the end),
#   2. creates and seeds the demo orders table (5% defective rows),
#   3. runs `lake run`: the scheduled ingest execution into bronze, then one
#      execution per bronze object: validate, route to silver / discarded /
#      archive, crawl,
#   4. updates some orders and drops a CSV into landing by hand, runs again
#      (incremental ingest; the CSV is archived and quarantined),
#   5. shows the executions and a few queries.
#
# The lake stays in ./lake (override with LAKE_URL) for `bin/lake query`.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/bench.sh

rows=${DEMO_ROWS:-100000}
lake=bin/lake
export LAKE_URL=${LAKE_URL:-file://./lake}
export LAKE_SCHEMAS=${LAKE_SCHEMAS:-./schemas}

work=$(mktemp -d "${TMPDIR:-/tmp}/lake-demo.XXXXXX")
chmod 755 "$work"
trap 'scripts/pg.sh stop "$work/pg" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT INT TERM

step "starting a disposable PostgreSQL"
eval "$(scripts/pg.sh start "$work/pg")"
export LAKE_SOURCE_URL=$LAKE_TEST_PG_URL

step "seeding $rows orders (5% defective)"
$lake seed --rows "$rows" --defects 0.05

settle_ingest

step "lake run: ingest, validate, route, crawl"
$lake run

step "updating 10% of the orders, and dropping a CSV into bronze/landing/ by hand"
$lake seed --rows 0 --update 0.10 >/dev/null
if [[ $LAKE_URL == file://* ]]; then
	dir=${LAKE_URL#file://}/bronze/landing/orders/manual
	mkdir -p "$dir"
	printf 'order_id,status\n1,PAID\n' >"$dir/dropped-by-hand.csv"
fi

settle_ingest

step "lake run again: only the changed rows are extracted"
$lake run

step "lake executions"
$lake executions --limit 5

for q in orders_per_status_per_day discard_rate_per_rule latest_watermark_per_table; do
	step "lake query --named $q"
	$lake query --named "$q"
done

step "done: the lake is in ${LAKE_URL#file://}; try: bin/lake query \"SELECT status, count(*) FROM silver.orders_current GROUP BY 1\""
