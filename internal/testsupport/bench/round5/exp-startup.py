#!/usr/bin/env python3
"""Start-up: interleaved runs of each command given, in turn, N times;
prints the median, the 10th and 90th percentiles of each in ms, and each
median over the first command's (the reference).

  exp-startup.py N 'crane version' '/tmp/vi-old --version' '/tmp/vi-new --version' ...

A command runs with its output discarded; one that fails is reported.
"""
import shlex
import statistics
import subprocess
import sys
import time


def main():
    n = int(sys.argv[1])
    cmds = [shlex.split(c) for c in sys.argv[2:]]
    times = [[] for _ in cmds]
    for _ in range(n):
        for j, c in enumerate(cmds):
            t = time.perf_counter()
            r = subprocess.run(c, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times[j].append(time.perf_counter() - t)
            if r.returncode != 0:
                sys.exit("FAILED (%d): %s" % (r.returncode, " ".join(c)))
    ref = statistics.median(times[0])
    for c, ts in zip(cmds, times):
        q = statistics.quantiles(ts, n=10)
        m = statistics.median(ts)
        print("%8.2f ms  (p10 %6.2f, p90 %6.2f)  %5.2f x  %s" % (m * 1e3, q[0] * 1e3, q[-1] * 1e3, m / ref, " ".join(c)))


if __name__ == "__main__":
    main()
