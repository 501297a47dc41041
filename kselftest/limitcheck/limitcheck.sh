#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# kselftest wrapper: runs limitcheck's scenarios (beside this script) and prints KTAP; exits as
# kselftest reads it: 0 pass, 1 a limit not enforced or a scenario that could not run, 4 skip
# (not root, or nothing could be judged here).
#   LIMITCHECK            the binary (default: the one beside this script)
#   LIMITCHECK_SCENARIOS  scenario files or directories (default: scenarios/ beside it)
#   LIMITCHECK_REPORT_DIR where the run's reports go (default: a new directory under /tmp)
#   LIMITCHECK_ARGS       more `limitcheck run` flags (e.g. --retries 0)
dir=$(cd "$(dirname "$0")" && pwd)
bin=${LIMITCHECK:-$dir/limitcheck}
if [ "$(id -u)" != 0 ]; then
	echo "# limitcheck: SKIP: needs root (it creates cgroups and containers)"
	exit 4
fi
if [ ! -x "$bin" ]; then
	echo "# limitcheck: SKIP: no limitcheck binary at $bin (limitcheck pack kselftest writes it)"
	exit 4
fi
report=${LIMITCHECK_REPORT_DIR:-$(mktemp -d /tmp/limitcheck-kselftest.XXXXXX)}
echo "# limitcheck: reports in $report" >&2
# shellcheck disable=SC2086 # the scenario list and extra flags are words
exec "$bin" run --ktap --report-dir "$report" $LIMITCHECK_ARGS ${LIMITCHECK_SCENARIOS:-$dir/scenarios}
