"""Running the vendorimg command, with --json, and reading what it printed.

The plugin never parses vendorimg's human output: every run has --json, and
a run is understood from its exit code and its one JSON document on stdout.
vendorimg prints that document also when it fails, of the form
{"error": "message", "kind": "engine-unreachable" | "not-found" |
"verify-failed" | ...}, with exit code 1. A vendorimg from before that
contract prints nothing on stdout when it fails; then the message is its
stderr, and failure_kind recognises the one kind the plugin branches on.
"""

import importlib.metadata
import json
import os
import shutil
import subprocess
from typing import Any, List, NamedTuple, Optional

# VENDORIMG_ENV names the vendorimg executable to run when this Python
# environment has none of its own.
VENDORIMG_ENV = "VENDORIMG"

# BINARY_DIST is the distribution whose wheels carry the vendorimg binary
# (pytest-vendorimg's release wheels depend on it).
BINARY_DIST = "vendorimg"

# The kinds of failure the plugin branches on (the "kind" of vendorimg's
# error document).
ENGINE_UNREACHABLE = "engine-unreachable"
VERIFY_FAILED = "verify-failed"

# What vendorimg's error says when no docker engine answers (the text of
# its errs.ErrNoEngine), for a vendorimg that prints no error document.
_NO_ENGINE_TEXT = "no docker engine"

# vendorimg works from the local disk and socket; this bounds a hung engine,
# not a normal run (under a second for small images).
TIMEOUT = 600


class Result(NamedTuple):
    """One vendorimg run: its arguments, exit code (-1 when it could not
    run), the JSON document it printed (None if none) and its stderr."""

    args: List[str]
    code: int
    doc: Any
    stderr: str

    @property
    def ok(self) -> bool:
        """Whether vendorimg exited 0 with a document."""
        return self.code == 0 and self.doc is not None

    def command(self) -> str:
        """The command, for messages: "vendorimg load", "vendorimg verify --daemon"."""
        args = self.args[: self.args.index("--json")] if "--json" in self.args else self.args
        return " ".join(["vendorimg", *args])

    def message(self) -> str:
        """What went wrong, in vendorimg's words: the error document's
        "error", else stderr without vendorimg's "vendorimg: " prefix."""
        if isinstance(self.doc, dict) and self.doc.get("error"):
            return str(self.doc["error"])
        text = self.stderr.strip()
        if text.startswith("vendorimg: "):
            text = text[len("vendorimg: ") :]
        return text or f"exited {self.code} with no message"

    def to_json(self) -> dict:
        """The result as a JSON object, to share it with xdist workers."""
        return self._asdict()

    @classmethod
    def from_json(cls, obj: dict) -> "Result":
        return cls(**obj)


def failure_kind(result: Result) -> Optional[str]:
    """The kind of a failed run: its error document's "kind", else (a
    vendorimg that prints no error document) ENGINE_UNREACHABLE when its
    message says no engine answers, else None."""
    if result.ok:
        return None
    if isinstance(result.doc, dict) and result.doc.get("kind"):
        return str(result.doc["kind"])
    if _NO_ENGINE_TEXT in result.stderr:
        return ENGINE_UNREACHABLE
    return None


class Executable(NamedTuple):
    """The vendorimg the plugin runs (path None when there is none) and
    where it was found, for the summary: "this environment's (vendorimg
    VERSION wheel)", "$VENDORIMG" or "PATH"."""

    path: Optional[str]
    source: str


def environment_binary() -> Optional[Executable]:
    """The vendorimg binary of this Python environment: the one the
    vendorimg distribution (a wheel that carries it) installed into the
    environment's scripts folder, found through the distribution's
    RECORD, else None."""
    try:
        dist = importlib.metadata.distribution(BINARY_DIST)
    except importlib.metadata.PackageNotFoundError:
        return None
    for file in dist.files or []:
        if file.name in ("vendorimg", "vendorimg.exe") and file.parent.name in ("bin", "Scripts"):
            path = os.path.normpath(str(dist.locate_file(file)))
            if os.path.isfile(path) and os.access(path, os.X_OK):
                return Executable(path, f"this environment's, from the {BINARY_DIST} {dist.version} wheel")
    return None


def executable() -> Executable:
    """The vendorimg to run: this environment's (environment_binary),
    else $VENDORIMG, else vendorimg on PATH; path None when none is."""
    found = environment_binary()
    if found is not None:
        return found
    if os.environ.get(VENDORIMG_ENV):
        return Executable(os.environ[VENDORIMG_ENV], f"${VENDORIMG_ENV}")
    return Executable(shutil.which("vendorimg"), "PATH")


NOT_FOUND = (
    "vendorimg is not on PATH: install it "
    f"(pip install {BINARY_DIST}, or go install github.com/vendorimg/vendorimg/cmd/vendorimg@latest "
    "github.com/vendorimg/vendorimg/cmd/vendorimg-sigverify@latest) "
    f"or set {VENDORIMG_ENV} to its path"
)


def run(exe: Optional[str], location: List[str], *args: str) -> Result:
    """Runs exe with args, --json and the location flags (-C DIR or
    --config FILE). A vendorimg that cannot be started is a Result with
    code -1 and the reason as its stderr."""
    argv = [*args, "--json", *location]
    if exe is None:
        return Result(argv, -1, None, NOT_FOUND)
    try:
        proc = subprocess.run(
            [exe, *argv], capture_output=True, text=True, timeout=TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        return Result(argv, -1, None, f"running {exe}: {err}")
    try:
        doc = json.loads(proc.stdout) if proc.stdout.strip() else None
    except json.JSONDecodeError:
        doc = None
    return Result(argv, proc.returncode, doc, proc.stderr)
