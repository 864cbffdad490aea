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

# Static binaries (glibc, crt-static) for `FROM scratch` images, built with the `image` profile
# (Cargo.toml) in a target dir of their own: the RUSTFLAGS differ from the default build's and
# would evict it. `--target` is explicit so the flag skips build scripts and proc macros.
# Binaries land in $STATIC_BIN.
STATIC_TARGET=x86_64-unknown-linux-gnu
STATIC_BIN=$CARGO_TARGET_DIR/static/$STATIC_TARGET/image
static_build() { # cargo package args (-p NAME ...)
  RUSTFLAGS='-C target-feature=+crt-static' cargo build --quiet --profile image --target "$STATIC_TARGET" \
    --target-dir "$CARGO_TARGET_DIR/static" "$@"
}
