#!/bin/sh
# Records the runs crates/scenario/tests/replay.rs judges again (as root, on an otherwise idle
# host; the busy ones start their own busy loops): idle-pass, busy-inconclusive, busy-must-fail,
# dead-workload, and v2-lane-pass (in a VM on Debian's kernel with cgroup v2, under TCG).
# Usage: scripts/record-fixtures.sh [path/to/limitcheck]   (default target/release/limitcheck);
# ONLY_NEW=1 records only dead-workload and v2-lane-pass.
set -eu
cd "$(dirname "$0")/.."
bin=${1:-target/release/limitcheck}
out=crates/scenario/tests/fixtures
loops=""
stop_loops() { [ -z "$loops" ] || kill $loops 2>/dev/null || true; loops=""; }
trap stop_loops EXIT INT TERM
busy() { i=0; while [ "$i" -lt "$1" ]; do sh -c 'while :; do :; done' & loops="$loops $!"; i=$((i + 1)); done; sleep 1; }
record() { # name, loops, scenario files...
  name=$1 n=$2; shift 2
  rm -rf "$out/$name.tmp"; mkdir -p "$out/$name.tmp"
  busy "$n"
  "$bin" run --retries 0 --report-dir "$out/$name.tmp/run" "$@" >/dev/null || true
  stop_loops
  for f in "$@"; do cp "$f" "$out/$name.tmp/"; done
  for f in summary.json samples.csv host.csv; do cp "$out/$name.tmp/run/$f" "$out/$name.tmp/"; done
  rm -rf "$out/$name.tmp/run" "$out/$name"; mv "$out/$name.tmp" "$out/$name"
  echo "recorded $out/$name"
}
[ "${ONLY_NEW:-0}" = 1 ] || record idle-pass 0 scenarios/seed-2-4-cpu-quota.toml
[ "${ONLY_NEW:-0}" = 1 ] || record busy-inconclusive 1 scenarios/seed-2-4-cpu-quota.toml
[ "${ONLY_NEW:-0}" = 1 ] || record busy-must-fail 2 crates/limitcheck/tests/must-fail/*.toml
dead=$(mktemp -d)
cat > "$dead/dead-workload.toml" <<'TOML'
# A workload that fails at once with a usage error: an error (exit 2), never judged.
description = "a command that exits 2 at once"
duration = "3s"

[[container]]
command = ["sh", "-c", "echo 'stress: --workers: 0 is outside 1..=4096' >&2; exit 2"]

[[expect]]
metric = "cpu.usage"
window = ["1s", "3s"]
approx = 1.0
TOML
record dead-workload 0 "$dead/dead-workload.toml"
rm -rf "$dead"
# The v2 lane: the same two scenarios in a VM (cgroup_no_v1=all), three vCPUs as vm-lane.sh.
name=v2-lane-pass
rm -rf "$out/$name.tmp"; mkdir -p "$out/$name.tmp"
"$bin" vm --kernel debian --cgroup v2 --cpus 3 --report-dir "$out/$name.tmp/run" \
  scenarios/seed-2-4-cpu-quota.toml scenarios/shares-2-to-1.toml >/dev/null || true
cp scenarios/seed-2-4-cpu-quota.toml scenarios/shares-2-to-1.toml "$out/$name.tmp/"
for f in summary.json samples.csv host.csv; do cp "$out/$name.tmp/run/$f" "$out/$name.tmp/"; done
rm -rf "$out/$name.tmp/run" "$out/$name"; mv "$out/$name.tmp" "$out/$name"
echo "recorded $out/$name"
