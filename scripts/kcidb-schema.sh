#!/usr/bin/env bash
# Regenerates crates/report/tests/fixtures/kcidb/schema-v5.3.json from the kcidb-io package on
# PyPI (the schema KCIDB validates submissions with). Needs network access to PyPI; not in CI.
#   scripts/kcidb-schema.sh [VERSION]   (default 141)
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:-141}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pip download --quiet --no-deps --dest "$tmp" "kcidb-io==$version"
python3 -m zipfile -e "$tmp"/kcidb_io-*.whl "$tmp/x"
PYTHONPATH="$tmp/x" python3 - <<'PY'
import json
import kcidb_io
s = kcidb_io.schema.LATEST
out = f"crates/report/tests/fixtures/kcidb/schema-v{s.major}.{s.minor}.json"
with open(out, "w") as f:
    f.write(json.dumps(s.json, indent=1, sort_keys=True))
print(f"wrote {out} (kcidb-io schema v{s.major}.{s.minor})")
PY
