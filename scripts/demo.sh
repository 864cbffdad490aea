#!/usr/bin/env bash
# The README's main command: runs the demo competition end to end on this machine.
#
#   scripts/demo.sh            as root on Debian
#   scripts/demo.sh --keep     leave the services running afterwards
#
# It sets up the servers (scripts/setup.sh), builds Darkroom, generates the demo's hidden
# dataset, starts the submissions service on a fresh state folder (.demo/), creates the demo
# challenge as the organizer, registers two participants, submits their images and prints
# their status and the leaderboard.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/env.sh
. scripts/env.sh

keep=
[ "${1:-}" = "--keep" ] && keep=1
STATE=$PWD/.demo
PORT=${DARKROOM_DEMO_PORT:-8080}
export DARKROOM_SERVER=http://127.0.0.1:$PORT
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "1/6 servers (Docker, NATS, MongoDB wire protocol, PostgreSQL)"
scripts/setup.sh

say "2/6 build"
cargo build --quiet -p darkroom-submissions -p darkroom-cli -p darkroom-demo-data
BIN=$CARGO_TARGET_DIR/debug

say "3/6 the hidden dataset (seeded, generated once)"
if [ ! -f demo/data/ground-truth/test_labels.csv ]; then
  "$BIN/darkroom-demo-data" --out demo/data --seed 42
else
  echo "demo/data exists; reusing it"
fi

say "4/6 the submissions service"
rm -rf "$STATE"; mkdir -p "$STATE"
ADMIN_TOKEN=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
DARKROOM_SUBMISSIONS__LISTEN=127.0.0.1:$PORT \
DARKROOM_SUBMISSIONS__DATA_DIR=$STATE \
DARKROOM_SUBMISSIONS__ADMIN_TOKEN=$ADMIN_TOKEN \
DARKROOM_NATS__URL=nats://127.0.0.1:${DARKROOM_NATS_PORT:-4222} \
  setsid "$BIN/darkroom-submissions" >"$STATE/submissions.log" 2>&1 < /dev/null &
SERVICE_PID=$!
echo "$SERVICE_PID" >"$STATE/submissions.pid"
stop() { kill "$SERVICE_PID" 2>/dev/null || true; }
[ -z "$keep" ] && trap stop EXIT
for _ in $(seq 100); do
  curl -fsS "$DARKROOM_SERVER/readyz" >/dev/null 2>&1 && break
  kill -0 "$SERVICE_PID" 2>/dev/null || { cat "$STATE/submissions.log"; echo "the service exited" >&2; exit 1; }
  sleep 0.1
done
curl -fsS "$DARKROOM_SERVER/readyz"; echo

darkroom() { "$BIN/darkroom" "$@"; }

say "5/6 the organizer creates the challenge; two participants register and submit"
DARKROOM_TOKEN=$ADMIN_TOKEN darkroom challenge apply demo/challenge.toml
darkroom challenge list
darkroom challenge dataset nuclei-magnification | tail -n 3
darkroom register "Baseline Lab" --save-token "$STATE/baseline.token" >/dev/null
darkroom register "Quick Guess" --save-token "$STATE/weak.token" >/dev/null
BASELINE_ID=$(DARKROOM_TOKEN=$(cat "$STATE/baseline.token") darkroom --json submit nuclei-magnification --image darkroom-demo-baseline:1 | sed -n 's/.*"id": "\(.*\)".*/\1/p' | head -1)
WEAK_ID=$(DARKROOM_TOKEN=$(cat "$STATE/weak.token") darkroom --json submit nuclei-magnification --image darkroom-demo-weak:1 | sed -n 's/.*"id": "\(.*\)".*/\1/p' | head -1)

say "6/6 status and leaderboard"
DARKROOM_TOKEN=$(cat "$STATE/baseline.token") darkroom status "$BASELINE_ID"
DARKROOM_TOKEN=$(cat "$STATE/weak.token") darkroom status "$WEAK_ID"
darkroom leaderboard nuclei-magnification
echo
echo "Submissions wait QUEUED: their events are in JetStream for the runners."
if [ -n "$keep" ]; then
  echo "The service keeps running at $DARKROOM_SERVER (pid $SERVICE_PID, log $STATE/submissions.log)."
fi
