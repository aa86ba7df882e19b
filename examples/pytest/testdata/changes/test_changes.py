"""A suite whose tests change the vendored image, as careless tests might:
one moves the image's tag onto another image (as a docker commit or a
re-tag onto the tag would), another changes a byte of a layer in the
layout. Each test passes; pytest-vendorimg's check after the session must
fail the run, naming the tag and the blob.

examples/pytest/pytest_test.go runs it on a copy of the repository's layout,
gives it the other image (a commit it makes through the engine's API) in
VENDORIMG_PYTEST_OTHER_IMAGE, and puts the tag back afterwards.
"""

import os
import subprocess

PROBE = "registry.vendorimg.test/probe:1"


def test_move_the_vendored_tag(vendorimg_image):
    probe = vendorimg_image(PROBE)
    other = os.environ["VENDORIMG_PYTEST_OTHER_IMAGE"]
    subprocess.run(["docker", "tag", other, probe.tag], capture_output=True, text=True, timeout=120, check=True)


def test_change_a_layer_of_the_layout(vendorimg_image, pytestconfig):
    vendorimg_image(PROBE)
    blobs = pytestconfig.rootpath / "testdata" / "images" / "blobs" / "sha256"
    layer = max(blobs.iterdir(), key=lambda p: p.stat().st_size)
    data = bytearray(layer.read_bytes())
    data[len(data) // 2] ^= 0xFF
    layer.write_bytes(bytes(data))
