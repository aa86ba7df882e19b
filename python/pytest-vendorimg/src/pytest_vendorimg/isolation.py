"""Per-test isolation: the check after each test (vendorimg watch, one
long-lived process per pytest process), the engine lock that xdist workers
share, and the record of which test ran when, to name the culprit of a
change.

- Helper runs ``vendorimg watch --json`` and speaks JSON lines with it: a
  check costs a stat per layout file and, when nothing changed, one short
  request to the engine (dockerd's event log) or none (podman's image
  store file), in that process; the image list only after a change.
- EngineLock is a flock on a file in the run's shared folder: tests that
  use vendored images hold it shared, a test marked
  ``@pytest.mark.vendorimg_exclusive`` holds it exclusive, so it runs while
  no other worker runs such a test.
- TestLog is an append-only file in the shared folder where each xdist
  worker writes when each test starts and ends; when a check finds a
  change, the tests of other workers that ran at the time of the change
  (the engine's events tell it, else the window since the previous check)
  are the other candidates.
"""

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from .command import NOT_FOUND


class HelperError(Exception):
    """vendorimg watch could not start or stopped answering."""


class Helper:
    """A running ``vendorimg watch``."""

    def __init__(self, exe: Optional[str], location: List[str]):
        if exe is None:
            raise HelperError(NOT_FOUND)
        argv = [exe, "watch", "--json", *location]
        # stderr goes to a file, not a pipe nobody reads until the end: a
        # full pipe would stop the watch.
        self.stderr = tempfile.TemporaryFile(mode="w+")
        try:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, text=True, bufsize=1
            )
        except OSError as err:
            self.stderr.close()
            raise HelperError(f"running {exe}: {err}") from err
        self.ready = self._read()
        if not self.ready.get("ready"):
            err = self.ready.get("error") or "no ready line"
            self.close()
            raise HelperError(f"vendorimg watch: {err}")

    def _read(self) -> Dict[str, Any]:
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            self.stderr.seek(0)
            stderr = self.stderr.read()
            raise HelperError(f"vendorimg watch stopped: {stderr.strip() or 'no output'}")
        return json.loads(line)

    def request(self, **req: Any) -> Dict[str, Any]:
        """Sends one request and returns its answer."""
        try:
            self.proc.stdin.write(json.dumps(req) + "\n")
            self.proc.stdin.flush()
        except OSError as err:
            raise HelperError(f"vendorimg watch stopped: {err}") from err
        return self._read()

    def close(self) -> None:
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        self.proc.wait()
        self.proc.stdout.close()
        self.stderr.close()


class EngineLock:
    """The run's engine lock (a flock on a file in its shared folder)."""

    def __init__(self, folder: Path):
        self.path = folder / "engine.lock"
        self.fd: Optional[int] = None

    def acquire(self, exclusive: bool) -> None:
        import fcntl

        if self.fd is None:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self.fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)

    def release(self) -> None:
        import fcntl

        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)


class TestLog:
    """When each test of each worker started and ended."""

    __test__ = False  # not a test class

    def __init__(self, folder: Path, worker: str):
        self.path = folder / "tests.log"
        self.worker = worker
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def start(self, nodeid: str, at: float) -> None:
        os.write(self.fd, (json.dumps({"w": self.worker, "t": nodeid, "s": at}) + "\n").encode())

    def end(self, nodeid: str, at: float) -> None:
        os.write(self.fd, (json.dumps({"w": self.worker, "t": nodeid, "e": at}) + "\n").encode())

    def others(self, times: List[Tuple[float, float]]) -> List[str]:
        """The tests of other workers that ran during any of times (each
        a (from, to) window), as "nodeid (gwN)"."""
        runs: Dict[Tuple[str, str], List[float]] = {}
        with open(self.path) as f:
            for line in f:
                rec = json.loads(line)
                key = (rec["w"], rec["t"])
                if "s" in rec:
                    runs[key] = [rec["s"], float("inf")]
                elif key in runs:
                    runs[key][1] = rec["e"]
        out = []
        for (worker, nodeid), (start, end) in runs.items():
            if worker == self.worker:
                continue
            if any(start <= to and end >= since for since, to in times):
                out.append(f"{nodeid} ({worker})")
        return out


def timestamp(s: str) -> float:
    """Seconds since the epoch of an RFC 3339 time with up to nanoseconds,
    as Go writes it ("2026-12-07T17:26:23.835439453Z")."""
    from datetime import datetime

    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    main, _, zone = s.partition("+") if "+" in s[19:] else (s, "", "")
    zone = "+" + zone if zone else ""
    if "." in main:
        head, frac = main.split(".", 1)
        main = f"{head}.{frac[:6]}"
    return datetime.fromisoformat(main + zone).timestamp()


def short(image_id: Optional[str]) -> str:
    return image_id[: len("sha256:") + 12] if image_id else "-"


def describe(rep: Dict[str, Any]) -> List[str]:
    """The lines that say what a check found, what the engine's events
    say did it, and what was put back."""
    lines = []
    for f in rep.get("tags") or []:
        lines.append(f"{f['tag']}: {f['kind']}: {f['message']}")
    for c in rep.get("layout") or []:
        if c.get("restored"):
            continue
        if c.get("actual"):
            lines.append(f"layout {c['path']}: changed: hashes to {c['actual']}, not {c['expected']}")
        else:
            lines.append(f"layout {c['path']}: removed (it should hash to {c['expected']})")
    events = rep.get("events") or []
    if events:
        lines.append("what the engine's events say did it:")
        for e in events:
            lines.append(f"  {e['text']} at {e['time'][11:23]}")
    elif rep.get("tags"):
        why = rep.get("eventsError") or "no event about these images in that time"
        lines.append(f"the engine's events do not say what did it ({why})")
    for r in rep.get("restored") or []:
        what = r.get("tag") or f"layout {r.get('path')}"
        if r.get("error"):
            lines.append(f"not restored: {what}: {r['error']}")
            continue
        line = f"restored: {what}: {r['action']}"
        if r.get("displaced"):
            line += f"; the image it pointed to, {short(r['displaced'])}: {r.get('displacedAction')}"
        lines.append(line)
    return lines


def change_times(rep: Dict[str, Any], started: float) -> List[Tuple[float, float]]:
    """When the change happened: at each event's time, else at some time
    between the test's start and the check. (A test of another worker that
    ended before this one started was checked at its own end, after any
    change it made: that check reported and restored it, so it is not a
    candidate.)"""
    events = rep.get("events") or []
    if events:
        return [(timestamp(e["time"]), timestamp(e["time"])) for e in events]
    return [(max(started, timestamp(rep["since"])), timestamp(rep["until"]))]


def now() -> float:
    return time.time()
