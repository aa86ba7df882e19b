"""A suite whose tests change the vendored image, as careless tests might:
one commits a container onto the image's tag, another changes a byte of a
layer in the layout. Each test passes; pytest-vendorimg's check after the
session must fail the run, naming the tag and the blob.

examples/pytest/pytest_test.go runs it on a copy of the repository's layout,
and puts the tag back afterwards.
"""

import subprocess
import uuid

PROBE = "registry.vendorimg.test/probe:1"


def docker(*args):
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120, check=True)


def test_commit_onto_the_vendored_tag(vendorimg_image):
    probe = vendorimg_image(PROBE)
    name = f"pytest-vendorimg-commit-{uuid.uuid4().hex}"
    try:
        docker("create", "--name", name, probe.tag)
        docker("commit", name, probe.tag)
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=120, check=False)


def test_change_a_layer_of_the_layout(vendorimg_image, pytestconfig):
    vendorimg_image(PROBE)
    blobs = pytestconfig.rootpath / "testdata" / "images" / "blobs" / "sha256"
    layer = max(blobs.iterdir(), key=lambda p: p.stat().st_size)
    data = bytearray(layer.read_bytes())
    data[len(data) // 2] ^= 0xFF
    layer.write_bytes(bytes(data))
