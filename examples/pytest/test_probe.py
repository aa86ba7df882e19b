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
"""

import subprocess
import uuid

import pytest

PROBE = "registry.vendorimg.test/probe:1"


@pytest.fixture
def probe(vendorimg_image):
    """The vendored probe image: .tag for docker run, .id for docker inspect."""
    return vendorimg_image(PROBE)


def docker_run(image, *args, options=()):
    """Runs a throwaway container of image and returns the completed process."""
    return subprocess.run(
        ["docker", "run", "--rm", "--pull", "never", *options, image.tag, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_default_command(probe):
    proc = docker_run(probe)
    assert (proc.returncode, proc.stdout) == (0, "hello from probe\n"), proc.stderr


def test_command_output_and_environment(probe):
    proc = docker_run(probe, "env", options=("--env", "GREETING=from pytest"))
    assert proc.returncode == 0, proc.stderr
    assert "GREETING=from pytest" in proc.stdout.splitlines()


def test_file_written_in_one_container_is_absent_in_the_next(probe):
    path = f"/tmp/pytest-{uuid.uuid4().hex}"
    written = docker_run(probe, "write", path, "scratch")
    assert written.returncode == 0, written.stderr

    read = docker_run(probe, "cat", path)
    assert (read.returncode, read.stdout) == (1, "")
    assert "no such file" in read.stderr


def test_exit_code(probe):
    assert docker_run(probe, "exit", "3").returncode == 3


def test_the_tag_is_the_vendored_image(probe):
    proc = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", probe.tag],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert proc.stdout.strip() == probe.id
