"""pytest-vendorimg's hooks and its vendorimg_image fixture (the pytest11
entry point "vendorimg").

Switched on by ``vendorimg = true`` or ``vendorimg_config = PATH`` in the
ini file, or by ``--vendorimg``. Then:

- the first test that calls ``vendorimg_image(ref)`` runs ``vendorimg load``,
  once for the session, and once for all pytest-xdist workers (see
  shared.py);
- after the session, if anything was loaded, ``vendorimg verify --daemon``
  (with ``--deep`` when asked, which also exports each image from docker
  and rehashes it) checks that the layout and docker still hold the
  vendored images; a failure fails the run, with a terminal summary
  section naming each changed tag or blob;
- with ``--vendorimg-unload``, ``vendorimg unload`` then removes the tags
  load made. Nothing else is ever removed.
"""

import os
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

import pytest

from . import command, reference, report
from .command import Result
from .shared import Shared

# REQUIRE_DOCKER_ENV makes a docker engine required: when it is 1 (or true),
# a test that needs an image fails, instead of skipping, when none answers.
REQUIRE_DOCKER_ENV = "VENDORIMG_REQUIRE_DOCKER"

# The key of the shared folder in an xdist worker's workerinput.
_WORKERINPUT_KEY = "vendorimg_shared"

OFF_HINT = (
    "pytest-vendorimg is off: add 'vendorimg = true' to the [pytest] section of "
    "pytest.ini (or [tool.pytest.ini_options] in pyproject.toml), or run pytest --vendorimg"
)


@dataclass(frozen=True)
class Image:
    """A vendored image as docker holds it, for a test to run containers
    from: ``docker run --pull never {image.tag} ...``."""

    #: What to give docker: the tag vendorimg load made
    #: ("registry.vendorimg.test/probe:1", "alpine:3.19.1"), or the image ID
    #: for a reference with only a digest, which is loaded untagged.
    tag: str
    #: The image's ID in docker ("sha256:..."): the config digest with the
    #: classic image store, the manifest's digest with the containerd store.
    id: str
    #: The image's full reference in the layout ("docker.io/library/alpine:3.19.1").
    ref: str
    #: The vendored platform docker holds ("linux/amd64").
    platform: str

    def __str__(self) -> str:
        return self.tag


@dataclass(frozen=True)
class Settings:
    """What the ini file and the command line ask for."""

    enabled: bool
    #: The vendorimg flags that find vendorimg.yaml: --config FILE, or -C DIR
    #: (the nearest vendorimg.yaml upwards from DIR, like go.mod).
    location: List[str]
    deep: bool
    unload: bool

    @classmethod
    def from_config(cls, config: pytest.Config) -> "Settings":
        path = config.getini("vendorimg_config")
        if path:
            base = config.inipath.parent if config.inipath else config.rootpath
            location = ["--config", str((base / path).resolve())]
        else:
            location = ["-C", str(config.rootpath)]
        return cls(
            enabled=bool(config.getoption("vendorimg") or config.getini("vendorimg") or path),
            location=location,
            deep=bool(config.getoption("vendorimg_deep") or config.getini("vendorimg_deep")),
            unload=bool(config.getoption("vendorimg_unload") or config.getini("vendorimg_unload")),
        )

    def where(self) -> str:
        """Which vendorimg.yaml is used, for messages."""
        if self.location[0] == "--config":
            return self.location[1]
        return f"the nearest vendorimg.yaml upwards from {self.location[1]}"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("vendorimg", "vendored container images (pytest-vendorimg)")
    group.addoption(
        "--vendorimg",
        action="store_true",
        default=False,
        help="load the images of vendorimg.yaml into docker for the tests that ask for them "
        "(vendorimg_image), and verify them after the session (ini: vendorimg = true)",
    )
    group.addoption(
        "--vendorimg-deep",
        action="store_true",
        default=False,
        help="after the session, also decompress every layer and check it against its "
        "config's diff_ids, and export each loaded image from docker and rehash it "
        "(vendorimg verify --daemon --deep; ini: vendorimg_deep = true)",
    )
    group.addoption(
        "--vendorimg-unload",
        action="store_true",
        default=False,
        help="after the session, remove from docker the tags vendorimg load made, and their "
        "images when nothing else uses them (vendorimg unload; ini: vendorimg_unload = true)",
    )
    parser.addini("vendorimg", type="bool", default=False, help="switch pytest-vendorimg on")
    parser.addini(
        "vendorimg_config",
        default="",
        help="the vendorimg.yaml to use, relative to the ini file; switches pytest-vendorimg on "
        "(default: the nearest vendorimg.yaml upwards from the rootdir)",
    )
    parser.addini("vendorimg_deep", type="bool", default=False, help="as --vendorimg-deep")
    parser.addini("vendorimg_unload", type="bool", default=False, help="as --vendorimg-unload")


