"""Undo for close: a short server-side window in which the close can be taken back,
with everything that reaches the customer (the CSAT survey) or costs money (the AI summary and
classification) held back until the window has passed and the close still stands.

Some tests hold the countdown task (`held`) and run it themselves, as a worker would after the
window; the others run as the embedded product does (Celery eager, no countdown), where the
periodic sweep settles the close, and count the `conversation_closed` receivers."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from unittest import mock

import pytest
import time_machine
from django.test import override_settings
from django.utils import timezone

from accounts.models import OperatorProfile
from analytics.models import CsatResponse
from chats import tasks
from chats.models import Conversation, ConversationEvent
from chats.services import close_undo
from chats.services import conversations as svc
from chats.signals import conversation_closed
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("_window")]


@pytest.fixture
def _window(settings) -> None:
    settings.CLOSE_UNDO_SECONDS = 10


@pytest.fixture
def conversation(support_inbox, operator) -> Conversation:
    return factories.make_conversation(inbox=support_inbox, assignee=operator)


@pytest.fixture
def held() -> Any:
    """The delayed "close settled" task is queued, not run: the worker would run it after the
    window; the test runs it itself (the real task code) when it wants to."""
    with mock.patch.object(tasks.conversation_close_settled, "apply_async") as queued:
        yield queued


@pytest.fixture(autouse=True)
def _commits(monkeypatch, django_capture_on_commit_callbacks) -> None:
    """Each service call here commits (as in production): its on-commit hooks run after it."""
    for name in ("conversation_close", "conversation_close_undo"):
        service = getattr(svc, name)

        def committing(*args: Any, _service: Any = service, **kwargs: Any) -> Any:
            with django_capture_on_commit_callbacks(execute=True):
                return _service(*args, **kwargs)

        monkeypatch.setattr(svc, name, committing)


@pytest.fixture
def settle(django_capture_on_commit_callbacks) -> Any:
    """Run one queued "close settled" task as the worker would (its hooks included)."""

    def run(call: Any) -> None:
        closed_at = datetime.fromisoformat(call.args[0][1])
        with (
            time_machine.travel(closed_at + timedelta(seconds=11), tick=False),
            django_capture_on_commit_callbacks(execute=True),
        ):
            tasks.conversation_close_settled.apply(args=call.args[0])

    return run


def _load(user) -> int:
    return OperatorProfile.objects.get(user=user).load


def test_close_queues_its_side_effects_after_the_undo_window(held, operator, conversation):
    with (
        override_settings(CLOSE_UNDO_SECONDS=10),
        mock.patch.object(conversation_closed, "send") as sent,
    ):
        svc.conversation_close(conversation=conversation, actor=operator)
        assert not sent.called  # nothing reaches the customer yet
    [call] = held.call_args_list
    assert call.kwargs["countdown"] == 10
    closed = Conversation.objects.get(pk=conversation.pk)
    assert call.args[0] == (closed.pk, closed.closed_at.isoformat())


def test_undo_within_the_window_restores_the_state_before_close(held, operator, conversation):
    assert _load(operator) == 1
    svc.conversation_set_priority(conversation=conversation, priority=2, actor=operator)
    svc.conversation_close(conversation=conversation, actor=operator)
    assert _load(operator) == 0

    svc.conversation_close_undo(conversation=conversation, actor=operator)

    fresh = Conversation.objects.get(pk=conversation.pk)
    assert (fresh.status, fresh.assignee_id, fresh.priority, fresh.closed_at) == (
        Conversation.Status.OPEN,
        operator.pk,
        2,
        None,
    )
    assert fresh.waiting_since == conversation.waiting_since
    assert _load(operator) == 1
    event = ConversationEvent.objects.filter(conversation=fresh).latest("at", "id")
    assert (event.type, event.data.get("cause")) == ("reopened", "undo")


def test_undo_restores_a_snooze(held, operator, conversation):
    until = timezone.now() + timedelta(hours=3)
    svc.conversation_snooze(
        conversation=conversation, actor=operator, until=until, wake_on_reply=False, reason="call"
    )
    svc.conversation_close(conversation=conversation, actor=operator)

    svc.conversation_close_undo(conversation=conversation, actor=operator)

    fresh = Conversation.objects.get(pk=conversation.pk)
    assert (fresh.status, fresh.snoozed_until, fresh.snooze_until_reply, fresh.snooze_reason) == (
        Conversation.Status.SNOOZED,
        until,
        False,
        "call",
    )
    assert _load(operator) == 0  # a snoozed conversation weighs nothing, as before the close


def test_undo_after_the_window_is_refused(held, operator, conversation):
    svc.conversation_close(conversation=conversation, actor=operator)
    later = timezone.now() + timedelta(seconds=11)

    with override_settings(CLOSE_UNDO_SECONDS=10), pytest.raises(svc.ActionRefused) as refused:
        svc.conversation_close_undo(conversation=conversation, actor=operator, now=later)

    assert "reopen" in str(refused.value).lower()
    assert Conversation.objects.get(pk=conversation.pk).status == Conversation.Status.CLOSED


def test_double_undo_is_harmless(held, operator, conversation):
    svc.conversation_close(conversation=conversation, actor=operator)
    svc.conversation_close_undo(conversation=conversation, actor=operator)
    svc.conversation_close_undo(conversation=conversation, actor=operator)

    assert Conversation.objects.get(pk=conversation.pk).status == Conversation.Status.OPEN
    assert ConversationEvent.objects.filter(type="reopened", conversation=conversation).count() == 1
    assert _load(operator) == 1


@override_settings(ANALYTICS_CSAT_ENABLED=True)
def test_no_survey_when_the_close_was_undone(held, settle, operator, conversation):
    svc.conversation_close(conversation=conversation, actor=operator)
    svc.conversation_close_undo(conversation=conversation, actor=operator)

    for call in held.call_args_list:  # the window has passed: the worker runs the task
        settle(call)

    assert not CsatResponse.objects.exists()


@override_settings(ANALYTICS_CSAT_ENABLED=True)
def test_no_survey_for_an_earlier_close_when_closed_again(held, settle, operator, conversation):
    svc.conversation_close(conversation=conversation, actor=operator)
    svc.conversation_close_undo(conversation=conversation, actor=operator)
    svc.conversation_close(conversation=conversation, actor=operator)
    first, second = held.call_args_list

    settle(first)
    assert not CsatResponse.objects.exists()  # that close was taken back

    settle(second)
    assert CsatResponse.objects.filter(conversation=conversation).count() == 1


@override_settings(ANALYTICS_CSAT_ENABLED=True)
def test_survey_is_sent_when_the_close_stands(held, settle, operator, conversation):
    svc.conversation_close(conversation=conversation, actor=operator)
    assert not CsatResponse.objects.exists()

    [call] = held.call_args_list
    settle(call)

    assert CsatResponse.objects.filter(conversation=conversation).count() == 1


# --- settling is a claim in the database; the sweep finds every close past its window ------------


@pytest.fixture
def announced() -> Any:
    """The ids `conversation_closed` was sent for, one entry per send."""
    sent: list[int] = []

    def receiver(sender: Any, id: int, **kwargs: Any) -> None:
        sent.append(id)

    conversation_closed.connect(receiver, weak=False, dispatch_uid="test-close-undo")
    yield sent
    conversation_closed.disconnect(dispatch_uid="test-close-undo")


@pytest.fixture
def sweep(django_capture_on_commit_callbacks) -> Any:
    """Run the periodic sweep as the beat (or the embedded ticker) would, `seconds` after now."""

    def run(seconds: float = 11) -> None:
        with (
            time_machine.travel(timezone.now() + timedelta(seconds=seconds), tick=False),
            django_capture_on_commit_callbacks(execute=True),
        ):
            tasks.settle_closed_conversations.apply()

    return run


def _closed_at(conversation: Conversation) -> datetime:
    return Conversation.objects.get(pk=conversation.pk).closed_at


@override_settings(ANALYTICS_CSAT_ENABLED=True)
def test_eager_celery_sends_nothing_at_close_and_the_sweep_sends_it_once_after_the_window(
    announced, sweep, operator, conversation
):
    svc.conversation_close(conversation=conversation, actor=operator)  # the task runs eagerly

    assert announced == [] and not CsatResponse.objects.exists()
    sweep(seconds=5)  # still within the window: the undo is still possible
    assert announced == [] and not CsatResponse.objects.exists()

    sweep(seconds=11)
    assert announced == [conversation.pk]
    assert CsatResponse.objects.filter(conversation=conversation).count() == 1
    assert Conversation.objects.get(pk=conversation.pk).close_settled_at is not None

    sweep(seconds=30)
    assert announced == [conversation.pk]


def test_a_redelivered_settle_task_and_a_racing_sweep_send_once(
    held, settle, sweep, announced, operator, conversation
):
    svc.conversation_close(conversation=conversation, actor=operator)
    [call] = held.call_args_list

    settle(call)
    settle(call)  # the broker delivered it again
    sweep()

    assert announced == [conversation.pk]


def test_the_settle_claim_takes_the_row_once(operator, conversation):
    svc.conversation_close(conversation=conversation, actor=operator)
    closed_at = _closed_at(conversation)
    later = closed_at + timedelta(seconds=11)

    claims = [
        close_undo.conversation_close_settle(
            conversation_id=conversation.pk, closed_at=closed_at, now=later
        )
        for _ in range(2)
    ]

    assert claims == [True, False]
    assert Conversation.objects.get(pk=conversation.pk).close_settled_at == later


def test_the_task_run_inside_the_window_claims_nothing(operator, conversation):
    svc.conversation_close(conversation=conversation, actor=operator)
    closed_at = _closed_at(conversation)

    assert not tasks.conversation_close_settled.apply(
        args=(conversation.pk, closed_at.isoformat())
    ).get()
    assert Conversation.objects.get(pk=conversation.pk).close_settled_at is None


def test_undo_after_the_close_is_settled_is_refused_and_changes_nothing(
    sweep, announced, operator, conversation
):
    svc.conversation_close(conversation=conversation, actor=operator)
    sweep()
    settled = Conversation.objects.get(pk=conversation.pk)
    events = ConversationEvent.objects.filter(conversation=conversation).count()

    # Even a clock that says "within the window" (a skewed host) cannot take it back now.
    with pytest.raises(svc.ActionRefused):
        svc.conversation_close_undo(
            conversation=conversation,
            actor=operator,
            now=settled.closed_at + timedelta(seconds=1),
        )

    fresh = Conversation.objects.get(pk=conversation.pk)
    assert (fresh.status, fresh.closed_at, fresh.close_settled_at, fresh.assignee_id) == (
        Conversation.Status.CLOSED,
        settled.closed_at,
        settled.close_settled_at,
        settled.assignee_id,
    )
    assert ConversationEvent.objects.filter(conversation=conversation).count() == events
    assert close_undo.close_undoable_until(fresh) is None
    assert announced == [conversation.pk]


def test_a_close_undone_is_never_settled(sweep, announced, operator, conversation):
    svc.conversation_close(conversation=conversation, actor=operator)
    svc.conversation_close_undo(conversation=conversation, actor=operator)

    sweep()

    assert announced == []
    assert Conversation.objects.get(pk=conversation.pk).close_settled_at is None


def test_deleted_and_restored_within_the_window_is_settled_by_the_sweep(
    held, settle, sweep, announced, operator, admin_user, conversation
):
    svc.conversation_close(conversation=conversation, actor=operator)
    [call] = held.call_args_list
    svc.conversation_delete(conversation=conversation, actor=admin_user)
    settle(call)  # the countdown task finds it deleted: nothing yet
    assert announced == []

    svc.conversation_restore(conversation=conversation, actor=admin_user)
    sweep()

    assert announced == [conversation.pk]


def test_closed_again_after_a_reopen_is_settled_again(sweep, announced, operator, conversation):
    svc.conversation_close(conversation=conversation, actor=operator)
    sweep()
    svc.conversation_reopen(conversation=conversation, actor=operator)
    svc.conversation_close(conversation=conversation, actor=operator)
    assert Conversation.objects.get(pk=conversation.pk).close_settled_at is None

    sweep()

    assert announced == [conversation.pk, conversation.pk]


def test_the_sweep_ignores_closes_settled_before_it_existed(sweep, announced, support_inbox):
    long_ago = timezone.now() - timedelta(days=90)
    old = factories.make_conversation(inbox=support_inbox)
    Conversation.objects.filter(pk=old.pk).update(
        status=Conversation.Status.CLOSED, closed_at=long_ago, close_settled_at=long_ago
    )

    sweep()

    assert announced == []


def test_the_migration_marks_every_close_before_it_as_settled(support_inbox):
    from importlib import import_module

    from django.apps import apps

    migration = import_module("chats.migrations.0010_close_settled_at")
    long_ago = timezone.now() - timedelta(days=90)
    old = factories.make_conversation(inbox=support_inbox)
    still_open = factories.make_conversation(inbox=support_inbox)
    Conversation.objects.filter(pk=old.pk).update(status="closed", closed_at=long_ago)

    migration.mark_closed_settled(apps, None)

    assert Conversation.objects.get(pk=old.pk).close_settled_at == long_ago
    assert Conversation.objects.get(pk=still_open.pk).close_settled_at is None


def test_the_sweep_works_in_bounded_batches(sweep, announced, support_inbox, operator):
    closed = [factories.make_conversation(inbox=support_inbox) for _ in range(3)]
    for conversation in closed:
        svc.conversation_close(conversation=conversation, actor=operator)

    with time_machine.travel(timezone.now() + timedelta(seconds=11), tick=False):
        assert close_undo.conversations_settle_closed(batch_size=2) == 3
        assert close_undo.conversations_settle_closed(batch_size=2) == 0


def test_the_sweep_is_scheduled_for_beat_and_the_embedded_ticker():
    from smartdesk.celery import app
    from smartdesk.core.ticker import Ticker

    [name] = [
        name
        for name, spec in app.conf.beat_schedule.items()
        if spec["task"] == "chats.tasks.settle_closed_conversations"
    ]
    assert app.conf.beat_schedule[name]["schedule"] <= timedelta(seconds=10)
    assert name in {entry.name for entry in Ticker(app)._entries}


def test_undo_beyond_capacity_is_recorded(held, operator, conversation):
    svc.conversation_close(conversation=conversation, actor=operator)
    OperatorProfile.objects.filter(user=operator).update(capacity=0)

    svc.conversation_close_undo(conversation=conversation, actor=operator)

    event = ConversationEvent.objects.filter(conversation=conversation).latest("at", "id")
    assert (event.type, event.data.get("cause"), event.data.get("over_capacity")) == (
        "reopened",
        "undo",
        True,
    )
    assert Conversation.objects.get(pk=conversation.pk).assignee_id == operator.pk
