#!/usr/bin/env bash
# The cgroup v2 lane: every scenario in scenarios/ (the eight seed experiments and the rest)
# run inside a VM booted from Debian's stock kernel with cgroup_no_v1=all, in one boot. This
# is where the v2 code of the cgroup crate, the runtime and the runner is proven on a real
# kernel (the host runs v1 hybrid). Run by scripts/test.sh; alone: `sudo scripts/vm-lane.sh [SCENARIO...]`.
#
# The kernel is fetched with `apt-get download` and unpacked into ~/.cache/limitcheck (nothing
# installed). KVM is used only if a probe boot works; else software emulation (TCG).
# The run is kept in reports/vm-lane-v2 (index.html, console.log, vm.json).
set -euo pipefail
cd "$(dirname "$0")/.."

scenarios=("$@")
if [ "${#scenarios[@]}" = 0 ]; then
  scenarios=(scenarios/)
fi
cargo build --release --locked -p limitcheck
out=reports/vm-lane-v2
rm -rf "$out"
start=$(date +%s)
status=0
./target/release/limitcheck vm --kernel debian --cgroup v2 --report-dir "$out" "${scenarios[@]}" || status=$?
echo "scripts/vm-lane.sh: exit status $status in $(( $(date +%s) - start )) s; report $out/index.html"
if [ "$status" != 0 ]; then
  echo "scripts/vm-lane.sh: the v2 lane failed; the guest's console log:" >&2
  tail -n 60 "$out/console.log" >&2 || true
  exit "$status"
fi
# The guest really ran cgroup v2: summary.json says so.
grep -q '"cgroup_mode": "v2"' "$out/summary.json" || {
  echo "scripts/vm-lane.sh: the guest did not run cgroup v2 (see $out/summary.json)" >&2
  exit 1
}
