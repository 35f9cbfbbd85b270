"""How the past is replayed: the clock set to the moment being played (after-commit work run
at that moment too), and what is switched off meanwhile (live events, the model runs, the
Celery queue, the present presence of the floor)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any
from unittest import mock

from django.db import connection, transaction
from django.test.utils import override_settings

from accounts.models import OperatorProfile
from chats.signals import conversation_closed

log = logging.getLogger(__name__)


@contextlib.contextmanager
def clock(moment: datetime) -> Iterator[None]:
    """Run a service as at `moment`: the services, `auto_now` fields and the audit trail read
    `timezone.now()`. A day is replayed in one transaction (one commit instead of one per
    action), so what a service does after its commit (tasks, CSAT surveys, deliveries) is
    collected and run right after the service returns, still at `moment`, each isolated as
    `smartdesk.core.oncommit` isolates them."""
    pending: list[Callable[[], Any]] = []

    def on_commit(func: Callable[[], Any], using: str | None = None, robust: bool = False) -> None:
        pending.append(func)

    with (
        mock.patch("django.utils.timezone.now", return_value=moment),
        mock.patch("django.db.transaction.on_commit", on_commit),
    ):
        yield
        while pending:
            func = pending.pop(0)
            try:
                with transaction.atomic():
                    func()
            except Exception:
                log.warning("demo history: an after-commit step failed", exc_info=True)


@contextlib.contextmanager
def _quiet_replay() -> Iterator[None]:
    """What only matters for people watching live is left out of the replay: nobody is
    connected to a past moment, so the live events are logged (the outbox rows) but not
    rung on the channel layer, and the message classifier (a model run per message, which
    would take most of the time) is not asked. On SQLite, commits are not synced to disk one
    by one (WAL with synchronous=NORMAL: a crash loses at most the last commits, which a
    second run adds again)."""
    with contextlib.ExitStack() as stack:
        stack.enter_context(
            mock.patch("smartdesk.core.realtime.get_channel_layer", return_value=None)
        )
        stack.enter_context(override_settings(AI_CLASSIFY_ENABLED=False))
        # The hand-over summary of each closed conversation (a model run per close) as well.
        stack.enter_context(_summaries_off())
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA synchronous=NORMAL")
        yield


@contextlib.contextmanager
def _summaries_off() -> Iterator[None]:
    from analytics.ai import handover

    conversation_closed.disconnect(dispatch_uid="ai-summary")
    try:
        yield
    finally:
        conversation_closed.connect(handover.on_conversation_closed, dispatch_uid="ai-summary")


@contextlib.contextmanager
def _tasks_inline() -> Iterator[None]:
    """Celery tasks run in this process while history is made, so that what they do (a CSAT
    survey after a close, a wrap-up release) happens at the moment being played."""
    from smartdesk.celery import app

    eager, propagates = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, False
    try:
        yield
    finally:
        app.conf.task_always_eager, app.conf.task_eager_propagates = eager, propagates


@contextlib.contextmanager
def _floor_offline() -> Iterator[None]:
    """While the past is replayed nobody is online now (supervisors included), so automatic
    distribution leaves each replayed conversation to the operator on shift then. The
    present presence is put back as it was afterwards (a snapshot restored, not a change of
    anyone's presence: no event, no distribution run)."""
    online = list(
        OperatorProfile.objects.exclude(presence=OperatorProfile.Presence.OFFLINE).values_list(
            "pk", "presence"
        )
    )
    OperatorProfile.objects.filter(pk__in=[pk for pk, _p in online]).update(
        presence=OperatorProfile.Presence.OFFLINE
    )
    try:
        yield
    finally:
        for pk, presence in online:
            OperatorProfile.objects.filter(pk=pk).update(presence=presence)
