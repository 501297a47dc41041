#!/usr/bin/env bash
# The test command of limitcheck: `sudo scripts/test.sh` on a fresh Debian machine.
#
# 1. installs the Debian packages listed in scripts/deb-packages.txt that are missing (apt-get);
# 2. runs every test of the workspace (the kernel tests need root: they create real cgroups and
#    processes; without root they print SKIPPED with the reason);
# 3. runs the VM lanes (scripts/vm-lane.sh: every scenario in a VM booted from Debian's
#    kernel, on real cgroup v2 and on pure v1), unless arguments were given or
#    LIMITCHECK_VM_LANE=0;
# 4. counts the tests that SKIPPED and says why; as root (CI: every feature the tests need is
#    installed) a skip not listed in scripts/expected-skips.txt fails the run;
# 5. fails if anything named limitcheck is left behind: a cgroup, a state dir, a mount, or a
#    qemu still running; or if the tests wrote files into the source tree.
#
# Extra arguments go to `cargo test` (e.g. `scripts/test.sh -p limitcheck-cgroup`).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "scripts/test.sh: not root: the kernel tests will be SKIPPED (run with sudo to run them)" >&2
fi

mapfile -t wanted < <(sed -e 's/#.*//' scripts/deb-packages.txt | awk 'NF {print $1}')
missing=()
for p in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "scripts/test.sh: missing Debian packages: ${missing[*]}; run as root to install them" >&2
    exit 2
  fi
  echo "scripts/test.sh: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Tests that cannot run here print `SKIPPED <test>: <why>` past the harness's capture.
log=$(mktemp /tmp/limitcheck-test.XXXXXX)
untracked=$(mktemp /tmp/limitcheck-untracked.XXXXXX)
trap 'rm -f "$log" "$untracked"' EXIT
# What is untracked (and not ignored) in the tree before the tests: anything new after them
# is a test writing into the source tree (a run directory under a crate, once).
if command -v git >/dev/null && git rev-parse --git-dir >/dev/null 2>&1; then
  git ls-files --others --exclude-standard | sort > "$untracked"
fi
cargo test --workspace --locked "$@" 2>&1 | tee "$log"
skipped=$(grep -aoE 'SKIPPED [A-Za-z0-9_:]+: .*' "$log" | sort -u || true)
if [ -n "$skipped" ]; then
  echo "scripts/test.sh: $(printf '%s\n' "$skipped" | wc -l) test(s) skipped:"
  printf '  %s\n' "$skipped"
  if [ "$(id -u)" = 0 ] && [ "${LIMITCHECK_ALLOW_SKIPS:-0}" = 0 ]; then
    allowed=$(sed -e 's/#.*//' scripts/expected-skips.txt | awk 'NF {print $1}')
    bad=$(printf '%s\n' "$skipped" | awk '{sub(":", "", $2); print $2}' \
          | grep -vxF -f <(printf '%s\n' "$allowed") || true)
    if [ -n "$bad" ]; then
      echo "scripts/test.sh: as root these must run, and skipped (see scripts/expected-skips.txt):" >&2
      printf '  %s\n' "$bad" >&2
      exit 1
    fi
  fi
else
  echo "scripts/test.sh: no test skipped"
fi

if [ "$#" = 0 ] && [ "${LIMITCHECK_VM_LANE:-1}" != 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    scripts/vm-lane.sh
  else
    echo "scripts/test.sh: the VM lanes are SKIPPED: it needs root (it runs scenarios)" >&2
  fi
fi

left=$({ find /sys/fs/cgroup -maxdepth 4 -type d -iname '*limitcheck*' 2>/dev/null || true
         find /run/limitcheck -mindepth 1 -maxdepth 1 2>/dev/null || true
         grep -i limitcheck /proc/self/mountinfo 2>/dev/null | awk '{print $5}' || true
         pgrep -a qemu-system-x86 2>/dev/null || true; })
if [ -n "$left" ]; then
  echo "scripts/test.sh: the tests left these behind (a cleanup bug):" >&2
  echo "$left" >&2
  exit 1
fi
if command -v git >/dev/null && git rev-parse --git-dir >/dev/null 2>&1; then
  wrote=$(git ls-files --others --exclude-standard | sort | comm -13 "$untracked" - || true)
  if [ -n "$wrote" ]; then
    echo "scripts/test.sh: the tests wrote these into the source tree (give them a temporary directory):" >&2
    echo "$wrote" >&2
    exit 1
  fi
fi
echo "scripts/test.sh: all tests passed; nothing left behind"
