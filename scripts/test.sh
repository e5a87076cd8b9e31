#!/usr/bin/env bash
# test.sh is `make test`: it starts every service the tests need once
# (a disposable PostgreSQL, versitygw, moto_server), exports their
# addresses for internal/testenv, runs the Go tests and the offline checks,
# and stops the services again whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d "${TMPDIR:-/tmp}/lake-test.XXXXXX")
chmod 755 "$work"
stops=()
cleanup() {
	local rc=$?
	for ((i=${#stops[@]}-1; i>=0; i--)); do eval "${stops[$i]}" >/dev/null 2>&1 || true; done
	rm -rf "$work"
	exit $rc
}
trap cleanup EXIT INT TERM

echo "== starting services" >&2
eval "$(scripts/pg.sh start "$work/pg")"
stops+=("scripts/pg.sh stop '$work/pg'")
eval "$(scripts/versitygw.sh start "$work/s3")"
stops+=("scripts/versitygw.sh stop '$work/s3'")
eval "$(scripts/moto.sh start "$work/moto")"
stops+=("scripts/moto.sh stop '$work/moto'")

echo "== gofmt, go vet" >&2
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './node_modules/*'))
if [ -n "$unformatted" ]; then
	echo "gofmt: these files need formatting:" >&2
	echo "$unformatted" >&2
	exit 1
fi
go vet ./...

echo "== go test" >&2
go test -count=1 -timeout 30m ./...

echo "== Lambda builds (linux/arm64, CGO_ENABLED=0)" >&2
make -s tasks

for check in scripts/check-asl.sh scripts/check-template.sh; do
	echo "== $check" >&2
	"$check"
done
echo "== all checks passed" >&2
