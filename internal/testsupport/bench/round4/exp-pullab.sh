#!/usr/bin/env bash
set -uo pipefail
W=$BENCH_WORK
ROUNDS=${XROUNDS:-5}
ms() { local s=$(date +%s%N); "$@" >/dev/null 2>&1 || echo "FAILED: $*" >&2; echo $(( ($(date +%s%N)-s)/1000000 )); }
clean() { docker rmi -f $(docker images -q --no-trunc 2>/dev/null | sort -u) >/dev/null 2>&1; docker image prune -af >/dev/null 2>&1; sync; }
export DOCKER_HOST=$CTR_HOST
NS="ip netns exec $CTR_NS"
for r in $(seq $ROUNDS); do
  clean; p=$(ms $NS /tmp/vi-new --config "$W/keep-big.yaml" load -q)
  clean; a=$(ms $NS /tmp/vi-new --config "$W/keep-big.yaml" load -q --archive)
  clean; o=$(ms /tmp/vi-old --config "$W/keep-big.yaml" load -q)
  clean; d=$(ms docker load -i "$BENCH_ARCHIVE")
  clean; g=$(ms docker load -i "$BENCH_ARCHIVE_GZ")
  echo "big round $r: pull-route $p ms, --archive $a ms, old $o ms, docker-load-i-tar $d ms, docker-load-i-gz $g ms"
done
if [ -f "$W/keep-scale20.yaml" ]; then
for r in $(seq 3); do
  clean; p=$(ms $NS /tmp/vi-new --config "$W/keep-scale20.yaml" load -q)
  clean; a=$(ms $NS /tmp/vi-new --config "$W/keep-scale20.yaml" load -q --archive)
  clean; p1=$(ms $NS /tmp/vi-new --config "$W/keep-scale1.yaml" load -q)
  clean; a1=$(ms $NS /tmp/vi-new --config "$W/keep-scale1.yaml" load -q --archive)
  echo "scale round $r: 20 pull-route $p ms, 20 --archive $a ms; 1 pull-route $p1 ms, 1 --archive $a1 ms"
done
fi
clean
