#!/usr/bin/env bash
# check-asl.sh: validates every state machine definition with asl-validator
# (pinned in package.json): statemachine/*.asl.json and the definitions in
# internal/asl/testdata/valid/ must pass; those in
# internal/asl/testdata/invalid/ (which the local interpreter also refuses
# to load) must be rejected. Installs the validator with npm when
# node_modules lacks it. Exits non-zero on any unexpected verdict.
set -euo pipefail
cd "$(dirname "$0")/.."

validator=node_modules/.bin/asl-validator
if [[ ! -x $validator ]]; then
	if [[ -f package-lock.json ]]; then
		npm ci --no-audit --no-fund >&2
	else
		npm install --no-audit --no-fund >&2
	fi
fi

shopt -s nullglob
defs=(statemachine/*.asl.json internal/asl/testdata/valid/*.asl.json)
if ((${#defs[@]} == 0)); then
	echo "check-asl: no definitions found" >&2
	exit 1
fi
failed=0
for def in "${defs[@]}"; do
	args=(--json-path "$def")
	# SAM substitutes ${...} placeholders (function ARNs) at deploy time;
	# until then Resource values are not ARNs.
	if grep -q '\${' "$def"; then
		args+=(--no-arn-check)
	fi
	if out=$("$validator" "${args[@]}" 2>&1); then
		echo "ok   $def"
	else
		echo "FAIL $def"
		echo "$out" | sed 's/^/     /'
		failed=1
	fi
done
for def in internal/asl/testdata/invalid/*.asl.json; do
	if "$validator" --silent --json-path "$def" >/dev/null 2>&1; then
		echo "FAIL $def (accepted, but AWS would reject it)"
		failed=1
	else
		echo "ok   $def (rejected)"
	fi
done
exit $failed
