"""pytest-vendorimg: run pytest sessions against container images vendored
with vendorimg (https://github.com/vendorimg/vendorimg).

The images pinned in vendorimg.yaml are loaded into docker from the layout
committed in the repository, with no network, once per test run (once for
all pytest-xdist workers), before the first test that asks for one through
the ``vendorimg_image`` fixture; after the run, ``vendorimg verify --daemon``
proves that neither the layout nor the images in docker changed, and fails
the run, naming each changed tag or blob, if they did. Switch it on with
``vendorimg = true`` in the ini file or ``pytest --vendorimg``.

The plugin drives the vendorimg command through its --json output only:
the one this Python environment's vendorimg wheel installed, else
$VENDORIMG, else vendorimg on PATH.
"""

import importlib.metadata

from .plugin import Image

__all__ = ["Image"]
try:
    # The release wheels carry the release's version; a checkout's
    # pyproject.toml says its own.
    __version__ = importlib.metadata.version("pytest-vendorimg")
except importlib.metadata.PackageNotFoundError:
    __version__ = "0.0.0"
