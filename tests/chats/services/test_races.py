"""Races against PostgreSQL with real threads: take vs take, close vs an arriving message."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections, transaction

from chats.models import Conversation, ConversationEvent
from chats.services import conversations as svc
from chats.services.conversations import ActionRefused
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


def _in_thread(fn: Callable[[], Any], results: list, errors: list) -> threading.Thread:
    def run() -> None:
        try:
            results.append(fn())
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _wait_until_someone_waits_for_a_lock(timeout: float = 10) -> None:
    """Block until another session of ours is waiting on a row lock (a condition, no sleep)."""
    with connections["default"].cursor() as cursor:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
        raise AssertionError("nobody waited for the lock")


def _wait_until_the_row_is_locked(pk: int, timeout: float = 10) -> None:
    """Block until another transaction holds the conversation's row lock (NOWAIT probe)."""
    from django.db import OperationalError

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with transaction.atomic():
                Conversation.objects.select_for_update(nowait=True).get(pk=pk)
        except OperationalError:
            return
    raise AssertionError("the row was never locked")


def test_two_operators_taking_one_conversation_one_wins_one_is_refused(
    operator, teammate, support_inbox
) -> None:
    conversation = factories.make_conversation(inbox=support_inbox)
    start = threading.Barrier(2)
    results: list = []
    errors: list = []

    def take(user: Any) -> Callable[[], Any]:
        def go() -> Any:
            start.wait(10)
            return svc.conversation_take(conversation=conversation, actor=user).assignee_id

        return go

    threads = [_in_thread(take(u), results, errors) for u in (operator, teammate)]
    for thread in threads:
        thread.join(20)

    assert len(results) == 1 and len(errors) == 1
    assert isinstance(errors[0], ActionRefused)
    assert Conversation.objects.get(pk=conversation.pk).assignee_id == results[0]
    assert ConversationEvent.objects.filter(type="assigned").count() == 1


def test_a_message_arriving_while_an_operator_closes_reopens_instead_of_vanishing(
    operator, support_inbox
) -> None:
    conversation = factories.make_conversation(inbox=support_inbox, assignee=operator)
    results: list = []
    errors: list = []
    closer_may_commit = threading.Event()

    def close_slowly() -> None:
        with transaction.atomic():
            svc.conversation_close(conversation=conversation, actor=operator)  # holds the row
            assert closer_may_commit.wait(10)

    closer = _in_thread(close_slowly, results, errors)
    _wait_until_the_row_is_locked(conversation.pk)
    arriving = _in_thread(
        lambda: factories.receive(conversation, "wait, one more thing"), results, errors
    )
    _wait_until_someone_waits_for_a_lock()
    closer_may_commit.set()
    closer.join(20)
    arriving.join(20)

    assert not errors
    conversation.refresh_from_db()
    assert conversation.status == "open"  # reopened by the customer, not left closed
    assert conversation.waiting_since is not None
    assert ConversationEvent.objects.filter(
        conversation=conversation, type="reopened", data__cause="customer"
    ).exists()
