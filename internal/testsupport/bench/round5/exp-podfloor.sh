#!/usr/bin/env bash
# podman: vendorimg load of big, against podman's own pull of it from
# "vendorimg serve" on loopback asked by curl (the floor of load's pull
# route: the same pull, without vendorimg's /info, inspections, rehash,
# tag and removal of the temporary name), and "docker load -i" of the tar
# archive. PODMAN_SOCK is podman's socket.
set -uo pipefail
W=$BENCH_WORK
ROUNDS=${XROUNDS:-5}
cfg=$W/keep-big.yaml
name=$(grep -o 'bench/big[^"@ ]*' "$cfg" | head -1)
export DOCKER_HOST=unix://$PODMAN_SOCK
ms() { local s=$(date +%s%N); "$@" >/dev/null 2>&1 || echo "FAILED: $*" >&2; echo $(( ($(date +%s%N)-s)/1000000 )); }
clean() { docker rmi -f $(docker images -q --no-trunc 2>/dev/null | sort -u) >/dev/null 2>&1; docker image prune -af >/dev/null 2>&1; sync; }
port=$((5100 + RANDOM % 500))
vendorimg --config "$cfg" serve --addr 127.0.0.1:$port >/tmp/serve-podfloor.log 2>&1 &
spid=$!; sleep 1
pull() { curl -sf --unix-socket "$PODMAN_SOCK" -X POST "http://podman/v4.0.0/libpod/images/pull?reference=127.0.0.1:$port/$name&tlsVerify=false&quiet=true"; }
for r in $(seq $ROUNDS); do
  if [ $((r % 2)) = 0 ]; then
    clean; a=$(ms vendorimg --config "$cfg" load -q); clean; p=$(ms pull)
  else
    clean; p=$(ms pull); clean; a=$(ms vendorimg --config "$cfg" load -q)
  fi
  clean; d=$(ms docker load -i "$BENCH_ARCHIVE")
  echo "podman round $r: load $a ms, curl-pull $p ms, docker-load-i-tar $d ms"
done
clean
kill $spid; wait $spid 2>/dev/null
