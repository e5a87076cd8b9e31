#!/usr/bin/env bash
# DQ memory: peak RSS and wall time of `lake validate` with many
# uniqueness rules on a 200,000-row seeded orders object (issue 11's
# reproduction), through /usr/bin/time -v. A disposable PostgreSQL is
# seeded (`lake seed --rows 200000 --defects 0.05`) and ingested into a
# temporary lake; its one bronze object is validated against generated
# rulesets:
#   cycle50 / cycle1000   50 / 1,000 IsUnique cycling over the 7 columns
#   pk50                  50 x IsPrimaryKey "order_id" "status"
#   distinct50 / distinct1000  IsUnique, each with its own where clause
# LAKE=path/to/lake compares another build (e.g. an older commit's);
# CAP=BYTES caps each run's address space (prlimit --as), so that a build
# without a memory bound fails instead of eating the machine (default 6 GiB).
#   scripts/bench-dq-memory.sh [RULESET...]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/bench.sh
command -v /usr/bin/time >/dev/null || { echo "bench-dq-memory.sh: needs /usr/bin/time (scripts/install-deps.sh installs it)" >&2; exit 1; }
work=$(mktemp -d)
chmod 755 "$work" # the disposable cluster runs as postgres
pgdir="$work/pg"
trap 'scripts/pg.sh stop "$pgdir" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
lake="${LAKE:-$work/lake-bin}"
[ -n "${LAKE:-}" ] || go build -o "$lake" ./cmd/lake

eval "$(scripts/pg.sh start "$pgdir")"
export LAKE_SOURCE_URL="$LAKE_TEST_PG_URL" LAKE_SCHEMAS="$PWD/schemas" LAKE_URL="file://$work/lake"
"$lake" seed --rows 200000 --defects 0.05 >/dev/null
settle_ingest
"$lake" ingest --quiet >/dev/null
object=$(find "$work/lake/bronze" -name '*.parquet' | head -1)

cols=(order_id customer_id status amount currency created_at updated_at)
ruleset() { # name count rule-of-i
	local name=$1 n=$2 i
	{
		echo "Rules = ["
		for ((i = 0; i < n; i++)); do
			printf '  %s%s\n' "$(eval "$3")" "$([ $i -lt $((n - 1)) ] && echo ,)"
		done
		echo "]"
	} >"$work/$name.dqdl"
}
ruleset cycle50 50 'echo "IsUnique \"${cols[i % 7]}\""'
ruleset cycle1000 1000 'echo "IsUnique \"${cols[i % 7]}\""'
ruleset pk50 50 'echo "IsPrimaryKey \"order_id\" \"status\""'
ruleset distinct50 50 'echo "IsUnique \"${cols[i % 7]}\" where \"order_id > $i\""'
ruleset distinct1000 1000 'echo "IsUnique \"${cols[i % 7]}\" where \"order_id > $i\""'

for name in "${@:-cycle50 pk50 distinct50 cycle1000 distinct1000}"; do
	for n in $name; do
		status=0
		prlimit --as="${CAP:-6442450944}" /usr/bin/time -v "$lake" validate --rules "$work/$n.dqdl" --format json "$object" \
			>"$work/$n.out" 2>"$work/$n.time" || status=$?
		rss=$(awk -F': ' '/Maximum resident/ {printf "%.0f MiB", $2 / 1024}' "$work/$n.time")
		wall=$(awk -F': ' '/Elapsed/ {print $2}' "$work/$n.time")
		oom=$(grep -m1 -o 'out of memory' "$work/$n.time" || true)
		printf '%-13s exit=%d peak_rss=%s wall=%s %s\n' "$n" "$status" "$rss" "$wall" "$oom"
	done
done
