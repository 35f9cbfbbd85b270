"""Side effects after commit never depend on each other: a hook that raises is logged and
counted, the hooks after it still run, and the committed write stands."""

from __future__ import annotations

import logging

import pytest
from django.db import transaction

from accounts.models import Team
from smartdesk.core.metrics import AFTER_COMMIT_FAILURES
from smartdesk.core.oncommit import after_commit

pytestmark = pytest.mark.django_db(transaction=True)


def _failures(name: str) -> float:
    return AFTER_COMMIT_FAILURES.labels(name)._value.get()


def _redis_down() -> None:
    raise ConnectionError("Connection reset by peer")


def test_a_failing_hook_skips_none_of_the_hooks_after_it_and_the_write_stands(caplog) -> None:
    ran: list[str] = []
    before = _failures("test-live-send")

    with caplog.at_level(logging.WARNING, logger="smartdesk.core.oncommit"), transaction.atomic():
        Team.objects.create(name="Night shift")
        after_commit(_redis_down, name="test-live-send")
        after_commit(ran.append, "deliver", name="test-deliver")
        after_commit(lambda *, what: ran.append(what), what="assign", name="test-assign")

    assert ran == ["deliver", "assign"]
    assert Team.objects.filter(name="Night shift").exists()
    assert _failures("test-live-send") == before + 1
    [record] = [r for r in caplog.records if r.name == "smartdesk.core.oncommit"]
    assert record.levelno == logging.WARNING
    assert "test-live-send" in record.getMessage()
    assert record.exc_info is not None


def test_outside_a_transaction_the_hook_runs_at_once_and_never_raises() -> None:
    ran: list[int] = []
    before = _failures("test-enqueue")

    after_commit(_redis_down, name="test-enqueue")  # a broker that is down, say
    after_commit(ran.append, 1, name="test-next")

    assert ran == [1]
    assert _failures("test-enqueue") == before + 1


def test_nothing_runs_when_the_transaction_rolls_back() -> None:
    ran: list[int] = []

    with pytest.raises(RuntimeError), transaction.atomic():
        after_commit(ran.append, 1, name="test-rolled-back")
        raise RuntimeError("roll back")

    assert ran == []
