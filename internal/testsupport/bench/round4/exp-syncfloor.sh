#!/usr/bin/env bash
# Experiment: the floor of a fresh sync of big against this registry.
set -uo pipefail
W=$BENCH_WORK
ROUNDS=${XROUNDS:-9}
repo=${BENCH_REF_BIG#*/}; repo=${repo%%[:@]*}
lay=$W/keep-big/layout
mf=$(python3 -c "import json,sys;i=json.load(open('$lay/index.json'));print(i['manifests'][0]['digest'])")
blobs=$(python3 -c "
import json
m=json.load(open('$lay/blobs/sha256/'+'$mf'.split(':')[1]))
print(m['config']['digest'],*[l['digest'] for l in m['layers']])")
echo "repo $repo manifest $mf" >&2
ms() { local s=$(date +%s%N); "$@" >/dev/null 2>&1 || echo "FAILED: $*" >&2; echo $(( ($(date +%s%N)-s)/1000000 )); }
fresh() { rm -rf "$W/out"; mkdir -p "$W/out"; sync; }
curlall() { # every blob at once to /dev/null, no hashing, no files
  local pids=()
  for b in $blobs; do curl -sf -o /dev/null "http://$BENCH_HOST/v2/$repo/blobs/$b" & pids+=($!); done
  wait "${pids[@]}"
}
curlfiles() { # every blob at once into files, no hashing, no fsync
  local pids=() i=0
  for b in $blobs; do i=$((i+1)); curl -sf -o "$W/out/b$i" "http://$BENCH_HOST/v2/$repo/blobs/$b" & pids+=($!); done
  wait "${pids[@]}"
}
curlhash() { # every blob at once into files, hashed on the way (SHA-NI), no fsync
  local pids=() i=0
  for b in $blobs; do i=$((i+1)); (curl -sf "http://$BENCH_HOST/v2/$repo/blobs/$b" | tee "$W/out/b$i" | openssl dgst -sha256 >/dev/null) & pids+=($!); done
  wait "${pids[@]}"
}
for r in $(seq $ROUNDS); do
  fresh; v=$(ms vendorimg --config "$W/fresh-big.yaml" sync -q)
  fresh; c=$(ms crane pull --insecure --format=oci "$BENCH_REF_BIG" "$W/out/layout")
  fresh; d=$(ms curlall)
  fresh; f=$(ms curlfiles)
  fresh; h=$(ms curlhash)
  echo "round $r: vendorimg $v ms, crane $c ms, curl-to-null $d ms, curl-to-files $f ms, curl-hash-to-files $h ms"
done
