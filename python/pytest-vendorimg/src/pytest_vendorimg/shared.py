"""State one test run's processes share: the pytest-xdist controller and its
workers, or a single pytest process.

The process that starts the run (the controller, or pytest alone) makes a
folder in the temporary directory and hands it to each worker. The first
process that needs the images takes an exclusive flock on a file in that
folder, as vendorimgtest does for the engine, loads them, and writes what
vendorimg reported next to it; every later process waits for the lock and
reads that instead of loading again. The starting process verifies at the
end, if anything was loaded, and removes the folder.
"""

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable, List, Optional, Tuple

from .command import Result


class Shared:
    """The run's shared folder."""

    def __init__(self, folder: Path, owner: bool):
        self.folder = folder
        self.owner = owner

    @classmethod
    def create(cls) -> "Shared":
        """Makes a new folder for a run this process starts."""
        return cls(Path(tempfile.mkdtemp(prefix="pytest-vendorimg-")), owner=True)

    def once(self, name: str, by: str, compute: Callable[[], Result]) -> Result:
        """The result of compute() run by whichever process of the run asked
        for name first (by names this process: "gw0", or "pytest"); the
        others wait for it and get the same result."""
        import fcntl  # vendorimg itself needs flock: Linux and macOS.

        path = self.folder / f"{name}.json"
        with open(self.folder / "lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                if path.exists():
                    return self._read(path)[0]
                result = compute()
                tmp = path.with_suffix(".tmp")
                tmp.write_text(json.dumps({"by": by, "result": result.to_json()}))
                os.replace(tmp, path)
                return result
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def get(self, name: str) -> Optional[Tuple[Result, str]]:
        """What once stored under name and which process ran it, or None."""
        path = self.folder / f"{name}.json"
        if not path.exists():
            return None
        return self._read(path)

    def append(self, name: str, record: dict) -> None:
        """Appends record to the run's list name (one line, in one write:
        appends of the run's processes do not interleave)."""
        fd = os.open(self.folder / f"{name}.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (json.dumps(record) + "\n").encode())
        finally:
            os.close(fd)

    def records(self, name: str) -> List[dict]:
        """The records appended to name, in order."""
        path = self.folder / f"{name}.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    @staticmethod
    def _read(path: Path) -> Tuple[Result, str]:
        obj = json.loads(path.read_text())
        return Result.from_json(obj["result"]), obj["by"]

    def remove(self) -> None:
        """Removes the folder, if this process made it."""
        if self.owner:
            shutil.rmtree(self.folder, ignore_errors=True)
