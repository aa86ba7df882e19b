"""End-to-end tests that run containers from a vendored image, offline.

The image is pinned in vendorimg.yaml and loaded by conftest.py's
session fixture; every container runs with --pull never, so a test can never
fetch another image than the vendored one (nor reach a registry at all).

This repository vendors its own small image, registry.vendorimg.test/probe:1
(a static program: probe echo ARGS, cat FILE, write FILE CONTENT, env,
exit N; its default command prints "hello from probe"). With alpine vendored
instead, the same tests would run "sh -c" commands.

Tests that run a container ask for the ``runs_containers`` fixture: on an
engine that can load and tag images but cannot start a container here (a
runtime too old for it, a sandbox without the rights), they skip, naming the
engine and its reason, and the others still run.
"""

import os
import subprocess
import uuid

import pytest

TEST_IMAGE = "registry.vendorimg.test/probe:1"


def _engine_name():
    """The engine docker talks to, for skip messages."""
    proc = _docker("version", "--format", "{{.Server.Version}} (API {{.Server.APIVersion}})")
    where = os.environ.get("DOCKER_HOST") or "the local socket"
    return f"engine {proc.stdout.strip() or '?'} at {where}"


@pytest.fixture(scope="session")
def runs_containers(vendored_images):
    """Skips the test unless the engine can run a container of TEST_IMAGE.

    Asked once per session: a container is created, started and removed.
    """
    name = f"vendorimg-pytest-probe-{uuid.uuid4().hex}"
    reason = None
    try:
        # Started detached, so that a start that fails says why in the
        # engine's words (an attached one through podman says only
        # "unable to upgrade to tcp").
        for args in (["create", "--pull", "never", "--name", name, TEST_IMAGE, "exit", "0"],
                     ["start", name], ["wait", name]):
            proc = _docker(*args)
            if proc.returncode != 0:
                reason = " ".join(proc.stderr.split()) or f"docker {args[0]} exited {proc.returncode}"
                break
        else:
            if proc.stdout.strip() != "0":
                reason = f"a container of {TEST_IMAGE} exit 0 exited {proc.stdout.strip()}"
    finally:
        _docker("rm", "--force", name)
    if reason:
        pytest.skip(f"{_engine_name()} cannot run a container here: {reason}")


def _docker(*args):
    """Runs the docker command and returns the completed process."""
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120, check=False)


def docker_run(*args, options=(), image=TEST_IMAGE):
    """Runs a throwaway container and returns the completed process."""
    return subprocess.run(
        ["docker", "run", "--rm", "--pull", "never", *options, image, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.usefixtures("runs_containers")
def test_default_command():
    proc = docker_run()
    assert (proc.returncode, proc.stdout) == (0, "hello from probe\n"), proc.stderr


@pytest.mark.usefixtures("runs_containers")
def test_command_output():
    proc = docker_run("echo", "offline", "and", "pinned")
    assert (proc.returncode, proc.stdout) == (0, "offline and pinned\n"), proc.stderr


@pytest.mark.usefixtures("runs_containers")
def test_environment():
    proc = docker_run("env", options=("--env", "GREETING=from pytest"))
    assert proc.returncode == 0, proc.stderr
    assert "GREETING=from pytest" in proc.stdout.splitlines()


@pytest.mark.usefixtures("runs_containers")
def test_file_written_in_one_container_is_absent_in_the_next():
    path = f"/tmp/pytest-{uuid.uuid4().hex}"
    written = docker_run("write", path, "scratch")
    assert written.returncode == 0, written.stderr

    read = docker_run("cat", path)
    assert read.returncode == 1
    assert read.stdout == ""
    assert "no such file" in read.stderr


@pytest.mark.usefixtures("runs_containers")
@pytest.mark.parametrize("code", [0, 3, 255])
def test_exit_code(code):
    assert docker_run("exit", str(code)).returncode == code


def test_runs_the_loaded_image(vendored_images):
    loaded = vendored_images[TEST_IMAGE]
    proc = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", TEST_IMAGE],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert proc.stdout.strip() == loaded["imageId"]


def test_an_image_not_loaded_is_never_pulled():
    proc = docker_run("echo", "unreachable", image="registry.vendorimg.test/absent:1")
    assert proc.returncode == 125
    # docker says "No such image", podman "no such image".
    assert "no such image" in proc.stderr.lower()
