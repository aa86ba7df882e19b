#!/usr/bin/env bash
# Experiment: load of big vs docker load -i vs the engine pulling from vendorimg serve on loopback.
set -uo pipefail
W=$BENCH_WORK
ROUNDS=${XROUNDS:-5}
cfg=$W/keep-big.yaml
name=$(grep -o 'bench/big[^"@ ]*' "$cfg" | head -1)
echo "ref $BENCH_REF_BIG name $name" >&2
ms() { local s=$(date +%s%N); "$@" >/dev/null 2>&1 || echo "FAILED: $*" >&2; echo $(( ($(date +%s%N)-s)/1000000 )); }
clean() { docker rmi -f $(docker images -q --no-trunc 2>/dev/null | sort -u) >/dev/null 2>&1; docker image prune -af >/dev/null 2>&1; sync; }
for spec in $ENGINES; do
  en=${spec%%=*}; host=${spec#*=}; ns=${spec##*@}; [ "$ns" = "$spec" ] && ns=""; host=${host%@*}
  export DOCKER_HOST=$host
  port=$((5100 + RANDOM % 500))
  if [ -n "$ns" ]; then ip netns exec "$ns" vendorimg --config "$cfg" serve --addr 127.0.0.1:$port >/tmp/serve-$en.log 2>&1 & else vendorimg --config "$cfg" serve --addr 127.0.0.1:$port >/tmp/serve-$en.log 2>&1 & fi
  spid=$!; sleep 1
  for r in $(seq $ROUNDS); do
    clean; a=$(ms vendorimg --config "$cfg" load -q)
    clean; b=$(ms docker load -i "$BENCH_ARCHIVE_GZ")
    clean; c=$(ms docker pull -q 127.0.0.1:$port/$name)
    echo "$en round $r: load $a ms, docker-load-i $b ms, pull-from-serve $c ms"
  done
  clean
  kill $spid; wait $spid 2>/dev/null
done
