#!/usr/bin/env bash
# The README's main command: runs the demo competition end to end on this machine.
#
#   scripts/demo.sh            as root on Debian
#   scripts/demo.sh --keep     leave the services running afterwards
#   scripts/demo.sh --compose  the same competition through the Docker Compose stack
#                              (compose/compose.yml + compose.local.yml, images built here)
#
# It sets up the servers (scripts/setup.sh), builds Darkroom and the demo's images, generates
# the hidden dataset, starts the submissions service, the swarm runner and the evaluator on a
# fresh state folder (.demo/), creates the demo challenge as the organizer, registers two
# participants, who join it and submit their images, waits until both are scored, prints the leaderboard, closes the phase and prints the
# revealed private board with its commitment check, checks every receipt and re-runs the CNN to
# show it reproduces its score bit for bit.
# The web pages run too: open the printed address while it runs (or with --keep, afterwards).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/env.sh
. scripts/env.sh

keep= compose=
for arg in "$@"; do
  case $arg in
    --keep) keep=1 ;;
    --compose) compose=1 ;;
    *) echo "unknown option '$arg': use --keep and/or --compose" >&2; exit 2 ;;
  esac
done
STATE=$PWD/.demo
PORT=${DARKROOM_DEMO_PORT:-8080}
REGISTRY=${DARKROOM_REGISTRY:-127.0.0.1:5000}
export DARKROOM_SERVER=http://127.0.0.1:$PORT
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "1/7 servers (Docker, NATS, MongoDB wire protocol, PostgreSQL)"
START=$(date +%s)
scripts/setup.sh

say "2/7 build"
# The services (with the pages' glue tool, so that the pages' build beside the competition has
# less to do) and the demo's images (static release binaries, in a target folder of their own)
# build at once, under one jobserver of two slots: make's, which cargo and rustc honour. Two
# cargos with two jobs each ran four compilers on two cores: 5-18 % more CPU time (BENCHMARKS.md).
make -s -j2 -f - <<'MAKE' || { echo "the build failed (cargo's error is above)" >&2; exit 1; }
.PHONY: all services images
all: services images
services: ; +cargo build --quiet -p darkroom-submissions -p darkroom-swarm-runner -p darkroom-evaluator -p darkroom-cli \
  -p darkroom-demo-data -p darkroom-frontend -p darkroom-bindgen
images: ; +scripts/build-images.sh demo
MAKE
BIN=$CARGO_TARGET_DIR/debug
export DARKROOM_BINDGEN=$BIN/darkroom-bindgen
# The pages' wasm: built here for the Compose images; otherwise beside the competition (step 4
# starts the web server when it is built), whose CNN trains on one CPU and leaves the other idle.
if [ -n "$compose" ]; then scripts/build-frontend.sh; compose/local/build.sh; fi

say "3/7 the hidden dataset (seeded, generated once)"
if [ ! -f demo/data/ground-truth/test_labels.csv ]; then
  "$BIN/darkroom-demo-data" --out demo/data --seed 42
else
  echo "demo/data exists; reusing it"
fi

WEB_PORT=${DARKROOM_DEMO_WEB_PORT:-3000}
WEB=http://127.0.0.1:$WEB_PORT
rm -rf "$STATE"; mkdir -p "$STATE"
ADMIN_TOKEN=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')

wait_for() { # URL SECONDS LIVENESS-COMMAND...: polls URL until it answers; fails when the
  # liveness command does (it says why) or after SECONDS
  local url=$1 seconds=$2; shift 2
  for _ in $(seq $(( seconds * 10 ))); do
    curl -fsS "$url" >/dev/null 2>&1 && return 0
    "$@" || exit 1
    sleep 0.1
  done
  echo "$url did not answer within $seconds s" >&2; exit 1
}
wait_ready() { # liveness check command...: the API, then its readiness report
  wait_for "$DARKROOM_SERVER/readyz" 60 "$@"
  curl -fsS "$DARKROOM_SERVER/readyz"; echo
}

