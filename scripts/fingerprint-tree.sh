#!/usr/bin/env bash
# Measures fingerprinting a large tree by hand (issue 17's closing note), never in CI: writes
# GB gigabytes (default 10) of random data into DIR (default /var/tmp/darkroom-fingerprint-tree),
# 160 folders of 64 MiB files, once, then runs the fingerprint benchmark with that folder, which
# fingerprints it once in full and prints its MB/s, then times the check before a run.
#
#   scripts/fingerprint-tree.sh [DIR] [GB]       warm: the tree was just written, so much of it
#                                                 is in the page cache (a hashing rate)
#   COLD=1 scripts/fingerprint-tree.sh [DIR]      drops the page cache first (root): a disk rate
#
# Delete DIR afterwards; it is left for a second run.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-/var/tmp/darkroom-fingerprint-tree}
gb=${2:-10}
files=$((gb * 16))
if [ "$(find "$dir" -type f 2>/dev/null | wc -l)" -ne "$files" ]; then
  echo "writing $gb GB of random data into $dir"
  rm -rf "$dir"
  for i in $(seq 1 "$files"); do
    mkdir -p "$dir/part-$((i % 160))"
    head -c $((64 << 20)) /dev/urandom >"$dir/part-$((i % 160))/$i.bin"
  done
fi
if [ "${COLD:-0}" = 1 ]; then
  sync
  echo 3 >/proc/sys/vm/drop_caches
fi
DARKROOM_FINGERPRINT_TREE="$dir" cargo bench -p darkroom-benches --bench fingerprint
