"""End-to-end tests that run containers from a vendored image, offline.

The image is pinned in vendorimg.yaml (here, the repository's) and loaded
into docker by pytest-vendorimg before the first test that asks for it
through the vendorimg_image fixture; every container runs with --pull never,
so a test can never fetch another image than the vendored one (nor reach a
registry at all). After the session, pytest-vendorimg proves that the image
did not change.

This repository vendors its own small image, registry.vendorimg.test/probe:1
(a static program: probe echo ARGS, cat FILE, write FILE CONTENT, env,
exit N; its default command prints "hello from probe"). With alpine vendored
instead, the same tests would run "sh -c" commands.

An engine that cannot start a container (a sandbox without the rights a
runtime needs) skips the tests that run one, naming the engine and its
reason; the others run everywhere. This project's CI runs them on all its
engines.
"""

import os
import subprocess
import uuid

import pytest

PROBE = "registry.vendorimg.test/probe:1"


@pytest.fixture
def probe(vendorimg_image):
    """The vendored probe image: .tag for docker run, .id for docker inspect."""
    return vendorimg_image(PROBE)


def _docker(*args):
    """Runs the docker command and returns the completed process."""
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120, check=False)


def _engine_name():
    """The engine docker talks to, for skip messages."""
    proc = _docker("version", "--format", "{{.Server.Version}} (API {{.Server.APIVersion}})")
    where = os.environ.get("DOCKER_HOST") or "the local socket"
    return f"engine {proc.stdout.strip() or '?'} at {where}"


@pytest.fixture(scope="session")
def runs_containers(vendorimg_image):
    """Skips the test unless the engine can run a container of the probe.

    Asked once per session: a container is created, started and removed.
    """
    image = vendorimg_image(PROBE)
    name = f"vendorimg-pytest-probe-{uuid.uuid4().hex}"
    reason = None
    try:
        # Started detached, so that a start that fails says why in the
        # engine's words (an attached one through podman says only
        # "unable to upgrade to tcp").
        for args in (["create", "--pull", "never", "--name", name, image.tag, "exit", "0"],
                     ["start", name], ["wait", name]):
            proc = _docker(*args)
            if proc.returncode != 0:
                reason = " ".join(proc.stderr.split()) or f"docker {args[0]} exited {proc.returncode}"
                break
        else:
            if proc.stdout.strip() != "0":
                reason = f"a container of {image.tag} exit 0 exited {proc.stdout.strip()}"
    finally:
        _docker("rm", "--force", name)
    if reason:
        pytest.skip(f"{_engine_name()} cannot run a container here: {reason}")


def docker_run(image, *args, options=()):
    """Runs a throwaway container of image (a tag) and returns the completed process.

    The container is removed afterwards rather than run with --rm: through
    podman 4's docker-compatible API, "docker run --rm" exits 0 whatever
    the container's exit status.
    """
    name = f"vendorimg-pytest-{uuid.uuid4().hex}"
    try:
        return subprocess.run(
            ["docker", "run", "--pull", "never", "--name", name, *options, image, *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        _docker("rm", "--force", name)


@pytest.mark.usefixtures("runs_containers")
def test_default_command(probe):
    proc = docker_run(probe.tag)
    assert (proc.returncode, proc.stdout) == (0, "hello from probe\n"), proc.stderr


@pytest.mark.usefixtures("runs_containers")
def test_command_output_and_environment(probe):
    proc = docker_run(probe.tag, "env", options=("--env", "GREETING=from pytest"))
    assert proc.returncode == 0, proc.stderr
    assert "GREETING=from pytest" in proc.stdout.splitlines()


@pytest.mark.usefixtures("runs_containers")
def test_file_written_in_one_container_is_absent_in_the_next(probe):
    path = f"/tmp/pytest-{uuid.uuid4().hex}"
    written = docker_run(probe.tag, "write", path, "scratch")
    assert written.returncode == 0, written.stderr

    read = docker_run(probe.tag, "cat", path)
    assert (read.returncode, read.stdout) == (1, "")
    assert "no such file" in read.stderr


@pytest.mark.usefixtures("runs_containers")
def test_exit_code(probe):
    assert docker_run(probe.tag, "exit", "3").returncode == 3


def test_the_tag_is_the_vendored_image(probe):
    proc = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", probe.tag],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert proc.stdout.strip() == probe.id


@pytest.mark.usefixtures("probe")
def test_an_image_not_loaded_is_never_pulled():
    proc = docker_run("registry.vendorimg.test/absent:1", "echo", "unreachable")
    assert proc.returncode == 125
    # docker says "No such image", podman "no such image".
    assert "no such image" in proc.stderr.lower()
