#!/usr/bin/env bash
# pg.sh start|stop|env [DIR]: a disposable PostgreSQL cluster for tests and
# the demo.
#
#   eval "$(scripts/pg.sh start)"      # prints export lines, including DIR
#   scripts/pg.sh env [DIR]            # prints them again
#   scripts/pg.sh stop [DIR]           # stops it; removes DIR if start made it
#
# DIR defaults to $LAKE_TEST_PG_DIR on stop/env, and to a new temp folder on
# start. The cluster keeps its data, unix socket and log in DIR, listens on
# a free loopback port, trusts local connections (it is for tests only) and
# runs with fsync off. As root, the server runs as the postgres user
# (runuser). Uses Debian's PostgreSQL 15 binaries (PG_BIN overrides), and
# installs the postgresql package with apt-get when they are missing.
set -euo pipefail
. "$(dirname "$0")/lib/service.sh"

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

usage() {
	echo "usage: $0 start|stop|env [DIR]" >&2
	exit 2
}

# as_pg runs a command as the postgres user when we are root (PostgreSQL
# refuses to run as root), as ourselves otherwise.
as_pg() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

ensure_binaries() {
	[ -x "$PG_BIN/pg_ctl" ] && return
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		echo "pg.sh: $PG_BIN/pg_ctl missing; installing postgresql with apt-get" >&2
		DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
		# Debian's package starts its own cluster; we do not need it.
		pg_ctlcluster 15 main stop >/dev/null 2>&1 || true
	fi
	if [ ! -x "$PG_BIN/pg_ctl" ]; then
		echo "pg.sh: $PG_BIN/pg_ctl not found: install PostgreSQL 15 (Debian: apt-get install postgresql-15) or set PG_BIN" >&2
		exit 1
	fi
	if [ "$(id -u)" = 0 ] && ! id -u postgres >/dev/null 2>&1; then
		useradd --system --user-group --no-create-home postgres
	fi
}

print_env() {
	local dir=$1 port
	port=$(cat "$dir/port")
	echo "export LAKE_TEST_PG_DIR='$dir'"
	echo "export LAKE_TEST_PG_URL='postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable'"
}

start() {
	local dir=${1:-}
	ensure_binaries
	if [ -z "$dir" ]; then
		dir=$(mktemp -d "${TMPDIR:-/tmp}/lake-pg.XXXXXX")
		touch "$dir/.created-by-pg-sh"
	fi
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	if [ -f "$dir/data/postmaster.pid" ] && as_pg "$PG_BIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
		print_env "$dir"
		return
	fi
	if [ "$(id -u)" = 0 ]; then
		chown postgres: "$dir"
	fi
	if [ ! -f "$dir/data/PG_VERSION" ]; then
		as_pg "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || {
			echo "pg.sh: initdb failed:" >&2
			tail -n 30 "$dir/initdb.log" >&2
			exit 1
		}
	fi
	local port attempt
	for attempt in 1 2 3 4 5; do
		port=$(free_port)
		echo "$port" >"$dir/port"
		if as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 start \
			-o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 -c shared_buffers=128MB -c max_prepared_transactions=10" \
			>/dev/null 2>&1; then
			print_env "$dir"
			return
		fi
		# Lost a race for the port? Try another one.
		if ! grep -q "could not bind" "$dir/log" 2>/dev/null; then
			break
		fi
	done
	echo "pg.sh: PostgreSQL failed to start (attempt $attempt); log tail:" >&2
	tail -n 30 "$dir/log" >&2 || true
	exit 1
}

stop() {
	local dir=${1:-${LAKE_TEST_PG_DIR:-}}
	[ -n "$dir" ] || { echo "pg.sh: stop: no DIR given and LAKE_TEST_PG_DIR unset" >&2; exit 2; }
	if [ -d "$dir/data" ]; then
		as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
	fi
	if [ -f "$dir/.created-by-pg-sh" ]; then
		rm -rf "$dir"
	fi
}

case "${1:-}" in
start) start "${2:-}" ;;
stop) stop "${2:-}" ;;
env)
	dir=${2:-${LAKE_TEST_PG_DIR:-}}
	[ -n "$dir" ] && [ -f "$dir/port" ] || { echo "pg.sh: env: no cluster in '${dir}'" >&2; exit 1; }
	print_env "$dir"
	;;
*) usage ;;
esac
