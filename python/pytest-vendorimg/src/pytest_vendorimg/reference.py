"""Image references, normalised the way vendorimg and docker normalise them.

vendorimg reports every image under its full reference
("docker.io/library/alpine:3.19.1"); tests may name it as written in
vendorimg.yaml or in docker's short form ("alpine:3.19.1"). This module
restates the rule of vendorimg's oci.ParseReference: a missing registry is
docker.io, a one-part Docker Hub name gets "library/", and a reference with
neither tag nor digest gets the tag "latest". It does not check the grammar:
a malformed reference simply matches no vendored image, and the fixture's
error then lists the ones there are.
"""

from typing import NamedTuple, Optional

DOCKER_HUB = "docker.io"

# Docker Hub's other names, which docker and vendorimg write as docker.io.
_HUB_ALIASES = ("index.docker.io", "registry-1.docker.io")


class Reference(NamedTuple):
    """A parsed reference: full repository name, tag and digest (or None)."""

    name: str
    tag: Optional[str]
    digest: Optional[str]

    @property
    def key(self) -> str:
        """The image's name in vendorimg's reports: name:tag, or name@digest
        for a reference with only a digest (vendorimg's config.NameOf)."""
        if self.tag:
            return f"{self.name}:{self.tag}"
        return f"{self.name}@{self.digest}"


def parse(ref: str) -> Reference:
    """Parses and normalises ref ("alpine:3.19.1", "localhost:5000/a/b@sha256:...")."""
    rest, digest = ref.strip(), None
    if "@" in rest:
        rest, digest = rest.split("@", 1)
    tag = None
    colon = rest.rfind(":")
    if colon >= 0 and "/" not in rest[colon + 1 :]:
        rest, tag = rest[:colon], rest[colon + 1 :]
    parts = rest.split("/")
    first = parts[0]
    if len(parts) > 1 and ("." in first or ":" in first or first == "localhost" or first.lower() != first):
        registry, parts = first, parts[1:]
    else:
        registry = DOCKER_HUB
    if registry in _HUB_ALIASES:
        registry = DOCKER_HUB
    if registry == DOCKER_HUB and len(parts) == 1:
        parts = ["library", parts[0]]
    if not tag and not digest:
        tag = "latest"
    return Reference(registry + "/" + "/".join(parts), tag or None, digest or None)
