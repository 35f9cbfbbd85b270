"""The bench smoke tests run on one xdist worker; the marker must exist without xdist too."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "xdist_group(name): run these tests on one xdist worker")
