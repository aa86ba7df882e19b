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
- after every test, once the images are loaded (or after those that use
  vendorimg_image only: ``vendorimg_check = fixture``), a check through
  one long-lived ``vendorimg watch`` per process (isolation.py): a test
  that moved or removed a loaded image's tag, removed the image or changed
  a layout file fails at its teardown, named, with what the engine's
  events say did it, and the vendored image is put back before the next
  test (unless ``--vendorimg-no-restore``); the summary lists every such
  test. Tests marked ``vendorimg_exclusive`` run while no other xdist
  worker runs a test that uses the images;
- with ``--vendorimg-unload``, ``vendorimg unload`` then removes the tags
  load made. Nothing else is ever removed.
"""

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

import pytest

from . import command, isolation, reference, report
from .command import Result
from .shared import Shared

# How the check after each test is chosen (--vendorimg-check, ini
# vendorimg_check).
CHECK_ALL = "all"
CHECK_FIXTURE = "fixture"
CHECK_OFF = "off"
CHECK_MODES = (CHECK_ALL, CHECK_FIXTURE, CHECK_OFF)

EXCLUSIVE_MARKER = "vendorimg_exclusive"

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
    #: CHECK_ALL: every test once images were loaded; CHECK_FIXTURE: the
    #: tests that use vendorimg_image; CHECK_OFF: none.
    check: str
    #: Keep a change for debugging instead of restoring the vendored image.
    no_restore: bool

    @classmethod
    def from_config(cls, config: pytest.Config) -> "Settings":
        path = config.getini("vendorimg_config")
        if path:
            base = config.inipath.parent if config.inipath else config.rootpath
            location = ["--config", str((base / path).resolve())]
        else:
            location = ["-C", str(config.rootpath)]
        check = config.getoption("vendorimg_check") or config.getini("vendorimg_check") or CHECK_ALL
        if check not in CHECK_MODES:
            raise pytest.UsageError(f"vendorimg_check = {check!r}: want one of {', '.join(CHECK_MODES)}")
        return cls(
            enabled=bool(config.getoption("vendorimg") or config.getini("vendorimg") or path),
            location=location,
            deep=bool(config.getoption("vendorimg_deep") or config.getini("vendorimg_deep")),
            unload=bool(config.getoption("vendorimg_unload") or config.getini("vendorimg_unload")),
            check=check,
            no_restore=bool(config.getoption("vendorimg_no_restore") or config.getini("vendorimg_no_restore")),
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
    group.addoption(
        "--vendorimg-check",
        choices=CHECK_MODES,
        default=None,
        help="which tests are checked after they ran: all (every test once the images are loaded; "
        "the default), fixture (those that use vendorimg_image), off (ini: vendorimg_check)",
    )
    group.addoption(
        "--vendorimg-no-restore",
        action="store_true",
        default=False,
        help="after a test changed a vendored image, leave the change for debugging instead of "
        "putting the vendored image back (ini: vendorimg_no_restore = true)",
    )
    parser.addini("vendorimg", type="bool", default=False, help="switch pytest-vendorimg on")
    parser.addini("vendorimg_check", default="", help="as --vendorimg-check")
    parser.addini("vendorimg_no_restore", type="bool", default=False, help="as --vendorimg-no-restore")
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
        # Per-test isolation (see isolation.py).
        self.helper: Optional[isolation.Helper] = None
        self.helper_error: Optional[str] = None
        self.lock = isolation.EngineLock(self.shared.folder) if self.shared else None
        self.log = isolation.TestLog(self.shared.folder, self.worker) if self.shared and self.worker else None
        self.own_tags: List[str] = []
        #: When the current test started (time.time()).
        self.started = 0.0
        #: How many tests asked for an image, and how many were checked.
        self.used = 0
        self.checked = 0
        self._used_by_current = False

    def load(self) -> Result:
        """vendorimg load's result: run by the first process of the run
        that asks, read by the others. The process that loads also checks
        the layout at once (vendorimg verify), so that the summary can
        tell what was wrong before the session from what changed during
        it."""
        if self._load is None:
            by = self.worker or "pytest"
            self._load = self.shared.once("load", by, lambda: command.run(self.exe, self.settings.location, "load"))
            if self._load.ok:
                args = ["verify", *(["--deep"] if self.settings.deep else [])]
                self.shared.once("before", by, lambda: command.run(self.exe, self.settings.location, *args))
        return self._load

    def loaded(self) -> bool:
        """Whether the run's load succeeded (in any process)."""
        if self._load is None:
            stored = self.shared.get("load") if self.shared else None
            if stored is None:
                return False
            self._load = stored[0]
        return self._load.ok

    def watcher(self) -> isolation.Helper:
        """This process's vendorimg watch, started on first use."""
        if self.helper is None:
            if self.helper_error:
                raise isolation.HelperError(self.helper_error)
            try:
                self.helper = isolation.Helper(self.exe, self.settings.location)
            except isolation.HelperError as err:
                self.helper_error = str(err)
                raise
        return self.helper

    def begin_test(self, item: pytest.Item) -> float:
        """Before a test: takes the engine lock (exclusive for a test
        marked vendorimg_exclusive) and notes when it started."""
        self.lock.acquire(item.get_closest_marker(EXCLUSIVE_MARKER) is not None)
        self.started = isolation.now()
        if self.log:
            self.log.start(item.nodeid, self.started)
        if self.helper is None and self.helper_error is None and self.loaded():
            # Started before the test runs, so that its baseline is not
            # what the test did.
            try:
                self.watcher()
            except isolation.HelperError:
                pass  # reported by the check after the test
        return self.started

    def end_test(self, item: pytest.Item) -> Optional[str]:
        """After a test: the check, when it is due, then the test's own tags
        removed, then the lock released. Returns the teardown error's
        message, or None."""
        try:
            message = None
            due = self.settings.check == CHECK_ALL or self._used_by_current
            if due and self.loaded():
                message = self._check(item)
            for tag in self.own_tags:
                try:
                    self.watcher().request(op="untag", tag=tag)
                except isolation.HelperError:
                    pass
            self.own_tags = []
            return message
        finally:
            if self.log:
                self.log.end(item.nodeid, isolation.now())
            self.lock.release()

    def _check(self, item: pytest.Item) -> Optional[str]:
        try:
            rep = self.watcher().request(op="check", restore=not self.settings.no_restore, since=self.started)
        except isolation.HelperError as err:
            return f"vendorimg: cannot check the vendored images after this test: {err}"
        self.checked += 1
        if rep.get("error"):
            return f"vendorimg: checking the vendored images after this test: {rep['error']}"
        if rep.get("ok"):
            return None
        if not rep.get("tags") and rep.get("layout"):
            # A layout file that cannot be put back is seen by every
            # worker's watch: only the first to see it reports it.
            seen = {tuple(p) for c in self.shared.records("culprits") for p in c.get("layout", [])}
            rep["layout"] = [c for c in rep["layout"] if (c["path"], c.get("actual", "")) not in seen]
            if all(c.get("restored") for c in rep["layout"]):
                return None
        lines = isolation.describe(rep)
        others = self.log.others(isolation.change_times(rep, self.started)) if self.log else []
        if others:
            head = (
                "vendorimg: a vendored image changed while this test ran, and so did "
                + ", ".join(others)
                + " on another worker: it cannot be pinned to one test (mark the test that changes "
                "images on purpose @pytest.mark.vendorimg_exclusive):"
            )
        else:
            head = "vendorimg: this test changed a vendored image:"
        if self.settings.no_restore:
            lines.append("not restored (--vendorimg-no-restore): later tests see the change")
        layout = [[c["path"], c.get("actual", "")] for c in rep.get("layout") or [] if not c.get("restored")]
        record = {"test": item.nodeid, "worker": self.worker or "", "others": others, "lines": lines, "layout": layout}
        self.shared.append("culprits", record)
        return "\n".join([head, *("  " + line for line in lines)])

    def own_tag(self, found: dict) -> str:
        """A tag of the current test's own on the vendored image found."""
        try:
            answer = self.watcher().request(op="tag", ref=found["ref"], token=f"t{os.getpid()}-{len(self.own_tags)}-{self.checked}")
        except isolation.HelperError as err:
            pytest.fail(f"vendorimg_image({found['ref']!r}, own_tag=True): {err}", pytrace=False)
        if answer.get("error"):
            pytest.fail(f"vendorimg_image({found['ref']!r}, own_tag=True): {answer['error']}", pytrace=False)
        self.own_tags.append(answer["tag"])
        return answer["tag"]

    def image(self, ref: str, own_tag: bool = False) -> Image:
        """The vendorimg_image fixture's function."""
        if not self.settings.enabled:
            pytest.fail(f"vendorimg_image({ref!r}): {OFF_HINT}", pytrace=False)
        if self.problem:
            pytest.fail(self.problem, pytrace=False)
        result = self.load()
        if not result.ok:
            self._load_failed(ref, result)
        if self.helper is None and self.helper_error is None and self.settings.check != CHECK_OFF:
            # Before the test goes on to change anything.
            try:
                self.watcher()
            except isolation.HelperError:
                pass  # reported by the check after the test
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
        if not self._used_by_current:
            self._used_by_current = True
            self.used += 1
        if own_tag:
            return Image(tag=self.own_tag(found), id=found["imageId"], ref=found["ref"], platform=found.get("platform", ""))
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

    def counts(self) -> None:
        """At the end of this process: what it counted, for the summary."""
        self.shared.append("counts", {"used": self.used, "checked": self.checked})

    def finish(self, session: pytest.Session) -> None:
        """After the session: verify, and unload if asked, when this process
        started the run and anything was loaded."""
        used = sum(c.get("used", 0) for c in self.shared.records("counts"))
        checked = sum(c.get("checked", 0) for c in self.shared.records("counts"))
        self.lines.append((f"vendorimg: {used} {'test' if used == 1 else 'tests'} used vendored images; "
                           f"{checked} checked after they ran"
                           + ("" if self.settings.check != CHECK_OFF else " (vendorimg_check = off)"), False))
        culprits = self.shared.records("culprits")
        if culprits:
            self.failed = True
            restored = "left as they changed them (--vendorimg-no-restore)" if self.settings.no_restore \
                else "the vendored images were put back after each"
            n = len(culprits)
            self.lines.append((f"vendorimg: {n} {'test' if n == 1 else 'tests'} changed a vendored image "
                               f"(each failed at its teardown; {restored}):", True))
            for c in culprits:
                who = c["test"] + (f" ({c['worker']})" if c.get("worker") else "")
                if c.get("others"):
                    who += " or " + " or ".join(c["others"]) + " (ran at the same time on another worker)"
                self.lines.append((f"  {who}:", True))
                self.lines.extend((f"      {line}", True) for line in c["lines"])
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
        before = self.shared.get("before")
        lines, ok = report.verify(command.run(self.exe, self.settings.location, *args), " ".join(args),
                                  before[0].doc if before else None)
        self.lines.extend(lines)
        self.failed = self.failed or not ok
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
    config.addinivalue_line(
        "markers",
        f"{EXCLUSIVE_MARKER}: the test changes vendored images on purpose: it runs while no other "
        "pytest-xdist worker runs a test that uses them (pytest-vendorimg)",
    )
    config.stash[_run_key] = Run(config)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """With VENDORIMG_REQUIRE_DOCKER=1, loads the images at once and fails
    the session, before any test is collected (and so before a project's
    own skip when docker is absent), when no engine answers."""
    run = session.config.stash.get(_run_key, None)
    if run is None or not run.settings.enabled or run.shared is None or not run.shared.owner:
        return
    try:
        required = require_docker()
    except ValueError as err:
        raise pytest.UsageError(str(err))
    if not required:
        return
    result = run.load()
    if not result.ok and command.failure_kind(result) == command.ENGINE_UNREACHABLE:
        raise pytest.UsageError(
            f"{REQUIRE_DOCKER_ENV}=1 requires a docker engine, and none answers: "
            f"{result.command()}: {result.message()}"
        )


