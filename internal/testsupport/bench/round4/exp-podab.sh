#!/usr/bin/env bash
set -uo pipefail
W=$BENCH_WORK
ROUNDS=${XROUNDS:-6}
cfg=$W/keep-big.yaml
ms() { local s=$(date +%s%N); "$@" >/dev/null 2>&1 || echo "FAILED: $*" >&2; echo $(( ($(date +%s%N)-s)/1000000 )); }
clean() { docker rmi -f $(docker images -q --no-trunc 2>/dev/null | sort -u) >/dev/null 2>&1; docker image prune -af >/dev/null 2>&1; sync; }
export DOCKER_HOST=unix:///tmp/bench-engines/podman/podman.sock
for r in $(seq $ROUNDS); do
  clean; a=$(ms /tmp/vi-pod --config "$cfg" load -q --archive)
  clean; b=$(ms /tmp/vi-pod --config "$cfg" load -q)
  clean; d=$(ms docker load -i "$BENCH_ARCHIVE")
  clean; g=$(ms docker load -i "$BENCH_ARCHIVE_GZ")
  echo "podman round $r: --archive $a ms, pull route $b ms, docker-load-i-tar $d ms, docker-load-i-gz $g ms"
done
clean
