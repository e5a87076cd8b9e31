#!/usr/bin/env bash
# moto.sh start|stop|env [DIR]: moto_server, the AWS API emulator, for the
# tests of the AWS APIs that have no open-source server (the Glue Data
# Catalog, the Athena request flow, Secrets Manager).
#
#   eval "$(scripts/moto.sh start)"    # prints export lines, including DIR
#   scripts/moto.sh env [DIR]          # prints them again
#   scripts/moto.sh stop [DIR]         # stops it; removes DIR if start made it
#
# DIR defaults to $LAKE_TEST_MOTO_DIR on stop/env, and to a new temp folder
# on start. The server listens on a free loopback port and keeps its pid
# and log in DIR. It accepts any region name
# (MOTO_ALLOW_NONEXISTENT_REGION), so that each test can use a region of
# its own as an isolated, empty account. Needs moto_server on PATH (pip install 'moto[server]').
set -euo pipefail
. "$(dirname "$0")/lib/service.sh"

usage() {
	echo "usage: $0 start|stop|env [DIR]" >&2
	exit 2
}

print_env() {
	local dir=$1
	echo "export LAKE_TEST_MOTO_DIR='$dir'"
	echo "export LAKE_TEST_MOTO_ENDPOINT='http://127.0.0.1:$(cat "$dir/port")'"
}

running() {
	local dir=$1
	[ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null
}

start() {
	local dir=${1:-}
	command -v moto_server >/dev/null || {
		echo "moto.sh: moto_server not found: pip install 'moto[server]'" >&2
		exit 1
	}
	if [ -z "$dir" ]; then
		dir=$(mktemp -d "${TMPDIR:-/tmp}/lake-moto.XXXXXX")
		touch "$dir/.created-by-moto-sh"
	fi
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	if running "$dir"; then
		print_env "$dir"
		return
	fi
	local port attempt
	for attempt in 1 2 3 4 5; do
		port=$(free_port)
		echo "$port" >"$dir/port"
		MOTO_ALLOW_NONEXISTENT_REGION=true setsid moto_server -H 127.0.0.1 -p "$port" >"$dir/log" 2>&1 </dev/null &
		echo $! >"$dir/pid"
		for _ in $(seq 1 100); do
			if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
				print_env "$dir"
				return
			fi
			running "$dir" || break
			sleep 0.1
		done
		kill "$(cat "$dir/pid")" 2>/dev/null || true
		# Lost a race for the port? Try another one.
		grep -q "Address already in use" "$dir/log" 2>/dev/null || break
	done
	echo "moto.sh: moto_server failed to start (attempt $attempt); log tail:" >&2
	tail -n 30 "$dir/log" >&2 || true
	exit 1
}

stop() {
	local dir=${1:-${LAKE_TEST_MOTO_DIR:-}}
	[ -n "$dir" ] || { echo "moto.sh: stop: no DIR given and LAKE_TEST_MOTO_DIR unset" >&2; exit 2; }
	stop_pid "$dir/pid"
	if [ -f "$dir/.created-by-moto-sh" ]; then
		rm -rf "$dir"
	fi
}

case "${1:-}" in
start) start "${2:-}" ;;
stop) stop "${2:-}" ;;
env)
	dir=${2:-${LAKE_TEST_MOTO_DIR:-}}
	[ -n "$dir" ] && [ -f "$dir/port" ] && running "$dir" || { echo "moto.sh: env: no server in '${dir}'" >&2; exit 1; }
	print_env "$dir"
	;;
*) usage ;;
esac
