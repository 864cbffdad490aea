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
