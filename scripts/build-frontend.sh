#!/usr/bin/env bash
# Builds the web pages' browser half (Leptos hydration as wasm) into $CARGO_TARGET_DIR/site/pkg:
#   darkroom.js + darkroom_bg.wasm (wasm-bindgen's output) and darkroom.css (plain CSS).
#
# No cargo-leptos: it downloads wasm-bindgen, binaryen and sass at run time, which a machine
# that only reaches the package registries cannot do. Instead this installs the wasm target,
# runs cargo, and writes the JS glue with darkroom-bindgen (frontend/bindgen): wasm-bindgen's
# own library at the version Cargo.lock pins, built as one of this workspace's host binaries.
# The server binary is built by the ordinary `cargo build` and serves the folder named by
# `frontend.site_root`.
#
#   scripts/build-frontend.sh            debug wasm (what the tests use; ~2 min the first time)
#   PROFILE=release scripts/build-frontend.sh   smaller, slower to build
#   DARKROOM_BINDGEN=PATH scripts/build-frontend.sh   with a darkroom-bindgen built already
#
# DARKROOM_BINDGEN is for a caller that built the tool in its own `cargo build` (scripts/demo.sh,
# beside the services): a `cargo build -p darkroom-bindgen` alone unifies features differently
# and would compile it and half its dependencies again (45 CPU-seconds cold).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

log() { printf '[frontend] %s\n' "$*" >&2; }

SITE=${DARKROOM_SITE_ROOT:-$CARGO_TARGET_DIR/site}
PROFILE=${PROFILE:-dev}

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown >/dev/null
fi

log "cargo build (wasm32, hydrate, $PROFILE)"
cargo build -q -p darkroom-frontend --lib --target wasm32-unknown-unknown --profile "$PROFILE" \
  --no-default-features --features hydrate
# The host tool in the dev profile whatever the pages' profile: it is run, not shipped.
BINDGEN=${DARKROOM_BINDGEN:-}
if [ -z "$BINDGEN" ]; then
  cargo build -q -p darkroom-bindgen
  BINDGEN=$CARGO_TARGET_DIR/debug/darkroom-bindgen
fi
dir=$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")
mkdir -p "$SITE/pkg"
"$BINDGEN" "$CARGO_TARGET_DIR/wasm32-unknown-unknown/$dir/darkroom_frontend.wasm" "$SITE/pkg"
cp frontend/style/darkroom.css "$SITE/pkg/darkroom.css"
log "site ready in $SITE (set frontend.site_root to it)"
