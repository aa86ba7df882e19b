"""Tests that change the vendored image, as careless tests do: a commit and
a build onto its tag, another image re-tagged as it, docker rmi of it, a
blob of the layout changed. Each one must fail at its own teardown, named
by pytest-vendorimg with what it did, and every test after it (here and in
test_checks.py) must see the vendored image again. They are marked
vendorimg_exclusive, so that under pytest -n 2 no other worker runs a test
that uses the image meanwhile.

The test with a tag of its own commits onto that tag: it passes, its tag
is gone after it, and the vendored tag never moved.
"""

import os

import pytest
from conftest import _run_docker, ensure_test_image, skip_on

# The image to re-tag as the vendored one: pytest_test.go commits it
# through the engine's API.
OTHER_IMAGE_ENV = "VENDORIMG_PYTEST_OTHER_IMAGE"

exclusive = pytest.mark.vendorimg_exclusive


@exclusive
def test_commit_onto_the_tag(test_image):
    skip_on("COMMIT")
    container = _run_docker("create", "--pull", "never", test_image.tag, "echo", "changed").stdout.strip()
    try:
        _run_docker("commit", container, test_image.tag)
    finally:
        _run_docker("rm", "-f", container, check=False)


def test_sees_the_vendored_image_after_the_commit(test_image):
    ensure_test_image(test_image)


@exclusive
def test_retag_another_image(test_image):
    _run_docker("tag", os.environ[OTHER_IMAGE_ENV], test_image.tag)


def test_sees_the_vendored_image_after_the_retag(test_image):
    ensure_test_image(test_image)


@exclusive
def test_build_onto_the_tag(test_image, tmp_path):
    skip_on("BUILD")
    (tmp_path / "Dockerfile").write_text(f"FROM {test_image.tag}\nLABEL changed-by=a-test\n")
    _run_docker("build", "-q", "-t", test_image.tag, str(tmp_path))


def test_sees_the_vendored_image_after_the_build(test_image):
    ensure_test_image(test_image)


@exclusive
def test_rmi(test_image):
    _run_docker("rmi", "-f", test_image.tag)


def test_sees_the_vendored_image_after_the_rmi(test_image):
    ensure_test_image(test_image)


OWN = {}


def test_commit_onto_a_tag_of_its_own(vendorimg_image):
    skip_on("COMMIT")
    own = vendorimg_image("registry.vendorimg.test/probe:1", own_tag=True)
    assert own.tag != "registry.vendorimg.test/probe:1"
    OWN["tag"] = own.tag
    container = _run_docker("create", "--pull", "never", own.tag, "echo", "changed").stdout.strip()
    try:
        _run_docker("commit", container, own.tag)
    finally:
        _run_docker("rm", "-f", container, check=False)


def test_its_own_tag_is_gone(test_image):
    if "tag" not in OWN:
        pytest.skip("test_commit_onto_a_tag_of_its_own did not run in this process")
    assert _run_docker("image", "inspect", OWN["tag"], check=False).returncode != 0, f"{OWN['tag']} is still there"
    ensure_test_image(test_image)


# Last: a changed blob cannot be put back by pytest-vendorimg (git can), and
# a load from the layout after it would refuse the blob.
@exclusive
def test_change_a_blob(test_image, pytestconfig):
    blobs = pytestconfig.rootpath / "testdata" / "images" / "blobs" / "sha256"
    layer = max(blobs.iterdir(), key=lambda p: p.stat().st_size)
    data = bytearray(layer.read_bytes())
    data[len(data) // 2] ^= 0xFF
    layer.write_bytes(bytes(data))


def test_sees_the_vendored_image_after_the_blob(test_image):
    ensure_test_image(test_image)
