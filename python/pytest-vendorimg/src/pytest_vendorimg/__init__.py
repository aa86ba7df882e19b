"""pytest-vendorimg: run pytest sessions against container images vendored
with vendorimg (https://github.com/vendorimg/vendorimg).

The images pinned in vendorimg.yaml are loaded into docker from the layout
committed in the repository, with no network, once per test run (once for
all pytest-xdist workers), before the first test that asks for one through
the ``vendorimg_image`` fixture; after the run, ``vendorimg verify --daemon``
proves that neither the layout nor the images in docker changed, and fails
the run, naming each changed tag or blob, if they did. Switch it on with
``vendorimg = true`` in the ini file or ``pytest --vendorimg``.

The plugin drives the vendorimg command ($VENDORIMG, else vendorimg on
PATH) through its --json output only.
"""

from .plugin import Image

__all__ = ["Image"]
__version__ = "0.1.0"