@pytest.fixture(autouse=True)
def _vendorimg_isolation(request: pytest.FixtureRequest):
    """The per-test check (see Run.end_test): set up first, so torn down
    last, after the test's other fixtures."""
    run = request.config.stash.get(_run_key, None)
    if run is not None:
        run._used_by_current = False
    if (
        run is None
        or not run.settings.enabled
        or run.shared is None
        or run.problem
        or run.settings.check == CHECK_OFF
        or (run.settings.check == CHECK_FIXTURE and "vendorimg_image" not in request.fixturenames)
    ):
        yield
        return
    run.begin_test(request.node)
    yield
    message = run.end_test(request.node)
    if message:
        pytest.fail(message, pytrace=False)


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
    if run is None or run.shared is None:
        return
    if run.helper is not None:
        run.helper.close()
        run.helper = None
    if run.settings.enabled:
        run.counts()
    if run.shared.owner and run.settings.enabled:
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
    """A function, ``vendorimg_image(ref, own_tag=False) -> Image``, that
    returns the docker tag (``.tag``) and ID (``.id``) of the vendored image
    ref names, written as in vendorimg.yaml or short ("alpine:3.19.1" for
    "docker.io/library/alpine:3.19.1"), optionally with its pinned digest.

    With ``own_tag=True`` the tag is one of the test's own on the vendored
    image ("alpine:3.19.1-t123-0-4"), removed at its teardown: the test may
    re-tag or commit onto it without disturbing any other test.

    Its first call in the run loads the images of vendorimg.yaml into docker
    (vendorimg load). It skips the test, saying why, when no docker engine
    answers (it fails instead when VENDORIMG_REQUIRE_DOCKER=1), and fails
    it when the load failed or ref is not vendored.
    """
    return pytestconfig.stash[_run_key].image
