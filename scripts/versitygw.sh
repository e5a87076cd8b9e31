#!/usr/bin/env bash
# versitygw.sh start|stop|env [DIR]: a disposable S3-compatible server
# (versitygw, posix backend, real SigV4 auth, conditional writes) for tests
# and local runs.
#
#   eval "$(scripts/versitygw.sh start)"   # prints export lines, including DIR
#   scripts/versitygw.sh env [DIR]         # prints them again
#   scripts/versitygw.sh stop [DIR]        # stops it; removes DIR if start made it
#
# DIR defaults to $LAKE_TEST_S3_DIR on stop/env, and to a new temp folder on
# start. The server keeps its buckets (DIR/data, one folder per bucket), its
# pid and its log in DIR and listens on a free loopback port. DIR's file
# system must support user extended attributes (versitygw keeps ETags in
# them). The binary is $VERSITYGW when set, else versitygw on PATH or in
# $(go env GOPATH)/bin; when none exists it is built with
# `go install github.com/versity/versitygw/cmd/versitygw@v1.8.0`.
set -euo pipefail
. "$(dirname "$0")/lib/service.sh"

VERSITYGW_VERSION=v1.8.0
ACCESS_KEY=lake-test-access
SECRET_KEY=lake-test-secret-key
REGION=us-east-1

usage() {
	echo "usage: $0 install|start|stop|env [DIR]" >&2
	exit 2
}

# binary prints the versitygw binary's path, installing it if needed.
binary() {
	if [ -n "${VERSITYGW:-}" ]; then
		echo "$VERSITYGW"
		return
	fi
	if command -v versitygw >/dev/null; then
		command -v versitygw
		return
	fi
	command -v go >/dev/null || { echo "versitygw.sh: versitygw not found and no go toolchain to build it" >&2; exit 1; }
	local gobin
	gobin=$(go env GOBIN)
	[ -n "$gobin" ] || gobin="$(go env GOPATH)/bin"
	if [ ! -x "$gobin/versitygw" ]; then
		echo "versitygw.sh: building versitygw $VERSITYGW_VERSION into $gobin (takes a few minutes once)" >&2
		# outside any module, so that the repository's go.mod plays no part
		(cd / && GOFLAGS= GOBIN="$gobin" go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION") >&2 || {
			echo "versitygw.sh: go install of versitygw $VERSITYGW_VERSION failed" >&2
			exit 1
		}
	fi
	echo "$gobin/versitygw"
}

print_env() {
	local dir=$1 port
	port=$(cat "$dir/port")
	echo "export LAKE_TEST_S3_DIR='$dir'"
	echo "export LAKE_TEST_S3_ENDPOINT='http://127.0.0.1:$port'"
	echo "export LAKE_TEST_S3_ACCESS_KEY='$ACCESS_KEY'"
	echo "export LAKE_TEST_S3_SECRET_KEY='$SECRET_KEY'"
	echo "export LAKE_TEST_S3_REGION='$REGION'"
}

running() {
	local dir=$1
	[ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null
}

start() {
	local dir=${1:-} bin
	bin=$(binary)
	if [ -z "$dir" ]; then
		dir=$(mktemp -d "${TMPDIR:-/tmp}/lake-s3.XXXXXX")
		touch "$dir/.created-by-versitygw-sh"
	fi
	mkdir -p "$dir/data"
	dir=$(cd "$dir" && pwd)
	if running "$dir" && [ -f "$dir/port" ]; then
		print_env "$dir"
		return
	fi
	local port attempt pid
	for attempt in 1 2 3 4 5; do
		port=$(free_port)
		echo "$port" >"$dir/port"
		ROOT_ACCESS_KEY="$ACCESS_KEY" ROOT_SECRET_KEY="$SECRET_KEY" \
			setsid "$bin" --port "127.0.0.1:$port" --region "$REGION" --quiet \
			posix "$dir/data" >"$dir/log" 2>&1 </dev/null &
		pid=$!
		echo "$pid" >"$dir/pid"
		for _ in $(seq 1 300); do
			if ! kill -0 "$pid" 2>/dev/null; then
				break
			fi
			if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
				print_env "$dir"
				return
			fi
			sleep 0.1
		done
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		# Lost a race for the port? Try another one.
		if ! grep -qi "address already in use" "$dir/log"; then
			break
		fi
	done
	rm -f "$dir/pid"
	echo "versitygw.sh: versitygw failed to start (attempt $attempt); log tail:" >&2
	tail -n 30 "$dir/log" >&2 || true
	exit 1
}

stop() {
	local dir=${1:-${LAKE_TEST_S3_DIR:-}}
	[ -n "$dir" ] || { echo "versitygw.sh: stop: no DIR given and LAKE_TEST_S3_DIR unset" >&2; exit 2; }
	stop_pid "$dir/pid"
	if [ -f "$dir/.created-by-versitygw-sh" ]; then
		rm -rf "$dir"
	fi
}

case "${1:-}" in
install) binary >/dev/null ;;
start) start "${2:-}" ;;
stop) stop "${2:-}" ;;
env)
	dir=${2:-${LAKE_TEST_S3_DIR:-}}
	[ -n "$dir" ] && [ -f "$dir/port" ] || { echo "versitygw.sh: env: no server in '${dir}'" >&2; exit 1; }
	print_env "$dir"
	;;
*) usage ;;
esac