if [ -n "$compose" ]; then
  say "4/7 the stack under Docker Compose: NATS, MongoDB, PostgreSQL and the four services"
  printf %s "$ADMIN_TOKEN" >"$STATE/admin_token"
  chown 65534 "$STATE/admin_token"; chmod 0400 "$STATE/admin_token"
  export COMPOSE_PROJECT_NAME=darkroom-demo
  export DARKROOM_DATA_ROOT=$PWD/demo/data DARKROOM_WORK_ROOT=$STATE/work DARKROOM_ADMIN_TOKEN_FILE=$STATE/admin_token
  # The receipt key scripts/setup.sh created, as the evaluator's secret.
  export DARKROOM_RECEIPT_KEY_FILE=${DARKROOM_STATE_DIR:-/var/lib/darkroom}/receipt_signing_key
  export DARKROOM_BIND=127.0.0.1 DARKROOM_API_PORT=$PORT DARKROOM_WEB_PORT=$WEB_PORT DARKROOM_RUNNER_ID=demo-compose
  # One NATS user per service (compose/nats/nats.conf), each with its own password; the stores'
  # passwords in secret files, readable by the stores' and the services' users.
  for who in SUBMISSIONS RUNNER EVALUATOR FRONTEND; do
    export "DARKROOM_NATS_${who}_PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
  done
  for store in POSTGRES MONGO; do
    file=$STATE/${store,,}_password
    head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$file"; chmod 0444 "$file"
    export "DARKROOM_${store}_PASSWORD_FILE=$file"
  done
  dc() { docker-compose -f compose/compose.yml -f compose/compose.local.yml --ansi never "$@"; }
  stop() { dc logs --no-color >"$STATE/compose.log" 2>&1 || true; dc down --volumes --timeout 10 >/dev/null 2>&1 || true; }
  [ -z "$keep" ] && trap stop EXIT
  dc up -d --no-build
  dc ps
  wait_ready true
else
  say "4/7 the services: submissions, swarm runner, evaluator, web pages"
  export DARKROOM_SUBMISSIONS__LISTEN=127.0.0.1:$PORT
  export DARKROOM_SUBMISSIONS__DATA_DIR=$STATE
  export DARKROOM_SUBMISSIONS__ADMIN_TOKEN=$ADMIN_TOKEN
  # Names are pinned from the local registry setup.sh starts, and from no other.
  export DARKROOM_SUBMISSIONS__REGISTRIES="[\"$REGISTRY\"]"
  # A NATS server of the demo's own, on a fresh store: each demo starts with an empty stream.
  NATS_PORT=${DARKROOM_DEMO_NATS_PORT:-4223}
  setsid nats-server -a 127.0.0.1 -p "$NATS_PORT" -js -sd "$STATE/nats" >"$STATE/nats.log" 2>&1 < /dev/null &
  NATS_PID=$!
  export DARKROOM_NATS__URL=nats://127.0.0.1:$NATS_PORT
  export DARKROOM_MONGODB__URL=mongodb://127.0.0.1:${DARKROOM_MONGO_PORT:-27017}
  # Each demo gets its own score database and stream state, so runs never mix.
  export DARKROOM_MONGODB__DATABASE=darkroom_demo_$(date +%s)
  export DARKROOM_RUNNER__WORK_DIR=$STATE/runs
  export DARKROOM_RUNNER__RUNNER_ID=demo-runner
  export DARKROOM_EVALUATOR__WORK_DIR=$STATE/evaluations
  # The key scripts/setup.sh created: the demo's receipts are signed with it.
  export DARKROOM_EVALUATOR__RECEIPT_KEY_FILE=${DARKROOM_STATE_DIR:-/var/lib/darkroom}/receipt_signing_key
  # The demo's dataset and ground truth are the only folders the runner and evaluator mount.
  export DARKROOM_RUNNER__DATA_ROOTS="[\"$PWD/demo/data\"]" DARKROOM_EVALUATOR__DATA_ROOTS="[\"$PWD/demo/data\"]"
  export DARKROOM_FRONTEND__LISTEN=127.0.0.1:$WEB_PORT
  export DARKROOM_FRONTEND__API_URL=$DARKROOM_SERVER
  export DARKROOM_FRONTEND__SITE_ROOT=$CARGO_TARGET_DIR/site
  PIDS=($NATS_PID)
  for svc in submissions swarm-runner evaluator; do
    setsid "$BIN/darkroom-$svc" >"$STATE/$svc.log" 2>&1 < /dev/null &
    PIDS+=($!)
  done
  # The web server once its pages are built; the build's output goes to the same log.
  setsid bash -c 'scripts/build-frontend.sh && exec "$0"' "$BIN/darkroom-frontend" >"$STATE/frontend.log" 2>&1 < /dev/null &
  WEB_PID=$!
  PIDS+=($WEB_PID)
  # Each service leads its own process group (setsid): the web one may still be a build.
  stop() { for pid in "${PIDS[@]}"; do kill -- "-$pid" 2>/dev/null || true; done; }
  [ -z "$keep" ] && trap stop EXIT
  alive() { kill -0 "${PIDS[1]}" 2>/dev/null || { cat "$STATE/submissions.log"; echo "the submissions service exited" >&2; return 1; }; }
  web_alive() { kill -0 "$WEB_PID" 2>/dev/null || { tail -n 30 "$STATE/frontend.log" >&2; echo "the web pages failed to build or start" >&2; return 1; }; }
  wait_ready alive
fi

darkroom() { "$BIN/darkroom" "$@"; }

