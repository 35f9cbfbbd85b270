"""Snoozing from the workspace: presets in the operator's own time zone, the lists it moves
the conversation between, and a due snooze that shows as active before any sweep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from accounts.access import forget
from accounts.services import profile_update_preferences
from chats.models import Conversation, ConversationEvent
from tests.chats.ui.conftest import HTMX, page_text, refreshed

pytestmark = pytest.mark.django_db

Status = Conversation.Status
# A Wednesday evening in UTC: already Thursday in Moscow, still Wednesday in New York.
NOW = datetime(2025, 3, 5, 22, 30, tzinfo=UTC)


def in_zone(user, zone: str) -> None:
    profile_update_preferences(profile=user.profile, time_zone=zone)
    forget(user)


def snooze(client, conversation: Conversation, **data) -> object:
    return client.post(reverse("conversation-snooze", args=[conversation.pk]), data, headers=HTMX)


@pytest.mark.parametrize(
    ("zone", "preset", "custom", "expected"),
    [
        ("Europe/Moscow", "1h", "", datetime(2025, 3, 5, 23, 30, tzinfo=UTC)),
        # Moscow: Thu 01:30 -> Fri 09:00 MSK (UTC+3)
        ("Europe/Moscow", "tomorrow", "", datetime(2025, 3, 7, 6, 0, tzinfo=UTC)),
        # New York: Wed 17:30 -> Thu 09:00 EST (UTC-5)
        ("America/New_York", "tomorrow", "", datetime(2025, 3, 6, 14, 0, tzinfo=UTC)),
        ("Europe/Moscow", "monday", "", datetime(2025, 3, 10, 6, 0, tzinfo=UTC)),
        # Daylight saving starts in the US on 9 March: Monday 09:00 is EDT (UTC-4).
        ("America/New_York", "monday", "", datetime(2025, 3, 10, 13, 0, tzinfo=UTC)),
        # A datetime-local value is the operator's wall clock.
        ("Europe/Moscow", "custom", "2025-03-08T10:00", datetime(2025, 3, 8, 7, 0, tzinfo=UTC)),
        ("America/New_York", "custom", "2025-03-08T10:00", datetime(2025, 3, 8, 15, 0, tzinfo=UTC)),
    ],
)
def test_presets_are_read_in_the_operator_time_zone(
    client_for, operator, conversation, zone, preset, custom, expected
) -> None:
    in_zone(operator, zone)
    with time_machine.travel(NOW, tick=False):
        client = client_for(operator)

        response = snooze(client, conversation, preset=preset, until=custom, reason="ждём кухню")

    assert response.status_code == 200, page_text(response)
    fresh = refreshed(conversation)
    assert fresh.status == Status.SNOOZED
    assert fresh.snoozed_until == expected
    assert fresh.snooze_until_reply is True  # a customer's message wakes it earlier
    assert fresh.snooze_reason == "ждём кухню"
    event = ConversationEvent.objects.filter(type=ConversationEvent.Type.SNOOZED).get()
    assert event.actor == operator
    assert datetime.fromisoformat(event.data["until"]) == expected


def test_until_the_customer_replies(client_for, operator, conversation) -> None:
    response = snooze(client_for(operator), conversation, preset="reply")

    assert response.status_code == 200
    fresh = refreshed(conversation)
    assert (fresh.status, fresh.snoozed_until, fresh.snooze_until_reply) == (
        Status.SNOOZED,
        None,
        True,
    )
    assert "Snoozed until the customer replies." in page_text(response)


def test_stay_snoozed_through_replies_needs_a_time(client_for, operator, conversation) -> None:
    client = client_for(operator)

    refused = snooze(client, conversation, preset="reply", stay_snoozed="on")
    assert refused.status_code == 400
    assert "needs a wake-up time" in page_text(refused)
    assert refreshed(conversation).status == Status.OPEN

    accepted = snooze(client, conversation, preset="tomorrow", stay_snoozed="on")
    assert accepted.status_code == 200
    assert refreshed(conversation).snooze_until_reply is False
    assert "It stays snoozed even if the customer writes." in page_text(accepted)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"preset": "custom", "until": ""}, "Choose the date and time to wake up."),
        ({"preset": "custom", "until": "2025-03-05T20:00"}, "must be in the future"),
        ({"preset": "custom", "until": "next week"}, "Enter a valid date/time."),
        ({"preset": "forever"}, "Select a valid choice."),
    ],
)
def test_a_bad_snooze_is_refused_with_the_reason(
    client_for, operator, conversation, data, message
) -> None:
    with time_machine.travel(NOW, tick=False):
        response = snooze(client_for(operator), conversation, **data)

    assert response.status_code == 400
    assert message in page_text(response)
    assert refreshed(conversation).status == Status.OPEN
    assert not ConversationEvent.objects.filter(type=ConversationEvent.Type.SNOOZED).exists()


def test_a_snoozed_conversation_leaves_mine_for_the_snoozed_list(
    client_for, operator, conversation
) -> None:
    in_zone(operator, "Europe/Moscow")
    with time_machine.travel(NOW, tick=False):
        client = client_for(operator)
        snooze(client, conversation, preset="tomorrow", reason="ждём ответа кухни")

        mine = page_text(client.get(reverse("inbox"), {"view": "mine"}))
        snoozed = page_text(client.get(reverse("inbox"), {"view": "snoozed"}))

    assert f'id="row-{conversation.pk}"' not in mine
    assert f'id="row-{conversation.pk}"' in snoozed
    assert "ждём ответа кухни" in snoozed
    assert "Fri 7 Mar, 09:00" in snoozed  # the wake time on the operator's clock


def test_a_due_snooze_is_active_again_before_any_sweep(client_for, operator, conversation) -> None:
    with time_machine.travel(NOW, tick=False):
        snooze(client_for(operator), conversation, preset="1h")

    with time_machine.travel(NOW + timedelta(hours=2), tick=False):
        client = client_for(operator)
        mine = page_text(client.get(reverse("inbox"), {"view": "mine"}))
        snoozed = page_text(client.get(reverse("inbox"), {"view": "snoozed"}))
        thread = page_text(client.get(reverse("conversation-thread", args=[conversation.pk])))

    assert refreshed(conversation).status == Status.SNOOZED  # the sweep has not run
    assert f'id="row-{conversation.pk}"' in mine
    assert f'id="row-{conversation.pk}"' not in snoozed
    assert 'id="thread-status">Open<' in thread
    assert 'id="action-snooze"' in thread