class Run:
    """pytest-vendorimg in one pytest process."""

    def __init__(self, config: pytest.Config):
        self.settings = Settings.from_config(config)
        found = command.executable()
        self.exe, self.exe_source = found.path, found.source
        workerinput = getattr(config, "workerinput", None)
        self.worker: Optional[str] = None
        self.shared: Optional[Shared] = None
        self.problem: Optional[str] = None
        if workerinput is None:
            self.shared = Shared.create() if self.settings.enabled else None
        else:
            self.worker = workerinput.get("workerid", "worker")
            folder = workerinput.get(_WORKERINPUT_KEY)
            if folder and Path(folder).is_dir():
                self.shared = Shared(Path(folder), owner=False)
            elif self.settings.enabled:
                self.problem = (
                    f"pytest-vendorimg: xdist worker {self.worker} cannot reach the run's shared "
                    f"folder {folder or '(none)'}: run the workers on this machine (-n N), "
                    "with pytest-vendorimg in the controller too"
                )
        self._load: Optional[Result] = None
        self._status: Optional[Result] = None
        self.lines: List[report.Line] = []
        self.failed = False

    def load(self) -> Result:
        """vendorimg load's result: run by the first process of the run
        that asks, read by the others."""
        if self._load is None:
            self._load = self.shared.once(
                "load",
                self.worker or "pytest",
                lambda: command.run(self.exe, self.settings.location, "load"),
            )
        return self._load

    def image(self, ref: str) -> Image:
        """The vendorimg_image fixture's function."""
        if not self.settings.enabled:
            pytest.fail(f"vendorimg_image({ref!r}): {OFF_HINT}", pytrace=False)
        if self.problem:
            pytest.fail(self.problem, pytrace=False)
        result = self.load()
        if not result.ok:
            self._load_failed(ref, result)
        want = reference.parse(ref)
        images = result.doc.get("images") or []
        found = next((im for im in images if im.get("ref") == want.key), None)
        if found is None:
            vendored = ", ".join(im.get("ref", "?") for im in images) or "none"
            pytest.fail(
                f"vendorimg_image({ref!r}): {want.key} is not vendored: it is not in "
                f"{self.settings.where()} (vendored: {vendored}); vendor it with vendorimg add {ref}",
                pytrace=False,
            )
        if want.tag and want.digest:
            self._check_pin(ref, want)
        return Image(
            tag=found.get("tag") or found["imageId"],
            id=found["imageId"],
            ref=found["ref"],
            platform=found.get("platform", ""),
        )

    def _load_failed(self, ref: str, result: Result) -> None:
        """Skips or fails the test that asked for ref, saying why."""
        why = "\n".join([f"{result.command()}: {result.message()}", *report.image_errors(result.doc)])
        if command.failure_kind(result) != command.ENGINE_UNREACHABLE:
            pytest.fail(f"vendorimg_image({ref!r}): {why}", pytrace=False)
        try:
            required = require_docker()
        except ValueError as err:
            pytest.fail(str(err), pytrace=False)
        if required:
            pytest.fail(
                f"{REQUIRE_DOCKER_ENV}=1 requires a docker engine, and none answers: {why}",
                pytrace=False,
            )
        pytest.skip(f"{why} (set {REQUIRE_DOCKER_ENV}=1 to make this an error)")

    def _check_pin(self, ref: str, want: reference.Reference) -> None:
        """Fails unless ref's digest is the pin of its image (vendorimg
        status tells the pins)."""
        if self._status is None:
            self._status = command.run(self.exe, self.settings.location, "status")
        status = self._status
        if not status.ok:
            pytest.fail(f"vendorimg_image({ref!r}): {status.command()}: {status.message()}", pytrace=False)
        pin = next((im.get("digest") for im in status.doc.get("images") or [] if im.get("name") == want.key), None)
        if pin != want.digest:
            pytest.fail(
                f"vendorimg_image({ref!r}): {want.key} is pinned to {pin} in {self.settings.where()}, "
                f"not {want.digest}",
                pytrace=False,
            )

    def finish(self, session: pytest.Session) -> None:
        """After the session: verify, and unload if asked, when this process
        started the run and anything was loaded."""
        stored = self.shared.get("load")
        if stored is None:
            self.lines.append(("vendorimg: no test asked for a vendored image; nothing loaded or verified", False))
            return
        if self.exe:
            self.lines.append((f"vendorimg: {self.exe} ({self.exe_source})", False))
        if session.exitstatus not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            status = getattr(session.exitstatus, "name", session.exitstatus)
            self.lines.append((f"vendorimg: the session ended with {status}; not verified", True))
            return
        loaded, by = stored
        by = f" (in {by}, once for all workers)" if by != "pytest" else ""
        daemon = loaded.ok
        if loaded.ok:
            self.lines.extend(report.load(loaded, by))
        elif command.failure_kind(loaded) == command.ENGINE_UNREACHABLE:
            self.lines.append((f"vendorimg load{by}: {loaded.message()}; docker not checked", False))
        else:
            self.lines.append((f"vendorimg load{by} FAILED: {loaded.message()}; docker not checked", True))
            self.lines.extend((text, True) for text in report.image_errors(loaded.doc))
        args = ["verify", *(["--daemon"] if daemon else []), *(["--deep"] if self.settings.deep else [])]
        lines, ok = report.verify(command.run(self.exe, self.settings.location, *args), " ".join(args))
        self.lines.extend(lines)
        self.failed = not ok
        if self.settings.unload and loaded.ok:
            lines, ok = report.unload(command.run(self.exe, self.settings.location, "unload"))
            self.lines.extend(lines)
            self.failed = self.failed or not ok
        if self.failed and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def require_docker() -> bool:
    """Reads REQUIRE_DOCKER_ENV, as vendorimgtest does (Go's ParseBool)."""
    value = os.environ.get(REQUIRE_DOCKER_ENV, "")
    if value in ("", "0", "f", "F", "false", "FALSE", "False"):
        return False
    if value in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    raise ValueError(f"{REQUIRE_DOCKER_ENV}={value!r}: want 1 or 0")


