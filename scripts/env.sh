# Sourced by the other scripts: one cargo target directory for everything.
#
# A machine that keeps a shared target directory outside the clone (/work/target here, or
# DARKROOM_SHARED_TARGET) reuses it, so a fresh clone does not rebuild every dependency.
if [ -z "${CARGO_TARGET_DIR:-}" ]; then
  shared=${DARKROOM_SHARED_TARGET:-/work/target}
  if [ -d "$shared" ]; then
    export CARGO_TARGET_DIR=$shared
  else
    export CARGO_TARGET_DIR=$PWD/target
  fi
fi
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
# No incremental caches: the scripts build once per change, where a cold incremental build
# costs a quarter more CPU for the workspace's own crates (128 against 103 CPU-seconds), and
# one setting for all of them lets the tests reuse the demo's binaries. In a shared target dir
# that outlives clones the caches would also fill the disk (each clone's path builds anew).
export CARGO_INCREMENTAL=0

# Static binaries (glibc, crt-static) for `FROM scratch` images, in a target dir of their own:
# the RUSTFLAGS differ from the default build's and would evict it. `--target` is explicit so
# the flag skips build scripts and proc macros. The participants' and evaluators' images use
# the `image` profile (Cargo.toml), the Compose services `release`.
STATIC_TARGET=x86_64-unknown-linux-gnu
static_build() { # profile, then cargo package args (-p NAME ...)
  local profile=$1; shift
  RUSTFLAGS='-C target-feature=+crt-static' cargo build --quiet --profile "$profile" --target "$STATIC_TARGET" \
    --target-dir "$CARGO_TARGET_DIR/static" "$@"
}
static_bin() { # profile: the folder its binaries land in
  echo "$CARGO_TARGET_DIR/static/$STATIC_TARGET/$1"
}
