"""Helpers for statistics tests: move the clock, run what commits trigger."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pytest
import time_machine
from django.test import TestCase


@contextmanager
def clock(moment: datetime) -> Iterator[None]:
    """At `moment`, running the on-commit callbacks (tasks, signals) of the block."""
    with time_machine.travel(moment, tick=False), TestCase.captureOnCommitCallbacks(execute=True):
        yield


@pytest.fixture
def stats_user(admin_user: Any) -> Any:
    return admin_user
