"""Tests that only rely on the vendored image: under pytest -n 2 (with
--dist loadfile) they run on the other worker while test_changes.py
changes the image, and must never see a change."""

import pytest
from conftest import ensure_test_image


@pytest.mark.parametrize("n", range(20))
def test_sees_the_vendored_image(test_image, n):
    ensure_test_image(test_image)
