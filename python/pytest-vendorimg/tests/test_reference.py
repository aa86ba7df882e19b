import pytest

from pytest_vendorimg import reference


@pytest.mark.parametrize(
    "ref, key",
    [
        ("alpine", "docker.io/library/alpine:latest"),
        ("alpine:3.19.1", "docker.io/library/alpine:3.19.1"),
        ("library/alpine:3.19.1", "docker.io/library/alpine:3.19.1"),
        ("docker.io/library/alpine:3.19.1", "docker.io/library/alpine:3.19.1"),
        ("index.docker.io/library/alpine:3.19.1", "docker.io/library/alpine:3.19.1"),
        ("docker.io/alpine:3.19.1", "docker.io/library/alpine:3.19.1"),
        ("user/app:1", "docker.io/user/app:1"),
        ("registry.vendorimg.test/probe:1", "registry.vendorimg.test/probe:1"),
        ("localhost/a/b", "localhost/a/b:latest"),
        ("localhost:5000/a:2", "localhost:5000/a:2"),
        ("127.0.0.1:5000/a/b:c", "127.0.0.1:5000/a/b:c"),
        ("alpine:3.19.1@sha256:" + "c" * 64, "docker.io/library/alpine:3.19.1"),
        ("alpine@sha256:" + "c" * 64, "docker.io/library/alpine@sha256:" + "c" * 64),
    ],
)
def test_parse(ref, key):
    assert reference.parse(ref).key == key


def test_parse_keeps_the_digest():
    got = reference.parse("alpine:3.19.1@sha256:" + "c" * 64)
    assert (got.tag, got.digest) == ("3.19.1", "sha256:" + "c" * 64)
