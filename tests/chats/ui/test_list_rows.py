"""The list's rows: rendered once per process for equal rows and read by a query compiled once
(chats.views.presenters.rows, .listing), and never served stale: whatever a row shows decides
whether it is equal, and the time is put into the compiled query on every read."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.timesince import timesince

from accounts.models import User
from chats.models import Conversation
from chats.views.presenters import row_html, row_of, show_contacts
from chats.views.presenters.listing import with_contact
from customers.models import Customer
from tests import factories
from tests.chats.ui.conftest import page_text
from tests.chats.ui.test_pages import listed
from tests.compiles import compiled_models

pytestmark = pytest.mark.django_db

ROW = "chats/_row.html"


def row_renders(response) -> int:
    return [t.name for t in response.templates].count(ROW)


@pytest.fixture
def three(support_inbox, operator: User) -> list[Conversation]:
    return [
        factories.make_conversation(inbox=support_inbox, text=f"Вопрос {n}", assignee=operator)
        for n in range(3)
    ]


def test_an_unchanged_list_renders_no_row_again(client_for, operator, three) -> None:
    client = client_for(operator)

    first = client.get(reverse("inbox"), {"view": "mine"})
    again = client.get(reverse("inbox"), {"view": "mine"})
    fragment = client.get(reverse("inbox-list"), {"view": "mine"})

    assert sorted(listed(first)) == sorted(c.pk for c in three)
    assert row_renders(first) == 3
    assert row_renders(again) == 0 and row_renders(fragment) == 0
    assert listed(again) == listed(first) == listed(fragment)
    # The open conversation's row is marked current: only that one is rendered anew.
    opened = client.get(reverse("conversation", args=[three[1].pk]), {"view": "mine"})
    assert row_renders(opened) == 1
    assert page_text(opened).count('aria-current="true"') == 1


def test_a_row_shows_what_changed_outside_its_conversation(client_for, operator, three) -> None:
    """The customer's name, the assignee's name and the classifier's chip live in other
    tables: the conversation's own version does not move when they change."""
    from analytics.ai.models import Classification, Label

    client = client_for(operator)
    client.get(reverse("inbox"), {"view": "mine"})
    version = Conversation.objects.get(pk=three[0].pk).updated_at

    Customer.objects.filter(pk=three[0].customer_id).update(first_name="Аглая", last_name="Ершова")
    User.objects.filter(pk=operator.pk).update(first_name="Olga", last_name="Petrova")
    Classification.objects.create(
        conversation=three[0],
        label=Label.COMPLAINT,
        confidence=0.91,
        model_version="test",
        stage=Classification.Stage.FIRST,
        classified_at=timezone.now(),
    )
    after = page_text(client.get(reverse("inbox"), {"view": "mine"}))

    assert Conversation.objects.get(pk=three[0].pk).updated_at == version
    assert "Аглая Ершова" in after
    assert len(re.findall(r'class="row-assignee">[^<]*Olga Petrova', after)) == 3
    assert 'data-ai-label="complaint"' in after


def test_the_same_row_in_another_language_or_minute_is_rendered_anew(three) -> None:
    (conversation,) = show_rows(three[0].pk, User.objects.get(pk=three[0].assignee_id))
    now = timezone.now()

    with translation.override("en"):
        english = row_html(row_of(conversation, now=now))
        later = row_html(row_of(conversation, now=now + timedelta(hours=2, minutes=5)))
    with translation.override("ru"):
        russian = row_html(row_of(conversation, now=now))

    assert "Waiting:" in english and "Ждёт:" in russian
    assert "2\xa0hours, 5\xa0minutes" in later and "2\xa0hours" not in english


def show_rows(pk: int, user: User) -> list[Conversation]:
    """The conversation read as the list reads it."""
    from chats.selectors import with_effective_status

    rows = list(
        with_contact(with_effective_status(Conversation.objects.filter(pk=pk))).select_related(
            "customer", "inbox", "assignee", "team"
        )
    )
    show_contacts(rows, user)
    return rows


def test_the_list_query_is_compiled_once_and_reads_the_time_each_time(
    client_for, operator, three, monkeypatch
) -> None:
    """A snooze that falls due after the query was compiled leaves the snoozed view and shows
    as open in "mine": the time is a parameter of both predicates, put in on every read (a
    statement that kept the time of its compile would still show it snoozed)."""
    from django.utils import timezone as django_timezone

    from chats.services import conversations as conversation_services

    started = timezone.now()
    conversation_services.conversation_snooze(
        conversation=three[0],
        actor=operator,
        until=started + timedelta(hours=1),
        reason="ждём кухню",
    )
    client = client_for(operator)
    assert listed(client.get(reverse("inbox"), {"view": "snoozed"})) == [three[0].pk]
    assert three[0].pk not in listed(client.get(reverse("inbox"), {"view": "mine"}))
    compiled = compiled_models(monkeypatch)
    # Two hours later: the snooze is due, and nothing about the conversation changed.
    monkeypatch.setattr(django_timezone, "now", lambda: started + timedelta(hours=2))

    snoozed = client.get(reverse("inbox"), {"view": "snoozed"})
    mine = client.get(reverse("inbox"), {"view": "mine"})

    assert listed(snoozed) == []
    assert three[0].pk in listed(mine)
    assert f'data-conversation-id="{three[0].pk}"\n        data-status="open"' in page_text(mine)
    assert Conversation not in compiled


