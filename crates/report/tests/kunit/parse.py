"""Parses a KTAP file with the kernel's own kunit_parser.py (tools/testing/kunit, from
Debian's linux-source) and writes what it found as JSON: the tree of tests with their
statuses, the leaf counts, and the parser's error count.

Usage: parse.py KUNIT_DIR KTAP_FILE OUT_JSON
"""
import json
import sys

sys.path.insert(0, sys.argv[1])
import kunit_parser  # noqa: E402

with open(sys.argv[2]) as f:
    test = kunit_parser.parse_run_tests(f.read().splitlines())


def tree(t):
    return {
        "name": t.name,
        "status": t.status.name,
        "subtests": [tree(s) for s in t.subtests],
    }


c = test.counts
with open(sys.argv[3], "w") as f:
    json.dump(
        {
            "status": test.status.name,
            "errors": c.errors,
            "passed": c.passed,
            "failed": c.failed,
            "crashed": c.crashed,
            "skipped": c.skipped,
            "tree": tree(test),
        },
        f,
    )
