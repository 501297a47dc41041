#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Runs limitcheck's scenarios on the booted kernel and, where LAVA's lava-test-case is on PATH,
# reports each scenario, step and expectation with it (pass, fail, skip; unknown for an
# inconclusive verdict or one that could not be judged), with its measurement and units.
#   run.sh REPORT_DIR [limitcheck run FLAGS and SCENARIOS...]
# Without scenarios: the overlay's, /opt/limitcheck/scenarios. Exits with limitcheck's status.
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-/tmp/limitcheck}
[ $# -gt 0 ] && shift
[ $# -gt 0 ] || set -- "$here/scenarios"
"$here/bin/limitcheck" run --report-dir "$out" "$@"
status=$?
if command -v lava-test-case >/dev/null 2>&1; then
	"$here/bin/limitcheck" report --lava "$out" > "$out/lava-test-cases.sh" &&
		sh "$out/lava-test-cases.sh"
fi
echo "limitcheck: exit status $status; reports in $out"
exit "$status"
