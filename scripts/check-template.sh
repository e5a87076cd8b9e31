#!/usr/bin/env bash
# check-template.sh: lint the SAM template with cfn-lint, the official
# CloudFormation linter, with informational checks on: any finding
# (error, warning or informational) fails.
#
#   scripts/check-template.sh [TEMPLATE...]     (default: template.yaml)
#
# cfn-lint ships in the machine image (pip, Python 3.11). When it is
# missing, this script installs it with `pip install cfn-lint`, and says so;
# when pip cannot reach a package index either, it fails and says how to
# install it by hand. (Debian has no cfn-lint package.)
set -euo pipefail

cd "$(dirname "$0")/.."
templates=("$@")
[ ${#templates[@]} -gt 0 ] || templates=(template.yaml)

cfnlint() {
	if command -v cfn-lint >/dev/null 2>&1; then
		cfn-lint "$@"
	else # installed as a module of python3 but without the script on PATH
		python3 -m cfnlint "$@"
	fi
}

if ! command -v cfn-lint >/dev/null 2>&1 && ! python3 -c 'import cfnlint' >/dev/null 2>&1; then
	echo "check-template: cfn-lint is not installed; installing it with: pip install cfn-lint" >&2
	pip=(python3 -m pip)
	command -v pip >/dev/null 2>&1 && pip=(pip)
	if ! "${pip[@]}" install --quiet cfn-lint >&2; then
		echo "check-template: pip could not install cfn-lint (no access to a Python package index, or an externally managed Python)." >&2
		echo "check-template: the machine image has it in pyenv's Python 3.11 (PATH=\$HOME/.pyenv/shims:\$PATH);" >&2
		echo "check-template: elsewhere: pip install cfn-lint, or pipx install cfn-lint, then run again." >&2
		exit 1
	fi
fi

echo "check-template: $(cfnlint --version) on ${templates[*]}"
# cfn-lint's exit status is a bit mask: 2 errors, 4 warnings, 8 informational.
status=0
cfnlint --include-checks I -- "${templates[@]}" || status=$?
if [ "$status" -ne 0 ]; then
	echo "check-template: FAILED (cfn-lint exit status $status: 2=errors 4=warnings 8=informational, added up)" >&2
	exit 1
fi
echo "check-template: ${templates[*]} clean"
