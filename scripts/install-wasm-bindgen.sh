#!/usr/bin/env bash
# Installs wasm-bindgen-cli from crates.io at exactly the version Cargo.lock pins (the CLI and
# the library must match) into $DARKROOM_TOOLS (/opt/darkroom/cargo-tools). Does nothing when
# that version is there already.
#
# No prebuilt binary is reachable from here (not on npm, PyPI or Debian; GitHub releases are
# out of reach), so it is compiled, with no LTO and optimised only where it spends its time
# (the wasm parser, rewriter and encoder at opt-level 1; clap, the test runner's HTTP server and
# the rest at 0): 149 CPU-seconds against 182-219 for opt-level 1 throughout (two runs), the
# same 1.5 s per wasm and the same output byte for byte. Without its default features, the TLS stack its test
# runner downloads browsers with (not used here). It builds in a target folder of its own, so
# scripts/demo.sh can run it beside the workspace's build.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[wasm-bindgen] %s\n' "$*" >&2; }

TOOLS=${DARKROOM_TOOLS:-/opt/darkroom/cargo-tools}
want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock)
[ -n "$want" ] || { log "error: Cargo.lock names no wasm-bindgen version"; exit 1; }
if [ "$("$TOOLS/bin/wasm-bindgen" --version 2>/dev/null | awk '{print $2}')" = "$want" ]; then
  exit 0
fi
log "cargo install wasm-bindgen-cli $want (once; a few minutes)"
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
# Not --locked: the CLI's own lockfile names crate versions the registry may lack.
hot=(walrus wasmparser wasm-encoder wasm-bindgen-cli-support wasm-bindgen-shared wasm-bindgen-cli id-arena
  leb128 leb128fmt hashbrown indexmap foldhash rustc-demangle rayon rayon-core log env_logger serde_json memchr)
optimised=()
for crate in "${hot[@]}"; do optimised+=(--config "profile.release.package.$crate.opt-level=1"); done
CARGO_PROFILE_RELEASE_OPT_LEVEL=0 CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
  CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_INCREMENTAL=false \
  cargo install -q "${optimised[@]}" wasm-bindgen-cli --version "$want" --no-default-features --root "$TOOLS" \
  --target-dir "$build"
log "installed $("$TOOLS/bin/wasm-bindgen" --version)"
