"""pytest fixtures that run the test session against vendored images.

Copy this file next to your tests. Its session-scoped, autouse fixture
``vendored_images`` runs ``vendorimg load --json`` once before the first
test, so the images of vendorimg.yaml are in docker, loaded from the
committed layout with no network, and ``vendorimg verify --daemon --json``
once after the last test. If anything changed during the session (a blob of
the layout, or a tag in docker that now points to another image: a re-tag, a
``docker commit`` onto it, a pull that replaced it), the fixture's teardown
fails, pytest reports an error naming the tag and the finding, and the
session exits non-zero.

Settings, all optional (environment variables):

VENDORIMG
    The vendorimg command to run. Default: ``vendorimg`` found on PATH.
VENDORIMG_CONFIG
    The vendorimg.yaml to use. Default: the one in this file's folder or its
    nearest parent, found like go.mod.

Only the standard library and pytest are used; docker is driven through its
command line by the tests, and vendorimg talks to the engine the docker
command would (DOCKER_HOST, or the local socket).
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

CONFIG_NAME = "vendorimg.yaml"

# vendorimg load and verify work from the local disk and socket; these bound
# a hung engine, not the normal run (under a second for small images).
LOAD_TIMEOUT = 600
VERIFY_TIMEOUT = 600


def _vendorimg_command():
    """The vendorimg executable: $VENDORIMG, else vendorimg on PATH."""
    exe = os.environ.get("VENDORIMG")
    if exe:
        return exe
    exe = shutil.which("vendorimg")
    if exe is None:
        pytest.fail(
            "vendorimg is not on PATH: install it (go install "
            "github.com/vendorimg/vendorimg/cmd/vendorimg@latest) or set "
            "VENDORIMG to its path",
            pytrace=False,
        )
    return exe


def _config_path():
    """The vendorimg.yaml: $VENDORIMG_CONFIG, else the nearest one upwards."""
    env = os.environ.get("VENDORIMG_CONFIG")
    if env:
        return str(Path(env).resolve())
    here = Path(__file__).resolve().parent
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return str(candidate)
    pytest.fail(
        f"no {CONFIG_NAME} in {here} or any parent folder "
        "(set VENDORIMG_CONFIG to its path)",
        pytrace=False,
    )


def _run_json(args, timeout):
    """Runs vendorimg with --json and returns (exit code, document, stderr).

    The document is None when stdout is not JSON (a usage error, a crash).
    """
    try:
        proc = subprocess.run(
            args, capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        failure = f"running {' '.join(args)}: {err}"
    else:
        failure = None
    if failure:
        pytest.fail(failure, pytrace=False)
    try:
        doc = json.loads(proc.stdout) if proc.stdout.strip() else None
    except json.JSONDecodeError:
        doc = None
    return proc.returncode, doc, proc.stderr.strip()


def _short(image_id):
    """sha256:c456b63aa063a1a3... -> sha256:c456b63aa063"""
    return image_id[: len("sha256:") + 12] if image_id else "-"


def load_summary(report):
    """Lines saying what vendorimg load did, one per image."""
    engine = report.get("engine", {})
    lines = [
        f"vendorimg load: docker {engine.get('version', '?')} "
        f"({engine.get('store', '?')} image store), platform {report.get('platform', '?')}"
    ]
    for im in report.get("images", []):
        if im.get("error"):
            lines.append(f"  {im['ref']}: FAILED: {im['error']}")
            continue
        lines.append(
            f"  {im.get('tag') or im['ref']}: {im.get('action')} "
            f"{_short(im.get('imageId'))} ({im.get('platform')}, {im.get('bytes', 0)} bytes)"
        )
    return lines


def verify_findings(report):
    """Every finding of a vendorimg verify --daemon --json report, as text.

    Daemon findings read as vendorimg prints them: "daemon KIND: TAG: message".
    """
    out = []
    for f in (report.get("layout") or {}).get("findings") or []:
        out.append(f"{f.get('kind')}: {f.get('path') or f.get('image')}: {f.get('message')}" + _expected(f))
    for f in (report.get("daemon") or {}).get("findings") or []:
        out.append(f"daemon {f.get('kind')}: {f.get('tag') or f.get('image')}: {f.get('message')}" + _expected(f))
    return out


def _expected(finding):
    """The expected and actual values of a finding, on lines of their own."""
    return "".join(
        f"\n      {key:<8} {finding[key]}" for key in ("expected", "actual") if finding.get(key)
    )


def verify_summary(report):
    """Lines saying what vendorimg verify --daemon checked."""
    lay = report.get("layout") or {}
    lines = [
        f"vendorimg verify: layout {lay.get('layout', '?')}: "
        f"{lay.get('blobs', 0)} blobs, {lay.get('bytes', 0)} bytes rehashed"
    ]
    for im in (report.get("daemon") or {}).get("images") or []:
        state = "ok" if im.get("ok") else "CHANGED"
        lines.append(f"  {im.get('tag') or im.get('ref')}: {state} {_short(im.get('imageId'))}")
    return lines


# The summary lines, shown at the end by pytest_terminal_summary: output of a
# fixture is captured, and shown only for a failure.
_summary_key = pytest.StashKey[list]()


def _report(config, lines):
    """Adds lines to the vendorimg section of pytest's terminal summary."""
    config.stash.setdefault(_summary_key, []).extend(lines)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Prints what vendorimg load and verify did, in a "vendorimg" section."""
    lines = config.stash.get(_summary_key, [])
    if lines:
        terminalreporter.section("vendorimg")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session", autouse=True)
def vendored_images(request):
    """Loads the vendored images before the session and verifies them after.

    Yields the images vendorimg load reported, by reference
    ("registry.vendorimg.test/probe:1"): dicts with "tag", "imageId",
    "platform", "action" and the other fields of vendorimg's --json output.
    """
    exe = _vendorimg_command()
    cfg = _config_path()

    code, report, stderr = _run_json([exe, "load", "--json", "--config", cfg], LOAD_TIMEOUT)
    if report is not None:
        _report(request.config, load_summary(report))
    if code != 0 or report is None:
        pytest.fail(
            f"vendorimg load (config {cfg}) exited {code}:\n{stderr}",
            pytrace=False,
        )

    yield {im["ref"]: im for im in report.get("images", [])}

    code, report, stderr = _run_json(
        [exe, "verify", "--daemon", "--json", "--config", cfg], VERIFY_TIMEOUT
    )
    if report is None:
        pytest.fail(
            f"vendorimg verify --daemon (config {cfg}) exited {code} with no report:\n{stderr}",
            pytrace=False,
        )
    _report(request.config, verify_summary(report))
    findings = verify_findings(report)
    if code != 0 or not report.get("ok") or findings:
        detail = "\n".join(f"  {f}" for f in findings) or f"  {stderr}"
        pytest.fail(
            "the vendored images changed during the test session "
            f"(vendorimg verify --daemon, config {cfg}, exited {code}):\n{detail}",
            pytrace=False,
        )
