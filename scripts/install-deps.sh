#!/usr/bin/env bash
# install-deps.sh installs what `make test` and `make demo` need and a fresh
# machine may lack: Go modules, PostgreSQL server binaries, Node.js packages
# (asl-validator), cfn-lint and moto_server, versitygw. Safe to rerun: it
# only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "install-deps: $*" >&2; }

apt_updated=
apt_install() {
	if ! command -v apt-get >/dev/null; then
		log "cannot install $* (no apt-get): install them by hand"
		return 1
	fi
	local sudo=
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	if [ -z "$apt_updated" ]; then
		$sudo apt-get update -qq
		apt_updated=1
	fi
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

command -v go >/dev/null || { log "Go is missing: install Go 1.26 (https://go.dev/doc/install)"; exit 1; }
log "Go modules"
go mod download

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null; then
	log "PostgreSQL server binaries missing: apt-get install postgresql"
	apt_install postgresql
fi

if ! command -v npm >/dev/null; then
	log "npm missing: apt-get install nodejs npm"
	apt_install nodejs npm
fi
if [ -f package-lock.json ] && [ ! -x node_modules/.bin/asl-validator ]; then
	log "npm ci (asl-validator)"
	npm ci --no-audit --no-fund --loglevel=error
fi

if ! command -v /usr/bin/time >/dev/null; then
	apt_install time || true
fi

for py in cfn-lint moto_server; do
	if ! command -v "$py" >/dev/null; then
		pkg=$py; [ "$py" = moto_server ] && pkg='moto[server]'
		log "$py missing: pip install $pkg"
		pip install -q "$pkg" || { log "pip could not install $pkg; try: apt-get install python3-cfnlint / python3-moto"; exit 1; }
	fi
done

scripts/versitygw.sh install
