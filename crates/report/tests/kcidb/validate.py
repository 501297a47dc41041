"""Validates a KCIDB document as kcidb-io does: jsonschema's Draft7Validator with its format
checker, against kcidb-io's schema (a fixture exported from the PyPI package). Prints every
error and exits 1 when there is one.

Usage: validate.py SCHEMA_JSON DOCUMENT_JSON
"""
import json
import sys

import jsonschema

with open(sys.argv[1]) as f:
    schema = json.load(f)
with open(sys.argv[2]) as f:
    doc = json.load(f)
v = jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
errors = sorted(v.iter_errors(doc), key=lambda e: list(e.path))
for e in errors:
    print(f"{'/'.join(str(p) for p in e.path)}: {e.message}")
sys.exit(1 if errors else 0)
