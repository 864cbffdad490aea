#!/usr/bin/env bash
# Builds `darkroom-test-node:1`, one Docker Engine node for the multi-node tests
# (tests/src/cluster.rs): the host's own dockerd, containerd, runc, docker-init and iptables
# with the libraries they link, and a static busybox, imported as a rootfs — no registry and
# no base image needed. Each node runs `dockerd --storage-driver=vfs` in a container.
#
#   tests/cluster/node-image.sh     idempotent: rebuilt only when the host's dockerd changed
set -euo pipefail
TAG=darkroom-test-node:1
command -v dockerd busybox >/dev/null || { echo "[node-image] needs dockerd and busybox (scripts/setup.sh)" >&2; exit 1; }
stamp=$(sha256sum /usr/sbin/dockerd | cut -c1-16)
[ "$(docker image inspect --format '{{index .Config.Labels "darkroom.dockerd"}}' "$TAG" 2>/dev/null)" = "$stamp" ] && exit 0
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
bins="$(command -v dockerd) $(command -v containerd) $(command -v containerd-shim-runc-v2) $(command -v runc)
  $(command -v docker-init) $(command -v docker-proxy) $(readlink -f "$(command -v iptables)")"
mkdir -p "$root"/{bin,etc,run,tmp,proc,sys,dev,var/lib/docker}
for b in $bins; do
  mkdir -p "$root$(dirname "$b")"
  cp -L "$b" "$root$b"
  for lib in $(ldd "$b" 2>/dev/null | grep -o '/[^ ]*' || true); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
done
multi=$(readlink -f "$(command -v iptables)")
for l in iptables iptables-save iptables-restore ip6tables; do ln -sf "$multi" "$root/usr/sbin/$l"; done
cp "$(command -v busybox)" "$root/bin/busybox"
for a in sh mkdir mount cat ls ps kill sleep ip; do ln -sf busybox "$root/bin/$a"; done
ln -s /run "$root/var/run"
echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
echo 'root:x:0:' >"$root/etc/group"
tar -C "$root" -c . | docker import --change 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "LABEL darkroom.dockerd=$stamp" - "$TAG" >/dev/null
echo "[node-image] built $TAG"