def test_on_another_database_the_page_is_read_the_plain_way(
    client_for, operator, three, monkeypatch
) -> None:
    """The embedded product's SQLite builds the page's query each time: the same rows."""
    from django.db import connection

    from chats.views.presenters import listing

    client = client_for(operator)
    expected = listed(client.get(reverse("inbox"), {"view": "mine"}))

    class Refusing(listing.Reusables):
        def get(self, *args, **kwargs):
            raise AssertionError("the compiled statement is for PostgreSQL only")

    monkeypatch.setattr(connection, "vendor", "sqlite")
    monkeypatch.setattr(listing, "_page_statements", Refusing())
    assert listed(client.get(reverse("inbox"), {"view": "mine"})) == expected
    assert sorted(expected) == sorted(c.pk for c in three)


def test_a_row_read_without_the_annotation_shows_a_due_snooze_as_open(three) -> None:
    """The list's query annotates the effective status; a row read without it applies the
    same rule (a snooze whose time has passed reads as open), never the stored status."""
    Conversation.objects.filter(pk=three[0].pk).update(
        status=Conversation.Status.SNOOZED, snoozed_until=timezone.now() - timedelta(minutes=1)
    )
    plain = Conversation.objects.select_related("customer", "inbox", "assignee").get(pk=three[0].pk)
    assert not hasattr(plain, "effective_status")

    row = row_of(plain)

    assert row.status == "open" and row.snoozed_until_iso == ""
    assert 'data-status="open"' in row_html(row)


def test_an_unchanged_row_is_formatted_once(client_for, operator, three, monkeypatch) -> None:
    """The row's words and times are worked out once per process for equal inputs, like its
    HTML: a page load that changes nothing formats no row again."""
    from chats.views.presenters import rows

    formatted: list[datetime] = []

    def counting(waiting: datetime, now: datetime) -> str:
        formatted.append(waiting)
        return timesince(waiting, now)

    monkeypatch.setattr(rows, "timesince", counting)
    client = client_for(operator)
    with time_machine.travel(timezone.now(), tick=False):  # no row's minute moves between
        first = client.get(reverse("inbox"), {"view": "mine"})
        count = len(formatted)
        again = client.get(reverse("inbox"), {"view": "mine"})

    assert count == 3 and len(formatted) == 3
    assert listed(again) == listed(first)


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_waiting_words_are_timesince_at_the_moment_of_reading(three, language) -> None:
    """A row kept for the minute says what timesince(waiting, now) says at any moment of it,
    over minutes, hours, weeks and calendar months (Django's month arithmetic ignores the
    seconds' fraction, so a wait of four weeks or more is kept by the moment itself)."""
    (conversation,) = show_rows(three[0].pk, User.objects.get(pk=three[0].assignee_id))
    waiting = datetime(2026, 1, 31, 23, 59, 58, 700_000, tzinfo=UTC)
    conversation.waiting_since = waiting
    moments = [
        waiting - timedelta(seconds=5),  # a clock behind: "0 minutes"
        waiting + timedelta(seconds=59, microseconds=900_000),
        waiting + timedelta(minutes=1),
        waiting + timedelta(hours=23, minutes=59, seconds=59),
        waiting + timedelta(days=6, hours=23, minutes=59, seconds=59, microseconds=500_000),
        waiting + timedelta(days=27, hours=23, minutes=59, seconds=59, microseconds=999_999),
        waiting + timedelta(days=28),
        datetime(2026, 2, 28, 23, 59, 59, 300_000, tzinfo=UTC),
        datetime(2026, 3, 31, 23, 59, 58, 700_000, tzinfo=UTC),  # a calendar month on
        # A month and a week from a pivot that dropped the fraction: "1 month, 1 week", where
        # the whole minutes alone would say "1 month, 6 days".
        datetime(2026, 3, 7, 23, 59, 58, 200_000, tzinfo=UTC),
        datetime(2027, 2, 1, 0, 0, 58, 500_000, tzinfo=UTC),
    ]
    with translation.override(language):
        for now in moments:
            assert row_of(conversation, now=now).waiting_for == timesince(waiting, now), now
    # A row keyed by its moment is not kept: no later read would find it.
    from chats.views.presenters import rows

    kept = rows._row.cache_info().currsize
    row_of(conversation, now=waiting + timedelta(days=40))
    assert rows._row.cache_info().currsize == kept


def test_a_part_reads_the_columns_it_names_with_the_page(
    client_for, operator, three, monkeypatch, django_assert_num_queries
) -> None:
    """A list page reads only the conversation columns a row shows: a part names the others
    it reads, and they come with the page's one query instead of a query per row."""
    from chats.views.presenters import rows

    Conversation.objects.filter(pk__in=[c.pk for c in three]).update(topic="доставка")
    client = client_for(operator)
    client.get(reverse("inbox"), {"view": "mine"})
    without = _queries_of_a_page(client)
    monkeypatch.setattr(rows, "_parts", dict(rows._parts))
    monkeypatch.setattr(rows, "_part_fields", set())
    topics: list[str] = []

    def topic(conversation: Conversation) -> str:
        topics.append(conversation.topic)
        return conversation.topic

    rows.register_row_part("topic", topic, ("topic",))
    with django_assert_num_queries(without):
        client.get(reverse("inbox"), {"view": "mine"})

    assert topics == ["доставка"] * 3


def _queries_of_a_page(client) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as counted:
        client.get(reverse("inbox"), {"view": "mine"})
    return len(counted)
