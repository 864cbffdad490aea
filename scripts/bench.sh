#!/usr/bin/env bash
# Runs the benchmarks in full (release builds, criterion's sampling) and writes the results
# table into BENCHMARKS.md and the chart into benches/results/. About 40 minutes on 2 cores,
# plus the first release build. Run it on a quiet machine: the ratios compare runs in time.
#
#   scripts/bench.sh                      all of them
#   scripts/bench.sh training platform    some: training platform leaderboard footprint
#                                         submissions frontend images
#
# `cargo test` (CI) runs each of them once in a small smoke mode instead.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/env.sh
. scripts/env.sh

scripts/setup.sh
scripts/build-images.sh
# The footprint benchmark starts the release binaries as separate processes.
cargo build --release --quiet --workspace --bins
for bench in "${@:-training platform leaderboard footprint submissions frontend images}"; do
  for b in $bench; do
    echo "== cargo bench --bench $b"
    cargo bench --quiet -p darkroom-benches --bench "$b"
  done
done
cargo run --release --quiet -p darkroom-benches --bin bench-report