if [ -n "$compose" ]; then
  echo "web pages: $WEB (the leaderboard updates live as scores arrive)"
else
  echo "web pages: $WEB once they are built, a minute or two on a first run (the leaderboard updates live as scores arrive)"
fi

say "5/7 the organizer creates the challenge; two participants register, join and submit"
DARKROOM_TOKEN=$ADMIN_TOKEN darkroom challenge apply demo/challenge.toml
darkroom challenge list
darkroom challenge dataset nuclei-magnification | tail -n 3
# The organizer's word to everyone who cannot see the data (Markdown, on the challenge's page too).
DARKROOM_TOKEN=$ADMIN_TOKEN darkroom announcement post nuclei-magnification --title "Welcome" \
  --body "The dev phase is open: your container reads /data and writes **predictions.csv** to /output." >/dev/null
darkroom register "Baseline Lab" --save-token "$STATE/baseline.token" >/dev/null
darkroom register "Quick Guess" --save-token "$STATE/weak.token" >/dev/null
# Each joins the challenge first, accepting its rules (`darkroom challenge show` prints them).
for who in baseline weak; do DARKROOM_TOKEN=$(cat "$STATE/$who.token") darkroom join nuclei-magnification --yes; done
darkroom announcement list nuclei-magnification
# Participants submit as real ones would: Baseline Lab uploads a 'docker save' archive (the
# platform rebuilds it before the engine sees it); Quick Guess submits the name it pushed to the
# registry (build-images.sh pushed it), which the platform pins by digest. The Compose services
# sit on their own network, where the host's loopback registry is out of reach, so there both
# upload. Each writes a note on what it tries, which only they and the organizer see.
submit_as() { # token-file image upload|push note
  local how=(--image "$REGISTRY/$2")
  if [ "$3" = upload ] || [ -n "$compose" ]; then docker save "$2" -o "$STATE/$1.tar"; how=(--tar "$STATE/$1.tar"); fi
  DARKROOM_TOKEN=$(cat "$STATE/$1.token") darkroom --json submit nuclei-magnification "${how[@]}" --note "$4" | sed -n 's/.*"id": "\(.*\)".*/\1/p' | head -1
}
BASELINE_ID=$(submit_as baseline darkroom-demo-baseline:1 upload "small CNN, seeded")
WEAK_ID=$(submit_as weak darkroom-demo-weak:1 push "one threshold on the dark-pixel fraction")
# What the quotas still allow, counted as the next submit would be (also under "Join" on the page).
DARKROOM_TOKEN=$(cat "$STATE/weak.token") darkroom quota nuclei-magnification

say "6/7 both run beside the hidden data, are scored, and ranked"
DARKROOM_TOKEN=$(cat "$STATE/baseline.token") darkroom status "$BASELINE_ID" --wait --timeout 600 || true
DARKROOM_TOKEN=$(cat "$STATE/weak.token") darkroom status "$WEAK_ID" --wait --timeout 600 || true
echo
darkroom leaderboard nuclei-magnification
echo

say "7/7 the organizer closes the phase: the private board, its commitment, the receipts and a re-run"
# The phase reveals at close (its default): the board is committed (SHA-256 over salt and board)
# and published at once; anyone can recompute the commitment.
DARKROOM_TOKEN=$ADMIN_TOKEN darkroom phase close nuclei-magnification dev
echo
darkroom verify-board nuclei-magnification dev
echo
# Each board row is backed by an Ed25519-signed receipt in the challenge's hash chain, which
# anyone can check against the published key (docs/receipts.md).
darkroom verify --board nuclei-magnification --phase dev
echo
# The organizer re-runs the CNN under its receipt's conditions (same image, data, limits and
# DARKROOM_SEED): seeded, it reproduces its score.json byte for byte.
DARKROOM_TOKEN=$ADMIN_TOKEN darkroom verify "$BASELINE_ID" --rerun
echo
# The same ranking, as the web page renders it; last, so that on a first run the pages' build
# has had the whole competition beside the CNN's training.
[ -n "$compose" ] || wait_for "$WEB/healthz" 600 web_alive
curl -fsS "$WEB/challenges/nuclei-magnification/leaderboard" | grep -o 'data-participant="[^"]*"' \
  | sed 's/data-participant=/web leaderboard row: /' || echo "the web leaderboard did not render; see the logs in $STATE/"
echo
echo "demo finished in $(( $(date +%s) - START )) s; logs in $STATE/"
if [ -n "$keep" ] && [ -n "$compose" ]; then
  echo "The stack keeps running (docker-compose -p $COMPOSE_PROJECT_NAME); the API is at $DARKROOM_SERVER, the pages at $WEB."
elif [ -n "$keep" ]; then
  echo "The services keep running (pids ${PIDS[*]}); the API is at $DARKROOM_SERVER, the pages at $WEB."
fi
