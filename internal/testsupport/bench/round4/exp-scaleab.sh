#!/usr/bin/env bash
set -uo pipefail
W=$BENCH_WORK
ROUNDS=${XROUNDS:-3}
ms() { local s=$(date +%s%N); "$@" >/dev/null 2>&1 || echo "FAILED: $*" >&2; echo $(( ($(date +%s%N)-s)/1000000 )); }
clean() { docker rmi -f $(docker images -q --no-trunc 2>/dev/null | sort -u) >/dev/null 2>&1; docker image prune -af >/dev/null 2>&1; sync; }
for spec in $ENGINES; do
  en=${spec%%=*}; export DOCKER_HOST=${spec#*=}
  for r in $(seq $ROUNDS); do
    clean; o20=$(ms /tmp/vi-old --config "$W/keep-scale20.yaml" load -q)
    clean; n20=$(ms /tmp/vi-new --config "$W/keep-scale20.yaml" load -q)
    clean; o1=$(ms /tmp/vi-old --config "$W/keep-scale1.yaml" load -q)
    clean; n1=$(ms /tmp/vi-new --config "$W/keep-scale1.yaml" load -q)
    echo "$en round $r: 20 images old $o20 new $n20 ms; 1 image old $o1 new $n1 ms"
  done
  clean
done
