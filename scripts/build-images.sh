#!/usr/bin/env bash
# Builds every container image the demo and the tests need, with no registry: static Rust
# binaries (glibc, crt-static) wrapped in `FROM scratch` images.
#
#   darkroom-demo-baseline:1   the demo's CNN participant          /predict --model cnn
#   darkroom-demo-weak:1       the demo's one-threshold participant /predict --model threshold
#   darkroom-demo-eval:1       the demo's evaluation image          /evaluate
#   darkroom-test-hostile:MODE one hostile participant per mode     /hostile MODE
#   darkroom-test-noentry:1    an image with neither entrypoint nor command
#   darkroom-test-hostile:root   `USER 0:0`, reports its uid
#   darkroom-test-hostile:volume declares `VOLUME /scratch` and fills it
#   darkroom-test-hostile:slow   a well-behaved participant that takes 8 s (drain tests)
#   darkroom-test-hostile:noisy  random predictions each run (verification re-run tests)
#   darkroom-test-eval:slow      an evaluation image that takes 3 s and scores 0.5 (local
#                                only, like every evaluation image)
#   darkroom-test-eval:copy      an evaluation image that writes the score.json and cases.csv
#                                found in the ground truth's eval-output/ (a test's choice)
#   darkroom-test-node:1         a Docker Engine node (the host's dockerd) for the multi-node
#                                tests: tests/cluster/node-image.sh
#
# The participant images (baseline, weak, hostile, noentry) are also pushed, as a participant
# would, to the local registry `scripts/setup.sh` starts (DARKROOM_REGISTRY, default
# 127.0.0.1:5000), because submitting by name means naming an image in a registry. The
# evaluation image stays local: participants must never be able to name it.
#
# Idempotent: cargo and docker both skip work that is up to date.
#
#   scripts/build-images.sh        every image above
#   scripts/build-images.sh demo   the demo's three only (scripts/demo.sh: the test images
#                                  cost a fresh machine minutes it does not need)
set -euo pipefail
only_demo=
case ${1:-} in
  '') ;;
  demo) only_demo=1 ;;
  *) echo "unknown argument '$1': use no argument (every image) or 'demo'" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
# shellcheck source=scripts/env.sh
. scripts/env.sh

crates=(darkroom-demo-participant darkroom-demo-evaluator)
[ -n "$only_demo" ] || crates+=(darkroom-hostile)
echo "[images] static build, image profile (${crates[*]})"
static_build image "${crates[@]/#/--package=}"
BIN=$(static_bin image)

image() { # tag binary entrypoint-json [user] [extra Dockerfile line]
  local tag=$1 binary=$2 entrypoint=$3 user=${4:-65534:65534} extra=${5:-} ctx
  ctx=$(mktemp -d)
  cp "$BIN/$binary" "$ctx/$binary"
  {
    echo "FROM scratch"
    echo "COPY $binary /$binary"
    echo "USER $user"
    [ -n "$extra" ] && echo "$extra"
    [ -n "$entrypoint" ] && echo "ENTRYPOINT $entrypoint"
  } >"$ctx/Dockerfile"
  docker build --quiet -t "$tag" "$ctx" >/dev/null 2>&1 || { docker build -t "$tag" "$ctx"; exit 1; }
  rm -rf "$ctx"
  echo "[images] $tag"
}

REGISTRY=${DARKROOM_REGISTRY:-127.0.0.1:5000}
check_registry() {
  (exec 3<>"/dev/tcp/${REGISTRY%:*}/${REGISTRY##*:}") 2>/dev/null \
    || { echo "[images] no registry answers at $REGISTRY: start it with scripts/setup.sh" >&2; exit 1; }
}
push() { # local tag
  docker tag "$1" "$REGISTRY/$1"
  docker push --quiet "$REGISTRY/$1" >/dev/null || { docker push "$REGISTRY/$1"; exit 1; }
  echo "[images] pushed $REGISTRY/$1"
}

image darkroom-demo-baseline:1 predict '["/predict", "--model", "cnn"]'
image darkroom-demo-weak:1 predict '["/predict", "--model", "threshold"]'
image darkroom-demo-eval:1 evaluate '["/evaluate"]'
push_demo_images() {
  push darkroom-demo-baseline:1
  push darkroom-demo-weak:1
}
if [ -n "$only_demo" ]; then
  check_registry
  push_demo_images
  exit 0
fi
for mode in ok egress write-data fork-bomb memory-hog child-oom infinite-loop huge-output stdout-flood fake-score fail no-output \
  many-files deep unreadable slow noisy; do
  image "darkroom-test-hostile:$mode" hostile "[\"/hostile\", \"$mode\"]"
done
image darkroom-test-hostile:root hostile '["/hostile", "root"]' 0:0
image darkroom-test-hostile:volume hostile '["/hostile", "volume"]' 65534:65534 'VOLUME /scratch'
image darkroom-test-noentry:1 hostile ''
# A name of its own: participants may not submit the repository a challenge evaluates with.
image darkroom-test-eval:slow hostile '["/hostile", "slow-score"]'
image darkroom-test-eval:copy hostile '["/hostile", "copy-score"]'

check_registry
push_demo_images
for mode in ok egress write-data fork-bomb memory-hog child-oom infinite-loop huge-output stdout-flood fake-score fail no-output \
  many-files deep unreadable root volume slow noisy; do
  push "darkroom-test-hostile:$mode"
done
push darkroom-test-noentry:1

tests/cluster/node-image.sh
