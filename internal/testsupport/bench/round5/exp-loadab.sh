#!/usr/bin/env bash
# Load of big: the previous build (/tmp/vi-old) against this one
# (/tmp/vi-new), interleaved, with "docker load -i" of the tar archive, on
# each engine of ENGINES ("name=DOCKER_HOST ...").
set -uo pipefail
W=$BENCH_WORK
ROUNDS=${XROUNDS:-6}
cfg=$W/keep-big.yaml
ms() { local s=$(date +%s%N); "$@" >/dev/null 2>&1 || echo "FAILED: $*" >&2; echo $(( ($(date +%s%N)-s)/1000000 )); }
clean() { docker rmi -f $(docker images -q --no-trunc 2>/dev/null | sort -u) >/dev/null 2>&1; docker image prune -af >/dev/null 2>&1; sync; }
for spec in $ENGINES; do
  en=${spec%%=*}; export DOCKER_HOST=${spec#*=}
  for r in $(seq $ROUNDS); do
    if [ $((r % 2)) = 0 ]; then
      clean; a=$(ms /tmp/vi-old --config "$cfg" load -q); clean; b=$(ms /tmp/vi-new --config "$cfg" load -q)
    else
      clean; b=$(ms /tmp/vi-new --config "$cfg" load -q); clean; a=$(ms /tmp/vi-old --config "$cfg" load -q)
    fi
    clean; d=$(ms docker load -i "$BENCH_ARCHIVE")
    echo "$en round $r: old $a ms, new $b ms, docker-load-i-tar $d ms"
  done
  clean
done