_run_key = pytest.StashKey[Run]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_run_key] = Run(config)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """pytest-xdist: hands the run's shared folder to each worker."""
    run = node.config.stash.get(_run_key, None)
    if run is not None and run.shared is not None:
        node.workerinput[_WORKERINPUT_KEY] = str(run.shared.folder)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    # trylast: after pytest's own sessionfinish has torn down every fixture.
    run = session.config.stash.get(_run_key, None)
    if run is not None and run.shared is not None and run.shared.owner:
        run.finish(session)


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    run = config.stash.get(_run_key, None)
    if run is None or not run.lines:
        return
    terminalreporter.write_sep("=", "vendorimg", red=run.failed)
    for text, bad in run.lines:
        terminalreporter.write_line(text, red=bad)


def pytest_unconfigure(config: pytest.Config) -> None:
    run = config.stash.get(_run_key, None)
    if run is not None and run.shared is not None:
        run.shared.remove()


@pytest.fixture(scope="session")
def vendorimg_image(pytestconfig: pytest.Config):
    """A function, ``vendorimg_image(ref) -> Image``, that returns the docker
    tag (``.tag``) and ID (``.id``) of the vendored image ref names, written
    as in vendorimg.yaml or short ("alpine:3.19.1" for
    "docker.io/library/alpine:3.19.1"), optionally with its pinned digest.

    Its first call in the run loads the images of vendorimg.yaml into docker
    (vendorimg load). It skips the test, saying why, when no docker engine
    answers (it fails instead when VENDORIMG_REQUIRE_DOCKER=1), and fails
    it when the load failed or ref is not vendored.
    """
    return pytestconfig.stash[_run_key].image
