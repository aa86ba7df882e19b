#!/usr/bin/env bash
set -uo pipefail
W=$BENCH_WORK
ROUNDS=${XROUNDS:-5}
cfg=$W/keep-big.yaml
ms() { local s=$(date +%s%N); "$@" >/dev/null 2>&1 || echo "FAILED: $*" >&2; echo $(( ($(date +%s%N)-s)/1000000 )); }
clean() { docker rmi -f $(docker images -q --no-trunc 2>/dev/null | sort -u) >/dev/null 2>&1; docker image prune -af >/dev/null 2>&1; sync; }
for spec in $ENGINES; do
  en=${spec%%=*}; export DOCKER_HOST=${spec#*=}
  clean; VI_DUMP=$W/vi-plain.tar /tmp/vi-exp --config "$cfg" load -q; ls -la $W/vi-plain.tar; tar tvf $W/vi-plain.tar | head; tar tvf $BENCH_ARCHIVE | head
  for r in $(seq $ROUNDS); do
    clean; a=$(ms vendorimg --config "$cfg" load -q)
    clean; b=$(ms docker load -i "$W/vi-plain.tar")
    clean; d=$(ms docker load -i "$BENCH_ARCHIVE")
    echo "$en round $r: vendorimg load $a ms, docker load -i of vendorimg's archive $b ms, docker-load-i-tar $d ms"
  done
  clean
done
