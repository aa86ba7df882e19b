"""Code under test that pulls.

pull_and_run stands for a project's code under test: it pulls its image by
its Docker Hub name, then runs it, as many libraries and tools do. Offline,
that pull succeeds only when the engine's docker.io registry mirror is
"vendorimg serve" of the layout (docs/testing.md, "Code under test that
pulls"): the engine then gets the vendored bytes, the tag keeps the
vendored image, and pytest-vendorimg's check after the test stays green.

pull_test.go runs this suite on an engine with such a mirror twice: with
nothing listening there, where the pull must fail, and with serve. The image
is the repository's probe vendored as alpine:3.19.4 (its default command
prints "hello from probe"); VENDORIMG_PYTEST_PIN is its pin, which changes
whenever the probe is rebuilt with another Go version.
"""

import os
import subprocess
import uuid

IMAGE = "alpine:3.19.4"


def _docker(*args):
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=300, check=False)


def pull_and_run(image, *args):
    """The code under test: pulls image, runs a container of it, and
    returns what the container printed."""
    pulled = _docker("pull", image)
    if pulled.returncode != 0:
        raise RuntimeError(f"docker pull {image} exited {pulled.returncode}: {' '.join(pulled.stderr.split())}")
    # Named and removed afterwards rather than run with --rm: through
    # podman 4's docker-compatible API, "docker run --rm" exits 0 whatever
    # the container's exit status.
    name = f"vendorimg-pytest-pull-{uuid.uuid4().hex}"
    try:
        ran = _docker("run", "--name", name, image, *args)
    finally:
        _docker("rm", "--force", name)
    if ran.returncode != 0:
        raise RuntimeError(f"docker run {image} exited {ran.returncode}: {ran.stderr.strip()}")
    return ran.stdout


def test_code_that_pulls(vendorimg_image):
    pin = os.environ["VENDORIMG_PYTEST_PIN"]
    # Loaded before the code under test runs, and checked after the test.
    image = vendorimg_image(f"{IMAGE}@{pin}")

    assert pull_and_run(IMAGE) == "hello from probe\n"

    pulled = _docker("image", "inspect", "--format", "{{.Id}}", IMAGE).stdout.strip()
    # The vendored image, by the ID its engine gives it: the classic store
    # and podman name it by its config's digest, loaded or pulled; the
    # containerd store names it by its platform's manifest when vendorimg
    # loaded it, and by the digest the tag resolved to, the pin, when pulled.
    assert pulled in (image.id, pin), f"{IMAGE} is {pulled} after the pull, not the vendored {image.id} or {pin}"
