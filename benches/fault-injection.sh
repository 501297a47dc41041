#!/usr/bin/env bash
# The fault-injection suite at length: SIGKILL of real `limitcheck run`s at random moments
# (create, start, a step's write, sampling, output writing, cleanup), N times (default 200; CI
# runs 50 as the test sigkill_at_random_moments_leaves_nothing). After each kill no process of
# the run may live 2 s later, and what a kill left must be gone once the next run has started.
# Prints the seed (replay with LIMITCHECK_FAULT_SEED=...) and the median and worst time from
# kill to no process.
#
#   benches/fault-injection.sh [KILLS]        (as root; release build)
set -euo pipefail
cd "$(dirname "$0")/.."
kills=${1:-200}
LIMITCHECK_FAULT_KILLS=$kills cargo test --release -q -p limitcheck --test faults -- \
  --exact sigkill_at_random_moments_leaves_nothing --nocapture 2>&1 |
  grep -E '^sigkill_at_random_moments_leaves_nothing|panicked|test result|kill [0-9]+ at'
