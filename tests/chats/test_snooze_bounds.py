"""Snooze is bounded: at most `SNOOZE_MAX_DAYS` ahead. A far-future wake-up time is
refused with a page message (UI) or a JSON 400 (API), and a row that already holds one (written
before the bound existed) does not break a colleague's pages in a zone ahead of UTC."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client, override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.access import forget
from accounts.models import User
from accounts.services import profile_update_preferences
from chats.models import Conversation, Inbox
from tests import factories

pytestmark = pytest.mark.django_db

Status = Conversation.Status
NOW = datetime(2025, 3, 5, 22, 30, tzinfo=UTC)
HTMX = {"HX-Request": "true"}
# The latest instant PostgreSQL and Python share: one microsecond before year 10000.
END_OF_TIME = datetime.max.replace(tzinfo=UTC)


def in_zone(user: User, zone: str) -> None:
    profile_update_preferences(profile=user.profile, time_zone=zone)
    forget(user)


@pytest.fixture
def client_for(db: None) -> Callable[[User], Client]:
    def make(user: User) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def conversation(support_inbox: Inbox, operator: User) -> Conversation:
    return factories.make_conversation(
        inbox=support_inbox,
        customer=factories.make_customer("Svetlana", "Morozova"),
        text="Можно ролл без кунжута?",
        assignee=operator,
    )


def snooze_page(client: Client, conversation: Conversation, **data: str):
    return client.post(reverse("conversation-snooze", args=[conversation.pk]), data, headers=HTMX)


def snooze_api(user: User, conversation: Conversation, **data: object):
    client = APIClient()
    client.force_login(user)
    return client.post(f"/api/v1/conversations/{conversation.pk}/snooze/", data, format="json")


def assert_untouched(conversation: Conversation) -> None:
    fresh = Conversation.objects.get(pk=conversation.pk)
    assert (fresh.status, fresh.snoozed_until) == (Status.OPEN, None)


@pytest.mark.parametrize("until", ["9999-12-31T23:59", "2026-03-06T10:00"])
def test_the_page_refuses_a_wake_up_past_the_horizon(
    client_for, operator, conversation, until
) -> None:
    with time_machine.travel(NOW, tick=False):
        response = snooze_page(client_for(operator), conversation, preset="custom", until=until)

    assert response.status_code == 400
    assert "at most 365 days ahead" in response.content.decode()
    assert_untouched(conversation)


@pytest.mark.parametrize(
    "until", ["9999-12-31T23:59:59Z", "9999-12-31T23:59:59", "2026-03-06T10:00:00Z"]
)
def test_the_api_refuses_a_wake_up_past_the_horizon(operator, conversation, until) -> None:
    in_zone(operator, "Pacific/Kiritimati")
    with time_machine.travel(NOW, tick=False):
        response = snooze_api(operator, conversation, preset="custom", until=until)

    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/json"
    assert "365 days" in str(response.json())
    assert_untouched(conversation)


@override_settings(SNOOZE_MAX_DAYS=7)
def test_the_horizon_is_a_setting(client_for, operator, conversation) -> None:
    with time_machine.travel(NOW, tick=False):
        client = client_for(operator)
        too_far = snooze_page(client, conversation, preset="custom", until="2025-03-13T10:00")
        assert too_far.status_code == 400
        assert "at most 7 days ahead" in too_far.content.decode()
        assert_untouched(conversation)

        within = snooze_page(client, conversation, preset="custom", until="2025-03-12T10:00")

    assert within.status_code == 200
    assert Conversation.objects.get(pk=conversation.pk).status == Status.SNOOZED


def test_a_wake_up_just_inside_the_horizon_is_kept(operator, conversation) -> None:
    with time_machine.travel(NOW, tick=False):
        response = snooze_api(operator, conversation, preset="custom", until="2026-03-04T10:00Z")

    assert response.status_code == 200, response.content
    fresh = Conversation.objects.get(pk=conversation.pk)
    assert fresh.snoozed_until == datetime(2026, 3, 4, 10, 0, tzinfo=UTC)


def test_a_stored_far_future_snooze_does_not_break_a_colleague_pages(
    client_for, operator, teammate, admin_user, conversation
) -> None:
    # given: a row written before the bound existed (straight to the table)
    Conversation.objects.filter(pk=conversation.pk).update(
        status=Status.SNOOZED, snoozed_until=END_OF_TIME, snooze_until_reply=False
    )
    factories.receive(conversation, "Ещё здесь?")
    Conversation.objects.filter(pk=conversation.pk).update(
        status=Status.SNOOZED, snoozed_until=END_OF_TIME
    )
    for user in (operator, teammate, admin_user):
        in_zone(user, "Pacific/Kiritimati")  # UTC+14: the year 10000 there
    pages = [
        reverse("inbox") + "?view=snoozed",
        reverse("inbox") + "?view=team",
        reverse("inbox-list") + "?view=snoozed",
        reverse("inbox-list") + "?view=all",
        reverse("conversation", args=[conversation.pk]),
        reverse("conversation-thread", args=[conversation.pk]),
        reverse("conversation-panel", args=[conversation.pk]),
    ]

    for user in (operator, teammate, admin_user):
        client = client_for(user)
        for url in pages:
            # when
            response = client.get(url)
            # then
            assert response.status_code in (200, 404), (user.username, url, response.status_code)
        api = APIClient()
        api.force_login(user)
        listed = api.get("/api/v1/conversations/", {"view": "snoozed"})
        assert listed.status_code in (200, 404), (user.username, listed.content)
        one = api.get(f"/api/v1/conversations/{conversation.pk}/")
        assert one.status_code == 200, (user.username, one.content)

    # and the page shows it as snoozed at all (the conversation is in the operator's list)
    page = client_for(operator).get(reverse("inbox") + "?view=snoozed")
    assert "Svetlana" in page.content.decode()


def test_a_stored_far_future_snooze_in_a_zone_behind_utc_also_renders(
    client_for, operator, conversation
) -> None:
    Conversation.objects.filter(pk=conversation.pk).update(
        status=Status.SNOOZED, snoozed_until=END_OF_TIME - timedelta(hours=1)
    )
    in_zone(operator, "America/Adak")

    for url in (
        reverse("inbox") + "?view=snoozed",
        reverse("conversation", args=[conversation.pk]),
    ):
        assert client_for(operator).get(url).status_code == 200
