#!/usr/bin/env bash
# The README's test command and what CI runs: sets up the servers the tests need (Docker,
# NATS, the MongoDB wire-protocol server, PostgreSQL), checks formatting and lints, and runs
# every test — unit, integration against the real servers and the real Docker engine (with
# the images scripts/build-images.sh builds), the web pages in headless Chromium (with the
# wasm scripts/build-frontend.sh builds), the whole stack under Docker Compose (with the
# images compose/local/build.sh builds), and each benchmark once in test mode so none of
# them rots.
#
#   scripts/test.sh            as root on Debian; idempotent
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/env.sh
. scripts/env.sh

scripts/setup.sh
# A shared target dir outlives clones, and each clone's path builds this workspace's own crates
# anew: earlier clones' test binaries and incremental caches (scripts/env.sh turns them off;
# older runs left some) would fill the disk (tens of GB after a few dozen runs).
rm -rf "$CARGO_TARGET_DIR/debug/incremental"
stale=(darkroom predict evaluate hostile bench_report)
for f in tests/tests/*.rs benches/benches/*.rs; do stale+=("$(basename "$f" .rs)"); done
for n in "${stale[@]}"; do
  find "$CARGO_TARGET_DIR/debug/deps" -maxdepth 1 -mmin +720 \( -name "$n-*" -o -name "lib$n*" -o -name "${n}_*" \) \
    -delete 2>/dev/null || true
done
# Databases earlier test runs left on the PostgreSQL server (each test makes its own); left to
# pile up, they make the server's start after an unclean stop slow.
pg="psql -h 127.0.0.1 -p ${DARKROOM_PG_PORT:-55432} -U postgres -qAt"
for db in $($pg -c "SELECT datname FROM pg_database WHERE datname LIKE 'darkroom\_test\_%'"); do
  $pg -c "DROP DATABASE \"$db\"" >/dev/null
done
# Submission tags an interrupted earlier run left on the engine (a test that panics drops its
# runner mid-run); tests check that their runs leave none behind.
# By name, not id: the tag shares its image with the test images it was pulled from.
docker images --format '{{.Repository}}:{{.Tag}}' 'darkroom-submission/*' | xargs -r docker rmi >/dev/null 2>&1 || true
# Nodes and networks of a multi-node test that was killed before it could remove them.
docker ps -aq --filter label=darkroom.test=cluster | xargs -r docker rm -f -v >/dev/null 2>&1 || true
docker network ls -q --filter label=darkroom.test=cluster | xargs -r docker network rm >/dev/null 2>&1 || true
scripts/build-images.sh
# The wasm the browser tests hydrate pages with.
scripts/build-frontend.sh
# The Compose stack's images, built from this host (tests/tests/compose.rs brings it up).
compose/local/build.sh
echo "[test] cargo fmt --check"
cargo fmt --all -- --check
echo "[test] cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
# The service binaries, which the footprint benchmark's smoke run starts as processes.
echo "[test] cargo build --bins"
cargo build --workspace --bins --quiet
# The API's shapes are read by the browser's wasm too: the crate must keep building for it.
echo "[test] cargo build darkroom-api (wasm32)"
cargo build -q -p darkroom-api --target wasm32-unknown-unknown
echo "[test] cargo test"
cargo test --workspace --all-targets --no-fail-fast
