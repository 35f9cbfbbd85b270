"""Snooze: presets in the operator's time zone, wake-ups by time and by reply, the sweep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection

from chats.models import Conversation, ConversationEvent
from chats.selectors import inbox
from chats.services import conversations as svc
from chats.snooze import snooze_until
from tests import factories

pytestmark = pytest.mark.django_db

Status = Conversation.Status
MOSCOW = ZoneInfo("Europe/Moscow")
NEW_YORK = ZoneInfo("America/New_York")


# --- presets -----------------------------------------------------------------------------


def test_tomorrow_morning_is_nine_in_the_operators_own_time_zone() -> None:
    now = datetime(2026, 3, 10, 22, 30, tzinfo=UTC)  # already the 11th in Moscow (01:30)

    assert snooze_until("tomorrow", now=now, tz=MOSCOW) == datetime(2026, 3, 12, 9, tzinfo=MOSCOW)
    assert snooze_until("tomorrow", now=now, tz=NEW_YORK) == datetime(
        2026, 3, 11, 9, tzinfo=NEW_YORK
    )


def test_tomorrow_morning_across_a_daylight_saving_change() -> None:
    # New York springs forward on 2026-03-08: 09:00 that day is 13:00 UTC, not 14:00
    now = datetime(2026, 3, 7, 15, 0, tzinfo=UTC)

    wake = snooze_until("tomorrow", now=now, tz=NEW_YORK)

    assert wake.astimezone(UTC) == datetime(2026, 3, 8, 13, 0, tzinfo=UTC)


def test_next_monday_from_a_monday_is_a_week_later() -> None:
    monday_noon = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday, 12:00 in Moscow

    assert snooze_until("monday", now=monday_noon, tz=MOSCOW) == datetime(
        2026, 11, 30, 9, tzinfo=MOSCOW
    )
    friday = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    assert snooze_until("monday", now=friday, tz=MOSCOW) == datetime(2026, 11, 30, 9, tzinfo=MOSCOW)


def test_presets_hour_reply_and_custom() -> None:
    now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)

    assert snooze_until("1h", now=now, tz=MOSCOW) == now + timedelta(hours=1)
    assert snooze_until("reply", now=now, tz=MOSCOW) is None
    naive = datetime(2026, 5, 2, 10, 0)  # noqa: DTZ001 - a datetime-local value from a form
    assert snooze_until("custom", now=now, tz=MOSCOW, custom=naive) == naive.replace(tzinfo=MOSCOW)
    with pytest.raises(ValidationError):
        snooze_until("custom", now=now, tz=MOSCOW, custom=datetime(2026, 5, 1, 11, tzinfo=UTC))
    with pytest.raises(ValidationError):
        snooze_until("someday", now=now, tz=MOSCOW)


# --- snooze and wake ---------------------------------------------------------------------


@pytest.fixture
def conversation(operator, support_inbox) -> Conversation:
    return factories.make_conversation(inbox=support_inbox, assignee=operator)


def test_a_snoozed_conversation_leaves_the_active_list_and_shows_in_snoozed(
    operator, conversation
) -> None:
    svc.conversation_snooze(
        conversation=conversation,
        actor=operator,
        until=datetime.now(UTC) + timedelta(hours=2),
        reason="waiting for the restaurant",
    )

    assert conversation not in inbox(operator, view="mine")
    snoozed = inbox(operator, view="snoozed").get()
    assert (snoozed.pk, snoozed.snooze_reason) == (conversation.pk, "waiting for the restaurant")
    event = ConversationEvent.objects.filter(conversation=conversation, type="snoozed").get()
    assert event.actor == operator and event.data["reason"] == "waiting for the restaurant"


def test_a_due_conversation_is_open_in_the_list_before_the_sweep_runs(operator, conversation):
    with time_machine.travel(datetime(2026, 6, 1, 10, 0, tzinfo=UTC), tick=False) as clock:
        svc.conversation_snooze(
            conversation=conversation, actor=operator, until=datetime(2026, 6, 1, 11, tzinfo=UTC)
        )
        assert list(inbox(operator, view="mine")) == []

        clock.move_to(datetime(2026, 6, 1, 11, 0, 1, tzinfo=UTC))

        listed = inbox(operator, view="mine").get()
        assert listed.pk == conversation.pk and listed.effective_status == "open"
        assert Conversation.objects.get(pk=conversation.pk).status == Status.SNOOZED  # not swept
        assert list(inbox(operator, view="snoozed")) == []


def test_the_sweep_wakes_every_due_conversation_once_however_long_ago(
    operator, support_inbox
) -> None:
    due = [factories.make_conversation(inbox=support_inbox, assignee=operator) for _ in range(3)]
    later = factories.make_conversation(inbox=support_inbox, assignee=operator)
    start = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        for c in due:
            svc.conversation_snooze(
                conversation=c, actor=operator, until=start + timedelta(hours=1)
            )
        svc.conversation_snooze(
            conversation=later, actor=operator, until=start + timedelta(days=90)
        )
        clock.move_to(start + timedelta(days=30))  # the workers were down for a month

        assert svc.conversations_wake_due(batch_size=2) == 3  # several batches
        assert svc.conversations_wake_due() == 0  # idempotent

    statuses = dict(Conversation.objects.values_list("pk", "status"))
    assert [statuses[c.pk] for c in due] == ["open"] * 3
    assert statuses[later.pk] == "snoozed"
    woke = ConversationEvent.objects.filter(type="woke")
    assert sorted(woke.values_list("conversation_id", flat=True)) == sorted(c.pk for c in due)
    assert {e.data["cause"] for e in woke} == {"time"}


def test_the_sweep_notifies_the_assignee_after_commit(
    operator, conversation, django_capture_on_commit_callbacks
) -> None:
    from accounts.services import presence_set
    from smartdesk.core.models import LiveEvent

    presence_set(user=operator, presence="online")  # at work, with room: it comes back to her
    with time_machine.travel(datetime(2026, 2, 1, 8, tzinfo=UTC), tick=False) as clock:
        svc.conversation_snooze(
            conversation=conversation, actor=operator, until=datetime(2026, 2, 1, 9, tzinfo=UTC)
        )
        clock.move_to(datetime(2026, 2, 1, 9, 30, tzinfo=UTC))
        presence_set(user=operator, presence="online")
        with django_capture_on_commit_callbacks() as first:
            assert svc.conversation_wake_if_due(conversation_id=conversation.pk)
        with django_capture_on_commit_callbacks() as second:
            assert not svc.conversation_wake_if_due(conversation_id=conversation.pk)

    assert first and not second  # only the call that woke it notifies
    woke = LiveEvent.objects.filter(conversation_id=conversation.pk, payload__change="woke")
    assert woke.count() == 1
    assert woke.get().payload["assignee_id"] == operator.pk


def test_a_customer_reply_wakes_a_conversation_snoozed_until_reply(operator, conversation):
    from accounts.services import presence_set

    presence_set(user=operator, presence="online")
    svc.conversation_snooze(conversation=conversation, actor=operator, until=None)

    factories.receive(conversation, "Any news?")

    conversation.refresh_from_db()
    assert conversation.status == Status.OPEN
    assert ConversationEvent.objects.get(conversation=conversation, type="woke").data == {
        "cause": "reply"
    }


def test_a_reply_wakes_a_timed_snooze_first_unless_told_to_wait(operator, support_inbox):
    early = factories.make_conversation(inbox=support_inbox, assignee=operator)
    patient = factories.make_conversation(inbox=support_inbox, assignee=operator)
    until = datetime.now(UTC) + timedelta(days=1)
    svc.conversation_snooze(conversation=early, actor=operator, until=until)
    svc.conversation_snooze(conversation=patient, actor=operator, until=until, wake_on_reply=False)

    factories.receive(early, "hello?")
    factories.receive(patient, "hello?")

    assert Conversation.objects.get(pk=early.pk).status == Status.OPEN
    patient.refresh_from_db()
    assert patient.status == Status.SNOOZED  # sleeps through the reply until the time
    assert patient.unread_count == 2  # but the message is there


def test_snooze_refuses_a_past_time_or_no_wake_condition(operator, conversation) -> None:
    with pytest.raises(ValidationError):
        svc.conversation_snooze(
            conversation=conversation, actor=operator, until=datetime.now(UTC) - timedelta(1)
        )
    with pytest.raises(ValidationError):
        svc.conversation_snooze(
            conversation=conversation, actor=operator, until=None, wake_on_reply=False
        )
    assert Conversation.objects.get(pk=conversation.pk).status == Status.OPEN


def test_the_database_refuses_a_snooze_with_no_way_to_wake(conversation) -> None:
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Conversation.objects.filter(pk=conversation.pk).update(
            status=Status.SNOOZED, snoozed_until=None, snooze_until_reply=False
        )
    assert connection.is_usable()
