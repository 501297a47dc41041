#!/bin/sh
# Records the runs crates/scenario/tests/replay.rs judges again (as root, on an otherwise idle
# host; the busy ones start their own busy loops): idle-pass, busy-inconclusive, busy-must-fail.
# Usage: scripts/record-fixtures.sh [path/to/limitcheck]   (default target/release/limitcheck)
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
record idle-pass 0 scenarios/seed-2-4-cpu-quota.toml
record busy-inconclusive 1 scenarios/seed-2-4-cpu-quota.toml
record busy-must-fail 2 crates/limitcheck/tests/must-fail/*.toml
