"""What the suite's tests share, in the shape of a real project's suite: the
image's name in TEST_IMAGE, a _run_docker helper, and ensure_test_image(),
which every test that runs the image relies on."""

import os
import subprocess

import pytest

TEST_IMAGE = "registry.vendorimg.test/probe:1"


def _run_docker(*args, check=True):
    """Runs the docker command; a failure raises, with docker's words."""
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()}")
    return proc


def ensure_test_image(image):
    """Fails unless the image's tag names the vendored image."""
    got = _run_docker("image", "inspect", "--format", "{{.Id}}", image.tag).stdout.strip()
    assert got == image.id, f"{image.tag} is {got}, not the vendored {image.id}"


@pytest.fixture
def test_image(vendorimg_image):
    """The vendored image, checked before the test uses it."""
    image = vendorimg_image(TEST_IMAGE)
    ensure_test_image(image)
    return image


def skip_on(name):
    """Skips the test when pytest_test.go said, in VENDORIMG_PYTEST_SKIP_<NAME>,
    that the engine cannot do what it does (the reason names the engine)."""
    reason = os.environ.get(f"VENDORIMG_PYTEST_SKIP_{name}")
    if reason:
        pytest.skip(reason)
