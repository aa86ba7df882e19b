#!/usr/bin/env bash
ms() { local s=$(date +%s%N); "$@" >/dev/null 2>&1 || echo "FAILED: $*" >&2; echo $(( ($(date +%s%N)-s)/1000000 )); }
for r in 1 2 3 4 5; do echo "hash of big's blobs with Go on every core: $(ms benchtool hash $BENCH_WORK/keep-big/layout/blobs/sha256) ms; one core: $(ms taskset -c 0 benchtool hash $BENCH_WORK/keep-big/layout/blobs/sha256) ms"; done
