#!/usr/bin/env bash
# youki beside lcrun and runc: builds youki from crates.io (`cargo install youki`, which needs
# libseccomp-dev and pkg-config, installed here with apt-get if missing; about 10 minutes on
# 2 cores) into target/youki (its build dir removed after), then runs the seed scenarios and the runtime-update ones on
# lcrun's library, runc and youki as a runtime matrix: <report dir>/matrix.html, .md, .json,
# each runtime's full report in its subdirectory, and the compare table of each against lcrun.
#
# Not in CI: the build alone takes a third of CI's budget. As root:
#   scripts/youki.sh [REPORT_DIR]          (default reports/youki-matrix)
#   YOUKI_VERSION=0.7.0 scripts/youki.sh   (a given version; default the newest)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "scripts/youki.sh: needs root (it runs containers)" >&2
  exit 2
fi
root=target/youki
if [ ! -x "$root/bin/youki" ]; then
  for p in libseccomp-dev pkg-config; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || {
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$p"
    }
  done
  # v1 and v2: youki leaves both out by default, and this host writes limits through v1.
  cargo install youki --locked --root "$root" --target-dir target/youki-build \
    --features v1,v2,seccomp \
    ${YOUKI_VERSION:+--version "$YOUKI_VERSION"}
  rm -rf target/youki-build # about 1 GB of build output once youki is installed
fi
"$root/bin/youki" --version
cargo build --release --locked -p limitcheck
out=${1:-reports/youki-matrix}
status=0
./target/release/limitcheck run --runtime runc --runtime "$root/bin/youki" --report-dir "$out" \
  scenarios/seed-*.toml scenarios/*via-runtime*.toml || status=$?
echo "scripts/youki.sh: exit status $status; matrix $out/matrix.html"
exit "$status"
