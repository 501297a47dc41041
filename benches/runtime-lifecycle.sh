#!/usr/bin/env bash
# The lifecycle of a /bin/true container (create + start + wait + delete, i.e. `run`), for lcrun
# side by side with runc and crun (Debian packages) on the same busybox-static bundle, in
# alternating order, N rounds. Prints each runtime's median and lcrun's ratio to each peer.
#
#   benches/runtime-lifecycle.sh [ROUNDS]        (as root; builds lcrun --release first)
#
# Timing is wall clock around each whole command, so the ratios are what a caller of the CLI
# sees. The machine is shared and noisy: compare ratios from one run, not absolute times.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-30}

# crun (1.8) refuses hybrid hosts ("cgroups in hybrid mode not supported"). So that all three
# run under the same conditions, the whole benchmark then runs in a private mount namespace
# without the v2 mount at /sys/fs/cgroup/unified: a pure v1 view of the same kernel.
if [ -z "${LC_BENCH_NS:-}" ] && mountpoint -q /sys/fs/cgroup/unified 2>/dev/null && command -v crun >/dev/null; then
  echo "hybrid host: running every runtime in a private mount namespace without /sys/fs/cgroup/unified (crun refuses hybrid)" >&2
  exec env LC_BENCH_NS=1 unshare -m --propagation private sh -c 'umount /sys/fs/cgroup/unified && exec "$0" "$@"' "$0" "$rounds"
fi
cargo build --release -q -p limitcheck-runtime
lcrun=$PWD/target/release/lcrun

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bundle=$work/bundle
mkdir -p "$bundle/rootfs/bin" "$bundle/rootfs/proc" "$bundle/rootfs/sys" "$bundle/rootfs/dev"
cp /bin/busybox "$bundle/rootfs/bin/busybox"
ln -s busybox "$bundle/rootfs/bin/true"
ln -s busybox "$bundle/rootfs/bin/sh"
"$lcrun" spec --bundle "$bundle"
python3 - "$bundle/config.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/true"]
json.dump(c, open(p, "w"), indent=1)
PY

runtimes=()
for rt in "$lcrun" runc crun; do
  name=$(basename "$rt")
  if ! command -v "$rt" >/dev/null 2>&1; then
    echo "skipping $name: not installed" >&2
  elif ! (cd "$bundle" && "$rt" --root "$work/state-$name" run --bundle "$bundle" "probe-$name" >/dev/null 2>"$work/err"); then
    echo "skipping $name: it cannot run containers on this host: $(head -c 300 "$work/err")" >&2
    "$rt" --root "$work/state-$name" delete --force "probe-$name" >/dev/null 2>&1 || true
  else
    runtimes+=("$rt")
  fi
done

results=$work/times
: > "$results"
for ((i = 0; i < rounds; i++)); do
  n=${#runtimes[@]}
  for ((j = 0; j < n; j++)); do
    rt=${runtimes[$(((i + j) % n))]}
    name=$(basename "$rt")
    id="bench-$name-$i"
    start=$(date +%s%N)
    if ! (cd "$bundle" && "$rt" --root "$work/state-$name" run --bundle "$bundle" "$id" >/dev/null 2>"$work/err"); then
      echo "$name run failed:" >&2; cat "$work/err" >&2; exit 1
    fi
    end=$(date +%s%N)
    echo "$name $(((end - start) / 1000))" >> "$results"
  done
done

python3 - "$results" <<'PY'
import statistics, sys
times = {}
for line in open(sys.argv[1]):
    name, us = line.split()
    times.setdefault(name, []).append(int(us) / 1000)
med = {k: statistics.median(v) for k, v in times.items()}
print(f"lifecycle of a /bin/true container (run = create+start+wait+delete), {len(next(iter(times.values())))} rounds")
for k, v in med.items():
    print(f"  {k:6} median {v:7.2f} ms   (min {min(times[k]):.2f}, max {max(times[k]):.2f})")
for peer in ("runc", "crun"):
    if "lcrun" in med and peer in med:
        print(f"  lcrun / {peer} = {med['lcrun'] / med[peer]:.2f}")
if "runc" in med and "crun" in med:
    print(f"  crun / runc = {med['crun'] / med['runc']:.2f}")
PY
