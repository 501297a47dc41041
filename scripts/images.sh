#!/usr/bin/env bash
# Makes the images the shipped image scenarios run (offline, from this host's programs):
#   images/stress-ng   Debian's stress-ng and its libraries, Entrypoint stress-ng
#                      (scenarios/image-stress-ng.toml: the seed's `docker run alexeiled/stress-ng`)
# Usage: scripts/images.sh [LIMITCHECK_BINARY]   (default: target/release/limitcheck, else debug)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-}
if [ -z "$bin" ]; then
  for b in target/release/limitcheck target/debug/limitcheck; do
    [ -x "$b" ] && { bin=$b; break; }
  done
fi
[ -n "$bin" ] || { echo "scripts/images.sh: build limitcheck first (cargo build --release)" >&2; exit 2; }
command -v stress-ng >/dev/null || { echo "scripts/images.sh: stress-ng is not installed (apt-get install stress-ng)" >&2; exit 2; }
"$bin" image from-host images/stress-ng --tag latest --entrypoint stress-ng stress-ng
